"""Array operators (ops/arrays.py): MXNet 1.9.1's numbers, shape inference and errors."""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.testing.harness import bind_op, resolve_op


def ar(*shape):
    return np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)


# (op, attrs, inputs, output gradient)
RUNS = {
    "squeeze": ("squeeze", {}, [ar(2, 1, 3, 1)], ar(2, 3) + 1),
    "zeros_like": ("zeros_like", {}, [ar(2, 3)], ar(2, 3) + 1),
    "ones_like": ("ones_like", {}, [ar(2, 3)], ar(2, 3) + 1),
    "broadcast_to": ("broadcast_to", {"shape": (0, 2, 0)}, [ar(2, 1, 3)], ar(2, 2, 3)),
    "broadcast_axis": ("broadcast_axis", {"axis": (0, 2), "size": (2, 2)}, [ar(1, 3, 1)],
                       ar(2, 3, 2)),
    "broadcast_like": ("broadcast_like", {}, [ar(2, 1) + 1, ar(2, 3)], ar(2, 3)),
    "broadcast_like_axes": ("broadcast_like", {"lhs_axes": (0,), "rhs_axes": (-1,)},
                            [ar(1, 2) + 1, ar(4, 3)], ar(3, 2)),
    "tile": ("tile", {"reps": (2, 3)}, [ar(2, 2) + 1], ar(4, 6)),
    "tile_short": ("tile", {"reps": (2,)}, [ar(2, 3)], ar(2, 6)),
    "tile_long": ("tile", {"reps": (2, 1, 1)}, [ar(2, 3)], ar(2, 2, 3)),
    "repeat_flat": ("repeat", {"repeats": 2}, [ar(2, 2) + 1], ar(8)),
    "repeat_axis": ("repeat", {"repeats": 3, "axis": -1}, [ar(2, 2) + 1], ar(2, 6)),
    "stack": ("stack", {"num_args": 2, "axis": 1}, [ar(2, 3), -ar(2, 3)], ar(2, 2, 3)),
    "slice": ("slice", {"begin": (None, 3), "end": (None, 0), "step": (2, -2)}, [ar(3, 4)],
              ar(2, 2) + 1),
    "slice_neg": ("slice", {"begin": (-2, -3), "end": (None, -1)}, [ar(3, 4)], ar(2, 2) + 1),
    "crop": ("crop", {"begin": (1,), "end": (3,)}, [ar(3, 4)], ar(2, 4) + 1),
    "reverse": ("flip", {"axis": (0, 1)}, [ar(2, 3)], ar(2, 3)),
    "reverse_twice": ("reverse", {"axis": (1, 1)}, [ar(2, 3)], ar(2, 3)),
    "where": ("where", {}, [np.array([[1, 0, 2], [0, -1, 0]]), ar(2, 3), -ar(2, 3)],
              ar(2, 3) + 1),
    "where_1d": ("where", {}, [np.array([0., 3.]), ar(2, 3), -ar(2, 3)], ar(2, 3) + 1),
}

# MXNet 1.9.1's outputs for RUNS: (forward, [input gradients]), from mx.nd.<op> under
# mx.autograd.record() with float64 inputs and y.backward(output gradient)
MXNET = {
    'squeeze': ([[0, 1, 2], [3, 4, 5]], [[[[[1], [2], [3]]], [[[4], [5], [6]]]]]),
    'zeros_like': ([[0, 0, 0], [0, 0, 0]], [[[0, 0, 0], [0, 0, 0]]]),
    'ones_like': ([[1, 1, 1], [1, 1, 1]], [[[0, 0, 0], [0, 0, 0]]]),
    'broadcast_to': ([[[0, 1, 2], [0, 1, 2]], [[3, 4, 5], [3, 4, 5]]],
                     [[[[3, 5, 7]], [[15, 17, 19]]]]),
    'broadcast_axis': ([[[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 1], [2, 2]]],
                       [[[[14], [22], [30]]]]),
    'broadcast_like': ([[1, 1, 1], [2, 2, 2]], [[[3], [12]], [[0, 0, 0], [0, 0, 0]]]),
    'broadcast_like_axes': ([[1, 2], [1, 2], [1, 2]],
                            [[[6, 9]], [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]]),
    'tile': ([[1, 2, 1, 2, 1, 2], [3, 4, 3, 4, 3, 4], [1, 2, 1, 2, 1, 2],
              [3, 4, 3, 4, 3, 4]], [[[48, 54], [84, 90]]]),
    'tile_short': ([[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]], [[[3, 5, 7], [15, 17, 19]]]),
    'tile_long': ([[[0, 1, 2], [3, 4, 5]], [[0, 1, 2], [3, 4, 5]]],
                  [[[6, 8, 10], [12, 14, 16]]]),
    'repeat_flat': ([1, 1, 2, 2, 3, 3, 4, 4], [[[1, 5], [9, 13]]]),
    'repeat_axis': ([[1, 1, 1, 2, 2, 2], [3, 3, 3, 4, 4, 4]], [[[3, 12], [21, 30]]]),
    'stack': ([[[0, 1, 2], [0, -1, -2]], [[3, 4, 5], [-3, -4, -5]]],
              [[[0, 1, 2], [6, 7, 8]], [[3, 4, 5], [9, 10, 11]]]),
    'slice': ([[3, 1], [11, 9]], [[[0, 2, 0, 1], [0, 0, 0, 0], [0, 4, 0, 3]]]),
    'slice_neg': ([[5, 6], [9, 10]], [[[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0]]]),
    'crop': ([[4, 5, 6, 7], [8, 9, 10, 11]], [[[0, 0, 0, 0], [1, 2, 3, 4], [5, 6, 7, 8]]]),
    'reverse': ([[5, 4, 3], [2, 1, 0]], [[[5, 4, 3], [2, 1, 0]]]),
    'reverse_twice': ([[0, 1, 2], [3, 4, 5]], [[[0, 1, 2], [3, 4, 5]]]),
    'where': ([[0, -1, 2], [-3, 4, -5]],
              [[[0, 0, 0], [0, 0, 0]], [[1, 0, 3], [0, 5, 0]], [[0, 2, 0], [4, 0, 6]]]),
    'where_1d': ([[0, -1, -2], [3, 4, 5]],
                 [[0, 0], [[0, 0, 0], [4, 5, 6]], [[1, 2, 3], [0, 0, 0]]]),
}


@pytest.mark.parametrize("key", sorted(RUNS))
def test_matches_mxnet_forward_and_gradients(key):
    op, attrs, inputs, ograd = RUNS[key]
    expected_out, expected_grads = MXNET[key]
    bound = bind_op(op, attrs, [x.shape for x in inputs], dtype="float64")
    out = bound.forward(inputs)[0]
    np.testing.assert_array_equal(out, expected_out)
    grads = bound.backward([ograd])
    assert len(grads) == len(expected_grads)
    for got, want in zip(grads, expected_grads):
        np.testing.assert_array_equal(got, want)
    # 'add' accumulates onto what is there
    start = [np.full(x.shape, 0.5) for x in inputs]
    added = bound.backward([ograd], req="add", grads=start)
    for got, want, s in zip(added, expected_grads, start):
        np.testing.assert_array_equal(got, np.asarray(want) + s)


def test_names_and_aliases_are_mxnets():
    for alias, name in (("flip", "reverse"), ("crop", "slice"),
                        ("broadcast_axes", "broadcast_axis")):
        assert resolve_op(alias).name == name
    c, x, y = (mx.sym.var(n) for n in ("c", "x", "y"))
    assert mx.sym.where(c, x, y).list_arguments() == ["c", "x", "y"]
    assert mx.sym.stack(num_args=2, name="st").list_arguments() == ["st_arg0", "st_arg1"]
    assert mx.sym.broadcast_like(name="bl").list_arguments() == ["bl_lhs", "bl_rhs"]


# (op, attrs, input shapes, output shapes) as MXNet 1.9.1's infer_shape gives them
@pytest.mark.parametrize("op,attrs,shapes,expected", [
    ("squeeze", {}, [(2, 1, 3, 1)], [(2, 3)]),
    ("squeeze", {}, [(1, 1)], [(1,)]),
    ("squeeze", {"axis": (-1, 1)}, [(2, 1, 3, 1)], [(2, 3)]),
    ("squeeze", {"axis": ()}, [(2, 1, 3)], [(2, 1, 3)]),
    ("broadcast_to", {"shape": (0, 4, 0)}, [(2, 1, 3)], [(2, 4, 3)]),
    ("broadcast_axis", {"axis": (0, 1), "size": (2, 4)}, [(1, 1, 3)], [(2, 4, 3)]),
    ("broadcast_axis", {}, [(2, 1, 3)], [(2, 1, 3)]),
    ("broadcast_like", {}, [(1, 1), (3, 4)], [(3, 4)]),
    ("broadcast_like", {"lhs_axes": (-3, -2), "rhs_axes": (0, -1)}, [(1, 1, 3), (5, 4)],
     [(5, 4, 3)]),
    ("tile", {"reps": (3,)}, [(2, 3)], [(2, 9)]),
    ("tile", {"reps": (2, 1, 2)}, [(2, 3)], [(2, 2, 6)]),
    ("tile", {"reps": ()}, [(2, 3)], [(2, 3)]),
    ("repeat", {"repeats": 2}, [(2, 3)], [(12,)]),
    ("repeat", {"repeats": 2, "axis": -2}, [(2, 3)], [(4, 3)]),
    ("stack", {"num_args": 2, "axis": -1}, [(2, 3), (2, 3)], [(2, 3, 2)]),
    ("stack", {"num_args": 2, "axis": -3}, [(2, 3), (2, 3)], [(2, 2, 3)]),
    ("slice", {"begin": (-10,), "end": (10,)}, [(2, 3, 4)], [(2, 3, 4)]),
    ("slice", {"begin": (1, 2, 3), "end": (0, 0, 0), "step": (-1, -1, -1)}, [(2, 3, 4)],
     [(1, 2, 3)]),
    ("slice", {"begin": (None, None, 3), "end": (None, None, -6), "step": (None, None, -2)},
     [(2, 3, 4)], [(2, 3, 2)]),
    ("slice", {"begin": (0, 5), "end": (2, 1), "step": (1, -1)}, [(2, 3, 4)], [(2, 1, 4)]),
    ("slice", {"begin": (), "end": ()}, [(2, 3, 4)], [(2, 3, 4)]),
    ("where", {}, [(2,), (2, 3), (2, 3)], [(2, 3)]),
])
def test_inferred_shapes(op, attrs, shapes, expected):
    assert bind_op(op, attrs, shapes).out_shapes == expected


def _infer(op_name, attrs, ins, outs):
    op = resolve_op(op_name)
    return op.infer_shape(op.parse_attrs(attrs), ins, outs)


def test_partial_inference_like_mxnet():
    # unknown dimensions (0) stay unknown; what is known still flows (MXNet 1.9.1 alike)
    assert _infer("broadcast_to", {"shape": (0, 4, 3)}, [(0, 1, 3)], [None]) == \
        ([(0, 1, 3)], [(0, 4, 3)])
    assert _infer("broadcast_like", {}, [(2, 1, 3), (0, 4, 3)], [None])[1] == [(2, 4, 3)]
    assert _infer("broadcast_like", {"lhs_axes": (1,), "rhs_axes": (1,)},
                  [(2, 1, 3), (5, 0)], [None])[1] == [(2, 0, 3)]
    assert _infer("slice", {"begin": (0, 1), "end": (2, 3)}, [(0, 4)], [None])[1] == [(0, 2)]
    assert _infer("repeat", {"repeats": 2, "axis": 1}, [(0, 3)], [None])[1] == [(0, 6)]
    # an unknown input leaves the output unknown
    assert _infer("squeeze", {}, [None], [None]) == ([None], [None])
    assert _infer("tile", {"reps": (2,)}, [None], [None]) == ([None], [None])


def test_backward_inference():
    # MXNet infers zeros_like/ones_like/reverse inputs from the output, and where's x from y
    for op, attrs in (("zeros_like", {}), ("ones_like", {}), ("reverse", {"axis": (0,)})):
        assert _infer(op, attrs, [None], [(2, 3)]) == ([(2, 3)], [(2, 3)])
    assert _infer("where", {}, [(2, 3), None, (2, 3)], [None]) == \
        ([(2, 3), (2, 3), (2, 3)], [(2, 3)])
    # gradloom goes further where the answer is unambiguous: stack's inputs unify with each
    # other and with the output, where's x and y follow the output and a 1-D condition
    assert _infer("stack", {"num_args": 2, "axis": 1}, [(0, 3), None], [(2, 2, 0)]) == \
        ([(2, 3), (2, 3)], [(2, 2, 3)])
    assert _infer("where", {}, [(2,), None, None], [(0, 3)]) == \
        ([(2,), (2, 3), (2, 3)], [(2, 3)])
    assert _infer("where", {}, [(2, 3), None, None], [None]) == \
        ([(2, 3), (2, 3), (2, 3)], [(2, 3)])
    # a 1-D condition alone cannot tell x's rank
    assert _infer("where", {}, [(2,), None, None], [None]) == ([(2,), None, None], [None])
    # the squeezed axes refill from the element count
    assert _infer("squeeze", {"axis": (1,)}, [(0, 1, 3)], [(2, 3)]) == ([(2, 1, 3)], [(2, 3)])


def test_graph_inference_and_json_round_trip():
    data, other = mx.sym.var("data"), mx.sym.var("other")
    net = mx.sym.stack(mx.sym.slice(data, begin=(None, 1), end=(None, None), name="s"),
                       mx.sym.flip(mx.sym.squeeze(other, axis=1), axis=0), axis=1, name="st")
    net = mx.sym.where(mx.sym.var("cond"), net, mx.sym.zeros_like(net), name="w")
    _, outs, _ = net.infer_shape(data=(4, 4), other=(4, 1, 3), cond=(4,))
    assert outs == [(4, 2, 3)]
    back = mx.sym.load_json(net.tojson())
    assert back.list_arguments() == net.list_arguments() == ["cond", "data", "other"]
    assert back.list_outputs() == net.list_outputs() == ["w_output"]
    assert back.tojson() == net.tojson()
    nodes = {n["name"]: n for n in json.loads(net.tojson())["nodes"]}
    assert nodes["s"]["attrs"] == {"begin": "(None, 1)", "end": "(None, None)"}
    assert nodes["st"]["attrs"] == {"axis": "1", "num_args": "2"}


def test_where_and_broadcast_like_keep_the_other_dtype():
    # MXNet 1.9.1: condition int32 with x float32 infers fine; rhs only lends its shape
    c, x, y = mx.sym.var("c"), mx.sym.var("x"), mx.sym.var("y")
    args, outs, _ = mx.sym.where(c, x, y).infer_type(c="int32", x="float32")
    assert [np.dtype(t).name for t in args] == ["int32", "float32", "float32"]
    assert np.dtype(outs[0]).name == "float32"
    args, outs, _ = mx.sym.broadcast_like(x, y).infer_type(x="float32", y="int32")
    assert [np.dtype(t).name for t in args + outs] == ["float32", "int32", "float32"]
    bound = bind_op("where", {}, [(2,), (2, 2), (2, 2)], in_types=["int32", "float32"])
    out = bound.forward([np.array([0, 7]), np.ones((2, 2)), np.zeros((2, 2))])[0]
    np.testing.assert_array_equal(out, [[0, 0], [1, 1]])


@pytest.mark.parametrize("op,attrs,shapes,error,match", [
    ("squeeze", {"axis": (0,)}, [(2, 1, 3)], ShapeError, r"axis 0 .* has size 2"),
    ("squeeze", {"axis": (1, 1)}, [(2, 1, 3)], AttributeValueError, "twice"),
    ("squeeze", {"axis": (5,)}, [(2, 1, 3)], AttributeValueError, "out of range"),
    ("broadcast_to", {"shape": (3, 4)}, [(1,)], ShapeError, "ranks differ"),
    ("broadcast_to", {"shape": (2, 4, 3)}, [(2, 2, 3)], ShapeError, "only size-1"),
    ("broadcast_to", {"shape": (2, -1, 3)}, [(2, 1, 3)], AttributeValueError, "negative"),
    ("broadcast_to", {"shape": ()}, [(2, 1, 3)], ShapeError, "ranks differ"),
    ("broadcast_axis", {"axis": (1,), "size": (4, 5)}, [(2, 1, 3)], AttributeValueError,
     "one size per axis"),
    ("broadcast_axis", {"axis": 1, "size": 4}, [(2, 2, 3)], ShapeError, "size 2"),
    ("broadcast_axis", {"axis": 5, "size": 4}, [(2, 1, 3)], AttributeValueError,
     "out of range"),
    ("broadcast_axis", {"axis": 1, "size": 0}, [(2, 1, 3)], AttributeValueError, "positive"),
    ("broadcast_like", {}, [(2, 1), (3, 4)], ShapeError, "only size-1"),
    ("broadcast_like", {}, [(1,), (3, 4)], ShapeError, "ranks differ"),
    ("broadcast_like", {"lhs_axes": (1,)}, [(2, 1, 3), (5, 4)], AttributeValueError,
     "both lhs_axes and rhs_axes"),
    ("broadcast_like", {"lhs_axes": (1,), "rhs_axes": (0, 1)}, [(2, 1, 3), (5, 4)],
     AttributeValueError, "pair up"),
    ("broadcast_like", {"lhs_axes": (), "rhs_axes": ()}, [(2, 1, 3), (5, 4)],
     AttributeValueError, "not be empty"),
    ("broadcast_like", {"lhs_axes": (1,), "rhs_axes": (1,)}, [(2, 2, 3), (5, 4)], ShapeError,
     "size-1 axes"),
    ("broadcast_like", {"lhs_axes": (1,), "rhs_axes": (2,)}, [(2, 1, 3), (5, 4)],
     AttributeValueError, "rhs_axes entry 2 is out of range"),
    ("tile", {"reps": (0, 2)}, [(2, 3)], AttributeValueError, "positive"),
    ("tile", {}, [(2, 3)], AttributeValueError, "required attribute 'reps'"),
    ("repeat", {"repeats": -1}, [(2, 3)], AttributeValueError, "positive"),
    ("repeat", {"repeats": 2, "axis": 2}, [(2, 3)], AttributeValueError, "out of range"),
    ("stack", {"num_args": 2}, [(2, 3), (2, 4)], ShapeError, "input 'arg1' has shape"),
    ("stack", {"num_args": 2, "axis": 3}, [(2, 3), (2, 3)], AttributeValueError,
     "out of range"),
    ("slice", {"begin": (0, 0), "end": (1,)}, [(2, 3)], AttributeValueError, "same length"),
    ("slice", {"begin": (0,), "end": (1,), "step": (0,)}, [(2, 3)], AttributeValueError,
     "contains 0"),
    ("slice", {"begin": (0, 0, 0), "end": (1, 1, 1)}, [(2, 3)], ShapeError, "slices 3 axes"),
    ("slice", {"begin": (1,), "end": (1,)}, [(2, 3)], ShapeError, "select nothing"),
    ("reverse", {"axis": (2,)}, [(2, 3)], AttributeValueError, "out of range"),
    ("where", {}, [(3,), (2, 3), (2, 3)], ShapeError, "1-D input 'condition'"),
    ("where", {}, [(2, 1), (2, 3), (2, 3)], ShapeError, "input 'condition' has shape"),
    ("where", {}, [(2, 3, 1), (2, 3), (2, 3)], ShapeError, "make it 1-D with 2 entries"),
    ("where", {}, [(2, 3), (2, 3), (2, 4)], ShapeError, "input 'y' has shape"),
])
def test_bad_attributes_and_shapes_raise_typed_errors(op, attrs, shapes, error, match):
    with pytest.raises(error, match=match):
        bind_op(op, attrs, shapes)


def test_graph_errors_name_the_node():
    net = mx.sym.broadcast_axis(mx.sym.var("data"), axis=1, size=4, name="bcast")
    with pytest.raises(ShapeError, match="bcast.*only size-1 axes can be broadcast"):
        net.infer_shape(data=(2, 3))
