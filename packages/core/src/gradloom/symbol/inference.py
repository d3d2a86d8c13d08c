"""Shape and dtype inference: a fixpoint over the graph, forwards and backwards.

Operators fill whatever they can from what is known (``0`` in a dimension or ``None`` for a
whole shape means unknown); passes alternate between graph order and reverse order until no
entry changes, so information flows both ways (FullyConnected learns its data's batch size
from a known output; the LSTM begin state learns its batch size through ``i2h + h2h``).
"""
import ast

import numpy as np

from ..base import DTypeError, GradloomError, ShapeError

# mshadow type flags (formats.md 2.4) <-> numpy dtype names
DTYPE_FLAG_TO_NAME = {0: "float32", 1: "float64", 2: "float16", 3: "uint8", 4: "int32",
                      5: "int8", 6: "int64", 7: "bool", 8: "int16", 9: "uint16",
                      10: "uint32", 11: "uint64"}
DTYPE_NAME_TO_FLAG = {v: k for k, v in DTYPE_FLAG_TO_NAME.items()}


def dtype_name(value):
    """numpy dtype name of ``value`` (a dtype, type, name or ``None``)."""
    return None if value is None else np.dtype(value).name


def parse_shape_attr(text):
    """``"(10, 0)"`` -> ``(10, 0)`` (``__shape__`` attribute)."""
    value = ast.literal_eval(text) if isinstance(text, str) else text
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def declared_dtype(node):
    flag = node.attrs.get("__dtype__")
    if flag is None:
        return None
    try:
        return DTYPE_FLAG_TO_NAME[int(flag)]
    except (KeyError, ValueError):
        raise DTypeError(f"variable {node.name!r}: __dtype__={flag!r} is not a known type "
                         f"flag; use one of {sorted(DTYPE_FLAG_TO_NAME)}") from None


def is_complete(shape):
    # legacy shape semantics: an empty shape is unknown, a 0 dimension is unknown
    return bool(shape) and all(d > 0 for d in shape)


def _merge_shape(old, new, describe):
    if new is None or len(new) == 0:
        return old
    new = tuple(int(d) for d in new)
    if old is None:
        return new
    if old == new:
        return old
    if len(old) != len(new):
        raise ShapeError(f"{describe()}: inferred shape {new} contradicts known shape {old}; "
                         f"check the shapes you pass for the inputs")
    merged = []
    for a, b in zip(old, new):
        if a == 0:
            merged.append(b)
        elif b == 0 or a == b:
            merged.append(a)
        else:
            raise ShapeError(f"{describe()}: inferred shape {new} contradicts known shape "
                             f"{old}; check the shapes you pass for the inputs")
    return tuple(merged)


def _merge_type(old, new, describe):
    if new is None or new == old:
        return old
    new = dtype_name(new)
    if old is None or old == new:
        return new
    raise DTypeError(f"{describe()}: inferred type {new} contradicts known type {old}; pass "
                     f"matching dtypes (type_dict=...) or insert a Cast")


def _entry_describer(node, slot=None, out=None):
    def describe():
        if node.op is None:
            return f"variable {node.name!r}"
        if slot is not None:
            names = node.input_names
            what = f"input {names[slot] if slot < len(names) else slot!r}"
        else:
            what = f"output {out}"
        return f"{node.op.name} {node.name!r}, {what}"
    return describe


def _run_fixpoint(order, values, call, merge, known, max_passes=None):
    """Generic fixpoint. ``values[i]`` is the list of output values of node ``order[i]``.

    A node whose inputs and outputs are all ``known`` after its call cannot learn anything
    more, so later passes skip it (keeps long unrolled graphs cheap to bind).
    """
    index = {id(n): i for i, n in enumerate(order)}
    ops = [i for i, n in enumerate(order) if n.op is not None]
    sources = {i: [(index[id(src)], k) for src, k in order[i].inputs] for i in ops}
    done = set()
    max_passes = max_passes or (2 * len(order) + 4)
    for npass in range(max_passes):
        changed = False
        for i in (ops if npass % 2 == 0 else reversed(ops)):
            if i in done:
                continue
            node = order[i]
            srcs = sources[i]
            ins = [values[j][k] for j, k in srcs]
            outs = list(values[i])
            try:
                new_ins, new_outs = call(node, ins, outs)
            except GradloomError as exc:
                # operators know the input and shapes, only the graph knows the node's name
                if repr(node.name) in str(exc):
                    raise
                raise type(exc)(f"node {node.name!r}: {exc}") from exc
            except Exception as exc:  # an operator bug should still name the node
                raise ShapeError(f"{node.op.name} {node.name!r}: inference failed with "
                                 f"{type(exc).__name__}: {exc}") from exc
            for slot, ((j, k), value) in enumerate(zip(srcs, new_ins)):
                merged = merge(values[j][k], value, _entry_describer(node, slot=slot))
                if merged != values[j][k]:
                    values[j][k] = merged
                    changed = True
            for k, value in enumerate(new_outs):
                merged = merge(values[i][k], value, _entry_describer(node, out=k))
                if merged != values[i][k]:
                    values[i][k] = merged
                    changed = True
            if all(known(values[j][k]) for j, k in srcs) and all(map(known, values[i])):
                done.add(i)
        if not changed:
            break
    return values


def infer_shapes(order, given):
    """Output shapes of every node (list per node; ``None``/0-dims where unknown).

    ``given`` maps variable node ids to shapes; a variable's ``__shape__`` attribute adds to it.
    """
    values = []
    for node in order:
        if node.op is None:
            shape = None
            declared = node.attrs.get("__shape__")
            if declared is not None:
                shape = parse_shape_attr(declared)
            if id(node) in given and given[id(node)] is not None:
                shape = _merge_shape(shape, given[id(node)], _entry_describer(node))
            values.append([shape])
        else:
            values.append([None] * node.num_outputs)

    def call(node, ins, outs):
        return node.op.infer_shape(node.parsed, ins, outs)

    return _run_fixpoint(order, values, call, _merge_shape, is_complete)


def infer_types(order, given):
    """Output dtype names of every node (``None`` where unknown)."""
    values = []
    for node in order:
        if node.op is None:
            dtype = declared_dtype(node)
            if id(node) in given and given[id(node)] is not None:
                dtype = _merge_type(dtype, given[id(node)], _entry_describer(node))
            values.append([dtype])
        else:
            values.append([None] * node.num_outputs)

    def call(node, ins, outs):
        return node.op.infer_type(node.parsed, ins, outs)

    return _run_fixpoint(order, values, call, _merge_type, lambda t: t is not None)
