"""Checkpoints: MXNet-format files, optimizer states by name, exact resume (test-cases F)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import FormatError, ParameterError

FIXTURES = "/work/shared/fixtures/mxnet"


def _net():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=8, name="fc1"),
                          act_type="relu")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                name="softmax")


def _data():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((24, 6)).astype(np.float32)
    y = rng.integers(0, 3, 24).astype(np.float32)
    return x, y


def _trained(context=None, optimizer="sgd", params=None):
    x, y = _data()
    mx.random.seed(0)
    mod = mx.mod.Module(_net(), context=context or [mx.cpu(0)])
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=8), num_epoch=1, optimizer=optimizer,
            optimizer_params=params or {"learning_rate": 0.1, "momentum": 0.9})
    return mod


def _params(mod):
    return {k: v.asnumpy().copy() for k, v in mod.get_params()[0].items()}


def test_model_save_and_load_checkpoint(tmp_path):
    prefix = str(tmp_path / "m")
    sym = _net()
    args = {"fc1_weight": mx.nd.ones((8, 6)), "fc1_bias": mx.nd.zeros((8,))}
    aux = {"bn_moving_mean": mx.nd.array([1.0, 2.0])}
    mx.model.save_checkpoint(prefix, 3, sym, args, aux)
    assert os.path.exists(prefix + "-symbol.json") and os.path.exists(prefix + "-0003.params")
    sym2, args2, aux2 = mx.model.load_checkpoint(prefix, 3)
    assert sym2.tojson() == sym.tojson()
    np.testing.assert_array_equal(args2["fc1_weight"].asnumpy(), np.ones((8, 6)))
    np.testing.assert_array_equal(aux2["bn_moving_mean"].asnumpy(), [1.0, 2.0])
    raw = mx.nd.load(prefix + "-0003.params")
    assert sorted(raw) == ["arg:fc1_bias", "arg:fc1_weight", "aux:bn_moving_mean"]


def test_model_load_params_drops_unknown_prefixes_and_warns_on_empty(tmp_path):
    prefix = str(tmp_path / "m")
    mx.nd.save(prefix + "-0001.params", {"arg:w": mx.nd.ones((2,)), "other:x": mx.nd.ones((1,))})
    args, aux = mx.model.load_params(prefix, 1)
    assert list(args) == ["w"] and aux == {}
    open(prefix + "-0002.params", "wb").close()
    with pytest.warns(UserWarning, match="empty"):
        assert mx.model.load_params(prefix, 2) == ({}, {})


def test_module_load_params_rejects_unknown_prefix(tmp_path):
    mod = _trained()
    fname = str(tmp_path / "bad.params")
    mx.nd.save(fname, {"arg:fc1_weight": mx.nd.ones((8, 6)), "xyz:w": mx.nd.ones((1,))})
    before = _params(mod)
    with pytest.raises(FormatError, match="bad.params"):
        mod.load_params(fname)
    for k, v in _params(mod).items():
        np.testing.assert_array_equal(v, before[k])


def test_save_load_round_trip_with_optimizer_states(tmp_path):
    mod = _trained()
    prefix = str(tmp_path / "ck")
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    states, meta = mx.checkpoint.load_optimizer_states(prefix + "-0001.states")
    assert sorted(states) == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"]
    assert meta["num_update"] == 3 and meta["epoch"] == 1
    assert meta["optimizer"]["class"] == "sgd"
    loaded = mx.mod.Module.load(prefix, 1, load_optimizer_states=True)
    assert loaded.symbol.tojson() == mod.symbol.tojson()
    loaded.bind([("data", (8, 6))], [("softmax_label", (8,))])
    loaded.init_optimizer(optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    for k, v in _params(mod).items():
        np.testing.assert_array_equal(_params(loaded)[k], v)
    mine = mod._updater.states_by_name()
    theirs = loaded._updater.states_by_name()
    for k in mine:
        np.testing.assert_array_equal(mine[k][0], theirs[k][0])
    assert loaded._optimizer.num_update == 3


def test_states_saved_on_two_devices_continue_on_one(tmp_path):
    """States are keyed by name: device count and update path may change on resume."""
    x, y = _data()
    two = _trained([mx.cpu(0), mx.cpu(1)])
    prefix = str(tmp_path / "two")
    two.save_checkpoint(prefix, 1, save_optimizer_states=True)
    one = mx.mod.Module.load(prefix, 1, load_optimizer_states=True)
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    with pytest.warns(UserWarning, match="init_params call ignored"):
        one.fit(it, num_epoch=2, begin_epoch=1,
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    with pytest.warns(UserWarning, match="init_params call ignored"):
        two.fit(mx.io.NDArrayIter(x, y, batch_size=8), num_epoch=2, begin_epoch=1)
    for k, v in _params(two).items():
        np.testing.assert_allclose(_params(one)[k], v, rtol=1e-5, atol=1e-6)


def test_corrupted_or_truncated_files_raise_and_change_nothing(tmp_path):
    mod = _trained(params={"learning_rate": 0.1, "momentum": 0.9})
    prefix = str(tmp_path / "c")
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    before = _params(mod)
    states_before = mod._updater.states_by_name()
    counter_before = mod._optimizer.num_update
    for suffix in (".params", ".states"):
        fname = f"{prefix}-0001{suffix}"
        with open(fname, "rb") as f:
            data = f.read()
        for broken in (data[: len(data) // 2], data[:-3], b"garbage" + data[7:]):
            with open(fname, "wb") as f:
                f.write(broken)
            with pytest.raises(FormatError) as err:
                if suffix == ".params":
                    mod.load_params(fname)
                else:
                    mod.load_optimizer_states(fname)
            assert os.path.basename(fname) in str(err.value)
        with open(fname, "wb") as f:
            f.write(data)
    for k, v in _params(mod).items():
        np.testing.assert_array_equal(v, before[k])
    after = mod._updater.states_by_name()
    for k in states_before:
        np.testing.assert_array_equal(after[k][0], states_before[k][0])
    assert mod._optimizer.num_update == counter_before
    with pytest.raises(FormatError, match="c-0001.states"):
        with open(prefix + "-0001.states", "wb") as f:
            f.write(b"\x80\x04junk")
        mx.mod.Module.load(prefix, 1, load_optimizer_states=True)


def test_states_of_another_optimizer_are_rejected(tmp_path):
    adam = _trained(optimizer="adam", params={"learning_rate": 0.01})
    fname = str(tmp_path / "adam.states")
    adam.save_optimizer_states(fname)
    sgd = _trained()
    before = sgd._updater.states_by_name()
    with pytest.raises(ParameterError, match="needs 1"):
        sgd.load_optimizer_states(fname)
    after = sgd._updater.states_by_name()
    for k in before:
        np.testing.assert_array_equal(after[k][0], before[k][0])


_RESUME_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import gradloom as mx

    mode, prefix, out = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = np.random.default_rng(11)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40).astype(np.float32)
    it = mx.io.NDArrayIter(x, y, batch_size=16)       # 40/16: the last batch is padded
    opt = dict(learning_rate=0.05, beta1=0.8)
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.7)
    mx.random.seed(7)
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=8, name="fc1"),
                          act_type="relu")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                               name="softmax")
    if mode == "straight":
        mod = mx.mod.Module(net)
        mod.fit(it, num_epoch=4, optimizer="adam",
                optimizer_params=dict(opt, lr_scheduler=sched),
                initializer=mx.init.Xavier())
    elif mode == "first":
        mod = mx.mod.Module(net)
        mod.fit(it, num_epoch=2, optimizer="adam",
                optimizer_params=dict(opt, lr_scheduler=sched),
                initializer=mx.init.Xavier(),
                epoch_end_callback=mx.callback.module_checkpoint(
                    mod, prefix, save_optimizer_states=True))
    elif mode == "resume":
        mod = mx.mod.Module.load(prefix, 2, load_optimizer_states=True)
        import warnings
        warnings.simplefilter("ignore")
        mod.fit(it, num_epoch=4, begin_epoch=2, optimizer="adam",
                optimizer_params=dict(opt, lr_scheduler=sched))
    else:   # one call: the newest checkpoint under the prefix, states and epoch included
        mod = mx.mod.Module(net)
        mod.fit(it, num_epoch=4, optimizer="adam", resume_from=prefix,
                optimizer_params=dict(opt, lr_scheduler=sched))
    mod.save_params(out)
""")


def test_resume_in_fresh_process_is_bit_identical(tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(_RESUME_SCRIPT)
    prefix = str(tmp_path / "ck")

    def run(mode, out):
        subprocess.run([sys.executable, str(script), mode, prefix, str(out)], check=True,
                       timeout=120)
        return mx.nd.load(str(out))

    straight = run("straight", tmp_path / "straight.params")
    run("first", tmp_path / "first.params")
    for mode in ("resume", "resume_from"):
        resumed = run(mode, tmp_path / f"{mode}.params")
        assert sorted(straight) == sorted(resumed)
        for key in straight:
            np.testing.assert_array_equal(resumed[key].asnumpy(), straight[key].asnumpy(),
                                          err_msg=f"{mode}: {key}")


@pytest.mark.parametrize("model", ["mlp", "lenet_bn"])
def test_mxnet_fixture_predicts_mxnet_numbers(model):
    io = np.load(os.path.join(FIXTURES, f"{model}-io.npz"))
    mod = mx.mod.Module.load(os.path.join(FIXTURES, model), 1)
    mod.bind(data_shapes=[("data", io["data"].shape)], for_training=False)
    out = mod.predict(io["data"])
    np.testing.assert_allclose(out.asnumpy(), io["softmax"], rtol=1e-5, atol=1e-5)
    # batch size other than the bound one, through an iterator with padding
    out = mod.predict(mx.io.NDArrayIter(io["data"], batch_size=5))
    np.testing.assert_allclose(out.asnumpy(), io["softmax"], rtol=1e-5, atol=1e-5)
    assert (out.asnumpy().argmax(axis=1) == io["argmax"]).all()


def test_fixture_on_two_devices():
    io = np.load(os.path.join(FIXTURES, "lenet_bn-io.npz"))
    mod = mx.mod.Module.load(os.path.join(FIXTURES, "lenet_bn"), 1,
                             context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(data_shapes=[("data", io["data"].shape)], for_training=False)
    out = mod.predict(io["data"])
    np.testing.assert_allclose(out.asnumpy(), io["softmax"], rtol=1e-5, atol=1e-5)


def test_a_model_without_parameters_checkpoints_and_loads(tmp_path, caplog):
    prefix = str(tmp_path / "identity")
    mod = mx.mod.Module(mx.sym.identity(mx.sym.Variable("data")), label_names=None)
    mod.bind([("data", (2, 3))], for_training=False)
    mod.init_params()
    mod.save_checkpoint(prefix, 1)
    with caplog.at_level("WARNING"):
        assert mx.model.load_params(prefix, 1) == ({}, {})
    assert "no arrays" in caplog.text
    loaded = mx.mod.Module.load(prefix, 1, label_names=None)
    loaded.bind([("data", (2, 3))], for_training=False)
    loaded.forward(mx.io.DataBatch([mx.nd.ones((2, 3)) * 4]))
    np.testing.assert_array_equal(loaded.get_outputs()[0].asnumpy(), np.full((2, 3), 4.0))
