"""Callbacks: Speedometer, log_train_metric, checkpoints, ProgressBar, validation logging."""
import logging
import re

import numpy as np
import pytest

import gradloom as mx
from gradloom import callback, metric
from gradloom.callback import BatchEndParam


def _acc_param(epoch, nbatch, m):
    return BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=m, locals={})


def _update(m, correct):
    # one sample per call: correct or not
    m.update([mx.nd.array(np.array([1.0]))], [mx.nd.array(np.array([[0.0, 1.0]] if correct
                                                                  else [[1.0, 0.0]]))])


def test_batch_end_param_fields():
    p = BatchEndParam(1, 2, None, {"a": 1})
    assert p.epoch == 1 and p.nbatch == 2 and p.locals == {"a": 1}
    assert type(p).__name__ == "BatchEndParams"
    assert mx.callback.BatchEndParam is BatchEndParam


def test_speedometer_logs_and_resets_local(caplog, monkeypatch):
    clock = iter(np.arange(0.0, 100.0, 0.5))
    monkeypatch.setattr(callback.time, "perf_counter", lambda: float(next(clock)))
    m = metric.Accuracy()
    speedo = callback.Speedometer(batch_size=10, frequent=2)
    with caplog.at_level(logging.INFO, logger="gradloom.callback"):
        for nbatch in range(5):
            _update(m, correct=nbatch != 1)
            speedo(_acc_param(0, nbatch, m))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    # the first report covers batches 0..2 (2 of 3 correct), the second batches 3..4
    assert lines[0] == "Epoch[0] Batch [0-2]\tSpeed: 40.00 samples/sec\taccuracy=0.666667"
    assert lines[1] == "Epoch[0] Batch [2-4]\tSpeed: 40.00 samples/sec\taccuracy=1.000000"
    # local stats were reset after the last report; the global ones cover everything
    assert np.isnan(m.get()[1])
    assert m.get_global()[1] == pytest.approx(4 / 5)


def test_speedometer_without_reset_and_new_epoch(caplog):
    m = metric.create(["acc", "mse"])
    speedo = callback.Speedometer(batch_size=4, frequent=1, auto_reset=False)
    with caplog.at_level(logging.INFO, logger="gradloom.callback"):
        for epoch in range(2):
            for nbatch in range(3):
                m.update([mx.nd.array(np.array([1.0]))], [mx.nd.array(np.array([[0.0, 1.0]]))])
                speedo(_acc_param(epoch, nbatch, m))
    lines = [r.getMessage() for r in caplog.records]
    # the first call of each epoch only starts the clock
    assert len(lines) == 4
    assert re.fullmatch(r"Epoch\[1\] Batch \[0-2\]\tSpeed: [\d.]+ samples/sec\t"
                        r"accuracy=1\.000000\tmse=[\d.]+", lines[-1])
    no_metric = callback.Speedometer(batch_size=4, frequent=1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gradloom.callback"):
        no_metric(_acc_param(0, 0, None))
        no_metric(_acc_param(0, 1, None))
    assert re.fullmatch(r"Iter\[0\] Batch \[1\]\tSpeed: [\d.]+ samples/sec",
                        caplog.records[-1].getMessage())


def test_log_train_metric(caplog):
    m = metric.Accuracy()
    cb = callback.log_train_metric(2, auto_reset=True)
    with caplog.at_level(logging.INFO, logger="gradloom.callback"):
        for nbatch in range(4):
            _update(m, correct=nbatch < 3)
            cb(_acc_param(3, nbatch, m))
    assert [r.getMessage() for r in caplog.records] == [
        "Iter[3] Batch[0] Train-accuracy=1.000000", "Iter[3] Batch[2] Train-accuracy=1.000000"]
    assert m.num_inst == 1  # reset at batch 2, then batch 3 added


def test_validation_and_progress_bar(caplog):
    m = metric.Accuracy()
    _update(m, True)
    _update(m, False)
    with caplog.at_level(logging.INFO, logger="gradloom.callback"):
        callback.LogValidationMetricsCallback()(_acc_param(4, 2, m))
        callback.ProgressBar(total=4, length=8)(_acc_param(0, 1, m))
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs[0] == "Epoch[4] Validation-accuracy=0.500000"
    assert msgs[1] == "[==------] 25%\r"


def test_module_checkpoint_numbering_and_period():
    calls = []

    class FakeModule:
        def save_checkpoint(self, prefix, epoch, save_optimizer_states=False):
            calls.append((prefix, epoch, save_optimizer_states))

    cb = callback.module_checkpoint(FakeModule(), "run/p", period=2, save_optimizer_states=True)
    for epoch in range(5):
        cb(epoch, None, {}, {})
    assert calls == [("run/p", 2, True), ("run/p", 4, True)]
    calls.clear()
    every = callback.module_checkpoint(FakeModule(), "q", period=0)  # clamped to 1
    every(0)
    assert calls == [("q", 1, False)]


def test_do_checkpoint_writes_params(tmp_path):
    prefix = str(tmp_path / "model")
    cb = callback.do_checkpoint(prefix, period=1)
    w = mx.nd.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    cb(0, None, {"w": w}, {"m": mx.nd.array(np.ones(2, dtype=np.float32))})
    cb(2, None, {"w": w}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-0001.params",
                                                          "model-0003.params"]
    loaded = mx.nd.load(prefix + "-0001.params")
    np.testing.assert_array_equal(loaded["arg:w"].asnumpy(), w.asnumpy())
    assert "aux:m" in loaded
