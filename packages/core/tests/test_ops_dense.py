"""FullyConnected, Embedding, dot: shapes and numbers."""
import numpy as np

from gradloom.testing.harness import bind_op, infer_shapes, resolve_op


def test_fully_connected_shapes():
    bound = bind_op("FullyConnected", {"num_hidden": 5}, [(2, 3, 4)])
    assert bound.in_shapes[1:] == [(5, 12), (5,)] and bound.out_shapes == [(2, 5)]
    bound = bind_op("FullyConnected", {"num_hidden": 5, "flatten": False}, [(2, 3, 4)])
    assert bound.in_shapes[1] == (5, 4) and bound.out_shapes == [(2, 3, 5)]
    assert resolve_op("FullyConnected").arguments(
        resolve_op("FullyConnected").parse_attrs({"num_hidden": 3, "no_bias": True})) == \
        ["data", "weight"]


def test_fully_connected_infers_batch_from_output():
    op = resolve_op("FullyConnected")
    attrs = op.parse_attrs({"num_hidden": 8})
    ins, outs = infer_shapes(op, attrs, [(0, 4), None, None], [(6, 8)])
    assert ins == [(6, 4), (8, 4), (8,)]


def test_fully_connected_math():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((5, 12)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    bound = bind_op("FullyConnected", {"num_hidden": 5}, [(2, 3, 4)])
    np.testing.assert_allclose(bound.forward([x, w, b])[0], x.reshape(2, 12) @ w.T + b,
                               rtol=1e-5)
    g = rng.standard_normal((2, 5)).astype(np.float32)
    dx, dw, db = bound.backward([g])
    np.testing.assert_allclose(dx, (g @ w).reshape(2, 3, 4), rtol=1e-5)
    np.testing.assert_allclose(dw, g.T @ x.reshape(2, 12), rtol=1e-5)
    np.testing.assert_allclose(db, g.sum(0), rtol=1e-5)


def test_embedding_clips_and_scatter_adds():
    table = np.arange(8, dtype=np.float32).reshape(4, 2)
    bound = bind_op("Embedding", {"input_dim": 4, "output_dim": 2}, [(3,)])
    assert bound.out_shapes == [(3, 2)]
    out = bound.forward([np.array([-1, 5, 1.7]), table])[0]
    np.testing.assert_array_equal(out, table[[0, 3, 1]])
    bound.forward([np.array([1, 1, 3]), table])
    didx, dw = bound.backward([np.ones((3, 2))])
    np.testing.assert_array_equal(dw, [[0, 0], [2, 2], [0, 0], [1, 1]])
    np.testing.assert_array_equal(didx, 0)


def test_embedding_dtype_attr():
    bound = bind_op("Embedding", {"input_dim": 4, "output_dim": 2, "dtype": "float64"}, [(3,)],
                    in_types=["int32"])
    assert bound.dtypes == {"in": ["int32", "float64"], "out": ["float64"]}


def test_dot_transposes():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 2)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    bound = bind_op("dot", {"transpose_a": True, "transpose_b": True}, [(3, 2), (4, 3)])
    np.testing.assert_allclose(bound.forward([a, b])[0], a.T @ b.T, rtol=1e-5)
    g = rng.standard_normal((2, 4)).astype(np.float32)
    da, db = bound.backward([g])
    np.testing.assert_allclose(da, (g @ b).T, rtol=1e-5)
    np.testing.assert_allclose(db, (a @ g).T, rtol=1e-5)
