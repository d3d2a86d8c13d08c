"""BucketingModule: shared parameters/gradients/memory, guards, training and checkpoints
(test-cases D1-D6)."""
import json
import os

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import FormatError, ParameterError
from gradloom.module import (NotBoundError, OptimizerNotInitializedError,
                             ParamsNotInitializedError)

VOCAB, EMBED, HIDDEN, BATCH = 12, 5, 6, 4


def lm_sym_gen(seq_len, named_embed=True):
    data = mx.sym.Variable("data")
    label = mx.sym.Variable("softmax_label")
    kwargs = {"name": "embed"} if named_embed else {}
    embed = mx.sym.Embedding(data=data, input_dim=VOCAB, output_dim=EMBED, **kwargs)
    stack = mx.rnn.SequentialRNNCell()
    for i in range(2):
        stack.add(mx.rnn.LSTMCell(num_hidden=HIDDEN, prefix=f"lstm_l{i}_"))
    outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
    pred = mx.sym.Reshape(outputs, shape=(-1, HIDDEN))
    pred = mx.sym.FullyConnected(data=pred, num_hidden=VOCAB, name="pred")
    label = mx.sym.Reshape(label, shape=(-1,))
    pred = mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax")
    return pred, ("data",), ("softmax_label",)


def _batch(seq_len, seed=0, batch=BATCH):
    rng = np.random.default_rng(seed)
    data = rng.integers(1, VOCAB, (batch, seq_len)).astype(np.float32)
    label = np.concatenate([data[:, 1:], np.zeros((batch, 1), np.float32)], axis=1)
    return mx.io.DataBatch(
        [mx.nd.array(data)], [mx.nd.array(label)], pad=0, bucket_key=seq_len,
        provide_data=[mx.io.DataDesc("data", (batch, seq_len), layout="NT")],
        provide_label=[mx.io.DataDesc("softmax_label", (batch, seq_len), layout="NT")])


def _bound(default=10, sym_gen=lm_sym_gen, init=True, optimizer=None, **kwargs):
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=default, **kwargs)
    mod.bind([("data", (BATCH, default))], [("softmax_label", (BATCH, default))])
    if init:
        mx.random.seed(11)
        mod.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    if optimizer:
        mod.init_optimizer(optimizer=optimizer, optimizer_params={"learning_rate": 0.1})
    return mod


def _pool(mod, key):
    return mod._buckets[key]._exec_group.execs[0]._pool


def test_names_stable_and_memory_reused_across_buckets():
    mod = _bound(sym_gen=lambda k: lm_sym_gen(k, named_embed=False))
    assert mod.symbol.list_arguments()[1] == "embedding0_weight"
    mod.switch_bucket(5, [("data", (BATCH, 5))], [("softmax_label", (BATCH, 5))])
    assert mod.symbol.list_arguments()[1] == "embedding0_weight"
    assert _pool(mod, 5) is _pool(mod, 10)
    before = mod.memory_usage()
    pool_bytes = _pool(mod, 10).nbytes()
    exec_bytes = mod._buckets[10]._total_exec_bytes
    assert exec_bytes >= pool_bytes > 0
    del mod._buckets[5]
    mod.switch_bucket(5, [("data", (BATCH, 5))], [("softmax_label", (BATCH, 5))])
    assert _pool(mod, 10).nbytes() == pool_bytes
    assert mod.memory_usage()["pool"] == before["pool"]
    assert mod._buckets[10]._total_exec_bytes == exec_bytes     # MXNet's own check
    # parameters and gradients are the same memory in every bucket
    default_store = mod._buckets[10]._exec_group.params
    assert mod._buckets[5]._exec_group.params is default_store
    mod.switch_bucket(10, None)
    assert mod._curr_bucket_key == 10


def test_pool_sized_by_largest_bucket_not_sum():
    mod = _bound(default=6)
    sizes = {}
    for key in (3, 6, 9, 12):
        mod.forward(_batch(key), is_train=True)
        mod.backward()
        sizes[key] = _pool(mod, key).nbytes()
        alone = mx.mod.Module(lm_sym_gen(key)[0])
        alone.bind([("data", (BATCH, key))], [("softmax_label", (BATCH, key))])
        alone.init_params()
        own = alone._exec_group.execs[0]._pool.nbytes()
        assert sizes[key] >= own
    assert sizes[12] == max(sizes.values())
    pools = {id(_pool(mod, k)) for k in (3, 6, 9, 12)}
    assert len(pools) == 1
    usage = mod.memory_usage()
    assert usage["pool"] == sizes[12]


def test_a_grown_pool_frees_its_outgrown_arrays_at_once():
    # started on the smallest bucket, the pool grows with every longer one; no bucket's
    # executor (or kernel cache) may keep an old array alive, without help from the collector
    import gc
    import weakref
    mod = _bound(default=3, optimizer="sgd")
    pool = _pool(mod, 3)
    seen = [weakref.ref(a) for a in pool.arrays.values()]
    gc.disable()
    try:
        for key in (6, 4, 9, 12, 3, 12):
            mod.forward_backward(_batch(key))
            mod.update()
            seen += [weakref.ref(a) for a in pool.arrays.values()
                     if not any(r() is a for r in seen)]
            current = list(pool.arrays.values())
            assert all(any(r() is b for b in current) for r in seen if r() is not None), key
            del current
    finally:
        gc.enable()
    assert len(seen) >= 4            # it did grow: 3 -> 6 -> 9 -> 12
    # every bucket still trains on the re-carved buffers
    before = mod.get_params()[0]["pred_weight"].asnumpy()
    for key in (3, 6, 4, 9):
        mod.forward_backward(_batch(key, seed=key))
        mod.update()
        assert np.isfinite(mod.get_outputs()[0].asnumpy()).all()
    assert not np.allclose(mod.get_params()[0]["pred_weight"].asnumpy(), before)


def test_gradients_shared_write_and_add():
    def sym_gen(_key):
        a = mx.sym.Variable("a", shape=(1,), init=mx.init.One())
        out = mx.sym.make_loss(mx.sym.broadcast_mul(mx.sym.Variable("data"), a))
        return out, ("data",), None

    for req, expected in (("write", [2, 2]), ("add", [2, 4])):
        mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=10)
        mod.bind([mx.io.DataDesc("data", (2,), layout="N")], None, grad_req=req)
        mod.init_params()
        got = []
        for key in (10, 5):
            batch = mx.io.DataBatch([mx.nd.ones((2,))], bucket_key=key,
                                    provide_data=[mx.io.DataDesc("data", (2,), layout="N")])
            mod.forward_backward(batch)
            got.append(float(mod._curr_module._exec_group.execs[0].grad_dict["a"]
                             .asnumpy()[0]))
        assert got == expected
        assert mod._buckets[5]._grad_req == req


def test_guards_raise_typed_errors():
    mod = mx.mod.BucketingModule(lm_sym_gen, default_bucket_key=10)
    with pytest.raises(NotBoundError, match="bind"):
        mod.switch_bucket(5, [("data", (BATCH, 5))])
    with pytest.raises(NotBoundError):
        mod.forward(_batch(5))
    mod.bind([("data", (BATCH, 10))], [("softmax_label", (BATCH, 10))])
    with pytest.raises(ParamsNotInitializedError, match="init_params"):
        mod.switch_bucket(5, [("data", (BATCH, 5))], [("softmax_label", (BATCH, 5))])
    with pytest.raises(ParamsNotInitializedError):
        mod.forward(_batch(10))
    with pytest.raises(ParamsNotInitializedError):
        mod.get_params()
    mod.init_params()
    mod.forward_backward(_batch(5))
    with pytest.raises(OptimizerNotInitializedError, match="init_optimizer"):
        mod.update()
    with pytest.raises(ParameterError, match="default_bucket_key"):
        mx.mod.BucketingModule(lm_sym_gen)
    with pytest.raises(ParameterError, match="shared_module"):
        mx.mod.BucketingModule(lm_sym_gen, 10).bind(
            [("data", (BATCH, 10))], shared_module=mod)
    with pytest.raises(ParameterError, match="hashable"):
        mod.switch_bucket([1, 2], [("data", (BATCH, 2))])


def test_bucket_outputs_and_gradients_equal_a_plain_module():
    """All buckets use the default bucket's parameters: a bucket-5 batch gives the numbers
    of a stand-alone Module holding the same parameters."""
    mod = _bound()
    mod.forward_backward(_batch(10, seed=1))       # something else ran first
    batch = _batch(5, seed=2)
    mod.forward_backward(batch)
    args, auxs = mod.get_params()
    plain = mx.mod.Module(lm_sym_gen(5)[0])
    plain.bind([("data", (BATCH, 5))], [("softmax_label", (BATCH, 5))])
    plain.set_params(args, auxs)
    plain.forward_backward(batch)
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(),
                               plain.get_outputs()[0].asnumpy(), rtol=1e-6)
    grads, plain_grads = mod.get_grads(), plain.get_grads()
    assert set(grads) == set(plain_grads)
    for name in grads:
        np.testing.assert_allclose(grads[name].asnumpy(), plain_grads[name].asnumpy(),
                                   rtol=1e-5, atol=1e-7)


def test_updates_in_any_bucket_train_the_shared_parameters():
    mod = _bound(optimizer="sgd")
    before = {k: v.asnumpy().copy() for k, v in mod.get_params()[0].items()}
    mod.forward_backward(_batch(3))
    mod.update()
    after = mod.get_params()[0]
    assert mod._curr_bucket_key == 3
    changed = [k for k in before if not np.array_equal(before[k], after[k].asnumpy())]
    assert "lstm_l0_i2h_weight" in changed and "pred_weight" in changed
    # the default bucket sees the new values
    mod.forward(_batch(10), is_train=False)
    weights = mod._buckets[10]._exec_group.execs[0].arg_dict["pred_weight"].asnumpy()
    np.testing.assert_array_equal(weights, after["pred_weight"].asnumpy())


def _iter(seed=0, count=120):
    # counting sequences (each token is the previous one plus one): easy to learn
    rng = np.random.default_rng(seed)
    sents = [[(start + i) % (VOCAB - 1) + 1 for i in range(rng.integers(2, 9))]
             for start in rng.integers(0, VOCAB - 1, size=count)]
    mx.random.seed(seed)
    return mx.rnn.BucketSentenceIter(sents, BATCH, buckets=[3, 5, 8], invalid_label=0)


def test_fit_score_predict():
    it = _iter()
    mod = mx.mod.BucketingModule(lm_sym_gen, default_bucket_key=it.default_bucket_key)
    mod.fit(it, eval_data=it, eval_metric=mx.metric.Perplexity(0), num_epoch=3,
            optimizer="adam", optimizer_params={"learning_rate": 0.02},
            initializer=mx.init.Xavier(factor_type="in", magnitude=2.34))
    assert set(mod.bucket_keys) == {3, 5, 8}
    (name, value), = mod.score(it, mx.metric.Perplexity(0))
    # uniform guessing scores VOCAB - 1; the model learned the sequences
    assert name == "perplexity" and 1.0 < value < 0.5 * (VOCAB - 1)
    outs = mod.predict(it, merge_batches=False)
    assert len(outs) == len(it.idx)
    assert {o[0].shape for o in outs} <= {(BATCH * k, VOCAB) for k in (3, 5, 8)}
    merged = mod.predict(it)
    assert merged.shape[0] == sum(o[0].shape[0] for o in outs)
    np.testing.assert_allclose(merged.asnumpy().sum(axis=1), 1.0, rtol=1e-5)
    # a batch without bucket_key runs in the default bucket
    plain = mx.io.DataBatch([mx.nd.ones((BATCH, 8))])
    mod.forward(plain, is_train=False)
    assert mod.get_outputs()[0].shape == (BATCH * 8, VOCAB)


def _params(mod):
    args, auxs = mod.get_params()
    return {k: v.asnumpy().copy() for k, v in args.items()}


def test_checkpoint_round_trip_with_optimizer_state(tmp_path):
    it = _iter(1)
    mod = mx.mod.BucketingModule(lm_sym_gen, default_bucket_key=it.default_bucket_key)
    mod.fit(it, num_epoch=1, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
            eval_metric=mx.metric.Perplexity(0))
    prefix = str(tmp_path / "lm")
    mod.save_checkpoint(prefix, 3, save_optimizer_states=True)
    files = sorted(os.listdir(tmp_path))
    assert files == ["lm-0003.params", "lm-0003.states", "lm-3-symbol.json",
                     "lm-5-symbol.json", "lm-8-symbol.json", "lm-buckets.json",
                     "lm-symbol.json", "lm.buckets"]
    index = json.loads((tmp_path / "lm-buckets.json").read_text())
    assert index["default_bucket_key"] == 8
    assert {e["key"] for e in index["buckets"]} == {3, 5, 8}
    # MXNet-compatible key list
    keys = mx.nd.load(prefix + ".buckets")[0].asnumpy()
    assert sorted(keys.tolist()) == [3, 5, 8] and keys.dtype == np.int32

    loaded = mx.mod.BucketingModule.load(prefix, 3, load_optimizer_states=True)
    assert loaded.params_initialized and not loaded.binded
    assert loaded.default_bucket_key == 8
    loaded.bind(it.provide_data, it.provide_label)
    trained = _params(mod)
    for name, value in _params(loaded).items():
        np.testing.assert_array_equal(value, trained[name])
    loaded.init_optimizer(optimizer="sgd",
                          optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    # one more step from the same state (momentum included) gives the same parameters
    batch = _batch(5, seed=9)
    for m in (mod, loaded):
        m.forward_backward(batch)
        m.update()
    got, expected = _params(loaded), _params(mod)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, atol=1e-7)


def test_checkpoint_with_unnamed_layers_and_any_hashable_keys(tmp_path):
    mx.sym.FullyConnected(mx.sym.Variable("x"), num_hidden=2)   # bumps global counters
    mx.sym.Embedding(mx.sym.Variable("x"), input_dim=2, output_dim=2)

    def sym_gen(key):
        return lm_sym_gen(key[1], named_embed=False)

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=("len", 6))
    mod.bind([("data", (BATCH, 6))], [("softmax_label", (BATCH, 6))])
    mod.init_params()
    assert "embedding0_weight" in mod.symbol.list_arguments()
    batch = _batch(4)
    batch.bucket_key = ("len", 4)
    mod.forward(batch)
    prefix = str(tmp_path / "tk")
    mod.save_checkpoint(prefix, 1)
    assert not os.path.exists(prefix + ".buckets")   # not integer keys
    index = json.loads((tmp_path / "tk-buckets.json").read_text())
    assert {"tuple": ["len", 4]} in [e["key"] for e in index["buckets"]]
    saved, _ = mx.model.load_params(prefix, 1)
    for entry in index["buckets"]:
        sym = mx.sym.load(str(tmp_path / entry["symbol"]))
        names = [n for n in sym.list_arguments() if n not in ("data", "softmax_label")]
        assert set(names) == set(saved)     # saved names match saved parameters

    loaded = mx.mod.BucketingModule.load(prefix, 1)        # no sym_gen needed
    assert loaded.default_bucket_key == ("len", 6)
    loaded.bind([("data", (BATCH, 6))], [("softmax_label", (BATCH, 6))])
    loaded.forward(batch, is_train=False)
    mod.forward(batch, is_train=False)
    np.testing.assert_allclose(loaded.get_outputs()[0].asnumpy(),
                               mod.get_outputs()[0].asnumpy(), rtol=1e-6)
    with pytest.raises(ParameterError, match="sym_gen"):
        b7 = _batch(7)
        b7.bucket_key = ("len", 7)
        loaded.forward(b7)
    with_gen = mx.mod.BucketingModule.load(prefix, 1, sym_gen=sym_gen)
    with_gen.bind([("data", (BATCH, 6))], [("softmax_label", (BATCH, 6))])
    b7 = _batch(7)
    b7.bucket_key = ("len", 7)
    with_gen.forward(b7, is_train=False)
    assert with_gen.get_outputs()[0].shape == (BATCH * 7, VOCAB)


def test_load_mxnet_layout_and_corrupted_index(tmp_path):
    mod = _bound(default=6)
    mod.forward(_batch(3))
    prefix = str(tmp_path / "mx")
    mod.save_checkpoint(prefix, 2)
    os.remove(prefix + "-buckets.json")          # what MXNet writes: .buckets + per-key JSON
    with pytest.raises(ParameterError, match="sym_gen"):
        mx.mod.BucketingModule.load(prefix, 2, default_bucket_key=6)
    loaded = mx.mod.BucketingModule.load(prefix, 2, sym_gen=lm_sym_gen, default_bucket_key=6)
    loaded.bind([("data", (BATCH, 6))], [("softmax_label", (BATCH, 6))])
    for name, value in _params(loaded).items():
        np.testing.assert_array_equal(value, _params(mod)[name])
    (tmp_path / "bad-buckets.json").write_text("{not json")
    with pytest.raises(FormatError, match="bad-buckets.json"):
        mx.mod.BucketingModule.load(str(tmp_path / "bad"), 2)
    with pytest.raises(FormatError, match="no bucketing checkpoint"):
        mx.mod.BucketingModule.load(str(tmp_path / "missing"), 2)


def test_module_checkpoint_callback_saves_optimizer_states(tmp_path):
    it = _iter(2, count=60)
    mod = mx.mod.BucketingModule(lm_sym_gen, default_bucket_key=it.default_bucket_key)
    prefix = str(tmp_path / "cb")
    mod.fit(it, num_epoch=1, optimizer="adam", eval_metric=mx.metric.Perplexity(0),
            epoch_end_callback=mx.callback.module_checkpoint(mod, prefix,
                                                             save_optimizer_states=True))
    assert os.path.exists(prefix + "-0001.states")
    assert os.path.exists(prefix + "-buckets.json")


def test_force_rebind_keeps_parameters_and_optimizer():
    mod = _bound(optimizer="sgd")
    mod.forward_backward(_batch(4))
    mod.update()
    before = _params(mod)
    mod.bind([("data", (BATCH, 10))], [("softmax_label", (BATCH, 10))], force_rebind=True)
    assert mod.bucket_keys == [10] and mod.optimizer_initialized
    for name, value in _params(mod).items():
        np.testing.assert_array_equal(value, before[name])
    mod.forward_backward(_batch(4))
    mod.update()
    assert not np.array_equal(_params(mod)["pred_weight"], before["pred_weight"])
    # a failing re-bind leaves the module bound as it was
    with pytest.raises(ParameterError, match="data_names"):
        mod.bind([("x", (BATCH, 10))], force_rebind=True)
    assert mod.binded and set(mod.bucket_keys) == {10, 4}
    mod.forward(_batch(4), is_train=False)


def test_bucket_using_fewer_trained_parameters_is_refused():
    # bucket 1 skips layer "extra": one flat optimizer step would move it with stale gradients
    def sym_gen(key):
        data = mx.sym.var("data")
        net = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
        if key == 2:
            net = mx.sym.FullyConnected(net, num_hidden=4, name="extra")
        return mx.sym.LinearRegressionOutput(net, name="out"), ("data",), ("out_label",)

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=2)
    mod.bind([("data", (2, 3))], [("out_label", (2, 4))])
    mod.init_params()
    with pytest.raises(ParameterError, match="extra_weight"):
        mod.switch_bucket(1, [("data", (2, 3))], [("out_label", (2, 4))])


def test_a_pool_that_fails_to_grow_leaves_no_bucket_running_on_released_buffers(monkeypatch):
    mod = _bound(default=3, optimizer="sgd")
    mod.forward_backward(_batch(3))
    want = mod.get_outputs()[0].asnumpy().copy()
    pool = _pool(mod, 3)
    real_empty = pool.backend.empty
    calls = []

    def no_memory(*args, **kwargs):
        calls.append(args)
        raise MemoryError("out of memory (test)")
    monkeypatch.setattr(pool.backend, "empty", no_memory)
    with pytest.raises(MemoryError):
        mod.forward(_batch(12), is_train=False)        # a longer bucket needs a larger pool
    assert calls
    with pytest.raises(MemoryError):                   # the old bucket retries, never runs
        mod.forward(_batch(3), is_train=False)         # on the released buffers
    monkeypatch.setattr(pool.backend, "empty", real_empty)
    mod.forward(_batch(3), is_train=False)
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), want, rtol=1e-6)
    mod.forward(_batch(12), is_train=False)
    assert mod.get_outputs()[0].shape == (BATCH * 12, VOCAB)
