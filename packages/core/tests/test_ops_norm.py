"""BatchNorm (4x2 verified numbers, moving-stat timing, fix_gamma) and Dropout."""
import numpy as np

from gradloom.testing.harness import bind_op, resolve_op

X = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=np.float32)


def _bn(attrs, shape=(4, 2)):
    return bind_op("BatchNorm", attrs, [shape])


def test_batchnorm_training_output_and_moving_stats_updated_in_forward():
    bound = _bn({"fix_gamma": False})
    out = bound.forward([X, np.ones(2), np.zeros(2)], aux=[np.zeros(2), np.ones(2)])[0]
    np.testing.assert_allclose(out[:, 0], [-1.3415, -0.4472, 0.4472, 1.3415], atol=1e-4)
    mean, var = bound.aux_values()
    np.testing.assert_allclose(mean, [0.4, 0.5], rtol=1e-6)
    np.testing.assert_allclose(var, [1.4, 1.4], rtol=1e-6)
    bound.backward()
    np.testing.assert_allclose(bound.aux_values()[0], [0.4, 0.5], rtol=1e-6)  # not again
    inference = bound.forward(is_train=False)[0]
    np.testing.assert_allclose(inference[:, 0], [0.5069, 2.1966, 3.8863, 5.5760], atol=1e-4)


def test_batchnorm_training_gradient_matches_formula():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3)).astype(np.float64)
    gamma = rng.standard_normal(3)
    bound = bind_op("BatchNorm", {"fix_gamma": False}, [(6, 3)], dtype="float64")
    bound.forward([x, gamma, np.zeros(3)], aux=[np.zeros(3), np.ones(3)])
    dy = rng.standard_normal((6, 3))
    dx, dgamma, dbeta = bound.backward([dy])
    mean, var = x.mean(0), x.var(0)
    xhat = (x - mean) / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(dbeta, dy.sum(0))
    np.testing.assert_allclose(dgamma, (dy * xhat).sum(0))
    expected = gamma / np.sqrt(var + 1e-3) * (dy - dy.mean(0) - xhat * (dy * xhat).mean(0))
    np.testing.assert_allclose(dx, expected, rtol=1e-10)


def test_batchnorm_global_stats():
    bound = _bn({"fix_gamma": False, "use_global_stats": True}, (4, 1))
    data = np.arange(1, 5, dtype=np.float32).reshape(4, 1)
    out = bound.forward([data, np.ones(1), np.zeros(1)], aux=[np.zeros(1), np.ones(1)])[0]
    np.testing.assert_allclose(out.ravel(), np.arange(1, 5) / np.sqrt(1.001), rtol=1e-6)
    dx, dgamma, _ = bound.backward()
    np.testing.assert_allclose(dgamma, [9.995], rtol=1e-4)
    np.testing.assert_allclose(dx.ravel(), 0.9995, rtol=1e-4)
    np.testing.assert_array_equal(bound.aux_values()[0], [0])
    np.testing.assert_array_equal(bound.aux_values()[1], [1])


def test_batchnorm_fix_gamma_writes_one_and_zero_gradient():
    bound = _bn({})
    bound.forward([X, np.full(2, 3.0), np.zeros(2)], aux=[np.zeros(2), np.ones(2)])
    np.testing.assert_array_equal(bound.backend.to_host(bound.args[1]), [1, 1])
    assert not bound.backward()[1].any()


def test_batchnorm_axis_and_aux_attrs():
    bound = _bn({"axis": -1}, (2, 4, 5))
    assert bound.in_shapes[1:] == [(5,)] * 4
    op = resolve_op("BatchNorm")
    attrs = op.parse_attrs({})
    assert op.aux_states(attrs) == ["moving_mean", "moving_var"]
    assert op.num_outputs(attrs) == 3 and op.outputs(attrs) == ["output"]
    assert op.variable_attrs(attrs, "moving_mean") == {"__init__": '["zero", {}]'}
    assert op.variable_attrs(attrs, "moving_var") == {"__init__": '["one", {}]'}


def test_batchnorm_4d_matches_numpy():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 2, 4, 5)).astype(np.float32)
    bound = _bn({"fix_gamma": False, "eps": 2e-5}, (3, 2, 4, 5))
    out = bound.forward([x, np.ones(2), np.zeros(2)], aux=[np.zeros(2), np.ones(2)])[0]
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 2e-5), atol=1e-5)


def test_dropout_train_and_inference():
    bound = bind_op("Dropout", {"p": 0.5}, [(1000,)])
    out, mask = bound.forward([np.ones(1000)], is_train=True)
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert 350 < (out == 0).sum() < 650
    np.testing.assert_array_equal(out, mask)
    np.testing.assert_array_equal(bound.backward()[0], mask)
    out, _ = bound.forward([np.ones(1000)], is_train=False)
    np.testing.assert_array_equal(out, 1)
    always = bind_op("Dropout", {"p": 0.5, "mode": "always"}, [(1000,)])
    assert (always.forward([np.ones(1000)], is_train=False)[0] == 0).any()


def test_dropout_reproducible_with_seed_and_shared_axes():
    bound = bind_op("Dropout", {"p": 0.3, "axes": (1,)}, [(4, 6)])
    bound.backend.seed(7)
    first = bound.forward([np.ones((4, 6))])[0]
    bound.backend.seed(7)
    second = bound.forward([np.ones((4, 6))])[0]
    np.testing.assert_array_equal(first, second)
    assert all(len(set(row)) == 1 for row in first)   # one mask value per row


def test_dropout_rejects_bad_p():
    import pytest
    from gradloom.base import AttributeValueError
    with pytest.raises(AttributeValueError, match="p=1.5"):
        resolve_op("Dropout").parse_attrs({"p": 1.5})
