"""``gradloom plugins``: every plugin, what it registered, and the ones that failed."""
import click

from ..main import PluginGroup, current_state
from ..output import echo_json
from .registries import backend_info


def plugin_report(state, group):
    """Plain data (JSON-ready) describing the loaded plugins and the failed ones."""
    commands_by_plugin = {}
    command_origins = group.command_origins if isinstance(group, PluginGroup) else {}
    for command, origin in command_origins.items():
        commands_by_plugin.setdefault(origin, []).append(command)
    plugins = []
    names = list(state.records)
    names += sorted(set(commands_by_plugin) - set(names))  # the CLI's built-ins, if implicit
    for name in names:
        record = state.records.get(name)
        registered = record.registered if record is not None else []
        by_kind = {}
        for kind, item in registered:
            by_kind.setdefault(kind, []).append(item)
        plugin = state.pm.get_plugin(name)
        hooks = sorted(caller.name for caller in state.pm.get_hookcallers(plugin) or ()) \
            if plugin is not None else ["gradloom_register_commands"]
        plugins.append({
            "name": name,
            "module": record.module if record is not None else name,
            "distribution": record.distribution if record is not None else "gradloom-cli",
            "version": record.version if record is not None else _cli_version(),
            "hooks": hooks,
            "backends": [backend_info(state, b) for b in by_kind.get("backend", [])],
            "kvstores": sorted(by_kind.get("kvstore", [])),
            "operators": len(by_kind.get("operator", [])),
            "kernels": sorted(by_kind.get("kernel", [])),
            "commands": sorted(commands_by_plugin.get(name, [])),
        })
    failures = [{"name": f.name, "module": f.module, "distribution": f.distribution,
                 "error": f.error} for f in state.failures]
    for plugin_name, error in getattr(group, "command_failures", []):
        record = state.records.get(plugin_name)
        failures.append({"name": plugin_name,
                         "module": record.module if record is not None else "",
                         "distribution": record.distribution if record is not None else "",
                         "error": f"gradloom_register_commands: {error}"})
    plugins.sort(key=lambda p: (p["distribution"], p["name"]))
    return {"plugins": plugins, "failures": failures}


def _cli_version():
    from .. import __version__
    return __version__


def _echo_plugin(plugin):
    origin = plugin["distribution"] or "not from a distribution"
    version = f" {plugin['version']}" if plugin["version"] else ""
    click.echo(f"{plugin['name']}  ({origin}{version}, module {plugin['module']})")
    for backend in plugin["backends"]:
        if backend["available"]:
            status = f"available, {backend['devices']} device(s)"
        else:
            status = f"unavailable: {backend['reason']}"
        click.echo(f"  backend   {backend['name']}: {status}")
    if plugin["kvstores"]:
        click.echo(f"  kvstores  {', '.join(plugin['kvstores'])}")
    if plugin["operators"]:
        click.echo(f"  operators {plugin['operators']}")
    if plugin["kernels"]:
        click.echo(f"  kernels   {len(plugin['kernels'])}: {', '.join(plugin['kernels'])}")
    if plugin["commands"]:
        click.echo(f"  commands  {', '.join(plugin['commands'])}")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def plugins_command(ctx, as_json):
    """List installed plugins, what each registered, and plugins that failed to load."""
    state = current_state(ctx)
    report = plugin_report(state, ctx.find_root().command)
    if as_json:
        echo_json(report)
        return
    for plugin in report["plugins"]:
        _echo_plugin(plugin)
    if report["failures"]:
        click.echo("")
        click.echo("Failed to load:")
        for failure in report["failures"]:
            where = ", ".join(v for v in (failure["module"], failure["distribution"]) if v)
            where = f" ({where})" if where else ""
            click.echo(f"  {failure['name']}{where}: {failure['error']}")
