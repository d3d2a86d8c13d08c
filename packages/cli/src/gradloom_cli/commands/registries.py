"""``gradloom backends`` and ``gradloom kvstores``: what the registries hold."""
import click

from ..main import current_state
from ..output import echo_json, echo_table


def backend_info(state, name):
    """Availability of one registered backend, never raising (for listings)."""
    backend = state.backends.get(name)
    info = {"name": name, "package": backend.package or "", "plugin": state.backends.origin(name)}
    try:
        reason = backend.unavailable_reason
    except Exception as exc:  # a listing must show a broken backend, not die on it
        reason = f"checking availability failed: {type(exc).__name__}: {exc}"
    devices = 0
    if reason is None:
        try:
            devices = int(backend.device_count())
        except Exception as exc:
            reason = f"counting devices failed: {type(exc).__name__}: {exc}"
    info.update(available=reason is None, devices=devices, reason=reason)
    return info


def kvstore_info(state, name):
    factory = state.kvstores.get(name)
    return {"name": name, "aliases": state.kvstores.aliases_of(name),
            "plugin": state.kvstores.origin(name),
            "description": getattr(factory, "description", "") or ""}


@click.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def backends_command(ctx, as_json):
    """List device backends, whether each can be used, and why not."""
    state = current_state(ctx)
    infos = [backend_info(state, name) for name in state.backends.names()]
    if as_json:
        echo_json(infos)
        return
    if not infos:
        click.echo("No backend is registered; install one, e.g. pip install gradloom-backend-cpu")
        return
    echo_table(["backend", "available", "devices", "package", "plugin", "reason"],
               [[i["name"], "yes" if i["available"] else "no", i["devices"], i["package"],
                 i["plugin"], i["reason"] or ""] for i in infos])


@click.command("kvstores")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def kvstores_command(ctx, as_json):
    """List key-value stores (gradient aggregation) usable as --kvstore."""
    state = current_state(ctx)
    infos = [kvstore_info(state, name) for name in state.kvstores.names()]
    if as_json:
        echo_json(infos)
        return
    if not infos:
        click.echo("No kvstore is registered.")
        return
    echo_table(["kvstore", "aliases", "plugin", "description"],
               [[i["name"], ",".join(i["aliases"]), i["plugin"], i["description"]]
                for i in infos])
