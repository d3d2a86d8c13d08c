"""``mx.viz.print_summary``: a symbol's layers as a table, MXNet's layout.

One row per operator (and per input named in ``shape``): its name and type, its output
shape without the batch axis, its parameter count and the layers it reads. A layer's
parameters are the arguments feeding it that are neither inputs given in ``shape`` nor the
labels of loss heads, so every operator is counted alike (MXNet counted a fixed list of
operator types: Convolution, FullyConnected, BatchNorm, Embedding); auxiliary states such as
BatchNorm's moving statistics are not parameters, as in MXNet.
"""
import json
import math
import warnings

from .base import ShapeError

__all__ = ["print_summary"]


def _row(fields, stops):
    line = ""
    for field, stop in zip(fields, stops):
        line = (line + str(field))[:stop]
        line += " " * (stop - len(line))
    return line


def print_summary(symbol, shape=None, line_length=120, positions=(.44, .64, .74, 1.)):
    """Print the layer table of ``symbol``; ``shape`` maps input names to shapes (with the
    batch axis) so output shapes and parameter counts can be inferred."""
    from .module.module import loss_label_names
    shape = dict(shape or {})
    internals = symbol.get_internals()
    with warnings.catch_warnings():   # incomplete shapes: the error below says what to give
        warnings.simplefilter("ignore")
        _, out_shapes, _ = internals.infer_shape(**shape)
    if out_shapes is None:
        raise ShapeError(f"print_summary: shapes of {sorted(shape)} do not determine every "
                         f"layer's shape; give every input of the symbol in shape=")
    shape_of = dict(zip(internals.list_outputs(), out_shapes))
    inputs = set(shape) | set(loss_label_names(symbol, list(shape)))
    aux = set(symbol.list_auxiliary_states())
    nodes = json.loads(symbol.tojson())["nodes"]
    stops = [int(line_length * p) for p in positions]
    lines = ["_" * line_length,
             _row(["Layer (type)", "Output Shape", "Param #", "Previous Layer"], stops),
             "=" * line_length]
    shown = [n for n in nodes if n["op"] != "null" or n["name"] in shape]
    total = 0
    for k, node in enumerate(shown):
        name = node["name"]
        out = shape_of.get(name if node["op"] == "null" else f"{name}_output")
        if out is None:   # several outputs: the first one's
            out = shape_of.get(f"{name}_output0", ())
        params, previous = 0, []
        for source, *_ in node.get("inputs", []):
            src = nodes[source]
            if src["op"] != "null" or src["name"] in shape:
                previous.append(src["name"])
            elif src["name"] not in inputs and src["name"] not in aux:
                params += math.prod(shape_of.get(src["name"], ()))
        total += params
        out_text = "x".join(str(d) for d in tuple(out)[1:])
        lines.append(_row([f"{name}({node['op']})", out_text, params,
                           previous[0] if previous else ""], stops))
        lines += [_row(["", "", "", p], stops) for p in previous[1:]]
        lines.append(("=" if k == len(shown) - 1 else "_") * line_length)
    lines += [f"Total params: {total}", "_" * line_length]
    print("\n".join(lines))
