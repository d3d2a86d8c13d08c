"""gradloom.testing: the checks must pass on correct kernels and fail on wrong ones."""
import numpy as np
import pytest

from gradloom.ops.dense import FullyConnectedKernel
from gradloom.testing import (assert_almost_equal, bind_op, check_consistency,
                              check_kernel_forward, check_kernel_gradient, numeric_grad)


def test_numeric_grad_of_cubic():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numeric_grad(lambda v: float((v ** 3).sum()), x), 3 * x ** 2,
                               rtol=1e-7)


def test_assert_almost_equal_reports_location():
    assert_almost_equal([1.0, 2.0], [1.0, 2.0 + 1e-9])
    with pytest.raises(AssertionError, match=r"worst at \(1,\)"):
        assert_almost_equal([1.0, 2.0, 3.0], [1.0, 2.5, 3.0])
    with pytest.raises(AssertionError, match="shape"):
        assert_almost_equal(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError):
        assert_almost_equal([np.nan], [1.0])


def test_check_kernel_gradient_passes_and_catches_a_wrong_backward():
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)]
    grads = check_kernel_gradient("FullyConnected", {"num_hidden": 2}, inputs)
    assert len(grads) == 3

    class WrongBias(FullyConnectedKernel):
        def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
            super().backward(out_grads, inputs, outputs, aux, in_grads, req)
            in_grads[2] *= 2

    with pytest.raises(AssertionError, match="dbias"):
        check_kernel_gradient("FullyConnected", {"num_hidden": 2}, inputs, kernel=WrongBias)


def test_check_kernel_forward_against_reference():
    x = np.linspace(-2, 2, 12).reshape(3, 4).astype(np.float32)
    check_kernel_forward("Activation", {"act_type": "tanh"}, [x], np.tanh)
    with pytest.raises(AssertionError):
        check_kernel_forward("Activation", {"act_type": "tanh"}, [x], np.sin)


def test_check_consistency_over_available_backends():
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
    count = check_consistency("Convolution", {"kernel": (3, 3), "num_filter": 4,
                                              "no_bias": True}, [x, w])
    assert count >= 1


def test_bind_op_reports_unknown_shapes():
    from gradloom.base import ShapeError
    with pytest.raises(ShapeError, match="missing input shapes"):
        bind_op("elemwise_add", {}, [None, None])
