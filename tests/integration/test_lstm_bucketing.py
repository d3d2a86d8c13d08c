"""The LSTM language model of examples/lstm_bucketing.py on real text (Tiny Shakespeare):
perplexity falls far below its starting value, and bucketing computes exactly what
separate fixed-length modules sharing the same parameters compute."""
import importlib.util
import os
import time

import numpy as np
import pytest

import gradloom as mx

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FULL = os.environ.get("GRADLOOM_TINYSHAKESPEARE") or os.path.join(
    ROOT, "..", "shared", "data", "tinyshakespeare", "input.txt")
BUCKETS = [8, 16, 24, 32]
BATCH = 32


def _example():
    spec = importlib.util.spec_from_file_location(
        "lstm_bucketing_example", os.path.join(ROOT, "examples", "lstm_bucketing.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EX = _example()
DATA = FULL if os.path.exists(FULL) else EX.DEFAULT_DATA


def _iters(train_lines, val_lines):
    lines = EX.read_lines(DATA)
    train_sent, vocab = EX.tokenize(lines[:train_lines])
    vocab.setdefault("\x00", max(vocab.values()) + 1)
    val_sent, _ = EX.tokenize(lines[-val_lines:], vocab)
    mx.random.seed(0)
    train = mx.rnn.BucketSentenceIter(train_sent, BATCH, buckets=BUCKETS,
                                      invalid_label=EX.INVALID_LABEL)
    val = mx.rnn.BucketSentenceIter(val_sent, BATCH, buckets=BUCKETS,
                                    invalid_label=EX.INVALID_LABEL)
    return train, val, len(vocab)


def _train_and_score(train_lines, max_batches):
    train, val, vocab_size = _iters(train_lines, 2000)
    sym_gen = EX.make_sym_gen(vocab_size, num_layers=2, num_hidden=48, num_embed=16)
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=train.default_bucket_key)
    mod.bind(train.provide_data, train.provide_label)
    mx.random.seed(1)
    mod.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    metric = mx.metric.Perplexity(EX.INVALID_LABEL)
    (_, start), = mod.score(val, metric)
    train_curve = []

    def record(param):
        train_curve.append(param.eval_metric.get()[1])

    tic = time.time()
    # exactly max_batches batches (a small corpus is cycled through)
    mod.fit(mx.io.ResizeIter(train, max_batches), eval_metric=metric, optimizer="adam",
            optimizer_params={"learning_rate": 0.01}, num_epoch=1,
            batch_end_callback=record)
    elapsed = time.time() - tic
    (_, end), = mod.score(val, metric)
    return start, end, train_curve, elapsed, mod


def test_perplexity_falls_fast_variant():
    start, end, curve, _, mod = _train_and_score(6000, 60)
    assert start > 40                      # untrained: about the alphabet size
    assert end < 0.6 * start, (start, end)
    assert len(set(mod.bucket_keys)) >= 3   # several buckets trained the same parameters


@pytest.mark.slow
def test_perplexity_falls_well_below_start():
    start, end, curve, elapsed, _ = _train_and_score(36000, 300)
    assert len(curve) == 300
    assert end < 0.3 * start, (start, end)
    assert curve[-1] < curve[0]


def _loss(outputs, labels):
    probs = outputs.asnumpy()
    labels = labels.asnumpy().reshape(-1).astype(int)
    valid = labels != EX.INVALID_LABEL
    return float(-np.log(probs[np.arange(len(labels)), labels][valid]).mean())


def test_single_bucket_training_gives_the_same_losses():
    """A BucketingModule fed one fixed bucket and a plain Module of that length, from the
    same parameters, produce the same loss on the first batch and on every later one."""
    train, _, vocab_size = _iters(3000, 10)
    sym_gen = EX.make_sym_gen(vocab_size, num_layers=2, num_hidden=16, num_embed=8)
    batches = []
    for batch in train:
        if batch.bucket_key == 16:
            batches.append(batch)
        if len(batches) == 4:
            break
    bucketing = mx.mod.BucketingModule(sym_gen, default_bucket_key=train.default_bucket_key)
    bucketing.bind(train.provide_data, train.provide_label)
    mx.random.seed(2)
    bucketing.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    single = mx.mod.Module(sym_gen(16)[0])
    single.bind(batches[0].provide_data, batches[0].provide_label)
    single.set_params(*bucketing.get_params())
    for mod in (bucketing, single):
        mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5,
                                                              "momentum": 0.9})
    for batch in batches:
        losses = []
        for mod in (bucketing, single):
            mod.forward_backward(batch)
            losses.append(_loss(mod.get_outputs()[0], batch.label[0]))
            mod.update()
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert bucketing._curr_bucket_key == 16


def test_interleaved_buckets_equal_separate_modules_sharing_parameters():
    train, _, vocab_size = _iters(3000, 10)
    sym_gen = EX.make_sym_gen(vocab_size, num_layers=2, num_hidden=16, num_embed=8)
    batches = [b for _, b in zip(range(6), train)]
    assert len({b.bucket_key for b in batches}) >= 2
    bucketing = mx.mod.BucketingModule(sym_gen, default_bucket_key=train.default_bucket_key)
    bucketing.bind(train.provide_data, train.provide_label)
    mx.random.seed(3)
    bucketing.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    bucketing.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5})
    params = {k: v.copy() for k, v in bucketing.get_params()[0].items()}
    for batch in batches:
        # reference: a fresh fixed-length module holding the current parameters
        ref = mx.mod.Module(sym_gen(batch.bucket_key)[0])
        ref.bind(batch.provide_data, batch.provide_label)
        ref.set_params(params, {})
        ref.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5})
        ref.forward_backward(batch)
        ref_loss = _loss(ref.get_outputs()[0], batch.label[0])
        ref.update()
        params = {k: v.copy() for k, v in ref.get_params()[0].items()}
        bucketing.forward_backward(batch)
        loss = _loss(bucketing.get_outputs()[0], batch.label[0])
        bucketing.update()
        assert loss == pytest.approx(ref_loss, rel=1e-5)
    for name, value in bucketing.get_params()[0].items():
        np.testing.assert_allclose(value.asnumpy(), params[name].asnumpy(), rtol=1e-4,
                                   atol=1e-6)
