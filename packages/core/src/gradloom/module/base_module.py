"""``BaseModule``: the module state machine and the high-level loops (fit, score, predict).

The loops are written only in terms of the intermediate API (``bind``, ``init_params``,
``init_optimizer``, ``forward``, ``backward``, ``update``, ``update_metric``,
``get_outputs``), so every module type inherits them. They follow MXNet's order of calls
and callbacks exactly, with one deliberate change: samples a data iterator adds as padding
at the end of the last batch are left out: ``fit`` trains on the real samples only and
``fit``/``score`` do not score padding (MXNet trained on and scored the copies).
"""
import logging
import time
import warnings

import numpy as np

from ..base import ConfigError, ParameterError
from ..callback import BatchEndParam
from .errors import need_bound, need_params
from .slicing import is_presliced

#: stands for MXNet's default initializer, Uniform(0.01) (None means "no initializer")
DEFAULT_INIT = object()

__all__ = ["BaseModule", "BatchEndParam"]


def _as_list(obj):
    if obj is None:
        return []
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return [obj]


def _pad_of(batch):
    pad = getattr(batch, "pad", None)
    return int(pad) if pad else 0


def _label_axes(batch, count):
    descs = getattr(batch, "provide_label", None) or []
    axes = []
    for i in range(count):
        layout = getattr(descs[i], "layout", None) if i < len(descs) else None
        axes.append(0 if layout is None else max(layout.find("N"), 0))
    return axes


def trim_arrays(arrays, n_valid, axes=None):
    """Views of ``arrays`` holding only the first ``n_valid`` samples on each batch axis."""
    from ..ndarray import NDArray
    out = []
    for i, arr in enumerate(arrays):
        axis = axes[i] if axes else 0
        raw = arr.raw if hasattr(arr, "raw") else np.asarray(arr)
        if raw.ndim == 0 or raw.shape[axis] <= n_valid:
            out.append(arr)
            continue
        index = (slice(None),) * axis + (slice(0, n_valid),)
        out.append(NDArray(raw[index], getattr(arr, "context", None)))
    return out


def valid_labels(batch):
    """The batch's labels without the iterator's padding (``None`` when it has none)."""
    labels = getattr(batch, "label", None)
    pad = _pad_of(batch)
    if not labels or not pad:
        return labels
    axes = _label_axes(batch, len(labels))
    size = labels[0].shape[axes[0]]
    return trim_arrays(labels, size - pad, axes)


def _data_axes(batch, count):
    descs = getattr(batch, "provide_data", None) or []
    axes = []
    for i in range(count):
        layout = getattr(descs[i], "layout", None) if i < len(descs) else None
        axes.append(0 if layout is None else max(layout.find("N"), 0))
    return axes


def strip_padding(batch):
    """``batch`` without the iterator's padding samples (the batch itself when unpadded).

    Training on the real samples only keeps duplicated samples out of the gradient, and
    ``rescale_grad`` then divides by the number of samples actually used.
    """
    pad = _pad_of(batch)
    if not pad or is_presliced(batch):
        return batch
    from ..io import DataBatch, DataDesc
    axes = _data_axes(batch, len(batch.data))
    n_valid = batch.data[0].shape[axes[0]] - pad
    data = trim_arrays(batch.data, n_valid, axes)
    labels = getattr(batch, "label", None)
    if labels:
        labels = trim_arrays(labels, n_valid, _label_axes(batch, len(labels)))

    def descs(old, arrays):
        if not old:
            return old
        return [DataDesc(d.name, tuple(a.shape), d.dtype, d.layout)
                for d, a in zip(old, arrays)]
    index = getattr(batch, "index", None)
    return DataBatch(data, labels, pad=0,
                     index=None if index is None else index[:n_valid],
                     bucket_key=getattr(batch, "bucket_key", None),
                     provide_data=descs(getattr(batch, "provide_data", None), data),
                     provide_label=descs(getattr(batch, "provide_label", None), labels or []))


class BaseModule:
    """Base class of every module. Subclasses implement the intermediate API.

    State flags (all start ``False``): ``binded``, ``for_training``, ``inputs_need_grad``,
    ``params_initialized``, ``optimizer_initialized``.
    """

    def __init__(self, logger=logging):
        self.logger = logger
        self.binded = False
        self.for_training = False
        self.inputs_need_grad = False
        self.params_initialized = False
        self.optimizer_initialized = False
        self._symbol = None

    @property
    def _total_exec_bytes(self):
        """Bytes of executor memory beyond the parameters (MXNet's bookkeeping name; 0 for
        modules without executors of their own)."""
        return 0

    # -- high-level API -------------------------------------------------------------------
    def forward_backward(self, data_batch):
        """``forward(data_batch, is_train=True)`` then ``backward()``."""
        self.forward(data_batch, is_train=True)
        self.backward()

    def score(self, eval_data, eval_metric, num_batch=None, batch_end_callback=None,
              score_end_callback=None, reset=True, epoch=0, sparse_row_id_fn=None):
        """Run ``eval_data`` in inference mode and return the metric's ``(name, value)`` list.

        Padding samples at the end of the last batch are not scored.
        """
        need_params(self, "score()")
        from .. import metric as _metric
        if reset:
            eval_data.reset()
        if not isinstance(eval_metric, _metric.EvalMetric):
            eval_metric = _metric.create(eval_metric)
        eval_metric.reset()
        actual_num_batch = 0
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            self._update_metric_batch(eval_metric, eval_batch)
            if batch_end_callback is not None:
                params = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                       locals=locals())
                for callback in _as_list(batch_end_callback):
                    callback(params)
            actual_num_batch += 1
        if score_end_callback:
            params = BatchEndParam(epoch=epoch, nbatch=actual_num_batch,
                                   eval_metric=eval_metric, locals=locals())
            for callback in _as_list(score_end_callback):
                callback(params)
        return eval_metric.get_name_value()

    def _update_metric_batch(self, eval_metric, batch):
        if is_presliced(batch):
            self.update_metric(eval_metric, [b.label for b in batch], pre_sliced=True)
        else:
            self.update_metric(eval_metric, valid_labels(batch))

    def iter_predict(self, eval_data, num_batch=None, reset=True, sparse_row_id_fn=None):
        """Yield ``(outputs, nbatch, batch)`` per batch; outputs without padding, as views
        valid until the next forward (copy them to keep them)."""
        need_params(self, "iter_predict()")
        if reset:
            eval_data.reset()
        for nbatch, eval_batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(eval_batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(eval_batch, is_train=False)
            yield self._valid_outputs(_pad_of(eval_batch)), nbatch, eval_batch

    def _valid_outputs(self, pad):
        outputs = self.get_outputs()
        if not pad:
            return list(outputs)
        return [trim_arrays([out], out.shape[0] - pad)[0] for out in outputs]

    def predict(self, eval_data, num_batch=None, merge_batches=True, reset=True,
                always_output_list=False, sparse_row_id_fn=None):
        """Outputs for ``eval_data`` (a DataIter, NDArray or numpy array), in inference mode.

        Padding is dropped; with ``merge_batches`` the batches are concatenated.
        """
        from ..io import DataBatch, DataIter
        from ..ndarray import NDArray
        from ..ndarray import array as nd_array
        need_params(self, "predict()")
        if isinstance(eval_data, (NDArray, np.ndarray)):
            if isinstance(eval_data, np.ndarray):
                eval_data = nd_array(eval_data)
            self.forward(DataBatch([eval_data]), is_train=False)
            return self.get_outputs()[0]
        if not isinstance(eval_data, DataIter) and not hasattr(eval_data, "provide_data"):
            raise ParameterError("eval_data must be of type NDArray or DataIter")
        output_list = []
        for outputs, _, _ in self.iter_predict(eval_data, num_batch=num_batch, reset=reset,
                                               sparse_row_id_fn=sparse_row_id_fn):
            output_list.append([out.copy() for out in outputs])
        if not output_list:
            return output_list
        if merge_batches:
            num_outputs = len(output_list[0])
            for out in output_list:
                if len(out) != num_outputs:
                    raise ParameterError("Cannot merge batches, as num of outputs is not the "
                                         "same in mini-batches. Maybe bucketing is used? Call "
                                         "predict(..., merge_batches=False)")
            merged = [_concat([out[i] for out in output_list]) for i in range(num_outputs)]
            if num_outputs == 1 and not always_output_list:
                return merged[0]
            return merged
        return output_list

    def fit(self, train_data, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", optimizer="sgd",
            optimizer_params=(("learning_rate", 0.01),), eval_end_callback=None,
            eval_batch_end_callback=None, initializer=None, arg_params=None,
            aux_params=None, allow_missing=False, force_rebind=False, force_init=False,
            begin_epoch=0, num_epoch=None, validation_metric=None, monitor=None,
            sparse_row_id_fn=None, update_on_kvstore=None, resume_from=None):
        """Train on ``train_data`` for epochs ``begin_epoch .. num_epoch-1`` (MXNet's loop).

        ``update_on_kvstore=True`` runs the optimizer inside the kvstore (MXNet's default
        for several devices); by default the module updates its flat buffers itself.

        ``resume_from`` (a checkpoint prefix, whose newest epoch is taken, or
        ``(prefix, epoch)``) continues a run saved with ``save_checkpoint`` or
        ``callback.module_checkpoint``: its parameters, its optimizer states and counters
        when a ``.states`` file was saved beside them, and ``begin_epoch`` = that epoch.
        """
        from .. import metric as _metric
        from ..initializer import Uniform
        if num_epoch is None:
            raise ParameterError("please specify number of epochs: fit(..., num_epoch=N)")
        states_file = None
        if resume_from is not None:
            begin_epoch, arg_params, aux_params, states_file = self._resume_point(
                resume_from, begin_epoch, arg_params, aux_params)
            force_init, allow_missing = True, False
        if initializer is None:
            initializer = Uniform(0.01)
        self.bind(data_shapes=train_data.provide_data, label_shapes=train_data.provide_label,
                  for_training=True, force_rebind=force_rebind)
        if monitor is not None:
            self.install_monitor(monitor)
        self.init_params(initializer=initializer, arg_params=arg_params,
                         aux_params=aux_params, allow_missing=allow_missing,
                         force_init=force_init, allow_extra=True)
        self._init_optimizer_for_fit(kvstore, optimizer, optimizer_params, update_on_kvstore)
        if states_file is not None:
            self.load_optimizer_states(states_file)
        if validation_metric is None:
            validation_metric = eval_metric
        if not isinstance(eval_metric, _metric.EvalMetric):
            eval_metric = _metric.create(eval_metric)
        end_callbacks = _as_list(batch_end_callback)
        for epoch in range(begin_epoch, num_epoch):
            tic = time.time()
            eval_metric.reset()
            nbatch = 0
            data_iter = iter(train_data)
            end_of_batch = False
            next_data_batch = next(data_iter)
            eval_name_vals = None
            while not end_of_batch:
                data_batch = next_data_batch
                if monitor is not None:
                    monitor.tic()
                train_batch = strip_padding(data_batch)
                self.forward_backward(train_batch)
                self.update()
                self._update_metric_batch(eval_metric, train_batch)
                try:
                    next_data_batch = next(data_iter)
                    self.prepare(next_data_batch, sparse_row_id_fn=sparse_row_id_fn)
                except StopIteration:
                    end_of_batch = True
                if monitor is not None:
                    monitor.toc_print()
                if end_of_batch:
                    eval_name_vals = eval_metric.get_global_name_value()
                if end_callbacks:
                    params = BatchEndParam(epoch=epoch, nbatch=nbatch,
                                           eval_metric=eval_metric, locals=locals())
                    for callback in end_callbacks:
                        callback(params)
                nbatch += 1
            for name, val in eval_name_vals or []:
                self.logger.info("Epoch[%d] Train-%s=%f", epoch, name, val)
            self.logger.info("Epoch[%d] Time cost=%.3f", epoch, time.time() - tic)
            # synchronise aux states (BatchNorm statistics) across devices once per epoch
            arg_params_, aux_params_ = self.get_params()
            self.set_params(arg_params_, aux_params_)
            self._epoch_done(epoch)
            for callback in _as_list(epoch_end_callback):
                callback(epoch, self.symbol, arg_params_, aux_params_)
            if eval_data is not None:
                res = self.score(eval_data, validation_metric,
                                 score_end_callback=eval_end_callback,
                                 batch_end_callback=eval_batch_end_callback, epoch=epoch)
                for name, val in res:
                    self.logger.info("Epoch[%d] Validation-%s=%f", epoch, name, val)
            train_data.reset()

    def _resume_point(self, resume_from, begin_epoch, arg_params, aux_params):
        """(begin epoch, arg params, aux params, states file) for ``fit(resume_from=...)``."""
        from ..model import resume_point
        if arg_params is not None or aux_params is not None:
            raise ConfigError("fit: resume_from loads the parameters of the checkpoint; drop "
                              "arg_params/aux_params, or drop resume_from to start from them")
        epoch, args, auxs, states_file = resume_point(resume_from)
        if begin_epoch not in (0, epoch):
            raise ConfigError(f"fit: resume_from continues after epoch {epoch}, but "
                              f"begin_epoch={begin_epoch}; drop begin_epoch")
        if states_file is None:
            warnings.warn(f"resume_from: no optimizer states were saved with epoch {epoch} "
                          f"(save_checkpoint(..., save_optimizer_states=True)); the optimizer "
                          f"starts fresh", UserWarning, stacklevel=3)
        self.logger.info("Resuming from epoch %d of %s%s", epoch, resume_from,
                         " with optimizer states" if states_file else "")
        return epoch, args, auxs, states_file

    def _init_optimizer_for_fit(self, kvstore, optimizer, optimizer_params, update_on_kvstore):
        if update_on_kvstore is None:
            self.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                                optimizer_params=optimizer_params)
        else:
            self.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                                optimizer_params=optimizer_params,
                                update_on_kvstore=update_on_kvstore)

    def _epoch_done(self, epoch):
        """Hook: remember the last finished epoch (checkpoints record it)."""
        self._last_epoch = epoch

    # -- symbol / information -------------------------------------------------------------
    @property
    def symbol(self):
        return self._symbol

    @property
    def data_names(self):
        raise NotImplementedError(f"{type(self).__name__} must define data_names")

    @property
    def output_names(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_names")

    @property
    def output_shapes(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_shapes")

    # -- the interface every module implements (MXNet's abstract BaseModule methods) -------
    def _abstract(self, what):
        raise NotImplementedError(f"{type(self).__name__} must define {what}: it subclasses "
                                  f"BaseModule, which only drives the calls (fit, score, "
                                  f"predict)")

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        self._abstract("bind()")

    def init_params(self, initializer=DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        self._abstract("init_params()")

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        self._abstract("init_optimizer()")

    def forward(self, data_batch, is_train=None):
        self._abstract("forward()")

    def backward(self, out_grads=None):
        self._abstract("backward()")

    def update(self):
        self._abstract("update()")

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        self._abstract("update_metric()")

    def get_outputs(self, merge_multi_context=True):
        self._abstract("get_outputs()")

    def get_input_grads(self, merge_multi_context=True):
        self._abstract("get_input_grads()")

    def get_params(self):
        self._abstract("get_params()")

    # subclasses store what bind() was given in _data_shapes / _label_shapes
    @property
    def data_shapes(self):
        need_bound(self, "data_shapes")
        return self._data_shapes

    @property
    def label_shapes(self):
        need_bound(self, "label_shapes")
        return self._label_shapes

    # -- parameters -----------------------------------------------------------------------
    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True,
                   allow_extra=False):
        """Assign parameter values. Missing names raise unless ``allow_missing`` (they keep
        their values), extra names raise unless ``allow_extra``."""
        if not allow_missing:
            self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                             allow_missing=False, force_init=force_init,
                             allow_extra=allow_extra)
            return
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "set_params call ignored.", UserWarning, stacklevel=2)
            return
        need_bound(self, "set_params()")
        self._assign_params(arg_params, aux_params, allow_extra)

    def _assign_params(self, arg_params, aux_params, allow_extra):
        """``set_params`` with ``allow_missing``, on a bound module: the given values
        replace the current ones, the others stay."""
        self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=True, force_init=True, allow_extra=allow_extra)

    def _save_epoch_files(self, prefix, epoch, save_optimizer_states):
        """A checkpoint's per-epoch files (the symbols are the caller's): ``prefix-%04d
        .params`` and, if asked, ``prefix-%04d.states``."""
        param_name = f"{prefix}-{epoch:04d}.params"
        self.save_params(param_name)
        self.logger.info('Saved checkpoint to "%s"', param_name)
        if save_optimizer_states:
            state_name = f"{prefix}-{epoch:04d}.states"
            self.save_optimizer_states(state_name, epoch=epoch)
            self.logger.info('Saved optimizer state to "%s"', state_name)

    def save_params(self, fname):
        """Write the parameters as an MXNet ``.params`` file (``arg:``/``aux:`` keys)."""
        from ..ndarray import save
        arg_params, aux_params = self.get_params()
        save_dict = {f"arg:{k}": v.as_in_context(_cpu()) for k, v in arg_params.items()}
        save_dict.update({f"aux:{k}": v.as_in_context(_cpu()) for k, v in aux_params.items()})
        save(fname, save_dict)

    def load_params(self, fname):
        """Load a ``.params`` file; a bad file raises before anything changes."""
        from ..model import split_params
        from ..ndarray import load
        arg_params, aux_params = split_params(load(fname), fname, strict=True)
        self.set_params(arg_params, aux_params, allow_extra=True)

    def get_states(self, merge_multi_context=True):
        need_params(self, "get_states()")
        if merge_multi_context:
            raise ParameterError("merge_multi_context=True is not supported for get_states; "
                                 "call get_states(merge_multi_context=False)")
        return []

    def set_states(self, states=None, value=None):
        need_params(self, "set_states()")
        if states or value:
            raise ParameterError(f"{type(self).__name__} has no states to set")

    def prepare(self, data_batch, sparse_row_id_fn=None):
        if sparse_row_id_fn is not None:
            warnings.warn(f"sparse_row_id_fn is not invoked for {type(self).__name__}: "
                          f"gradloom has no row_sparse parameters", UserWarning, stacklevel=2)

    def install_monitor(self, mon):
        from ..base import UnsupportedError
        raise UnsupportedError(f"{type(self).__name__} does not implement install_monitor(); "
                               f"a Monitor watches executors: install it on a Module, or "
                               f"define install_monitor in this class")


def _cpu():
    from ..context import cpu
    return cpu()


def _concat(arrays):
    from ..ndarray import NDArray
    if len(arrays) == 1:
        return arrays[0]
    first = arrays[0]
    raws = [a.raw for a in arrays]
    ctx = first.context
    if all(isinstance(r, np.ndarray) for r in raws):
        return NDArray(np.concatenate(raws, axis=0), ctx)
    xp = ctx.backend.xp
    return NDArray(xp.concatenate([xp.asarray(r) for r in raws], axis=0), ctx)
