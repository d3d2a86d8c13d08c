"""Every registered operator runs imperatively as ``nd.<Operator>(...)``, as in MXNet."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError
from gradloom.ndarray import operators


def test_operators_run_on_ndarrays_with_positional_or_named_inputs():
    x = mx.nd.array([[1, 5, 3], [4, 2, 6]])
    w, b = mx.nd.array(np.arange(9).reshape(3, 3)), mx.nd.array([1, 2, 3])
    expected = x.asnumpy() @ w.asnumpy().T + b.asnumpy()
    np.testing.assert_allclose(mx.nd.FullyConnected(x, w, b, num_hidden=3).asnumpy(), expected)
    np.testing.assert_allclose(
        mx.nd.FullyConnected(data=x, weight=w, bias=b, num_hidden=3).asnumpy(), expected)
    np.testing.assert_array_equal(mx.nd.topk(x, k=2, ret_typ="value").asnumpy(),
                                  [[5, 3], [6, 4]])
    parts = mx.nd.SliceChannel(x, num_outputs=3, axis=1)       # several outputs: a list
    assert [p.shape for p in parts] == [(2, 1)] * 3
    np.testing.assert_array_equal(parts[1].asnumpy(), [[5], [2]])
    out = mx.nd.zeros((2, 3))
    assert mx.nd.Activation(x - 3, act_type="relu", out=out) is out
    np.testing.assert_array_equal(out.asnumpy(), np.maximum(x.asnumpy() - 3, 0))


def test_auxiliary_states_are_inputs_and_the_call_is_inference():
    rng = np.random.default_rng(0)
    data = mx.nd.array(rng.random((2, 3, 4, 4)))
    mean, var = mx.nd.ones(3) * 0.5, mx.nd.ones(3) * 4
    y = mx.nd.BatchNorm(data, mx.nd.ones(3), mx.nd.zeros(3), mean, var, fix_gamma=False)
    np.testing.assert_allclose(y.asnumpy(), (data.asnumpy() - 0.5) / np.sqrt(4 + 1e-3),
                               rtol=1e-5)
    np.testing.assert_array_equal(mean.asnumpy(), 0.5)     # statistics untouched
    kept = mx.nd.Dropout(data, p=0.5)                         # inference: identity
    np.testing.assert_array_equal(kept.asnumpy(), data.asnumpy())


def test_repeated_calls_reuse_one_executor_and_return_new_arrays():
    x = mx.nd.array([[1.0, -2.0]])
    first = mx.nd.LeakyReLU(x, act_type="leaky", slope=0.5)
    count = len(operators._EXECUTORS)
    second = mx.nd.LeakyReLU(x * 2, act_type="leaky", slope=0.5)
    assert len(operators._EXECUTORS) == count
    np.testing.assert_array_equal(first.asnumpy(), [[1.0, -1.0]])   # not overwritten
    np.testing.assert_array_equal(second.asnumpy(), [[2.0, -2.0]])
    mx.nd.LeakyReLU(mx.nd.ones((3, 2)), act_type="leaky", slope=0.5)   # another shape
    assert len(operators._EXECUTORS) == count + 1


def test_calls_leave_symbol_names_alone_and_missing_inputs_are_named():
    x, w = mx.nd.ones((2, 3)), mx.nd.ones((4, 3))
    with mx.name.NameManager():
        mx.nd.FullyConnected(x, w, no_bias=True, num_hidden=4)
        assert mx.sym.FullyConnected(mx.sym.var("d"), num_hidden=2).name == "fullyconnected0"
    with pytest.raises(ParameterError, match=r"\['bias'\]"):
        mx.nd.FullyConnected(x, w, num_hidden=4)
    with pytest.raises(ParameterError, match="NDArrays"):
        mx.nd.FullyConnected(np.ones((2, 3)), w, no_bias=True, num_hidden=4)
    with pytest.raises(AttributeError, match="docs/operators.md"):
        mx.nd.NoSuchOperator


def test_python_custom_operators_run_imperatively_too():
    class Square(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0] * in_data[0])

    @mx.operator.register("nd_square")
    class SquareProp(mx.operator.CustomOpProp):
        def create_operator(self, ctx, shapes, dtypes):
            return Square()

    y = mx.nd.Custom(mx.nd.array([1, 2, 3]), op_type="nd_square")
    np.testing.assert_array_equal(y.asnumpy(), [1, 4, 9])


def test_a_custom_operator_may_call_operators_imperatively_inside():
    class TopTwo(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], mx.nd.topk(in_data[0], k=2, ret_typ="value"))

    @mx.operator.register("nd_top_two")
    class TopTwoProp(mx.operator.CustomOpProp):
        def infer_shape(self, in_shape):
            return in_shape, [in_shape[0][:-1] + [2]], []

        def create_operator(self, ctx, shapes, dtypes):
            return TopTwo()

    y = mx.nd.Custom(mx.nd.array([[1, 5, 3]]), op_type="nd_top_two")
    np.testing.assert_array_equal(y.asnumpy(), [[5, 3]])
