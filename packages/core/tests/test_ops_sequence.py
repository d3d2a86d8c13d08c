"""SequenceMask, SequenceLast, SequenceReverse.

Expected numbers marked "MXNet 1.9.1" are that version's outputs and gradients
(``simple_bind`` + ``backward``) for ``X = arange(1, 25).reshape(4, 3, 2)`` (time, batch,
feature) and the output gradient ``1, 2, 3, ...`` in C order, pasted as constants.
"""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.testing.harness import bind_op, infer_shapes, resolve_op

X = np.arange(1, 25, dtype=np.float32).reshape(4, 3, 2)


def run(op, attrs, inputs):
    inputs = [np.asarray(x, dtype=np.float32) for x in inputs]
    bound = bind_op(op, attrs, [x.shape for x in inputs])
    out = bound.forward(inputs)[0]
    grads = bound.backward([np.arange(1, out.size + 1, dtype=np.float32).reshape(out.shape)])
    return out, grads


def shapes_of(op, attrs, in_shapes, out_shapes=None):
    op = resolve_op(op)
    return infer_shapes(op, op.parse_attrs(attrs), in_shapes, out_shapes)


LENGTHS = {"use_sequence_length": True}


def test_without_lengths():
    # MXNet 1.9.1: identity, the last step, the whole time axis reversed
    out, grads = run("SequenceMask", {}, [X])
    np.testing.assert_array_equal(out, X)
    np.testing.assert_array_equal(grads[0], X)   # the output gradient passes through
    out, grads = run("SequenceLast", {}, [X])
    np.testing.assert_array_equal(out, [[19, 20], [21, 22], [23, 24]])
    np.testing.assert_array_equal(grads[0][:3], 0)
    np.testing.assert_array_equal(grads[0][3], [[1, 2], [3, 4], [5, 6]])
    out, grads = run("SequenceReverse", {}, [X])
    np.testing.assert_array_equal(out, X[::-1])
    np.testing.assert_array_equal(grads[0], X[::-1])


def test_sequence_mask_with_lengths():
    # MXNet 1.9.1: lengths are truncated (2.7 -> 2); a length of 0 masks everything
    out, grads = run("SequenceMask", dict(LENGTHS, value=-1), [X, [2.7, 4, 0]])
    np.testing.assert_array_equal(out, [
        [[1, 2], [3, 4], [-1, -1]], [[7, 8], [9, 10], [-1, -1]],
        [[-1, -1], [15, 16], [-1, -1]], [[-1, -1], [21, 22], [-1, -1]]])
    np.testing.assert_array_equal(grads[0], [
        [[1, 2], [3, 4], [0, 0]], [[7, 8], [9, 10], [0, 0]],
        [[0, 0], [15, 16], [0, 0]], [[0, 0], [21, 22], [0, 0]]])
    np.testing.assert_array_equal(grads[1], 0)
    out, grads = run("SequenceMask", dict(LENGTHS, axis=1), [X.transpose(1, 0, 2), [2, 4, 1]])
    np.testing.assert_array_equal(out, [
        [[1, 2], [7, 8], [0, 0], [0, 0]], [[3, 4], [9, 10], [15, 16], [21, 22]],
        [[5, 6], [0, 0], [0, 0], [0, 0]]])
    np.testing.assert_array_equal(grads[0], [
        [[1, 2], [3, 4], [0, 0], [0, 0]], [[9, 10], [11, 12], [13, 14], [15, 16]],
        [[17, 18], [0, 0], [0, 0], [0, 0]]])


def test_sequence_last_with_lengths():
    # MXNet 1.9.1
    out, grads = run("SequenceLast", LENGTHS, [X, [2.7, 4, 1]])
    np.testing.assert_array_equal(out, [[7, 8], [21, 22], [5, 6]])
    np.testing.assert_array_equal(grads[0], [
        [[0, 0], [0, 0], [5, 6]], [[1, 2], [0, 0], [0, 0]],
        [[0, 0], [0, 0], [0, 0]], [[0, 0], [3, 4], [0, 0]]])
    np.testing.assert_array_equal(grads[1], 0)
    out, grads = run("SequenceLast", dict(LENGTHS, axis=1), [X.transpose(1, 0, 2), [2, 4, 1]])
    np.testing.assert_array_equal(out, [[7, 8], [21, 22], [5, 6]])
    np.testing.assert_array_equal(grads[0], [
        [[0, 0], [1, 2], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0], [3, 4]],
        [[5, 6], [0, 0], [0, 0], [0, 0]]])


def test_sequence_reverse_with_lengths():
    # MXNet 1.9.1: the first `length` steps reversed, later ones (and length 0) unchanged
    out, grads = run("SequenceReverse", LENGTHS, [X, [2.7, 4, 0]])
    expected = [[[7, 8], [21, 22], [5, 6]], [[1, 2], [15, 16], [11, 12]],
                [[13, 14], [9, 10], [17, 18]], [[19, 20], [3, 4], [23, 24]]]
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(grads[0], expected)   # the same permutation
    np.testing.assert_array_equal(grads[1], 0)


def test_out_of_range_lengths_are_clipped():
    # MXNet 1.9.1 reads outside the data here (garbage or a crash); gradloom clips the
    # length into 0..time, and SequenceLast reads step 0 for a length of 0
    out, _ = run("SequenceLast", LENGTHS, [X, [0, 9, -2]])
    np.testing.assert_array_equal(out, [[1, 2], [21, 22], [5, 6]])
    out, _ = run("SequenceReverse", LENGTHS, [X, [9, -1, 4]])
    np.testing.assert_array_equal(out[:, 0], X[::-1, 0])
    np.testing.assert_array_equal(out[:, 1], X[:, 1])
    # SequenceMask needs no clipping: MXNet 1.9.1 keeps everything / nothing
    out, _ = run("SequenceMask", LENGTHS, [X, [9, -1, 1]])
    np.testing.assert_array_equal(out[:, 0], X[:, 0])
    np.testing.assert_array_equal(out[:, 1], 0)


def test_shapes():
    # MXNet 1.9.1's inferred shapes
    assert shapes_of("SequenceMask", LENGTHS, [(4, 3, 2)]) == ([(4, 3, 2), (3,)], [(4, 3, 2)])
    assert shapes_of("SequenceMask", dict(LENGTHS, axis=1), [(4, 3, 2)])[0][1] == (4,)
    assert shapes_of("SequenceLast", {}, [(4, 3, 2)])[1] == [(3, 2)]
    assert shapes_of("SequenceLast", dict(LENGTHS, axis=1), [(4, 3, 2)]) == \
        ([(4, 3, 2), (4,)], [(4, 2)])
    assert shapes_of("SequenceLast", {}, [(4, 3)])[1] == [(3,)]
    assert shapes_of("SequenceReverse", LENGTHS, [(5, 2)]) == ([(5, 2), (2,)], [(5, 2)])
    # partial: an unknown time axis still gives SequenceLast's output; the lengths give the
    # batch size
    op = resolve_op("SequenceLast")
    attrs = op.parse_attrs(LENGTHS)
    assert op.infer_shape(attrs, [(0, 3, 2), None], [None]) == ([(0, 3, 2), (3,)], [(3, 2)])
    assert op.infer_shape(attrs, [(4, 0, 2), (3,)], [None]) == ([(4, 3, 2), (3,)], [(3, 2)])


def test_types():
    bound = bind_op("SequenceMask", LENGTHS, [(4, 3, 2)], in_types=["float64", "int32"])
    assert bound.dtypes == {"in": ["float64", "int32"], "out": ["float64"]}
    bound = bind_op("SequenceLast", LENGTHS, [(4, 3, 2)], in_types=["float64"])
    assert bound.dtypes == {"in": ["float64", "float64"], "out": ["float64"]}


def test_bad_shapes_and_attributes():
    with pytest.raises(ShapeError, match=r"SequenceMask: input 'data' has shape \(4,\); it "
                                         r"needs at least 2 dimensions"):
        shapes_of("SequenceMask", {}, [(4,)])
    with pytest.raises(ShapeError, match=r"SequenceLast: input 'sequence_length' has shape "
                                         r"\(2,\) but \(3,\) is required"):
        shapes_of("SequenceLast", LENGTHS, [(4, 3, 2), (2,)])
    with pytest.raises(AttributeValueError, match="axis=2 is invalid: the sequence axis must "
                                                  "be 0 or 1"):
        resolve_op("SequenceMask").parse_attrs({"axis": 2})
    with pytest.raises(AttributeValueError, match="axis=1 is invalid: the sequence axis must "
                                                  "be 0 "):
        resolve_op("SequenceReverse").parse_attrs({"axis": 1})


def test_symbols_and_json_round_trip():
    x = mx.sym.var("x")
    with mx.name.NameManager():
        syms = [mx.sym.SequenceMask(x, use_sequence_length=True, value=-1),
                mx.sym.SequenceLast(x, axis=1), mx.sym.SequenceReverse(x)]
    # MXNet 1.9.1: the lengths input is created as <name>_sequence_length
    assert syms[0].list_arguments() == ["x", "sequencemask0_sequence_length"]
    assert syms[1].list_arguments() == ["x"]
    for sym in syms:
        loaded = mx.sym.load_json(sym.tojson())
        assert loaded.list_arguments() == sym.list_arguments()
        assert loaded.list_outputs() == sym.list_outputs()
        assert loaded.tojson() == sym.tojson()
    assert syms[1].infer_shape(x=(3, 4, 2))[1] == [(3, 2)]
