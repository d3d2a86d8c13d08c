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


def _print_listing(infos, as_json, empty_message, headers, row):
    """``infos`` as JSON, else as a table of ``row(info)`` lines (``empty_message`` if none)."""
    if as_json:
        echo_json(infos)
    elif not infos:
        click.echo(empty_message)
    else:
        echo_table(headers, [row(i) for i in infos])


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
    _print_listing(infos, as_json,
                   "No backend is registered; install one, e.g. pip install gradloom-backend-cpu",
                   ["backend", "available", "devices", "package", "plugin", "reason"],
                   lambda i: [i["name"], "yes" if i["available"] else "no", i["devices"],
                              i["package"], i["plugin"], i["reason"] or ""])


@click.command("kvstores")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def kvstores_command(ctx, as_json):
    """List key-value stores (gradient aggregation) usable as --kvstore."""
    state = current_state(ctx)
    infos = [kvstore_info(state, name) for name in state.kvstores.names()]
    _print_listing(infos, as_json, "No kvstore is registered.",
                   ["kvstore", "aliases", "plugin", "description"],
                   lambda i: [i["name"], ",".join(i["aliases"]), i["plugin"],
                              i["description"]])
