"""Monitor: tic/toc contract and name-pattern filtering (test-cases L)."""
import logging

import numpy as np
import pytest

import gradloom as mx

from backprop_net import backprop_net, backprop_params


PARAMS = backprop_params()


def _module(mon):
    mod = mx.mod.Module(backprop_net(), context=[mx.cpu(0)])
    mod.bind([("data", (1, 2))], [("softmax_label", (1, 2))])
    mod.install_monitor(mon)
    mod.init_params(arg_params=PARAMS)
    return mod


def _batch():
    return mx.io.DataBatch([mx.nd.array([[0.05, 0.10]])], [mx.nd.array([[0.01, 0.99]])])


def mean_abs(x):
    return np.abs(x.asnumpy()).mean()


def test_monitor_collects_forward_backward_and_arguments():
    mon = mx.mon.Monitor(1, stat_func=mean_abs, pattern=".*", sort=True)
    mod = _module(mon)
    mon.tic()
    mod.forward_backward(_batch())
    res = mon.toc()
    names = [name for _, name, _ in res]
    assert names == sorted(names)
    # every argument is reported once by toc, with its value
    for arg in ("data", "fc_0_weight", "fc_0_bias", "fc_1_weight", "fc_1_bias",
                "softmax_label"):
        assert names.count(arg) == 1
    w = dict((n, float(v)) for _, n, v in res)["fc_0_weight"]
    assert w == pytest.approx(np.abs(PARAMS["fc_0_weight"].asnumpy()).mean(), rel=1e-6)
    # operator outputs recorded during forward and backward
    for prefix in ("fc_0", "act_0", "fc_1", "act_1", "softmax"):
        assert any(n.startswith(prefix) and n not in PARAMS for n in names), prefix
    assert all(step == 1 for step, _, _ in res)
    assert mon.toc() == []          # collection is off after toc


def test_monitor_interval_and_pattern(caplog):
    mon = mx.mon.Monitor(2, pattern="fc_1_.*")
    mod = _module(mon)
    steps = []
    for _ in range(4):
        mon.tic()
        mod.forward_backward(_batch())
        steps.append(mon.toc())
    assert steps[1] == [] and steps[3] == []
    assert {n for _, n, _ in steps[0]} >= {"fc_1_weight", "fc_1_bias"}
    assert all(n.startswith("fc_1_") for _, n, _ in steps[0] + steps[2])
    # default statistic: norm(x)/sqrt(size)
    value = dict((n, float(v)) for _, n, v in steps[0])["fc_1_bias"]
    assert value == pytest.approx(0.6, rel=1e-6)
    mon.tic()
    mod.forward_backward(_batch())
    with caplog.at_level(logging.INFO):
        mon.toc_print()
    assert "fc_1_weight" in caplog.text


def test_fit_with_monitor_prints_every_interval(caplog):
    mon = mx.mon.Monitor(2, pattern="fc_0_weight")
    x = np.ones((4, 2), np.float32)
    y = np.ones((4, 2), np.float32)
    mod = mx.mod.Module(backprop_net(), context=[mx.cpu(0)])
    with caplog.at_level(logging.INFO):
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=1), num_epoch=1, monitor=mon,
                eval_metric="mse")
    assert caplog.text.count("fc_0_weight") == 2
