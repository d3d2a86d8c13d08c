"""``gradloom inspect``: what a checkpoint or symbol file contains."""
import click

from ..output import echo_json, echo_table


def _parse_shape_option(items):
    from gradloom.base import ConfigError
    shapes = {}
    for item in items:
        name, sep, dims = item.partition("=")
        try:
            if not sep:
                raise ValueError
            shapes[name.strip()] = tuple(int(d) for d in dims.replace("x", ",").split(",") if d)
        except ValueError:
            raise ConfigError(f"bad --shape {item!r}: write NAME=D1,D2,..., e.g. "
                              f"--shape data=1,784") from None
    return shapes


def _load(target, epoch):
    """(symbol path, params path or None, epoch or None) for a checkpoint or symbol file."""
    import os

    from gradloom.base import ConfigError

    from ..checkpoints import params_path, split_checkpoint, symbol_path
    target = str(target)
    if target.endswith(".json") and epoch is None:
        if not os.path.exists(target):
            raise ConfigError(f"symbol file not found: {target}")
        return target, None, None  # a symbol file alone; a checkpoint is named by prefix
    prefix, epoch = split_checkpoint(target, epoch, option="inspect target")
    return symbol_path(prefix), params_path(prefix, epoch), epoch


def inspect_report(target, epoch=None, shapes=None):
    """Plain data describing a checkpoint or symbol file."""
    import numpy as np

    import gradloom as mx
    from gradloom.base import GradloomError, ShapeError

    from ..graph_info import mxnet_version, read_graph
    sym_file, params_file, epoch = _load(target, epoch)
    graph = read_graph(sym_file)
    symbol = mx.sym.load(sym_file)
    arguments = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    saved = {}
    if params_file is not None:
        for key, value in mx.nd.load(params_file).items():
            kind, _, name = key.partition(":")
            saved[name] = (kind, value)
    if params_file is not None:
        params = [a for a in arguments if a in saved]
    else:  # no parameter file: MXNet's convention names the inputs data* and *_label
        params = [a for a in arguments if a not in (shapes or {}) and a != "data"
                  and not a.startswith("data") and not a.endswith("label")]
    inputs = [a for a in arguments if a not in params]
    known = {}
    if shapes:
        try:
            arg_shapes, out_shapes, aux_shapes = symbol.infer_shape(**shapes)
        except GradloomError as exc:
            raise ShapeError(f"{sym_file}: cannot infer shapes from --shape "
                             f"{shapes}: {exc}") from None
        if arg_shapes is not None:
            known.update(zip(arguments, arg_shapes))
            known.update(zip(aux_names, aux_shapes))
    for name, (_, value) in saved.items():
        known[name] = tuple(value.shape)
    rows = []
    total = 0
    nbytes = 0
    for name in params + aux_names:
        shape = known.get(name)
        count = int(np.prod(shape)) if shape is not None else None
        dtype = np.dtype(saved[name][1].dtype).name if name in saved else "float32"
        if count is not None:
            total += count
            nbytes += count * np.dtype(dtype).itemsize
        rows.append({"name": name, "kind": "aux" if name in aux_names else "arg",
                     "shape": list(shape) if shape is not None else None,
                     "count": count, "dtype": dtype})
    report = {
        "symbol_file": sym_file, "params_file": params_file, "epoch": epoch,
        "mxnet_version": mxnet_version(graph),
        "inputs": [{"name": n, "shape": list(known[n]) if n in known else None}
                   for n in inputs],
        "outputs": symbol.list_outputs(),
        "parameters": rows,
        "total_parameters": total if all(r["count"] is not None for r in rows) else None,
        "total_bytes": nbytes,
        "operators": sum(1 for node in graph["nodes"] if node["op"] != "null"),
    }
    return report, graph


def _shape_text(shape):
    return "?" if shape is None else str(tuple(shape))


@click.command("inspect")
@click.argument("target")
@click.option("--epoch", type=int, help="Checkpoint epoch (default: the newest saved).")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=D1,D2",
              help="Input shape for shape inference of a bare symbol, e.g. data=1,784.")
@click.option("--dot", "dot_file", type=click.Path(dir_okay=False),
              help="Also write the graph in Graphviz DOT format to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect_command(target, epoch, shapes, dot_file, as_json):
    """Show inputs, outputs and parameters of a checkpoint or symbol JSON.

    TARGET is a checkpoint prefix (runs/mlp, newest epoch unless --epoch), a
    PREFIX-NNNN.params file, or a symbol JSON file (no parameters; give --shape to see
    their shapes).
    """
    report, graph = inspect_report(target, epoch, _parse_shape_option(shapes))
    if dot_file:
        from gradloom.fileio import atomic_write

        from ..graph_info import to_dot
        with atomic_write(dot_file, "w") as handle:
            handle.write(to_dot(graph, [p["name"] for p in report["parameters"]]))
        report["dot_file"] = dot_file
    if as_json:
        echo_json(report)
        return
    version = report["mxnet_version"] or "not recorded (MXNet reads it as 0.8.0)"
    click.echo(f"symbol:     {report['symbol_file']}  (MXNet version {version})")
    if report["params_file"]:
        click.echo(f"parameters: {report['params_file']}  (epoch {report['epoch']})")
    click.echo(f"operators:  {report['operators']}")
    click.echo("inputs:     " + ", ".join(f"{i['name']} {_shape_text(i['shape'])}"
                                          if i["shape"] else i["name"]
                                          for i in report["inputs"]))
    click.echo("outputs:    " + ", ".join(report["outputs"]))
    click.echo("")
    echo_table(["parameter", "kind", "shape", "count", "dtype"],
               [[p["name"], p["kind"], _shape_text(p["shape"]),
                 "?" if p["count"] is None else f"{p['count']:,}", p["dtype"]]
                for p in report["parameters"]])
    click.echo("")
    if report["total_parameters"] is None:
        click.echo("total: unknown shapes; give --shape data=... (or inspect a checkpoint)")
    else:
        click.echo(f"total: {report['total_parameters']:,} values, "
                   f"{report['total_bytes'] / 1024:,.1f} KiB")
    if dot_file:
        click.echo(f"graph written to {dot_file}")
