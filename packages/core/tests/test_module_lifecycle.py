"""Module state machine, guards, parameter and optimizer set-up (test-cases A)."""
import logging
import warnings

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ConfigError, DTypeError, ParameterError, StateError
from gradloom.module import (ExtraParamError, InputsGradError, MissingParamError,
                             NotBoundError, NotForTrainingError, OptimizerNotInitializedError,
                             ParamsNotInitializedError)

from backprop_net import backprop_net, backprop_params

TWO_CPUS = [mx.cpu(0), mx.cpu(1)]


def fc_softmax(num_hidden=3, **fc_kwargs):
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=num_hidden, name="fc", **fc_kwargs)
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def batch(n=4, width=5, labels=True):
    data = [mx.nd.ones((n, width))]
    return mx.io.DataBatch(data, [mx.nd.zeros((n,))] if labels else None)


def test_guards_raise_typed_errors_naming_the_missing_call():
    mod = mx.mod.Module(fc_softmax())
    with pytest.raises(NotBoundError, match=r"call bind\(\) first"):
        mod.forward(batch())
    with pytest.raises(NotBoundError, match=r"call bind\(\) first"):
        mod.init_params()
    with pytest.raises(NotBoundError):
        mod.data_shapes
    with pytest.raises(ParamsNotInitializedError, match=r"init_params\(\)"):
        mod.get_params()
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    with pytest.raises(ParamsNotInitializedError, match=r"call init_params\(\)"):
        mod.init_optimizer()
    with pytest.raises(ParamsNotInitializedError):
        mod.forward(batch())
    mod.init_params()
    with pytest.raises(OptimizerNotInitializedError, match=r"call init_optimizer\(\) first"):
        mod.update()
    with pytest.raises(InputsGradError, match="inputs_need_grad=True"):
        mod.get_input_grads()
    # every guard is a StateError (a RuntimeError), never a bare assert
    assert issubclass(NotBoundError, StateError)


def test_backward_needs_for_training_and_inputs_need_grad_needs_training():
    mod = mx.mod.Module(fc_softmax())
    mod.bind([("data", (4, 5))], for_training=False)
    mod.init_params()
    mod.forward(batch(labels=False))
    with pytest.raises(NotForTrainingError, match="re-bind with for_training=True"):
        mod.backward()
    mod2 = mx.mod.Module(fc_softmax())
    with pytest.raises(ParameterError, match="inputs_need_grad"):
        mod2.bind([("data", (4, 5))], for_training=False, inputs_need_grad=True)
    assert not mod2.binded


def test_repeated_set_up_calls_warn(caplog):
    mod = mx.mod.Module(fc_softmax())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    with caplog.at_level(logging.WARNING):
        mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    assert "Already bound, ignoring bind()" in caplog.text
    mod.init_params()
    with pytest.warns(UserWarning, match="Parameters already initialized and force_init=False"):
        mod.init_params()
    mod.init_optimizer()
    with caplog.at_level(logging.WARNING):
        mod.init_optimizer()
    assert "optimizer already initialized" in caplog.text


def test_constructor_and_bind_name_checks():
    sym = fc_softmax()
    with pytest.raises(ParameterError) as err:
        mx.mod.Module(sym, data_names=["x"])
    assert "'x'" in str(err.value) and "data" in str(err.value)
    assert "\x1b[" not in str(err.value)          # no ANSI colour codes
    with pytest.warns(UserWarning):
        mx.mod.Module(sym, label_names=["y"])
    mod = mx.mod.Module(sym)
    with pytest.raises(ParameterError, match="don't match names specified by data_names"):
        mod.bind([("x", (4, 5))])
    with pytest.raises(ParameterError, match="work_load_list"):
        mx.mod.Module(sym, context=TWO_CPUS, work_load_list=[1])


def test_bind_rejects_non_tuple_shape_and_stays_unbound():
    data = mx.sym.Variable("data", __layout__="TNC")
    act = mx.sym.Activation(data, act_type="relu")
    mod = mx.mod.Module(act, ("data",), None, context=TWO_CPUS)
    with pytest.raises(TypeError):
        mod.bind(data_shapes=[("data", mx.nd.array([10, 10]))])
    assert not mod.binded
    mod.bind(data_shapes=[("data", (10, 10))])
    assert mod.binded


def test_default_label_names_need_no_warning_for_label_free_symbols():
    data = mx.sym.Variable("data")
    out = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod = mx.mod.Module(out)
        mod.bind([("data", (3, 4))], for_training=False)
    assert mod.label_names == []


def test_shapes_after_bind():
    mod = mx.mod.Module(fc_softmax())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    assert mod.label_shapes == [mx.io.DataDesc("softmax_label", (4,))]
    assert mod.output_shapes == [("softmax_output", (4, 3))]
    pred = mx.mod.Module(fc_softmax())
    pred.bind([("data", (4, 5))], for_training=False)
    assert pred.label_shapes is None


def _a6_params():
    correct = backprop_params()
    missing = {k: v for k, v in correct.items() if k != "fc_1_bias"}
    extra = dict(correct, fc_2_weight=mx.nd.array([.60, .60]))
    missing_extra = {"fc_2_weight": mx.nd.array([.60, .60])}
    return correct, missing, extra, missing_extra


def _a6_module():
    mod = mx.mod.Module(backprop_net())
    mod.bind([("data", (1, 2))], [("softmax_label", (1, 2))])
    mod.init_params()
    return mod


def test_set_params_semantics():
    correct, missing, extra, missing_extra = _a6_params()
    mod = _a6_module()
    mod.set_params(correct, {}, force_init=True)
    np.testing.assert_allclose(mod.get_params()[0]["fc_1_weight"].asnumpy(),
                               [[.40, .45], [.50, .55]], rtol=1e-6)
    mod.set_params(missing, {}, allow_missing=True)
    with pytest.raises(RuntimeError):
        mod.set_params(missing, {}, allow_missing=False)
    with pytest.raises(MissingParamError, match="fc_1_bias"):
        mod.set_params(missing, {}, allow_missing=False)
    mod.set_params(extra, {}, allow_missing=True, allow_extra=True)
    with pytest.raises(ValueError):
        mod.set_params(extra, {}, allow_missing=True, allow_extra=False)
    # both paths check both conditions (MXNet ignored extras when allow_missing=False)
    with pytest.raises(ExtraParamError, match="fc_2_weight"):
        mod.set_params(extra, {})
    with pytest.raises(ValueError):
        mod.set_params(missing_extra, {}, allow_missing=True, allow_extra=False)
    with pytest.raises(RuntimeError):
        mod.set_params(missing_extra, {}, allow_missing=False, allow_extra=True)
    # missing and extra names at once: the missing ones are reported, as MXNet does
    with pytest.raises(MissingParamError, match="fc_1_bias"):
        mod.set_params(missing_extra, {}, allow_missing=False, allow_extra=False)


def test_set_params_failure_changes_nothing_and_wrong_shape_raises():
    correct, missing, extra, _ = _a6_params()
    mod = _a6_module()
    mod.set_params(correct, {})
    bad = dict(correct, fc_0_bias=mx.nd.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="fc_0_bias"):
        mod.set_params(bad, {})
    np.testing.assert_allclose(mod.get_params()[0]["fc_0_bias"].asnumpy(), [.35, .35])
    with pytest.warns(UserWarning, match="set_params call ignored"):
        mod.set_params(missing, {}, allow_missing=True, force_init=False)


def test_init_optimizer_idx2name_by_name_and_object():
    data = mx.sym.Variable("data")
    sym = mx.sym.FullyConnected(data, num_hidden=20, name="fc")
    for opt in ("sgd", mx.optimizer.SGD(learning_rate=1, rescale_grad=1 / 8)):
        mod = mx.mod.Module(sym, ("data",), None)
        mod.bind([("data", (8, 20))])
        mod.init_params()
        if isinstance(opt, str):
            mod.init_optimizer(optimizer=opt, optimizer_params={"learning_rate": 1,
                                                                "rescale_grad": 1 / 8})
        else:
            mod.init_optimizer(optimizer=opt)
        assert mod._optimizer.idx2name == dict(enumerate(mod._exec_group.param_names))
        assert mod._optimizer.idx2name == {0: "fc_weight", 1: "fc_bias"}


def test_default_optimizer_wiring():
    mod = mx.mod.Module(fc_softmax())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.1, "wd": 0.01})
    opt = mod._optimizer
    assert opt.rescale_grad == 0.25
    assert opt.wd_mult == {"fc_bias": 0.0}
    assert opt.idx2name == {0: "fc_weight", 1: "fc_bias"}
    assert mod._update_on_kvstore is False
    mod2 = mx.mod.Module(fc_softmax(), context=TWO_CPUS)
    mod2.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod2.init_params()
    mod2.init_optimizer(kvstore="device")
    assert mod2._kvstore.type == "device"
    assert mod2._update_on_kvstore is False      # explicit opt-in only
    assert mod2._optimizer.idx2name == {0: "fc_weight", 1: "fc_bias"}


def test_optimizer_object_also_gets_symbol_multipliers():
    data = mx.sym.Variable("data")
    sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc",
                                                     lr_mult=0.5), name="softmax")
    for opt in ("sgd", mx.optimizer.SGD(learning_rate=0.1, wd=0.01, rescale_grad=0.25)):
        mod = mx.mod.Module(sym)
        mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
        mod.init_params()
        mod.init_optimizer(optimizer=opt)
        assert mod._optimizer.wd_mult == {"fc_bias": 0.0}
        assert mod._optimizer.lr_mult == {"fc_weight": 0.5, "fc_bias": 0.5}


def _linreg_module(context, kvstore, update_on_kvstore=False):
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=1, no_bias=True, name="fc")
    out = mx.sym.LinearRegressionOutput(fc, name="lro")
    mod = mx.mod.Module(out, label_names=("lro_label",), context=context)
    mod.bind([("data", (2, 1))], [("lro_label", (2, 1))])
    mod.init_params(initializer=mx.init.Zero())
    mod.init_optimizer(kvstore=kvstore, optimizer_params={"learning_rate": 1.0},
                       update_on_kvstore=update_on_kvstore)
    b = mx.io.DataBatch([mx.nd.array([[1.0], [3.0]])], [mx.nd.array([[1.0], [3.0]])])
    mod.forward_backward(b)
    mod.update()
    return mod


@pytest.mark.parametrize("kvstore,on_kv", [("local", False), (None, False), ("device", False),
                                           ("local", True)])
def test_gradients_are_summed_across_devices_with_or_without_kvstore(kvstore, on_kv):
    mod = _linreg_module(TWO_CPUS, kvstore, on_kv)
    for k in range(2):
        w = mod._exec_group.params.arg_views(k)["fc_weight"].asnumpy()
        np.testing.assert_allclose(w, [[5.0]], rtol=1e-6)
    np.testing.assert_allclose(mod.get_params()[0]["fc_weight"].asnumpy(), [[5.0]], rtol=1e-6)
    single = _linreg_module([mx.cpu(0)], kvstore)
    np.testing.assert_allclose(single.get_params()[0]["fc_weight"].asnumpy(), [[5.0]],
                               rtol=1e-6)


def test_module_without_parameters_can_update():
    data = mx.sym.Variable("data")
    out = mx.sym.Dropout(data, p=0.5)  # MXNet also accepts p positionally
    mod = mx.mod.Module(out)
    mod.bind(data_shapes=[("data", (10, 10))])
    mod.init_params()
    mod.init_optimizer()
    mod.forward_backward(mx.io.DataBatch([mx.nd.ones((10, 10))]))
    mod.update()
    assert mod.get_outputs()[0].shape == (10, 10)


def test_lr_wd_multipliers_from_symbol_attributes():
    data = mx.sym.Variable("data")
    bias = mx.sym.Variable("fc1_bias", lr_mult=1.0)
    fc1 = mx.sym.FullyConnected(data=data, bias=bias, name="fc1", num_hidden=10, lr_mult=0)
    fc2 = mx.sym.FullyConnected(data=fc1, name="fc2", num_hidden=10, wd_mult=0.5)
    mod = mx.mod.Module(symbol=fc2, label_names=None)
    mod.bind(data_shapes=[("data", (5, 10))])
    mod.init_params(initializer=mx.init.Uniform(1.0))
    mod.init_optimizer(optimizer_params={"learning_rate": 1.0})
    args1, _ = mod.get_params()
    args1 = {k: v.asnumpy().copy() for k, v in args1.items()}
    mod.forward(mx.io.DataBatch(data=[mx.nd.array(
        np.random.default_rng(0).uniform(-1, 1, (5, 10)))], label=None), is_train=True)
    mod.backward(mod.get_outputs())
    mod.update()
    args2 = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
    assert mod._optimizer.lr_mult == {"fc1_bias": 1.0, "fc1_weight": 0.0}
    assert mod._optimizer.wd_mult == {"fc2_bias": 0.5, "fc2_weight": 0.5, "fc1_bias": 0.0}
    assert np.abs(args1["fc1_weight"] - args2["fc1_weight"]).max() < 1e-10
    assert np.abs(args1["fc1_bias"] - args2["fc1_bias"]).max() > 1e-1
    assert np.abs(args1["fc2_weight"] - args2["fc2_weight"]).max() > 1e-1


def test_fixed_params_get_no_gradient_and_no_update():
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, num_hidden=3, name="f1")
    out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=2, name="f2"),
                               name="softmax")
    mod = mx.mod.Module(out, fixed_param_names=["f1_weight"])
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    assert mod._exec_group.grad_req == {"data": "null", "f1_weight": "null",
                                        "f1_bias": "write", "f2_weight": "write",
                                        "f2_bias": "write", "softmax_label": "null"}
    assert mod._exec_group.grad_arrays[0] is None
    mod.init_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 1.0, "wd": 0.1})
    before = mod.get_params()[0]["f1_weight"].asnumpy().copy()
    mod.forward_backward(batch())
    mod.update()
    np.testing.assert_array_equal(mod.get_params()[0]["f1_weight"].asnumpy(), before)


def test_get_params_returns_host_copies_not_device_memory():
    mod = mx.mod.Module(fc_softmax())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod.init_params(initializer=mx.init.One())
    args, _ = mod.get_params()
    args["fc_weight"][:] = 7.0
    mod.forward(batch(), is_train=False)
    dev = mod._exec_group.params.arg_views(0)["fc_weight"].asnumpy()
    np.testing.assert_array_equal(dev, np.ones((3, 5)))


def test_kvstore_argument_type_checked():
    mod = mx.mod.Module(fc_softmax())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod.init_params()
    with pytest.raises(DTypeError):
        mod.init_optimizer(kvstore=3)


def test_init_params_with_an_incomplete_dict_raises_unless_allow_missing():
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc"),
                               name="softmax")
    mod = mx.mod.Module(net)
    mod.bind([("data", (4, 3))], [("softmax_label", (4,))])
    partial = {"fc_weight": mx.nd.ones((2, 3))}        # fc_bias missing (a typo, say)
    with pytest.raises(RuntimeError, match="fc_bias"):
        mod.init_params(arg_params=partial)
    assert not mod.params_initialized
    mod.init_params(mx.init.Normal(1.0), arg_params=partial, allow_missing=True)
    args = mod.get_params()[0]
    np.testing.assert_array_equal(args["fc_weight"].asnumpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(args["fc_bias"].asnumpy(), [0, 0])   # biases start at 0
    with pytest.raises(ConfigError, match="initializer"):
        mod.init_params(initializer=None, force_init=True)
    it = mx.io.NDArrayIter(np.ones((4, 3), np.float32), np.zeros(4), 4)
    fresh = mx.mod.Module(net)
    with pytest.raises(MissingParamError, match="fc_bias"):
        fresh.fit(it, num_epoch=1, arg_params=partial)


def test_base_module_declares_the_module_interface():
    base = mx.mod.BaseModule()
    for call in (lambda: base.bind([("data", (1, 2))]), lambda: base.forward(None),
                 lambda: base.get_outputs(), lambda: base.update(),
                 lambda: base.output_shapes):
        with pytest.raises(NotImplementedError, match="BaseModule must define"):
            call()
