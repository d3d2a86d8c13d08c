"""fit / score / predict loops, callbacks and padding (test-cases C)."""
import os
import warnings

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ConfigError, ParameterError

TWO_CPUS = [mx.cpu(0), mx.cpu(1)]


def _net(num_hidden=2):
    data = mx.sym.Variable("data")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=num_hidden, name="fc"),
                                name="softmax")


def _data(n=10):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    return x, y


class _Batch:
    """A batch that checks, when its label is read, that it is the newest batch."""

    def __init__(self, owner, data):
        self.owner = owner
        self.data = data
        self._label = None
        self.pad = 0

    @property
    def label(self):
        assert self.owner.latest is self, "a stale batch was used after the next was fetched"
        return self._label


class _Iter:
    provide_data = [mx.io.DataDesc("data", (2, 3))]
    provide_label = None

    def __init__(self, count):
        self.count = count
        self.latest = None
        self.i = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.i >= self.count:
            raise StopIteration
        self.i += 1
        self.latest = _Batch(self, [mx.nd.ones((2, 3))])
        return self.latest

    def reset(self):
        self.i = 0


def test_fit_references_one_batch_at_a_time():
    mod = mx.mod.BaseModule()
    mod.bind = lambda *a, **k: None
    mod.init_params = lambda *a, **k: None
    mod.init_optimizer = lambda *a, **k: None
    mod.forward = lambda *a, **k: None
    mod.backward = lambda *a, **k: None
    mod.update = lambda *a, **k: None
    mod.update_metric = lambda metric, labels, pre_sliced=False: labels
    mod.get_params = lambda: (None, None)
    mod.set_params = lambda *a, **k: None
    mod.fit(_Iter(2), num_epoch=1)


def test_fit_requires_num_epoch():
    mod = mx.mod.Module(_net())
    x, y = _data()
    with pytest.raises(ParameterError, match="num_epoch"):
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=4))


def test_callback_order_metric_accumulation_and_checkpoint_files(tmp_path):
    x, y = _data()
    train = mx.io.NDArrayIter(x, y, batch_size=4)
    val = mx.io.NDArrayIter(x, y, batch_size=4)
    events = []
    counts = []

    def batch_cb(p):
        events.append(("batch", p.epoch, p.nbatch))
        counts.append(p.eval_metric.num_inst)

    def epoch_cb(epoch, sym, arg, aux):
        events.append(("epoch_end", epoch))

    def eval_batch_cb(p):
        events.append(("eval_batch", p.epoch, p.nbatch))

    def eval_end_cb(p):
        events.append(("eval_end", p.epoch, p.nbatch))

    mod = mx.mod.Module(_net())
    p1, p2 = str(tmp_path / "p"), str(tmp_path / "p2")
    mod.fit(train, eval_data=val, num_epoch=2, batch_end_callback=batch_cb,
            epoch_end_callback=[epoch_cb, mx.callback.module_checkpoint(
                mod, p1, save_optimizer_states=True), mx.callback.do_checkpoint(p2)],
            eval_batch_end_callback=eval_batch_cb, eval_end_callback=eval_end_cb,
            optimizer_params={"learning_rate": 0.1})
    expected = []
    for e in range(2):
        expected += [("batch", e, 0), ("batch", e, 1), ("batch", e, 2), ("epoch_end", e)]
        expected += [("eval_batch", e, i) for i in range(3)] + [("eval_end", e, 3)]
    assert events == expected
    # the metric accumulates within an epoch, padding excluded: 4, 8, then 10 samples
    assert counts == [4, 8, 10, 4, 8, 10]
    files = sorted(os.listdir(tmp_path))
    assert [f for f in files if not f.startswith(".")] == [
        "p-0001.params", "p-0001.states", "p-0002.params", "p-0002.states", "p-symbol.json",
        "p2-0001.params", "p2-0002.params", "p2-symbol.json"]


def test_resume_from_checkpoint_runs_remaining_epochs(tmp_path, caplog):
    x, y = _data()
    mod = mx.mod.Module(_net())
    prefix = str(tmp_path / "r")
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=2,
            epoch_end_callback=mx.callback.module_checkpoint(mod, prefix,
                                                             save_optimizer_states=True))
    loaded = mx.mod.Module.load(prefix, 2, load_optimizer_states=True)
    assert not loaded.binded and loaded.params_initialized
    np.testing.assert_array_equal(loaded.get_params()[0]["fc_weight"].asnumpy(),
                                  mod.get_params()[0]["fc_weight"].asnumpy())
    import logging
    with caplog.at_level(logging.INFO):
        with pytest.warns(UserWarning, match="init_params call ignored"):
            loaded.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=3, begin_epoch=2)
    assert "Epoch[2]" in caplog.text and "Epoch[1]" not in caplog.text


def test_fit_resume_from_picks_the_newest_checkpoint_and_checks_its_arguments(tmp_path, caplog):
    x, y = _data()
    prefix = str(tmp_path / "r")
    first = mx.mod.Module(_net())
    first.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=2,
              epoch_end_callback=mx.callback.module_checkpoint(first, prefix))
    saved = first.get_params()[0]["fc_weight"].asnumpy()
    import logging
    # no .states beside the parameters: it says so and starts the optimizer afresh
    with caplog.at_level(logging.INFO), pytest.warns(UserWarning, match="starts fresh"):
        mod = mx.mod.Module(_net())
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=2, resume_from=prefix)
    assert "Resuming from epoch 2" in caplog.text and "Epoch[" not in caplog.text
    np.testing.assert_array_equal(mod.get_params()[0]["fc_weight"].asnumpy(), saved)
    # an explicit epoch; only the epochs after it run
    seen = []
    with pytest.warns(UserWarning, match="starts fresh"):
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=3, resume_from=(prefix, 1),
                epoch_end_callback=lambda epoch, *rest: seen.append(epoch))
    assert seen == [1, 2]

    before = mod.get_params()[0]["fc_weight"].asnumpy()
    for kwargs, match in [
            (dict(resume_from=str(tmp_path / "none")), "no checkpoint"),
            (dict(resume_from=(prefix, 7)), r"saved epochs.*\[1, 2\]"),
            (dict(resume_from=prefix, begin_epoch=1), "begin_epoch=1"),
            (dict(resume_from=prefix, arg_params={"fc_weight": mx.nd.zeros((2, 4))}),
             "drop arg_params"),
            (dict(resume_from=3), "prefix")]:
        with pytest.raises(ConfigError, match=match):
            mod.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=3, **kwargs)
        np.testing.assert_array_equal(mod.get_params()[0]["fc_weight"].asnumpy(), before)


def _constant_module(context=None):
    """Predicts class 0 for every sample (weights zero, bias favours class 0)."""
    mod = mx.mod.Module(_net(), context=context or [mx.cpu(0)])
    mod.bind([("data", (4, 4))], [("softmax_label", (4,))])
    mod.init_params(initializer=mx.init.Zero())
    args, aux = mod.get_params()
    args["fc_bias"][:] = mx.nd.array([1.0, 0.0])
    mod.set_params(args, aux)
    return mod


@pytest.mark.parametrize("context", [[mx.cpu(0)], TWO_CPUS])
def test_score_excludes_padding(context):
    x = np.zeros((10, 4), np.float32)
    y = np.array([0] * 9 + [1], np.float32)
    mod = _constant_module(context)
    res = mod.score(mx.io.NDArrayIter(x, y, batch_size=4), "acc")
    assert res == [("accuracy", pytest.approx(0.9))]    # MXNet: 11/12 with the padding
    res = mod.score(mx.io.NDArrayIter(x, y, batch_size=4), ["acc", "ce"])
    assert [name for name, _ in res] == ["accuracy", "cross-entropy"]


def test_predict_shapes_and_padding():
    x, y = _data()
    mod = _constant_module()
    it = mx.io.NDArrayIter(x, y, batch_size=4)
    assert mod.predict(it).shape == (10, 2)
    unmerged = mod.predict(it, merge_batches=False)
    assert [[o.shape for o in b] for b in unmerged] == [[(4, 2)], [(4, 2)], [(2, 2)]]
    assert [o.shape for o in mod.predict(it, always_output_list=True)] == [(10, 2)]
    seen = [(outs[0].shape, b.pad) for outs, _, b in mod.iter_predict(it)]
    assert seen == [((4, 2), 0), ((4, 2), 0), ((2, 2), 2)]
    with pytest.raises(ParameterError, match="NDArray or DataIter"):
        mod.predict([1, 2, 3])
    empty = mx.io.NDArrayIter(x[:4], y[:4], batch_size=4)
    assert mod.predict(empty, num_batch=0) == []


def test_predict_runs_in_inference_mode_on_training_module():
    data = mx.sym.Variable("data")
    out = mx.sym.Dropout(data, p=0.5)
    mod = mx.mod.Module(out, label_names=None)
    mod.bind([("data", (4, 50))])
    mod.init_params()
    it = mx.io.NDArrayIter(np.ones((6, 50), np.float32), batch_size=4)
    np.testing.assert_array_equal(mod.predict(it).asnumpy(), np.ones((6, 50)))


def test_training_metric_excludes_padding():
    x = np.zeros((10, 4), np.float32)
    y = np.array([0] * 9 + [1], np.float32)
    mod = _constant_module()
    metric = mx.metric.create("acc")
    mod.init_optimizer(optimizer_params={"learning_rate": 0.0})
    with pytest.warns(UserWarning, match="init_params call ignored"):
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=4), eval_metric=metric, num_epoch=1)
    assert metric.get_global()[1] == pytest.approx(0.9)
    assert metric.global_num_inst == 10


def _mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=16, name="fc1"),
                          act_type="relu")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                name="softmax")


def _train(context, kvstore="local", batch_size=8, update_on_kvstore=None,
           work_load_list=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 8)).astype(np.float32)
    y = rng.integers(0, 3, 50).astype(np.float32)
    mx.random.seed(1)
    mod = mx.mod.Module(_mlp(), context=context, work_load_list=work_load_list)
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=batch_size), num_epoch=3, kvstore=kvstore,
            optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "wd": 1e-3},
            initializer=mx.init.Xavier(), update_on_kvstore=update_on_kvstore)
    return {k: v.asnumpy().copy() for k, v in mod.get_params()[0].items()}


@pytest.mark.parametrize("kvstore,on_kv", [("local", None), (None, None), ("device", None),
                                           ("local", True)])
def test_two_devices_train_like_one(kvstore, on_kv):
    one = _train([mx.cpu(0)], kvstore)
    two = _train(TWO_CPUS, kvstore, update_on_kvstore=on_kv)
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-5)


def test_uneven_workload_and_three_devices_train_like_one():
    one = _train([mx.cpu(0)])
    three = _train([mx.cpu(0), mx.cpu(1), mx.cpu(2)])
    uneven = _train(TWO_CPUS, work_load_list=[1, 3])
    for name in one:
        np.testing.assert_allclose(three[name], one[name], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(uneven[name], one[name], rtol=1e-5, atol=1e-5)


def test_fit_trains_on_real_samples_of_a_padded_batch():
    """The padded last batch trains on its real samples, averaged over their count."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = rng.standard_normal((6, 1)).astype(np.float32)

    def module():
        data = mx.sym.Variable("data")
        out = mx.sym.LinearRegressionOutput(
            mx.sym.FullyConnected(data, num_hidden=1, name="fc"), name="lro")
        mod = mx.mod.Module(out, label_names=("lro_label",))
        mod.bind([("data", (4, 3))], [("lro_label", (4, 1))])
        mod.init_params(initializer=mx.init.One())
        mod.init_optimizer(optimizer_params={"learning_rate": 0.1})
        return mod

    fitted = module()
    it = mx.io.NDArrayIter(x, y, batch_size=4, label_name="lro_label")
    with pytest.warns(UserWarning, match="init_params call ignored"):
        fitted.fit(it, num_epoch=1, eval_metric="mse")
    manual = module()
    for lo, hi in ((0, 4), (4, 6)):
        manual.forward_backward(mx.io.DataBatch([mx.nd.array(x[lo:hi])],
                                                [mx.nd.array(y[lo:hi])]))
        manual.update()
    for name, value in manual.get_params()[0].items():
        np.testing.assert_allclose(fitted.get_params()[0][name].asnumpy(), value.asnumpy(),
                                   rtol=1e-6)
    assert fitted._optimizer.rescale_grad == 0.5     # 1 / the 2 real samples


def test_nadam_fits_a_small_regression():
    # test-cases C6 (MXNet's test_nadam): an MLP with an L1 loss on 20 random samples
    mx.random.seed(0)
    rng = np.random.default_rng(0)
    data, label = mx.sym.Variable("data"), mx.sym.Variable("label")
    net = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=128), act_type="relu")
    net = mx.sym.Activation(mx.sym.FullyConnected(net, num_hidden=64), act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=1)
    loss = mx.sym.make_loss(mx.sym.abs(net - label))
    x = rng.uniform(-1, 1, (20, 10)).astype(np.float32)
    y = rng.uniform(-1, 1, (20, 1)).astype(np.float32)
    it = mx.io.NDArrayIter(x, y, batch_size=5, label_name="label", shuffle=True)
    mod = mx.mod.Module(loss, data_names=("data",), label_names=("label",))
    mod.fit(it, num_epoch=60, optimizer="nadam",
            optimizer_params={"learning_rate": 0.001, "wd": 0.0005},
            initializer=mx.init.Xavier(magnitude=2), eval_metric=mx.metric.Loss())
    start = np.abs(y).mean()           # the loss of predicting 0
    final = dict(mod.score(it, mx.metric.Loss()))["loss"]
    assert final < 0.11 < start


def test_roll_over_batches_are_trained_and_scored_whole():
    # the first batch of epoch 2 is last epoch's remainder plus new samples: all real
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc"),
                               name="softmax")
    it = mx.io.NDArrayIter(np.arange(10.0).reshape(10, 1), np.zeros(10), 4,
                           last_batch_handle="roll_over")
    seen = []
    mod = mx.mod.Module(net)
    mod.fit(it, num_epoch=2, batch_end_callback=lambda p: seen.append(
        (p.epoch, p.locals["data_batch"].data[0].asnumpy().ravel().tolist())))
    epoch2 = [rows for epoch, rows in seen if epoch == 1]
    assert epoch2[0] == [8.0, 9.0, 0.0, 1.0]
    assert sorted(v for rows in epoch2 for v in rows) == sorted([8.0, 9.0] + list(range(10)))
    counts = []
    for _ in range(2):       # 0-3, 4-7 (8, 9 roll over); then 8 9 0 1, 2-5, 6-9
        metric = mx.metric.create("acc")
        mod.score(it, metric)
        counts.append(metric.num_inst)
    assert counts == [8, 12]                 # the rolled-over batch counts in full


def test_default_label_names_are_the_loss_heads_labels():
    data = mx.sym.Variable("data")
    lro = mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(data, num_hidden=1, name="fc"),
                                        name="lro")
    mod = mx.mod.Module(lro)
    assert mod.label_names == ["lro_label"]
    # a label variable of any name, wired to a loss head's label input
    target = mx.sym.Variable("target")
    mae = mx.sym.MAERegressionOutput(mx.sym.FullyConnected(data, num_hidden=3, name="fc2"),
                                     label=target, name="mae")
    assert mx.mod.Module(mae).label_names == ["target"]
    assert mx.mod.Module(mx.sym.FullyConnected(data, num_hidden=2)).label_names == []
    x = np.linspace(-1, 1, 40, dtype=np.float32).reshape(40, 1)
    it = mx.io.NDArrayIter(x, 3 * x, batch_size=8, label_name="lro_label")
    mod.fit(it, num_epoch=30, optimizer_params={"learning_rate": 0.5},
            initializer=mx.init.Zero(), eval_metric="mse")
    weight = mod.get_params()[0]["fc_weight"].asnumpy().item()
    assert abs(weight - 3.0) < 0.05


def test_a_loss_that_averages_over_the_batch_and_the_module_rescale_warn_together():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    for normalization, warns in (("batch", True), ("valid", True), ("null", False)):
        net = mx.sym.SoftmaxOutput(fc, normalization=normalization, name="softmax")
        mod = mx.mod.Module(net)
        mod.bind([("data", (4, 3))], [("softmax_label", (4,))])
        mod.init_params()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mod.init_optimizer(optimizer="sgd")
        hit = [w for w in caught if "divided by the batch twice" in str(w.message)]
        assert bool(hit) == warns, normalization
        # an explicit rescale_grad is the user's choice: no warning
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mod.init_optimizer(optimizer="sgd", optimizer_params={"rescale_grad": 1.0},
                               force_init=True)
