"""Conformance cases of the indexing, ordering, prod/norm and sequence operators.

References index with numpy directly (``take_along_axis``, ``argsort``, loops over the
batch), sharing nothing with the kernels' flat-offset gathers. Indices are read as MXNet
reads them: truncated toward zero, then clipped or wrapped. "index:N" inputs draw -1..N, so
clip and wrap both meet out-of-range values; attributes meaning "no axis" are given as the
string "None" (a Python None would select the default).
"""
import numpy as np

from .cases import Case


def _indices(values, size, mode):
    index = np.trunc(values).astype(np.int64)
    return np.mod(index, size) if mode == "wrap" else np.clip(index, 0, size - 1)


def _at_least_1d(value):
    value = np.asarray(value, dtype=np.float64)
    return value.reshape(value.shape or (1,))


# -- one_hot, argmax/argmin, pick, take -------------------------------------------------
def _one_hot_ref(x, aux, a, t):
    hot = np.trunc(x[0])[..., None] == np.arange(a.depth)
    return [np.where(hot, a.on_value, a.off_value)]


def _arg_ref(fn):
    def ref(x, aux, a, t):
        data = x[0]
        if a.axis is None:
            shape = (1,) * data.ndim if a.keepdims else (1,)
            return [np.full(shape, float(fn(data)))]
        return [_at_least_1d(fn(data, axis=a.axis, keepdims=a.keepdims))]
    return ref


def _pick_ref(x, aux, a, t):
    data = x[0]
    axis = a.axis % data.ndim
    kept = data.shape[:axis] + (1,) + data.shape[axis + 1:]
    index = _indices(x[1], data.shape[axis], a.mode).reshape(kept)
    out = np.take_along_axis(data, index, axis)
    return [out if a.keepdims else _at_least_1d(np.squeeze(out, axis))]


def _take_ref(x, aux, a, t):
    size = x[0].shape[a.axis]
    return [np.take(x[0], _indices(x[1], size, "wrap" if a.mode == "wrap" else "clip"),
                    axis=a.axis)]


# -- topk, sort, argsort ----------------------------------------------------------------
def _ordering_ref(ret_default):
    """topk with sort's and argsort's fixed settings (``k`` 0 = the whole axis)."""
    def ref(x, aux, a, t):
        data, axis = x[0], a.axis
        if axis is None:
            data, axis = data.reshape(-1), 0
        order = np.argsort(data if a.is_ascend else -data, axis=axis, kind="stable")
        size = data.shape[axis]
        k = a.get("k", 0)
        k = k if k >= 1 else size
        chosen = np.take(order, np.arange(k), axis=axis)
        ret_typ = a.get("ret_typ", ret_default)
        if ret_typ == "mask":
            mask = np.zeros(data.shape)
            np.put_along_axis(mask, chosen, 1.0, axis)
            return [mask.reshape(x[0].shape)]
        values = np.take_along_axis(data, chosen, axis)
        return {"value": [values], "indices": [chosen.astype(np.float64)],
                "both": [values, chosen.astype(np.float64)]}[ret_typ]
    return ref


# -- prod, norm -------------------------------------------------------------------------
def _reduce_ref(fn):
    """MXNet's reduction axes: no axis reduces everything, exclude or not."""
    def ref(x, aux, a, t):
        nd = x[0].ndim
        axes = tuple(range(nd))
        if a.axis:
            axes = tuple(sorted(i % nd for i in a.axis))
            if a.get("exclude"):
                axes = tuple(i for i in range(nd) if i not in axes)
        return [_at_least_1d(fn(x[0], axis=axes, keepdims=a.keepdims))]
    return ref


def _norm(x, axis, keepdims, order):
    if order == 1:
        return np.abs(x).sum(axis=axis, keepdims=keepdims)
    return np.sqrt((x * x).sum(axis=axis, keepdims=keepdims))


def _norm_ref(x, aux, a, t):
    return _reduce_ref(lambda v, axis, keepdims: _norm(v, axis, keepdims, a.ord))(x, aux, a, t)


# -- sequences --------------------------------------------------------------------------
def _time_major(x, a):
    """The data as (time, batch, ...) and the truncated lengths (``None`` without them)."""
    data = x[0] if a.axis == 0 else np.swapaxes(x[0], 0, 1)
    lengths = np.trunc(x[1]).astype(int) if a.use_sequence_length else None
    return data, lengths


def _sequence_mask_ref(x, aux, a, t):
    data, lengths = _time_major(x, a)
    out = data.copy()
    if lengths is not None:
        for b, length in enumerate(lengths):
            out[max(length, 0):, b] = a.value
    return [out if a.axis == 0 else np.swapaxes(out, 0, 1)]


def _sequence_last_ref(x, aux, a, t):
    data, lengths = _time_major(x, a)
    steps = data.shape[0]
    if lengths is None:
        return [data[-1]]
    # a length of 0 (or less, or above the steps) reads the nearest existing step
    return [np.stack([data[min(max(n - 1, 0), steps - 1), b] for b, n in enumerate(lengths)])]


def _sequence_reverse_ref(x, aux, a, t):
    data, lengths = _time_major(x, a)
    steps = data.shape[0]
    if lengths is None:
        return [data[::-1].copy()]
    out = data.copy()
    for b, length in enumerate(lengths):
        length = min(max(length, 0), steps)
        out[:length, b] = data[:length, b][::-1]
    return [out]


def add_cases(add):
    # -- one_hot, argmax/argmin, pick, take
    add(Case("one_hot", {"depth": 4}, [(2, 3)], _one_hot_ref, kinds=("index:4",)))
    add(Case("one_hot", {"depth": 3, "on_value": 2.5, "off_value": -1, "dtype": "float64"},
             [(5,)], _one_hot_ref, kinds=("index:3",), name="one_hot-values"))
    add(Case("argmax", {"axis": 1}, [(2, 3, 4)], _arg_ref(np.argmax), kinds=("distinct",)))
    add(Case("argmax", {"axis": "None", "keepdims": True}, [(2, 3)], _arg_ref(np.argmax),
             kinds=("distinct",), name="argmax-flat"))
    add(Case("argmin", {"axis": -1, "keepdims": True}, [(2, 3, 4)], _arg_ref(np.argmin),
             kinds=("distinct",)))
    add(Case("argmin", {}, [(3, 4)], _arg_ref(np.argmin), kinds=("distinct",),
             name="argmin-flat"))
    add(Case("pick", {}, [(3, 4)], _pick_ref, kinds=("signed", "index:4")))
    add(Case("pick", {"axis": 1, "keepdims": True, "mode": "wrap"}, [(2, 3, 4)], _pick_ref,
             kinds=("signed", "index:3"), name="pick-wrap-keepdims"))
    add(Case("pick", {"axis": 0}, [(3, 4), (1, 4)], _pick_ref, kinds=("signed", "index:3"),
             name="pick-kept-index"))
    add(Case("take", {}, [(4, 3), (2, 3)], _take_ref, kinds=("signed", "index:4")))
    add(Case("take", {"axis": 1, "mode": "wrap"}, [(2, 3, 2), (5,)], _take_ref,
             kinds=("signed", "index:3"), name="take-wrap"))
    add(Case("take", {"axis": -1, "mode": "raise"}, [(2, 5), (6,)], _take_ref,
             kinds=("signed", "label:5"), name="take-raise"))
    # -- topk, sort, argsort (tie-free inputs: the order of ties is not compared)
    for attrs, shape, tag in (
            ({"k": 2}, (3, 5), "indices"),
            ({"k": 2, "ret_typ": "value", "axis": 0}, (4, 3), "value"),
            ({"k": 3, "ret_typ": "both", "is_ascend": True}, (2, 3, 4), "both-ascend"),
            ({"k": 2, "ret_typ": "mask", "axis": 1}, (2, 3, 4), "mask"),
            ({"k": 4, "ret_typ": "both", "axis": "None"}, (2, 3), "flat"),
            ({"k": 0, "ret_typ": "value"}, (2, 4), "all")):
        add(Case("topk", attrs, [shape], _ordering_ref("indices"), kinds=("distinct",),
                 name=f"topk-{tag}"))
    add(Case("sort", {}, [(3, 4)], _ordering_ref("value"), kinds=("distinct",)))
    add(Case("sort", {"axis": 0, "is_ascend": False}, [(3, 4)], _ordering_ref("value"),
             kinds=("distinct",), name="sort-descending"))
    add(Case("sort", {"axis": "None"}, [(3, 4)], _ordering_ref("value"), kinds=("distinct",),
             name="sort-flat"))
    add(Case("argsort", {}, [(3, 4)], _ordering_ref("indices"), kinds=("distinct",)))
    add(Case("argsort", {"axis": 0, "is_ascend": False, "dtype": "int32"}, [(3, 4)],
             _ordering_ref("indices"), kinds=("distinct",), name="argsort-descending-int"))
    # -- prod, norm
    add(Case("prod", {}, [(2, 3)], _reduce_ref(np.prod)))
    add(Case("prod", {"axis": (1,)}, [(2, 3, 4)], _reduce_ref(np.prod), name="prod-axis"))
    add(Case("prod", {"axis": (0, 2), "keepdims": True}, [(2, 3, 4)], _reduce_ref(np.prod),
             name="prod-keepdims"))
    add(Case("prod", {"axis": (1,), "exclude": True}, [(2, 3, 4)], _reduce_ref(np.prod),
             name="prod-exclude"))
    add(Case("prod", {"exclude": True}, [(2, 3)], _reduce_ref(np.prod),
             name="prod-exclude-noaxis"))
    add(Case("norm", {}, [(2, 3, 4)], _norm_ref))
    add(Case("norm", {"ord": 1}, [(2, 3, 4)], _norm_ref, name="norm-l1"))
    add(Case("norm", {"axis": (1,)}, [(2, 3, 4)], _norm_ref, name="norm-axis"))
    add(Case("norm", {"ord": 1, "axis": (0, 2), "keepdims": True}, [(2, 3, 4)], _norm_ref,
             name="norm-l1-keepdims"))
    add(Case("norm", {"axis": (-1,), "out_dtype": "float64"}, [(3, 4)], _norm_ref,
             name="norm-out-dtype"))
    # -- sequences: lengths -1..T (below, at and beyond the valid range)
    add(Case("SequenceMask", {}, [(4, 3, 2)], _sequence_mask_ref))
    add(Case("SequenceMask", {"use_sequence_length": True}, [(4, 3, 2)], _sequence_mask_ref,
             kinds=("signed", "index:4"), name="SequenceMask-lengths"))
    add(Case("SequenceMask", {"use_sequence_length": True, "value": -2, "axis": 1}, [(3, 4)],
             _sequence_mask_ref, kinds=("signed", "index:4"), name="SequenceMask-axis1"))
    add(Case("SequenceLast", {}, [(4, 3, 2)], _sequence_last_ref))
    add(Case("SequenceLast", {"use_sequence_length": True}, [(4, 3, 2)], _sequence_last_ref,
             kinds=("signed", "index:4"), name="SequenceLast-lengths"))
    add(Case("SequenceLast", {"use_sequence_length": True, "axis": 1}, [(3, 5, 2)],
             _sequence_last_ref, kinds=("signed", "index:5"), name="SequenceLast-axis1"))
    add(Case("SequenceReverse", {}, [(4, 3, 2)], _sequence_reverse_ref))
    add(Case("SequenceReverse", {"use_sequence_length": True}, [(4, 3, 2)],
             _sequence_reverse_ref, kinds=("signed", "index:4"),
             name="SequenceReverse-lengths"))
    add(Case("SequenceReverse", {"use_sequence_length": True}, [(5, 3)],
             _sequence_reverse_ref, kinds=("signed", "index:5"), name="SequenceReverse-2d"))
