"""Naming a BatchNorm's statistics in ``fixed_param_names`` freezes them during training."""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError

STATS = ["bn_moving_mean", "bn_moving_var"]


def _net():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc")
    net = mx.sym.BatchNorm(net, name="bn", fix_gamma=False)
    net = mx.sym.FullyConnected(net, num_hidden=2, name="out")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _data():
    rng = np.random.default_rng(3)
    x = (rng.random((20, 3)) * 5 + 2).astype(np.float32)   # far from mean 0 / var 1
    return x, (x[:, 0] > 4.5).astype(np.float32)


def _fit(fixed):
    x, y = _data()
    mod = mx.mod.Module(_net(), fixed_param_names=fixed)
    mx.random.seed(0)
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=5), num_epoch=2, initializer=mx.init.Xavier(),
            optimizer_params={"learning_rate": 0.1})
    return mod


def test_frozen_statistics_stay_and_training_normalises_with_them():
    mod = _fit(STATS)
    args, aux = mod.get_params()
    np.testing.assert_array_equal(aux["bn_moving_mean"].asnumpy(), np.zeros(4))
    np.testing.assert_array_equal(aux["bn_moving_var"].asnumpy(), np.ones(4))
    assert np.abs(args["bn_gamma"].asnumpy() - 1).max() > 1e-4   # gamma/beta still train
    # a training forward gives what inference gives: the stored statistics are used
    x, y = _data()
    batch = mx.io.DataBatch([mx.nd.array(x[:5])], [mx.nd.array(y[:5])])
    mod.forward(batch, is_train=True)
    train_out = mod.get_outputs()[0].asnumpy()
    mod.forward(batch, is_train=False)
    np.testing.assert_allclose(train_out, mod.get_outputs()[0].asnumpy(), rtol=1e-6)


def test_unfrozen_statistics_move_and_the_saved_symbol_is_the_given_one(tmp_path):
    moving = _fit(None).get_params()[1]
    assert np.abs(moving["bn_moving_mean"].asnumpy()).max() > 0.1
    mod = _fit(STATS + ["fc_weight"])
    assert json.loads(mod.symbol.tojson()) == json.loads(_net().tojson())
    prefix = str(tmp_path / "frozen")
    mod.save_checkpoint(prefix, 1)
    with open(f"{prefix}-symbol.json") as f:
        assert "use_global_stats" not in f.read()


def test_one_statistic_alone_or_an_unknown_name_is_refused():
    with pytest.raises(ParameterError, match="add 'bn_moving_var'"):
        mx.mod.Module(_net(), fixed_param_names=["bn_moving_mean"])
    with pytest.raises(ParameterError, match="bn_moving_avg"):
        mx.mod.Module(_net(), fixed_param_names=["bn_moving_avg"])
