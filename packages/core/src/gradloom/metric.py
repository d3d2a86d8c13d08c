"""Evaluation metrics (MXNet's ``mx.metric``).

Every metric keeps two running sums: the *local* pair ``sum_metric``/``num_inst`` (cleared
by ``reset_local``, e.g. by ``Speedometer`` after each report) and the *global* pair
``global_sum_metric``/``global_num_inst`` (cleared only by ``reset``), so the end-of-epoch
log can report the whole epoch while progress logs show recent batches.

``update(labels, preds)`` takes lists of arrays (NDArray or numpy). Each metric works for
any batch size, so a caller that drops the padded rows of a last batch before calling
``update`` gets exact values.
"""
import json
import math
from collections import OrderedDict

import numpy

from .base import ConfigError, ShapeError, UnknownNameError

__all__ = [
    "EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC", "Perplexity",
    "MAE", "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood", "PearsonCorrelation", "PCC",
    "Loss", "Torch", "Caffe", "CustomMetric", "np", "create", "register", "alias",
    "check_label_shapes",
]

_REGISTRY = {}


def register(klass):
    """Register a metric class under its lower-cased class name (for ``create``)."""
    _REGISTRY[klass.__name__.lower()] = klass
    return klass


def alias(*aliases):
    """Class decorator: also register the metric under each of ``aliases``."""
    def _reg(klass):
        for name in aliases:
            _REGISTRY[name.lower()] = klass
        return klass
    return _reg


def _host(x):
    """An NDArray / numpy array / list as a numpy array."""
    asnumpy = getattr(x, "asnumpy", None)
    return asnumpy() if asnumpy is not None else numpy.asarray(x)


def _is_array(x):
    return isinstance(x, numpy.ndarray) or hasattr(x, "asnumpy")


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Check that labels and predictions pair up (by count, or by shape with ``shape``).

    With ``wrap`` a single array on either side is turned into a one-element list.
    """
    if not shape:
        label_shape, pred_shape = len(labels), len(preds)
    else:
        label_shape, pred_shape = labels.shape, preds.shape
    if label_shape != pred_shape:
        raise ShapeError(
            f"Shape of labels {label_shape} does not match shape of predictions {pred_shape}; "
            "for a model with several outputs, select the ones this metric scores with "
            "output_names=[...] (and label_names=[...])")
    if wrap:
        if _is_array(labels):
            labels = [labels]
        if _is_array(preds):
            preds = [preds]
    return labels, preds


class EvalMetric:
    """Base class: subclasses implement ``update(labels, preds)``.

    ``output_names``/``label_names`` select, in ``update_dict``, which named outputs and
    labels this metric sees (needed when a model has more outputs than the metric scores).
    Extra keyword arguments are recorded for ``get_config``.
    """

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def get_config(self):
        """A dict from which ``create`` (also as a JSON string) rebuilds this metric."""
        config = self._kwargs.copy()
        config.update({"metric": self.__class__.__name__, "name": self.name,
                       "output_names": self.output_names, "label_names": self.label_names})
        return config

    def update_dict(self, label, pred):
        """Update from ``{name: array}`` dicts, picking ``output_names``/``label_names``."""
        pred = self._select(pred, self.output_names, "output")
        label = self._select(label, self.label_names, "label")
        self.update(label, pred)

    @staticmethod
    def _select(named, wanted, what):
        if wanted is None:
            return list(named.values())
        missing = [n for n in wanted if n not in named]
        if missing:
            raise UnknownNameError(
                f"metric asks for {what}(s) {missing} but the model provides "
                f"{list(named)}; fix the metric's {what}_names")
        return [named[n] for n in wanted]

    def update(self, labels, preds):
        """Add one batch. Subclasses define it."""
        raise ConfigError(
            f"{type(self).__name__} does not define update(labels, preds); subclass "
            "EvalMetric and implement it, or use metric.CustomMetric(feval)")

    def reset(self):
        """Clear local and global statistics."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clear the local statistics only (the global ones keep the whole epoch)."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """``(name, value)`` of the local statistics (nan before any update)."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, float(self.sum_metric / self.num_inst))

    def get_global(self):
        """``(name, value)`` since the last ``reset``."""
        if not self._has_global_stats:
            return self.get()
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, float(self.global_sum_metric / self.global_num_inst))

    @staticmethod
    def _pairs(name, value):
        if not isinstance(name, list):
            name = [name]
        if not isinstance(value, list):
            value = [value]
        return list(zip(name, value))

    def get_name_value(self):
        """Local values as a list of ``(name, value)`` pairs."""
        return self._pairs(*self.get())

    def get_global_name_value(self):
        """Global values as a list of ``(name, value)`` pairs."""
        return self._pairs(*self.get_global())

    def _add(self, value, count):
        """Add to both the local and the global sums."""
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += count
        self.global_num_inst += count


def _create_registered(metric, *args, **kwargs):
    if isinstance(metric, EvalMetric):
        if args or kwargs:
            raise ConfigError("metric.create got an EvalMetric instance plus arguments; "
                              "pass either the instance or a name with its arguments")
        return metric
    if isinstance(metric, dict):
        config = dict(metric)
        return _create_registered(config.pop("metric"), *args, **config, **kwargs)
    if not isinstance(metric, str):
        raise ConfigError(f"cannot create a metric from a {type(metric).__name__}; pass a "
                          "name, a JSON config, a function, a list or an EvalMetric")
    text = metric.strip()
    if text.startswith("{"):
        return _create_registered(json.loads(text), *args, **kwargs)
    if text.startswith("["):
        name, config = json.loads(text)
        return _create_registered(name, *args, **config, **kwargs)
    klass = _REGISTRY.get(text.lower())
    if klass is None:
        raise UnknownNameError(
            f"unknown metric {metric!r}; registered: {', '.join(sorted(_REGISTRY))} "
            "(or register your class with gradloom.metric.register)")
    return klass(*args, **kwargs)


def create(metric, *args, **kwargs):
    """Make a metric from a name/alias, a JSON config, a function, a list, or an instance.

    A function ``f(label, pred)`` becomes ``CustomMetric(f)``; a list becomes a
    ``CompositeEvalMetric`` of each element.
    """
    if callable(metric) and not isinstance(metric, (EvalMetric, type)):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, type) and issubclass(metric, EvalMetric):
        return metric(*args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create_registered(metric, *args, **kwargs)


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns lists of names and values."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        """Add a child metric (anything ``create`` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index):
        """The ``index``-th child metric."""
        try:
            return self.metrics[index]
        except IndexError:
            raise ConfigError(f"metric index {index} is out of range 0..{len(self.metrics) - 1}"
                              ) from None

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict(i for i in labels.items() if i[0] in self.label_names)
        if self.output_names is not None:
            preds = OrderedDict(i for i in preds.items() if i[0] in self.output_names)
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):
        for metric in getattr(self, "metrics", ()):
            metric.reset()

    def reset_local(self):
        for metric in self.metrics:
            metric.reset_local()

    def _collect(self, getter):
        names, values = [], []
        for metric in self.metrics:
            name, value = getter(metric)
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return (names, values)

    def get(self):
        return self._collect(lambda m: m.get())

    def get_global(self):
        return self._collect(lambda m: m.get_global())

    def get_config(self):
        config = super().get_config()
        config["metrics"] = [m.get_config() for m in self.metrics]
        return config


@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of predictions equal to the label (argmax over ``axis`` for scores)."""

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.axis = axis

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _host(label), _host(pred)
            if pred.shape != label.shape:
                pred = numpy.argmax(pred, axis=self.axis)
            pred = pred.astype(numpy.int32).ravel()
            label = label.astype(numpy.int32).ravel()
            check_label_shapes(label, pred)
            self._add(int((pred == label).sum()), len(pred))


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of labels found among the ``top_k`` highest scores."""

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        top_k = int(top_k)
        if top_k <= 1:
            raise ConfigError(f"TopKAccuracy needs top_k > 1, got {top_k}; use Accuracy for "
                              "top-1 accuracy")
        suffix = f"_{top_k}"
        # A config round trip passes the already suffixed name back in.
        full_name = name if name.endswith(suffix) else name + suffix
        super().__init__(full_name, top_k=top_k, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.top_k = top_k

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            pred = _host(pred).astype(numpy.float32)
            if pred.ndim > 2:
                raise ShapeError(f"TopKAccuracy takes 1-D or 2-D predictions, got shape "
                                 f"{pred.shape}; reshape them to (batch, classes)")
            label = _host(label).astype(numpy.int32).ravel()
            check_label_shapes(label, pred)
            if pred.ndim == 1:
                correct = int((pred.astype(numpy.int32) == label).sum())
            else:
                num_classes = pred.shape[1]
                k = min(num_classes, self.top_k)
                # argpartition: the k best are at the end, in no particular order.
                top = numpy.argpartition(pred, num_classes - k, axis=1)[:, num_classes - k:]
                correct = int((top == label[:, None]).any(axis=1).sum())
            self._add(correct, pred.shape[0])


class _BinaryCounts:
    """Running confusion counts (tp, fp, fn, tn) of a binary classifier."""

    def __init__(self):
        self.tp = self.fp = self.fn = self.tn = 0

    def add(self, tp, fp, fn, tn):
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.tn += tn

    @property
    def total(self):
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self):
        return self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else 0.0

    @property
    def recall(self):
        return self.tp / (self.tp + self.fn) if self.tp + self.fn > 0 else 0.0

    @property
    def fscore(self):
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def matthewscc(self):
        if not self.total:
            return 0.0
        denom = 1.0
        # Zero factors are left out rather than making the value undefined.
        for term in (self.tp + self.fp, self.tp + self.fn, self.tn + self.fp,
                     self.tn + self.fn):
            if term != 0:
                denom *= term
        return (self.tp * self.tn - self.fp * self.fn) / math.sqrt(denom)


def _binary_counts(label, pred, metric_name):
    pred = _host(pred)
    label = _host(label).astype(numpy.int32).ravel()
    check_label_shapes(label, pred)
    if len(numpy.unique(label)) > 2:
        raise ConfigError(f"{metric_name} supports binary classification only (labels 0/1), "
                          f"got labels {numpy.unique(label).tolist()}")
    pred_true = numpy.argmax(pred, axis=1) == 1
    label_true = label == 1
    tp = int(numpy.count_nonzero(pred_true & label_true))
    fp = int(numpy.count_nonzero(pred_true & ~label_true))
    fn = int(numpy.count_nonzero(~pred_true & label_true))
    tn = int(numpy.count_nonzero(~pred_true & ~label_true))
    return tp, fp, fn, tn


class _BinaryMetric(EvalMetric):
    """F1 / MCC: ``'macro'`` averages the per-update score, ``'micro'`` pools all counts."""

    def __init__(self, name, output_names, label_names, average):
        if average not in ("macro", "micro"):
            raise ConfigError(f"average must be 'macro' or 'micro', got {average!r}")
        self.average = average
        self._local = _BinaryCounts()
        self._global = _BinaryCounts()
        super().__init__(name, average=average, output_names=output_names,
                         label_names=label_names, has_global_stats=True)

    # Subclasses name the _BinaryCounts property they report.
    _score_attr = "fscore"

    def _score(self, counts):
        return getattr(counts, self._score_attr)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            counts = _binary_counts(label, pred, type(self).__name__)
            self._local.add(*counts)
            self._global.add(*counts)
        if self.average == "macro":
            self._add(self._score(self._local), 1)
            self._local = _BinaryCounts()
            self._global = _BinaryCounts()
        else:
            self.sum_metric = self._score(self._local) * self._local.total
            self.num_inst = self._local.total
            self.global_sum_metric = self._score(self._global) * self._global.total
            self.global_num_inst = self._global.total

    def reset(self):
        super().reset()
        self._local = _BinaryCounts()
        self._global = _BinaryCounts()

    def reset_local(self):
        super().reset_local()
        self._local = _BinaryCounts()


@register
class F1(_BinaryMetric):
    """F1 score of a binary classifier (class 1 is positive; prediction = argmax)."""

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)

    _score_attr = "fscore"


@register
class MCC(_BinaryMetric):
    """Matthews correlation coefficient of a binary classifier."""

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)

    _score_attr = "matthewscc"


@register
class Perplexity(EvalMetric):
    """``exp`` of the mean negative log-probability of the labels.

    Positions whose label equals ``ignore_label`` are not counted.
    """

    def __init__(self, ignore_label, axis=-1, name="perplexity", output_names=None,
                 label_names=None):
        super().__init__(name, ignore_label=ignore_label, axis=axis, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):
        check_label_shapes(labels, preds)
        loss, num = 0.0, 0
        for label, pred in zip(labels, preds):
            label, pred = _host(label), _host(pred)
            if label.size * pred.shape[self.axis] != pred.size:
                raise ShapeError(f"Perplexity: label shape {label.shape} does not match "
                                 f"prediction shape {pred.shape} (one label per position "
                                 f"along axis {self.axis})")
            probs = numpy.moveaxis(pred, self.axis, -1).reshape(-1, pred.shape[self.axis])
            label = label.reshape(-1).astype(numpy.int64)
            picked = probs[numpy.arange(len(label)),
                           numpy.clip(label, 0, probs.shape[1] - 1)].astype(numpy.float64)
            if self.ignore_label is not None:
                ignore = label == self.ignore_label
                num -= int(ignore.sum())
                picked = numpy.where(ignore, 1.0, picked)
            loss -= float(numpy.log(numpy.maximum(1e-10, picked)).sum())
            num += picked.size
        self._add(loss, num)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self):
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


def _as_columns(label, pred):
    """1-D arrays become (n, 1) so label - pred does not broadcast to (n, n)."""
    label, pred = _host(label), _host(pred)
    if label.ndim == 1:
        label = label.reshape(label.shape[0], 1)
    if pred.ndim == 1:
        pred = pred.reshape(pred.shape[0], 1)
    return label, pred


class _PerBatchRegression(EvalMetric):
    """Regression error averaged per (label, pred) pair, not per sample (MXNet's rule)."""

    def __init__(self, name, output_names, label_names):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    # Subclasses set the per-batch error of (label - pred).
    _error = staticmethod(lambda diff: numpy.abs(diff).mean())

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _as_columns(label, pred)
            self._add(float(self._error(label - pred)), 1)


@register
class MAE(_PerBatchRegression):
    """Mean absolute error."""

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    _error = staticmethod(lambda diff: numpy.abs(diff).mean())


@register
class MSE(_PerBatchRegression):
    """Mean squared error."""

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    _error = staticmethod(lambda diff: (diff ** 2.0).mean())


@register
class RMSE(_PerBatchRegression):
    """Root mean squared error (of each batch, then averaged)."""

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    _error = staticmethod(lambda diff: numpy.sqrt((diff ** 2.0).mean()))


class _LabelLogLoss(EvalMetric):
    """Sum of ``-log(p[label] + eps)`` over samples."""

    def __init__(self, eps, name, output_names, label_names):
        super().__init__(name, eps=eps, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.eps = eps

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _host(label).ravel()
            pred = _host(pred)
            if label.shape[0] != pred.shape[0]:
                raise ShapeError(f"{type(self).__name__}: {label.shape[0]} labels for "
                                 f"{pred.shape[0]} predictions")
            prob = pred[numpy.arange(label.shape[0]), label.astype(numpy.int64)]
            self._add(float((-numpy.log(prob + self.eps)).sum()), label.shape[0])


@register
@alias("ce")
class CrossEntropy(_LabelLogLoss):
    """Cross entropy of class probabilities against integer labels."""

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


@register
@alias("nll_loss")
class NegativeLogLikelihood(_LabelLogLoss):
    """Negative log-likelihood of the labels (same formula as CrossEntropy)."""

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


class _Moments:
    """Streaming means and (co-)moments of two series (batched Welford updates)."""

    def __init__(self):
        self.n = 0
        self.mean_l = self.mean_p = 0.0
        self.m2_l = self.m2_p = self.c = 0.0

    def add(self, label, pred):
        n_new = self.n + len(label)
        d_l = label - self.mean_l
        d_p = pred - self.mean_p
        mean_l = self.mean_l + d_l.sum() / n_new
        mean_p = self.mean_p + d_p.sum() / n_new
        self.m2_l += float((d_l * (label - mean_l)).sum())
        self.m2_p += float((d_p * (pred - mean_p)).sum())
        # co-moment: old pred mean against the new label mean keeps the update exact
        self.c += float(((label - mean_l) * d_p).sum())
        self.n, self.mean_l, self.mean_p = n_new, mean_l, mean_p

    def corr(self):
        return self.c / math.sqrt(self.m2_l * self.m2_p)


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation of predictions and labels.

    ``'macro'`` averages ``numpy.corrcoef`` of each update; ``'micro'`` is the correlation of
    all values seen (computed in streaming form).
    """

    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        if average not in ("macro", "micro"):
            raise ConfigError(f"average must be 'macro' or 'micro', got {average!r}")
        self.average = average
        super().__init__(name, average=average, output_names=output_names,
                         label_names=label_names, has_global_stats=True)

    def reset(self):
        super().reset()
        self._local = _Moments()
        self._global = _Moments()

    def reset_local(self):
        super().reset_local()
        self._local = _Moments()

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _host(label), _host(pred)
            check_label_shapes(label, pred, False, True)
            label = label.ravel().astype(numpy.float64)
            pred = pred.ravel().astype(numpy.float64)
            if self.average == "macro":
                self._add(float(numpy.corrcoef(pred, label)[0, 1]), 1)
            else:
                self._local.add(label, pred)
                self._global.add(label, pred)
                self.num_inst += 1
                self.global_num_inst += 1

    def get(self):
        if self.average == "macro" or self.num_inst == 0:
            return super().get()
        return (self.name, self._local.corr())

    def get_global(self):
        if self.average == "macro" or self.global_num_inst == 0:
            return super().get_global()
        return (self.name, self._global.corr())


@register
class PCC(EvalMetric):
    """Multi-class Matthews correlation (Pearson correlation of one-hot labels/preds).

    Accepts class indices or score vectors (argmax over axis 1). The confusion matrix grows
    when a new class index appears, so the result does not depend on batching.
    """

    def __init__(self, name="pcc", output_names=None, label_names=None):
        self.k = 2
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _grow(self, inc):
        self.lcm = numpy.pad(self.lcm, ((0, inc), (0, inc)))
        self.gcm = numpy.pad(self.gcm, ((0, inc), (0, inc)))
        self.k += inc

    @staticmethod
    def _calc_mcc(cmat):
        n = cmat.sum()
        x = cmat.sum(axis=1)
        y = cmat.sum(axis=0)
        cov_xx = numpy.sum(x * (n - x))
        cov_yy = numpy.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        cov_xy = numpy.sum(cmat.diagonal() * n - x * y)
        return float(cov_xy / (cov_xx * cov_yy) ** 0.5)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _host(label).astype(numpy.int64)
            pred = _host(pred)
            pred = pred.argmax(axis=1) if pred.shape != label.shape else pred.astype(numpy.int64)
            label, pred = label.ravel(), pred.ravel()
            top = int(max(pred.max(), label.max())) if label.size else 0
            if top >= self.k:
                self._grow(top + 1 - self.k)
            batch = numpy.zeros((self.k, self.k))
            numpy.add.at(batch, (pred, label), 1)
            self.lcm += batch
            self.gcm += batch
        self.num_inst += 1
        self.global_num_inst += 1

    # The value lives in the confusion matrices; the sums are derived from them.
    @property
    def sum_metric(self):
        return self._calc_mcc(self.lcm) * self.num_inst

    @sum_metric.setter
    def sum_metric(self, value):
        pass

    @property
    def global_sum_metric(self):
        return self._calc_mcc(self.gcm) * self.global_num_inst

    @global_sum_metric.setter
    def global_sum_metric(self, value):
        pass

    def reset(self):
        self.global_num_inst = 0
        self.gcm = numpy.zeros((self.k, self.k))
        self.reset_local()

    def reset_local(self):
        self.num_inst = 0
        self.lcm = numpy.zeros((self.k, self.k))


@register
class Loss(EvalMetric):
    """Mean of the outputs themselves (for symbols whose output is a loss); labels ignored."""

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, _, preds):
        if _is_array(preds):
            preds = [preds]
        for pred in preds:
            pred = _host(pred)
            self._add(float(pred.sum()), pred.size)


@register
class Torch(Loss):
    """Loss metric under MXNet's old ``torch`` name."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)


@register
class Caffe(Loss):
    """Loss metric under MXNet's old ``caffe`` name."""

    def __init__(self, name="caffe", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)


@register
class CustomMetric(EvalMetric):
    """A metric from ``feval(label, pred)`` on numpy arrays.

    ``feval`` returns ``(sum, count)`` or a single value (counted once). With
    ``allow_extra_outputs`` the number of labels and predictions may differ (pairs are
    zipped).
    """

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = feval.__name__
            if "<" in name:
                name = f"custom({name})"
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        if not self._allow_extra_outputs:
            labels, preds = check_label_shapes(labels, preds, True)
        for pred, label in zip(preds, labels):
            reval = self._feval(_host(label), _host(pred))
            if isinstance(reval, tuple):
                self._add(*reval)
            else:
                self._add(reval, 1)

    def get_config(self):
        raise ConfigError(f"custom metric {self.name!r} wraps a Python function and cannot "
                          "be saved as a config; recreate it with metric.CustomMetric(feval)")


def np(numpy_feval, name=None, allow_extra_outputs=False):
    """Make a ``CustomMetric`` from ``numpy_feval(label, pred)`` on numpy arrays."""
    def feval(label, pred):
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
