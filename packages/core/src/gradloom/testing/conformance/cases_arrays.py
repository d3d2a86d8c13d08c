"""Conformance cases of the array operators (ops/arrays.py): numpy references."""
import numpy as np

from .cases import Case, _unary, _zero_grads


def _squeeze_ref(x, aux, a, t):
    out = np.squeeze(x[0], axis=a.axis)
    return [out.reshape(1) if out.ndim == 0 else out]


def _broadcast_like_ref(x, aux, a, t):
    if a.lhs_axes is None:
        return [np.broadcast_to(x[0], x[1].shape)]
    shape = list(x[0].shape)
    for la, ra in zip(a.lhs_axes, a.rhs_axes):
        shape[la] = x[1].shape[ra]
    return [np.broadcast_to(x[0], shape)]


def _broadcast_axis_ref(x, aux, a, t):
    shape = list(x[0].shape)
    for axis, size in zip(a.axis, a.size):
        shape[axis] = size
    return [np.broadcast_to(x[0], shape)]


def _slice_ref(x, aux, a, t):
    step = a.step or (None,) * len(a.begin)
    return [x[0][tuple(slice(*bes) for bes in zip(a.begin, a.end, step))]]


def _where_ref(x, aux, a, t):
    cond = x[0] if x[0].ndim == x[1].ndim else x[0].reshape((-1,) + (1,) * (x[1].ndim - 1))
    return [np.where(cond != 0, x[1], x[2])]


def add_cases(add):
    add(Case("squeeze", {}, [(2, 1, 3, 1)], _squeeze_ref))
    add(Case("squeeze", {"axis": (-1, 1)}, [(2, 1, 3, 1)], _squeeze_ref, name="squeeze-axes"))
    add(Case("squeeze", {"axis": (2,)}, [(2, 3, 1)], _squeeze_ref, name="squeeze-one-axis"))
    add(Case("squeeze", {}, [(1, 1)], _squeeze_ref, name="squeeze-all"))
    add(Case("zeros_like", {}, [(2, 3)], _unary(np.zeros_like), grad=_zero_grads))
    add(Case("ones_like", {}, [(2, 3)], _unary(np.ones_like), grad=_zero_grads))
    add(Case("broadcast_to", {"shape": (2, 4, 3)}, [(2, 1, 3)],
             _unary(lambda x: np.broadcast_to(x, (2, 4, 3)))))
    add(Case("broadcast_to", {"shape": (0, 4, 5)}, [(2, 1, 1)],
             _unary(lambda x: np.broadcast_to(x, (2, 4, 5))), name="broadcast_to-keep"))
    add(Case("broadcast_axis", {"axis": (1,), "size": (4,)}, [(2, 1, 3)], _broadcast_axis_ref))
    add(Case("broadcast_axis", {"axis": (0, 2), "size": (2, 3)}, [(1, 3, 1)],
             _broadcast_axis_ref, name="broadcast_axis-two"))
    add(Case("broadcast_like", {}, [(2, 1, 3), (2, 4, 3)], _broadcast_like_ref))
    add(Case("broadcast_like", {"lhs_axes": (1,), "rhs_axes": (0,)}, [(2, 1, 3), (4, 5)],
             _broadcast_like_ref, name="broadcast_like-axes"))
    add(Case("broadcast_like", {"lhs_axes": (0, 2), "rhs_axes": (1, 0)}, [(1, 3, 1), (2, 4)],
             _broadcast_like_ref, name="broadcast_like-two-axes"))
    add(Case("tile", {"reps": (2, 3)}, [(2, 3)], _unary(lambda x: np.tile(x, (2, 3)))))
    add(Case("tile", {"reps": (2,)}, [(2, 3, 2)], _unary(lambda x: np.tile(x, (2,))),
             name="tile-short-reps"))
    add(Case("tile", {"reps": (2, 1, 3)}, [(2, 3)], _unary(lambda x: np.tile(x, (2, 1, 3))),
             name="tile-long-reps"))
    add(Case("repeat", {"repeats": 2}, [(2, 3)], _unary(lambda x: np.repeat(x, 2))))
    add(Case("repeat", {"repeats": 3, "axis": 1}, [(2, 3, 2)],
             _unary(lambda x: np.repeat(x, 3, axis=1)), name="repeat-axis"))
    add(Case("repeat", {"repeats": 2, "axis": -1}, [(2, 3)],
             _unary(lambda x: np.repeat(x, 2, axis=-1)), name="repeat-last-axis"))
    add(Case("stack", {"num_args": 3}, [(2, 3)] * 3,
             lambda x, aux, a, t: [np.stack(x, axis=0)]))
    add(Case("stack", {"num_args": 2, "axis": -1}, [(2, 3)] * 2,
             lambda x, aux, a, t: [np.stack(x, axis=-1)], name="stack-last-axis"))
    add(Case("stack", {"num_args": 2, "axis": 1}, [(2, 3, 2)] * 2,
             lambda x, aux, a, t: [np.stack(x, axis=1)], name="stack-middle-axis"))
    add(Case("slice", {"begin": (0, 1), "end": (2, 3)}, [(3, 4, 2)], _slice_ref))
    add(Case("slice", {"begin": (None, -3, 1), "end": (None, None, None), "step": (2, 2, None)},
             [(3, 5, 2)], _slice_ref, name="slice-none-negative-step2"))
    add(Case("slice", {"begin": (None, 3), "end": (None, 0), "step": (-1, -2)}, [(3, 5)],
             _slice_ref, name="slice-reversed"))
    add(Case("reverse", {"axis": (0,)}, [(3, 4)], _unary(lambda x: x[::-1])))
    add(Case("reverse", {"axis": (0, 2)}, [(2, 3, 4)], _unary(lambda x: x[::-1, :, ::-1]),
             name="reverse-two-axes"))
    add(Case("where", {}, [(3, 4), (3, 4), (3, 4)], _where_ref,
             kinds=("label:2", "signed", "signed")))
    add(Case("where", {}, [(3,), (3, 4), (3, 4)], _where_ref,
             kinds=("label:2", "signed", "signed"), name="where-1d-condition"))
