"""``Module``: one symbol trained data-parallel over a list of devices.

What differs from MXNet (see docs/differences-from-mxnet.md): guards raise typed errors;
parameters, gradients and optimizer states live in flat buffers; gradients are always summed
across devices (also without a kvstore); ``rescale_grad`` follows the batch actually run;
the optimizer runs on a kvstore only when asked (``update_on_kvstore=True``); optimizer
states are saved keyed by parameter name with hyper-parameters, counters and epoch.
"""
import logging
import warnings

import numpy as np

from ..base import ConfigError, DTypeError, ParameterError, ShapeError, StateError
from ..context import Context, cpu
from ..io.desc import normalise_descs
from .base_module import DEFAULT_INIT, BaseModule, trim_arrays
from .errors import (ExtraParamError, InputsGradError, MissingParamError,
                     ParamsNotInitializedError, need_bound,
                     need_optimizer, need_params)
from .executor_group import DataParallelExecutorGroup
from .freezing import frozen_batchnorms, with_global_stats
from .slicing import batch_axis, is_presliced
from .updater import FlatUpdater, KVStoreUpdater

__all__ = ["Module"]

_DEFAULT_LABELS = ("softmax_label",)


class _DefaultLabels(tuple):
    """Marks ``label_names`` left at its default (so an absent label is not an error)."""


def loss_label_names(symbol, data_names):
    """The label inputs a symbol's loss heads read: variables wired to an operator's
    ``label`` argument, and variables named ``*_label`` (what ``SoftmaxOutput``,
    ``LinearRegressionOutput`` and the other loss heads create), in argument order."""
    from ..symbol.graph import topo_order
    wired = set()
    for node in topo_order(symbol._heads):
        if node.op is None:
            continue
        for arg, (src, _) in zip(node.arg_names, node.inputs):
            if arg == "label" and src.op is None:
                wired.add(src.name)
    return [a for a in symbol.list_arguments()
            if (a in wired or a.endswith("_label")) and a not in data_names]


def _check_input_names(symbol, names, typename, throw):
    args = symbol.list_arguments()
    for name in names:
        if name in args:
            continue
        candidates = [a for a in args if not a.endswith(("_weight", "_bias", "_gamma",
                                                          "_beta"))]
        msg = (f"You created Module with Module(..., {typename}_names={list(names)}) but "
               f"input with name {name!r} is not found in symbol.list_arguments(). Did you "
               f"mean one of: {', '.join(candidates) or '(none)'}?")
        if throw:
            raise ParameterError(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)


def _warn_if_loss_heads_normalise(symbol):
    """Warn when a loss head already averages its gradient over the batch: the optimizer's
    ``rescale_grad = 1/batch`` set by the module would divide by the batch a second time."""
    from ..symbol.graph import topo_order
    heads = sorted({node.name for node in topo_order(symbol._heads)
                    if node.op is not None and node.parsed is not None
                    and getattr(node.parsed, "normalization", "null") in ("batch", "valid")})
    if heads:
        warnings.warn(f"loss head(s) {', '.join(heads)} already normalise their gradient "
                      f"(normalization='batch'/'valid') and the module sets the optimizer's "
                      f"rescale_grad to 1/batch_size as well, so gradients are divided by the "
                      f"batch twice; use normalization='null' on the loss, or pass "
                      f"rescale_grad=1.0 in optimizer_params", UserWarning, stacklevel=3)


class Module(BaseModule):
    """A symbol bound on one or more devices, trained with an optimizer.

    Arguments as MXNet's ``Module``. ``label_names`` left at its default means "the label
    inputs the symbol's loss heads read" (``softmax_label``, ``lro_label``, ...): symbols
    without any need no ``label_names=None``, other loss heads no ``label_names=[...]``.
    ``fixed_param_names`` may also name a BatchNorm's ``moving_mean`` and ``moving_var``:
    that layer then trains with its stored statistics and leaves them unchanged
    (``module.freezing``).
    """

    def __init__(self, symbol, data_names=("data",), label_names=_DefaultLabels(_DEFAULT_LABELS),
                 logger=logging, context=None, work_load_list=None, fixed_param_names=None,
                 state_names=None, group2ctxs=None, compression_params=None):
        super().__init__(logger=logger)
        if context is None:
            context = cpu()
        if isinstance(context, Context):
            context = [context]
        self._context = list(context)
        if work_load_list is None:
            work_load_list = [1] * len(self._context)
        if len(work_load_list) != len(self._context):
            raise ParameterError(f"work_load_list has {len(work_load_list)} entries for "
                                 f"{len(self._context)} contexts; give one per context")
        self._work_load_list = list(work_load_list)
        self._group2ctxs = group2ctxs
        self._symbol = symbol
        arg_names = symbol.list_arguments()
        data_names = list(data_names) if data_names is not None else []
        if isinstance(label_names, _DefaultLabels):
            label_names = loss_label_names(symbol, data_names)
        else:
            label_names = list(label_names) if label_names is not None else []
        state_names = list(state_names) if state_names is not None else []
        fixed_param_names = list(fixed_param_names) if fixed_param_names is not None else []
        _check_input_names(symbol, data_names, "data", True)
        _check_input_names(symbol, label_names, "label", False)
        _check_input_names(symbol, state_names, "state", True)
        aux_names = symbol.list_auxiliary_states()
        _check_input_names(symbol, [n for n in fixed_param_names if n not in aux_names],
                           "fixed_param", True)
        # BatchNorm statistics named there are frozen: those layers bind with global stats
        frozen = frozen_batchnorms(symbol, fixed_param_names)
        self._bound_symbol = with_global_stats(symbol, frozen) if frozen else symbol
        input_names = set(data_names + label_names + state_names)
        self._param_names = [n for n in arg_names if n not in input_names]
        self._fixed_param_names = fixed_param_names
        self._aux_names = aux_names
        self._data_names = data_names
        self._label_names = label_names
        self._state_names = state_names
        self._output_names = symbol.list_outputs()
        self._compression_params = compression_params
        self._arg_params = None
        self._aux_params = None
        self._params_dirty = False
        self._optimizer = None
        self._kvstore = None
        self._update_on_kvstore = False
        self._updater = None
        self._preload_opt_states = None
        self._exec_group = None
        self._data_shapes = None
        self._label_shapes = None
        self._grad_req = None
        self._last_epoch = None
        self._monitor = None

    # -- checkpoints ----------------------------------------------------------------------
    @staticmethod
    def load(prefix, epoch, load_optimizer_states=False, **kwargs):
        """A new, unbound Module with the checkpoint's symbol and parameters.

        ``load_optimizer_states=True`` restores ``prefix-%04d.states`` when
        ``init_optimizer`` runs (the file is checked now, so a bad file fails here).
        """
        from ..model import load_checkpoint
        sym, args, auxs = load_checkpoint(prefix, epoch)
        mod = Module(symbol=sym, **kwargs)
        mod._arg_params = args
        mod._aux_params = auxs
        mod.params_initialized = True
        if load_optimizer_states:
            from ..checkpoint import load_optimizer_states as _load_states
            fname = f"{prefix}-{epoch:04d}.states"
            mod._preload_opt_states = (fname, _load_states(fname))
        return mod

    def save_checkpoint(self, prefix, epoch, save_optimizer_states=False,
                        remove_amp_cast=True):
        """Write ``prefix-symbol.json``, ``prefix-%04d.params`` and, if asked,
        ``prefix-%04d.states`` (each file atomically).

        With a distributed kvstore only rank 0 writes (every rank holds the same parameters
        and, on the flat update path, the same optimizer states).
        """
        if self._kvstore is not None and self._kvstore.rank != 0:
            return
        self._symbol.save(f"{prefix}-symbol.json", remove_amp_cast=remove_amp_cast)
        self._save_epoch_files(prefix, epoch, save_optimizer_states)

    # -- information ----------------------------------------------------------------------
    @property
    def _total_exec_bytes(self):
        """Bytes of this module's executors beyond the parameters: intermediate buffers,
        outputs and head gradients, input buffers (shared memory counted once)."""
        if not self.binded:
            return 0
        from .memory_usage import module_memory
        usage = module_memory([self])
        return usage["pool"] + usage["private"] + usage["inputs"]

    @property
    def data_names(self):
        return self._data_names

    @property
    def label_names(self):
        return self._label_names

    @property
    def output_names(self):
        return self._output_names

    @property
    def output_shapes(self):
        need_bound(self, "output_shapes")
        return self._exec_group.get_output_shapes()

    # -- parameters -----------------------------------------------------------------------
    def get_params(self):
        """``(arg_params, aux_params)``: host copies (the module's own dicts).

        Parameters are identical on all devices; aux states are averaged over devices.
        """
        if not self.params_initialized:
            raise ParamsNotInitializedError("get_params() needs initialised parameters: call "
                                            "init_params() (or set_params()) first")
        if self._params_dirty:
            self._sync_params_from_devices()
        return self._arg_params, self._aux_params

    def init_params(self, initializer=DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Give every parameter a value: from ``arg_params``/``aux_params`` where given,
        else from ``initializer`` (default ``Uniform(0.01)``), in sorted name order."""
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "init_params call ignored.", UserWarning, stacklevel=2)
            return
        need_bound(self, "init_params()")
        if initializer is DEFAULT_INIT:
            from ..initializer import Uniform
            initializer = Uniform(0.01)
        if initializer is None and arg_params is None and aux_params is None:
            raise ConfigError("init_params(initializer=None) without arg_params/aux_params "
                              "has no values to give: pass an initializer (e.g. "
                              "mx.init.Xavier()) or the parameter dicts")
        # as MXNet: names missing from given dicts raise unless allow_missing (an
        # initializer then fills them), so a misspelt pretrained dict does not go unnoticed
        self._check_names(arg_params, aux_params, allow_missing, allow_extra)
        from ..initializer import InitDesc
        attrs = self._symbol.attr_dict()

        def _impl(name, arr, cache):
            if cache is not None:
                if name in cache:
                    src = cache[name]
                    if src is not arr:
                        _assign(arr, src, name)
                    return
                if initializer is not None:
                    initializer(InitDesc(name, attrs.get(name), initializer), arr)
            elif initializer is not None:
                initializer(InitDesc(name, attrs.get(name), initializer), arr)
            # no dict and no initializer (set_params(args, None)): the value is kept

        for name, arr in sorted(self._arg_params.items()):
            _impl(name, arr, arg_params)
        for name, arr in sorted(self._aux_params.items()):
            _impl(name, arr, aux_params)
        self.params_initialized = True
        self._params_dirty = False
        self._exec_group.params.push_host_to_devices()

    def _check_names(self, arg_params, aux_params, allow_missing, allow_extra):
        """Validate the given dicts before anything changes."""
        # missing names first: MXNet reports them (RuntimeError) when both are wrong
        if not allow_missing:
            for given, known in ((arg_params, self._param_names),
                                 (aux_params, self._aux_names)):
                if given is None:
                    continue
                missing = [n for n in known if n not in given]
                if missing:
                    raise MissingParamError(f"{missing[0]!r} is not presented ({len(missing)} "
                                            f"missing: {missing[:5]}); pass allow_missing=True "
                                            f"to keep their current values")
        if not allow_extra:
            for given, known, what in ((arg_params, self._param_names, "arguments"),
                                       (aux_params, self._aux_names, "auxiliary states")):
                extra = sorted(set(given or {}) - set(known))
                if given is not None and extra:
                    raise ExtraParamError(
                        f"Find name {extra[0]!r} that is not in the {what} of the symbol "
                        f"({len(extra)} such name(s): {extra[:5]}); pass allow_extra=True to "
                        f"ignore them")
        for given, store_shapes, what in (
                (arg_params, self._exec_group.params.arg_shapes, "parameter"),
                (aux_params, self._exec_group.params.aux_shapes, "auxiliary state")):
            for name, value in (given or {}).items():
                expected = store_shapes.get(name)
                if expected is not None and tuple(value.shape) != expected:
                    raise ShapeError(f"{what} {name!r} has shape {expected} in this module but "
                                     f"the given value has shape {tuple(value.shape)}")

    def _assign_params(self, arg_params, aux_params, allow_extra):
        self._check_names(arg_params, aux_params, True, allow_extra)
        if self._params_dirty:
            self._sync_params_from_devices()
        for src, dst in ((arg_params, self._arg_params), (aux_params, self._aux_params)):
            for name, value in (src or {}).items():
                if name in dst:
                    _assign(dst[name], value, name)
        self._exec_group.params.push_host_to_devices()
        self._params_dirty = False
        self.params_initialized = True

    def _sync_params_from_devices(self):
        # parameters are identical on every device after an update (both update paths
        # broadcast the result), so device 0 is read; aux states are averaged
        self._exec_group.params.sync_to_host()
        self._params_dirty = False

    # -- binding --------------------------------------------------------------------------
    def _reset_bind(self):
        self.binded = False
        self._exec_group = None
        self._data_shapes = None
        self._label_shapes = None

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Create the executors (one per context) for these input shapes."""
        if force_rebind:
            if self.binded and self.params_initialized:
                self.get_params()   # keep current values across the rebind
            self._reset_bind()
        if self.binded:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if not for_training and inputs_need_grad:
            raise ParameterError("inputs_need_grad=True needs for_training=True: input "
                                 "gradients come from backward()")
        data_shapes = normalise_descs(data_shapes, "data_shapes")
        label_shapes = normalise_descs(label_shapes, "label_shapes")
        self._check_shape_names(data_shapes, label_shapes)
        shared_group = None
        if shared_module is not None:
            if not (isinstance(shared_module, Module) and shared_module.binded and
                    shared_module.params_initialized):
                raise ParameterError("shared_module must be a bound Module with initialised "
                                     "parameters")
            shared_group = shared_module._exec_group
            if len(shared_group.contexts) < len(self._context):
                raise ParameterError("shared_module has fewer contexts than this module")
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._grad_req = grad_req
        self._exec_group = DataParallelExecutorGroup(
            self._bound_symbol, self._context, self._work_load_list, data_shapes, label_shapes,
            self._param_names, for_training, inputs_need_grad, shared_group,
            logger=self.logger, fixed_param_names=self._fixed_param_names, grad_req=grad_req,
            state_names=self._state_names, group2ctxs=self._group2ctxs)
        if self._monitor is not None:
            self._exec_group.install_monitor(self._monitor)
        self._data_shapes = data_shapes
        self._label_shapes = label_shapes
        store = self._exec_group.params
        if shared_module is not None:
            self.params_initialized = True
            self._arg_params = shared_module._arg_params
            self._aux_params = shared_module._aux_params
        elif self.params_initialized:
            # values from Module.load / a previous binding: copy them into the new buffers
            old_args, old_aux = self._arg_params, self._aux_params
            self._arg_params, self._aux_params = store.host_args(), store.host_aux()
            self._check_names(old_args, old_aux, True, False)
            for src, dst in ((old_args, self._arg_params), (old_aux, self._aux_params)):
                for name, value in (src or {}).items():
                    _assign(dst[name], value, name)
            store.push_host_to_devices()
        else:
            self._arg_params, self._aux_params = store.host_args(), store.host_aux()
        self.binded = True
        if shared_module is not None and shared_module.optimizer_initialized:
            self.borrow_optimizer(shared_module)
        if self.optimizer_initialized and self._updater is not None:
            # a rebind made new buffers: the optimizer state must follow them
            self._updater.rebind(self._exec_group.params)

    def _check_shape_names(self, data_shapes, label_shapes):
        names = sorted(d.name for d in data_shapes)
        if names != sorted(self._data_names):
            raise ParameterError(f"Data provided by data_shapes don't match names specified "
                                 f"by data_names ({names} vs. {sorted(self._data_names)}); "
                                 f"name the inputs as the module's data_names")
        if label_shapes is not None:
            lnames = sorted(d.name for d in label_shapes)
            if lnames != sorted(self._label_names):
                if self._label_names:
                    raise ParameterError(
                        f"Labels provided by label_shapes don't match names specified by "
                        f"label_names ({lnames} vs. {sorted(self._label_names)})")
                warnings.warn(f"label_shapes {lnames} were given to a module without "
                              f"label_names; they are ignored", UserWarning, stacklevel=3)

    def reshape(self, data_shapes, label_shapes=None):
        """Run the next batches with these input shapes (parameters are kept)."""
        need_bound(self, "reshape()")
        data_shapes = normalise_descs(data_shapes, "data_shapes")
        label_shapes = normalise_descs(label_shapes, "label_shapes")
        self._check_shape_names(data_shapes, label_shapes)
        if label_shapes is not None and not self._label_names:
            label_shapes = None
        self._exec_group.reshape(data_shapes, label_shapes)
        self._data_shapes = data_shapes
        self._label_shapes = label_shapes

    # -- optimizer ------------------------------------------------------------------------
    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False,
                       update_on_kvstore=False):
        """Install the optimizer (by name or object) and the kvstore.

        Gradients are summed over devices in every case. ``update_on_kvstore=True`` makes the
        kvstore run the optimizer on its own copy of each weight (MXNet's multi-device
        default); otherwise the module updates its flat buffers itself.
        """
        need_params(self, "init_optimizer()")
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring...")
            return
        if self._params_dirty:
            self._sync_params_from_devices()
        from .. import optimizer as opt
        from ..kvstore import KVStore
        from ..kvstore import create as kv_create
        if kvstore is None:
            kv = None
        elif isinstance(kvstore, KVStore):
            kv = kvstore
        elif isinstance(kvstore, str):
            kv = kv_create(kvstore)
        else:
            raise DTypeError("kvstore must be KVStore, str or None")
        num_workers = kv.num_workers if kv is not None else 1
        batch_size = self._exec_group.batch_size
        rescale = 1.0 / (max(batch_size, 1) * num_workers)
        idx2name = dict(enumerate(self._exec_group.param_names))
        auto_rescale = True
        if isinstance(optimizer, str):
            params = dict(optimizer_params)
            if "rescale_grad" in params:
                auto_rescale = False
            else:
                params["rescale_grad"] = rescale
                _warn_if_loss_heads_normalise(self.symbol)
            optimizer = opt.create(optimizer, sym=self.symbol, param_idx2name=idx2name,
                                   **params)
        elif isinstance(optimizer, opt.Optimizer):
            auto_rescale = False
            if optimizer.rescale_grad != rescale:
                warnings.warn(f"Optimizer created manually outside Module but rescale_grad is "
                              f"not normalized to 1.0/batch_size/num_workers "
                              f"({optimizer.rescale_grad} vs. {rescale}). Is this intended?",
                              UserWarning, stacklevel=2)
            if not optimizer.idx2name:
                optimizer.idx2name = dict(idx2name)
            if not optimizer.sym_info and not optimizer.lr_mult and not optimizer.wd_mult:
                # unlike MXNet, a pre-built optimizer also honours __lr_mult__/__wd_mult__
                # and the no-weight-decay-on-biases rule
                optimizer.sym_info = (self.symbol.attr_dict(), self.symbol.list_arguments())
                optimizer.set_lr_mult({})
                optimizer.set_wd_mult({})
        else:
            raise DTypeError(f"optimizer must be a name or an Optimizer, got "
                             f"{type(optimizer).__name__}")
        self._optimizer = optimizer
        self._kvstore = kv
        self._update_on_kvstore = bool(update_on_kvstore) and kv is not None
        if update_on_kvstore and kv is None:
            raise ParameterError("update_on_kvstore=True needs a kvstore (e.g. 'local')")
        if kv is not None and self._compression_params:
            kv.set_gradient_compression(self._compression_params)
        group = self._exec_group
        if self._update_on_kvstore:
            self._updater = KVStoreUpdater(self, kv, optimizer, auto_rescale)
        else:
            self._updater = FlatUpdater(group.params, optimizer, kv, idx2name, auto_rescale,
                                        self._grad_req)
        self.optimizer_initialized = True
        if self._preload_opt_states is not None:
            fname, loaded = self._preload_opt_states
            self._install_optimizer_states(*loaded, source=fname)
            self._preload_opt_states = None

    def borrow_optimizer(self, shared_module):
        """Use ``shared_module``'s optimizer, kvstore and updater (bucketing)."""
        if not shared_module.optimizer_initialized:
            from .errors import OptimizerNotInitializedError
            raise OptimizerNotInitializedError("the shared module has no optimizer: call "
                                               "init_optimizer() on it first")
        self._optimizer = shared_module._optimizer
        self._kvstore = shared_module._kvstore
        self._update_on_kvstore = shared_module._update_on_kvstore
        self._updater = shared_module._updater
        self.optimizer_initialized = True

    # -- computation ----------------------------------------------------------------------
    def forward(self, data_batch, is_train=None):
        """Run the executors on ``data_batch`` (reshaping first if its shapes changed).

        ``is_train=None`` means ``for_training``.
        """
        need_params(self, "forward()")
        group = self._exec_group
        if is_presliced(data_batch):
            shapes = self._presliced_shapes(data_batch)
        else:
            shapes = [tuple(d.shape) for d in data_batch.data]
        current = group.plan.data_shapes
        if len(shapes) != len(current) or any(
                s != tuple(d.shape) for s, d in zip(shapes, current)):
            self._implicit_reshape(data_batch, shapes)
        if is_train is None:
            is_train = self.for_training
        if is_train and self._label_names and group.plan.label_targets and \
                not is_presliced(data_batch) and not getattr(
                    data_batch, "label", None):
            raise StateError(f"training forward on a batch without labels: the module reads "
                             f"labels {self._label_names}; give the batch labels, or run "
                             f"forward(batch, is_train=False) for inference")
        group.forward(data_batch, is_train)

    def _presliced_shapes(self, batches):
        first = [tuple(d.shape) for d in batches[0].data]
        for batch in batches[1:]:
            if [tuple(d.shape) for d in batch.data] != first:
                raise ShapeError("All data batches in a list need to have the same shape")
        axes = [max(batch_axis(getattr(d, "layout", None)), 0) for d in self._data_shapes]
        total = []
        for shape, axis in zip(first, axes):
            shape = list(shape)
            shape[axis] = shape[axis] * len(batches)
            total.append(tuple(shape))
        return total

    def _implicit_reshape(self, data_batch, shapes):
        from ..io import DataDesc
        provide = getattr(data_batch, "provide_data", None)
        if provide and not is_presliced(data_batch):
            new_data = list(provide)
        else:
            new_data = [DataDesc(d.name, s, d.dtype, d.layout)
                        for d, s in zip(self._data_shapes, shapes)]
        new_label = None
        if not is_presliced(data_batch):
            provide_label = getattr(data_batch, "provide_label", None)
            label = getattr(data_batch, "label", None)
            if provide_label:
                new_label = list(provide_label)
            elif label and self._label_shapes:
                new_label = [DataDesc(d.name, tuple(arr.shape), d.dtype, d.layout)
                             for d, arr in zip(self._label_shapes, label)]
        if new_label is None and self._label_shapes:
            # keep the label inputs bound, resized along their batch axis
            data_axis = max(batch_axis(getattr(self._data_shapes[0], "layout", None)), 0)
            new_batch = shapes[0][data_axis]
            new_label = []
            for d in self._label_shapes:
                axis = batch_axis(getattr(d, "layout", None))
                shape = list(d.shape)
                if axis >= 0:
                    shape[axis] = new_batch
                new_label.append(DataDesc(d.name, tuple(shape), d.dtype, d.layout))
        self.reshape(new_data, new_label)

    def backward(self, out_grads=None):
        need_params(self, "backward()")
        group = self._exec_group
        group.backward(out_grads=out_grads)
        store = group.params
        store.grad_samples = (store.grad_samples if group.accumulates else 0) + \
            (group.batch_size or 0)

    def update(self):
        """Apply one optimizer step from the gradients of the last backward.

        Device gradients are summed (one add per device buffer), reduced over workers,
        the optimizer runs once over each flat buffer and the new weights are copied to the
        other devices.
        """
        need_optimizer(self, "update()")
        self._params_dirty = True
        self._updater.update(self._exec_group)

    def zero_grad(self):
        """Set every gradient to zero (needed between steps with ``grad_req='add'``)."""
        need_bound(self, "zero_grad()")
        store = self._exec_group.params
        for g in store.arg_groups:
            if g.grads is not None:
                for buf in g.grads:
                    buf[...] = 0
        store.grad_samples = 0

    def get_grads(self, merge_multi_context=True):
        """``{name: NDArray}`` gradients of the trainable parameters: summed over the devices
        (the gradient of the whole batch; on one device, views of its buffers), or per device
        with ``merge_multi_context=False``."""
        need_bound(self, "get_grads()")
        store = self._exec_group.params
        per_device = [store.grad_views(k) for k in range(len(self._context))]
        if not merge_multi_context:
            return per_device
        if len(per_device) == 1:
            return per_device[0]
        from ..ndarray import NDArray
        ctx = self._context[0]
        backend = ctx.backend
        merged = {}
        for name, first in per_device[0].items():
            total = backend.empty(first.shape, first.dtype, ctx.device_id)
            backend.reduce_sum_into(total, [grads[name].raw for grads in per_device],
                                    [c.backend for c in self._context])
            merged[name] = NDArray(total, ctx)
        return merged

    def get_outputs(self, merge_multi_context=True):
        need_params(self, "get_outputs()")
        return self._exec_group.get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context=True):
        need_params(self, "get_input_grads()")
        if not self.inputs_need_grad:
            raise InputsGradError("input gradients are only computed for a module bound with "
                                  "inputs_need_grad=True: bind(..., inputs_need_grad=True)")
        return self._exec_group.get_input_grads(merge_multi_context=merge_multi_context)

    def get_states(self, merge_multi_context=True):
        need_params(self, "get_states()")
        if merge_multi_context:
            raise ParameterError("merge_multi_context=True is not supported for get_states "
                                 "yet; call get_states(merge_multi_context=False)")
        return self._exec_group.get_states()

    def set_states(self, states=None, value=None):
        need_params(self, "set_states()")
        if (states is None) == (value is None):
            raise ParameterError("set_states needs exactly one of states= or value=")
        self._exec_group.set_states(states, value)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """Update ``eval_metric`` with the last outputs and ``labels``.

        Outputs are merged over devices and cut to the labels' batch size, so labels with
        the iterator's padding removed (what fit/score pass) score only real samples.
        """
        need_bound(self, "update_metric()")
        group = self._exec_group
        if pre_sliced:
            outputs = group.get_outputs(merge_multi_context=False)
            for i, dev_labels in enumerate(labels):
                preds = [out[i] for out in outputs]
                _update_dict(eval_metric, self._label_names, dev_labels, self._output_names,
                             preds)
            return
        outputs = group.merged_outputs()
        if labels:
            label_axes = [max(batch_axis(getattr(d, "layout", None)), 0)
                          for d in (self._label_shapes or [])] or [0] * len(labels)
            n = labels[0].shape[label_axes[0]] if len(labels[0].shape) else None
            batch = group.batch_size
            if n is not None and batch and n < batch:
                axes = [max(a, 0) for a in group.output_layouts]
                outputs = trim_arrays(outputs, n, axes)
        _update_dict(eval_metric, self._label_names, labels or [], self._output_names, outputs)

    # -- optimizer states -----------------------------------------------------------------
    def save_optimizer_states(self, fname, epoch=None):
        """Write the optimizer state keyed by parameter name (plus hyper-parameters, update
        counters and ``epoch``) to ``fname``, atomically."""
        need_optimizer(self, "save_optimizer_states()")
        if epoch is None:
            epoch = None if self._last_epoch is None else self._last_epoch + 1
        self._updater.save_states(fname, epoch)

    def load_optimizer_states(self, fname):
        """Restore states written by ``save_optimizer_states`` (or by MXNet's, read without
        unpickling: ``gradloom.mxnet_states``); a bad file raises ``FormatError`` naming it
        and leaves the optimizer unchanged."""
        need_optimizer(self, "load_optimizer_states()")
        from ..checkpoint import load_optimizer_states as _load_states
        states, meta = _load_states(fname)
        self._install_optimizer_states(states, meta, source=fname)

    def _install_optimizer_states(self, states, meta, source):
        """Loaded states into the updater; an MXNet file's index keys become names first."""
        from ..mxnet_states import states_by_name
        names = self._exec_group.param_names
        fixed = set(self._fixed_param_names)
        states = states_by_name(states, names, [n for n in names if n not in fixed], source)
        self._updater.load_states(states, meta, source=source)

    def install_monitor(self, mon):
        need_bound(self, "install_monitor()")
        self._monitor = mon
        self._exec_group.install_monitor(mon)

    def prepare(self, data_batch, sparse_row_id_fn=None):
        need_bound(self, "prepare()")
        if sparse_row_id_fn is not None:
            super().prepare(data_batch, sparse_row_id_fn)


def _update_dict(metric, label_names, labels, output_names, preds):
    update_dict = getattr(metric, "update_dict", None)
    if update_dict is None:
        metric.update(labels, preds)
        return
    update_dict(dict(zip(label_names, labels)), dict(zip(output_names, preds)))


def _assign(dst, src, name):
    """Copy ``src`` (NDArray/array) into the host NDArray ``dst``."""
    host = src.asnumpy() if hasattr(src, "asnumpy") else np.asarray(src)
    if tuple(host.shape) != tuple(dst.shape):
        raise ShapeError(f"{name!r} has shape {tuple(dst.shape)} in this module but the given "
                         f"value has shape {tuple(host.shape)}")
    np.copyto(dst.raw, host, casting="unsafe")
