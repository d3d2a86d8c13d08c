"""Metrics: values, local/global statistics, configs and creation (MXNet's test_metric.py
numbers and verified 1.9.1 behaviour)."""
import json
import math

import numpy as np
import pytest

import gradloom as mx
from gradloom import metric
from gradloom.base import ConfigError, ShapeError, UnknownNameError


def nd(x, dtype=np.float32):
    return mx.nd.array(np.asarray(x, dtype=dtype))


def same(a, b):
    """Equality where nan equals nan (MXNet's test compares that way)."""
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str):
        return a == b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == pytest.approx(b, rel=1e-6, abs=1e-12)


def _config_metrics():
    return [metric.create("acc", axis=0), metric.create("f1"), metric.create("mcc"),
            metric.create("perplexity", -1), metric.create("pearsonr"), metric.create("pcc"),
            metric.create("nll_loss"), metric.create("loss"), metric.create(["acc", "f1"])]


@pytest.mark.parametrize("m", _config_metrics(), ids=lambda m: m.name)
def test_config_round_trip(m):
    config = m.get_config()
    assert metric.create(json.dumps(config)).get_config() == config
    assert type(metric.create(config)) is type(m)


def test_registered_names():
    assert sorted(metric._REGISTRY) == sorted(
        "acc accuracy caffe ce composite compositeevalmetric crossentropy custommetric f1 "
        "loss mae mcc mse negativeloglikelihood nll_loss pcc pearsoncorrelation pearsonr "
        "perplexity rmse top_k_acc top_k_accuracy topkaccuracy torch".split())
    assert metric.create("top_k_acc", top_k=3).name == "top_k_accuracy_3"
    assert metric.create("TopKAccuracy", top_k=3).get_config()["name"] == "top_k_accuracy_3"
    c = metric.create(json.dumps(metric.create("top_k_acc", top_k=3).get_config()))
    assert c.name == "top_k_accuracy_3"
    assert metric.create("ce").name == "cross-entropy"
    assert metric.create("nll_loss").name == "nll-loss"
    names, values = metric.create(["acc", "mse"]).get()
    assert names == ["accuracy", "mse"] and all(math.isnan(v) for v in values)
    acc = metric.Accuracy()
    assert metric.create(acc) is acc
    assert isinstance(metric.create(metric.Accuracy), metric.Accuracy)
    with pytest.raises(UnknownNameError, match="registered"):
        metric.create("no_such_metric")
    with pytest.raises(ConfigError):
        metric.TopKAccuracy(top_k=1)


def _random_batch(name, rng):
    n = 6
    if name in ("mae", "mse", "rmse", "pearsonr", "pearsonr_micro"):
        return [nd(rng.random(n))], [nd(rng.random(n))]
    if name in ("f1", "f1_micro", "mcc", "mcc_micro"):
        label = rng.integers(0, 2, n)
        return [nd(label)], [nd(rng.random((n, 2)))]
    if name == "loss":
        return None, [nd(rng.random(n))]
    label = rng.integers(0, 4, n)
    pred = rng.random((n, 4))
    pred /= pred.sum(axis=1, keepdims=True)
    return [nd(label)], [nd(pred)]


def _custom(label, pred):
    return float(np.abs(label - pred.argmax(axis=1)).sum()), len(label)


_GLOBAL_CASES = {
    "acc": lambda: metric.create("acc"),
    "top_k": lambda: metric.create("top_k_acc", top_k=3),
    "f1": lambda: metric.create("f1"),
    "f1_micro": lambda: metric.create("f1", average="micro"),
    "mcc": lambda: metric.create("mcc"),
    "mcc_micro": lambda: metric.create("mcc", average="micro"),
    "perplexity": lambda: metric.create("perplexity", -1),
    "pearsonr": lambda: metric.create("pearsonr"),
    "pearsonr_micro": lambda: metric.create("pearsonr", average="micro"),
    "pcc": lambda: metric.create("pcc"),
    "nll_loss": lambda: metric.create("nll_loss"),
    "ce": lambda: metric.create("ce"),
    "loss": lambda: metric.create("loss"),
    "mae": lambda: metric.create("mae"),
    "mse": lambda: metric.create("mse"),
    "rmse": lambda: metric.create("rmse"),
    "custom": lambda: metric.create(_custom),
    "composite": lambda: metric.create(["acc", "ce"]),
}


@pytest.mark.parametrize("case", sorted(_GLOBAL_CASES))
def test_local_vs_global(case):
    rng = np.random.default_rng(1)
    m1, m2 = _GLOBAL_CASES[case](), _GLOBAL_CASES[case]()
    batches = [_random_batch(case, rng) for _ in range(10)]
    for labels, preds in batches:
        m1.update(labels, preds)
        m1.reset_local()
        m2.update(labels, preds)
    assert same(m1.get_global()[1], m2.get()[1])
    assert same(m1.get_global_name_value(), m2.get_global_name_value())
    labels, preds = _random_batch(case, rng)
    m1.reset_local()
    m1.update(labels, preds)
    fresh = _GLOBAL_CASES[case]()
    fresh.update(labels, preds)
    assert same(m1.get()[1], fresh.get()[1])
    m1.reset()
    assert all(math.isnan(v) for v in np.ravel(m1.get_global()[1]))


def test_accuracy():
    m = metric.create("acc")
    m.update([nd([0, 1, 1])], [nd([[0.3, 0.7], [0, 1.0], [0.4, 0.6]])])
    assert m.get() == ("accuracy", 2.0 / 3)
    m = metric.Accuracy()
    preds = nd([[0.3, 0.7], [0, 1.0], [0.4, 0.6], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    m.update([nd([[0, 1, 1], [1, 0, 1]])], [preds])  # 2-D labels compared flattened
    # argmax [1, 1, 1, 0, 1, 0] against [0, 1, 1, 1, 0, 1]
    assert m.get()[1] == pytest.approx(2 / 6)
    np_m = metric.Accuracy()
    np_m.update([np.array([2, 0])], [np.array([[0, 0, 1.0], [0, 1.0, 0]])])  # numpy works too
    assert np_m.get()[1] == 0.5
    assert np_m.num_inst == 2 and np_m.sum_metric == 1


def test_accuracy_is_exact_for_any_batch_size():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 5, 37)
    pred = rng.random((37, 5))
    m = metric.Accuracy()
    for lo, hi in ((0, 10), (10, 11), (11, 37)):
        m.update([nd(label[lo:hi])], [nd(pred[lo:hi])])
    assert m.get()[1] == pytest.approx(np.mean(pred.argmax(1) == label))


def test_top_k_accuracy():
    m = metric.create("top_k_accuracy", top_k=2)
    pred = nd([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.35, 0.25, 0.4]])
    m.update([nd([2, 2, 1])], [pred])  # hits: yes, no, no
    assert m.get()[1] == pytest.approx(1 / 3)
    m.update([nd([0])], [nd([[0.3, 0.1, 0.6]])])  # second best is a hit
    assert m.get()[1] == pytest.approx(2 / 4)
    m = metric.TopKAccuracy(top_k=5)  # k larger than the classes: always a hit
    m.update([nd([0, 1])], [nd([[0.5, 0.5], [0.9, 0.1]])])
    assert m.get()[1] == 1.0
    with pytest.raises(ShapeError):
        m.update([nd([0])], [nd(np.zeros((1, 2, 2)))])


def test_nll_and_cross_entropy():
    for name in ("nll_loss", "ce"):
        m = metric.create(name)
        m.update([nd([2, 1])], [nd([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])])
        expected = -(np.log(0.5 + 1e-12) + np.log(0.1 + 1e-12)) / 2
        assert m.get()[1] == pytest.approx(expected, rel=1e-6)
        assert m.num_inst == 2


def test_loss_accepts_bare_array():
    pred = nd([[1.0, 2.0], [3.0, 4.0]])
    a, b = metric.Loss(), metric.Loss()
    a.update(None, [pred])
    b.update(None, pred)
    assert a.get() == b.get() == ("loss", 2.5)
    assert metric.create("torch").name == "torch" and metric.create("caffe").name == "caffe"


def _binary_batches():
    return [
        ([nd([1, 0])], [nd([[0.1, 0.9], [0.5, 0.5]])]),
        ([nd([1, 0])], [nd([[0.85, 0.15], [1.0, 0.0]])]),
    ]


def test_f1_macro_and_micro():
    micro, macro = metric.F1(average="micro"), metric.F1(average="macro")
    assert math.isnan(micro.get()[1]) and math.isnan(macro.get()[1])
    neg = metric.F1()
    neg.update([nd([0, 0])], [nd([[0.9, 0.1], [0.7, 0.3]])])
    assert neg.get()[1] == 0.0
    for m in (micro, macro):
        labels = [b[0][0] for b in _binary_batches()]
        preds = [b[1][0] for b in _binary_batches()]
        m.update(labels, preds)
    assert micro.num_inst == 4 and macro.num_inst == 1
    assert micro.get()[1] == pytest.approx(2 / 3) and macro.get()[1] == pytest.approx(2 / 3)
    for m in (micro, macro):
        m.update([nd([0])], [nd([[0.6, 0.4]])])
        m.update([nd([1])], [nd([[0.2, 0.8]])])
    assert micro.num_inst == 6 and micro.get()[1] == pytest.approx(4 / 5)
    assert macro.num_inst == 3
    # per update: 2/3, then a batch with only a true negative (f1 0), then a hit (1)
    assert macro.get()[1] == pytest.approx((2 / 3 + 0 + 1) / 3)
    with pytest.raises(ValueError, match="binary"):
        metric.F1().update([nd([0, 1, 2])], [nd(np.eye(3))])


def test_f1_macro_matches_mxnet_two_update_case():
    macro = metric.F1()
    labels = [b[0][0] for b in _binary_batches()]
    preds = [b[1][0] for b in _binary_batches()]
    macro.update(labels, preds)
    macro.update([nd([0, 1])], [nd([[0.6, 0.4], [0.2, 0.8]])])
    assert macro.num_inst == 2
    assert macro.get()[1] == pytest.approx((2 / 3 + 1) / 2)


def test_mcc_macro_and_micro():
    micro, macro = metric.MCC(average="micro"), metric.MCC()
    labels = [b[0][0] for b in _binary_batches()]
    preds = [b[1][0] for b in _binary_batches()]
    for m in (micro, macro):
        m.update(labels, preds)
    first = (1 * 2 - 0) / math.sqrt(1 * 2 * 2 * 3)
    assert micro.get()[1] == pytest.approx(first) and macro.get()[1] == pytest.approx(first)
    for m in (micro, macro):
        m.update([nd([0, 1])], [nd([[0.6, 0.4], [0.2, 0.8]])])
    tp, fp, fn, tn = 2, 0, 1, 3
    total = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert micro.get()[1] == pytest.approx(total)
    assert macro.get()[1] == pytest.approx((first + 1.0) / 2)


def test_perplexity():
    m = metric.create("perplexity", -1)
    m.update([nd([0, 1, 1])], [nd([[0.8, 0.2], [0.2, 0.8], [0, 1.0]])])
    assert m.get()[1] == pytest.approx(math.exp(-(math.log(0.8) * 2 + math.log(1)) / 3))
    ignore = metric.Perplexity(ignore_label=1)
    ignore.update([nd([0, 1, 1])], [nd([[0.5, 0.5], [0.2, 0.8], [0, 1.0]])])
    assert ignore.num_inst == 1 and ignore.get()[1] == pytest.approx(2.0)
    seq = metric.Perplexity(None)  # (batch, time, vocab) predictions
    probs = np.full((2, 3, 4), 0.25)
    seq.update([nd(np.zeros((2, 3)))], [nd(probs)])
    assert seq.get()[1] == pytest.approx(4.0)
    with pytest.raises(ShapeError):
        seq.update([nd(np.zeros(5))], [nd(probs)])


def test_pearsonr_macro_and_micro():
    rng = np.random.default_rng(3)
    l1, p1 = rng.random(10), rng.random(10)
    l2, p2 = rng.random(7), rng.random(7)
    macro, micro = metric.create("pearsonr"), metric.PearsonCorrelation(average="micro")
    for m in (macro, micro):
        m.update([nd(l1)], [nd(p1)])
    c1 = np.corrcoef(p1.astype(np.float32), l1.astype(np.float32))[0, 1]
    assert macro.get()[1] == pytest.approx(c1, rel=1e-5)
    assert micro.get()[1] == pytest.approx(c1, rel=1e-5)
    for m in (macro, micro):
        m.update([nd(l2)], [nd(p2)])
    c2 = np.corrcoef(p2.astype(np.float32), l2.astype(np.float32))[0, 1]
    assert macro.get()[1] == pytest.approx((c1 + c2) / 2, rel=1e-5)
    both = np.corrcoef(np.concatenate([p1, p2]).astype(np.float32),
                       np.concatenate([l1, l2]).astype(np.float32))[0, 1]
    assert micro.get()[1] == pytest.approx(both, rel=1e-5)


def _cm_to_batches(cm):
    """Labels/preds (as class indices) reproducing confusion matrix cm[pred][label]."""
    preds, labels = [], []
    for p in range(cm.shape[0]):
        for lab in range(cm.shape[1]):
            preds += [p] * int(cm[p, lab])
            labels += [lab] * int(cm[p, lab])
    return np.array(labels), np.array(preds)


def test_pcc():
    cm = np.array([[7, 3], [2, 5]])
    labels, preds = _cm_to_batches(cm)
    pcc = metric.create("pcc")
    pcc.update([nd(labels)], [nd(preds)])  # class indices
    tp, fp, fn, tn = cm[1, 1], cm[1, 0], cm[0, 1], cm[0, 0]
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert pcc.get()[1] == pytest.approx(mcc)
    scores = np.eye(2)[preds] * 0.8 + 0.1  # score vectors: argmax is the prediction
    by_scores = metric.PCC()
    by_scores.update([nd(labels)], [nd(scores)])
    assert by_scores.get()[1] == pytest.approx(mcc)
    mcc_metric = metric.MCC()
    mcc_metric.update([nd(labels)], [nd(scores)])
    assert mcc_metric.get()[1] == pytest.approx(mcc)
    pr = metric.PearsonCorrelation()
    pr.update([nd(labels)], [nd(preds)])
    assert pr.get()[1] == pytest.approx(mcc, rel=1e-5)
    # 3 classes: reference formula of the multi-class MCC
    cm3 = np.array([[23, 13, 3], [7, 19, 11], [2, 5, 17]])
    labels3, preds3 = _cm_to_batches(cm3)
    n = cm3.sum()
    x, y = cm3.sum(axis=1), cm3.sum(axis=0)
    ref = (np.trace(cm3) * n - x @ y) / math.sqrt((n * n - x @ x) * (n * n - y @ y))
    whole = metric.PCC()
    whole.update([nd(labels3)], [nd(preds3)])
    assert whole.get()[1] == pytest.approx(ref)
    # invariant to order and batching (the matrix grows when class 2 first appears)
    order = np.random.default_rng(0).permutation(len(labels3))
    split = metric.PCC()
    for chunk in np.array_split(order, 7):
        split.update([nd(labels3[chunk])], [nd(preds3[chunk])])
    assert split.get_global()[1] == pytest.approx(ref)


def test_single_array_regression():
    pred = nd([[1.0, 2.0, 3.0, 4.0]])
    label = nd(np.array([[1.0, 2.0, 3.0, 4.0]]) + 0.1)
    for name, expected in (("mse", 0.01), ("mae", 0.1), ("rmse", 0.1)):
        m = metric.create(name)
        m.update(label, pred)
        assert m.get()[1] == pytest.approx(expected, rel=1e-4)


def test_regression_averages_per_batch_and_avoids_broadcast():
    m = metric.MAE()
    m.update([nd([1.0, 2.0])], [nd([[1.5], [2.5]])])  # (n,) vs (n, 1)
    assert m.get()[1] == pytest.approx(0.5)
    m.update([nd([0.0])], [nd([2.0])])
    assert m.num_inst == 2 and m.get()[1] == pytest.approx((0.5 + 2.0) / 2)


def test_custom_metric_and_np():
    def total_abs(label, pred):
        return float(np.abs(label - pred).sum()), label.size

    m = metric.create(total_abs)
    assert m.name == "total_abs"
    m.update([nd([1.0, 2.0])], [nd([1.5, 2.0])])
    assert m.get()[1] == pytest.approx(0.25)
    lam = metric.create(lambda label, pred: 3.0)
    assert lam.name == "custom(<lambda>)"
    lam.update([nd([1.0])], [nd([1.0])])
    lam.update([nd([1.0])], [nd([1.0])])
    assert lam.get()[1] == 3.0 and lam.num_inst == 2
    npm = metric.np(lambda label, pred: float((label == pred).mean()), name="eq")
    npm.update([nd([1.0, 2.0])], [nd([1.0, 3.0])])
    assert npm.get() == ("eq", 0.5)
    with pytest.raises(ShapeError):
        npm.update([nd([1.0])], [nd([1.0]), nd([2.0])])
    extra = metric.np(lambda label, pred: 1.0, allow_extra_outputs=True)
    extra.update([nd([1.0])], [nd([1.0]), nd([2.0])])
    assert extra.num_inst == 1
    with pytest.raises(ConfigError):
        m.get_config()


def test_update_dict_selects_outputs():
    preds = {"out_a": nd([[0.9, 0.1], [0.2, 0.8]]), "out_b": nd([[0.1, 0.9], [0.8, 0.2]])}
    labels = {"lab": nd([0, 1])}
    m = metric.Accuracy(output_names=["out_a"])
    m.update_dict(labels, preds)
    assert m.get()[1] == 1.0
    with pytest.raises(ValueError, match="does not match"):
        metric.Accuracy().update_dict(labels, preds)  # 2 outputs, 1 label
    with pytest.raises(KeyError):
        metric.Accuracy(output_names=["nope"]).update_dict(labels, preds)
    comp = metric.CompositeEvalMetric(["acc", metric.Accuracy(name="acc_b")],
                                      output_names=["out_b"])
    comp.update_dict(labels, preds)
    assert comp.get() == (["accuracy", "acc_b"], [0.0, 0.0])
    assert comp.get_metric(1).name == "acc_b"
    with pytest.raises(ConfigError):
        comp.get_metric(5)


def test_str_and_name_values():
    m = metric.Accuracy()
    m.update([nd([1])], [nd([[0.0, 1.0]])])
    assert m.get_name_value() == [("accuracy", 1.0)]
    assert str(m) == "EvalMetric: {'accuracy': 1.0}"
    comp = metric.create(["acc", "mse"])
    assert [n for n, _ in comp.get_global_name_value()] == ["accuracy", "mse"]
