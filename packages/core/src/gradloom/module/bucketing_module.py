"""``BucketingModule``: one ``Module`` per input length ("bucket"), all training ONE set of
parameters.

Every bucket's module is bound with ``shared_module`` = the default bucket's module, so the
buckets share the flat parameter and gradient buffers, the input buffers (sized by the
largest bucket seen) and the executors' intermediate-buffer pool (also sized by the largest
bucket seen, not summed over buckets), plus the optimizer and its state.

What differs from MXNet (docs/differences-from-mxnet.md): guards raise typed errors (the
default bucket must be bound and initialised before another bucket is used); checkpoints
save every used bucket's symbol as it was trained (any JSON-able key), the parameters and,
on request, the optimizer state; ``load`` does not need ``sym_gen`` for saved buckets.
"""
import logging

from ..base import ParameterError
from ..io import DataDesc
from ..name import NameManager
from .base_module import DEFAULT_INIT, BaseModule
from .errors import (NotBoundError, ParamsNotInitializedError, need_bound,
                     need_optimizer, need_params)
from .memory_usage import module_memory
from .module import Module, _check_input_names

__all__ = ["BucketingModule"]


def _hashable(key, what):
    try:
        hash(key)
    except TypeError:
        raise ParameterError(f"{what} {key!r} is not hashable; bucket keys must be hashable "
                             f"(an int sequence length, a tuple, a string...)") from None
    return key


class BucketingModule(BaseModule):
    """Variable-length training with ``sym_gen(bucket_key) -> (symbol, data_names,
    label_names)``; arguments as MXNet's ``BucketingModule``.

    ``default_bucket_key`` should be the largest bucket (the one the iterator's
    ``default_bucket_key`` names): it is bound first and holds the shared memory.
    """

    def __init__(self, sym_gen, default_bucket_key=None, logger=logging, context=None,
                 work_load_list=None, fixed_param_names=None, state_names=None,
                 group2ctxs=None, compression_params=None, _saved_symbols=None):
        super().__init__(logger=logger)
        if default_bucket_key is None:
            raise ParameterError("BucketingModule needs default_bucket_key (normally the "
                                 "largest bucket, e.g. data_iter.default_bucket_key)")
        if not callable(sym_gen) and not (sym_gen is None and _saved_symbols):
            raise ParameterError("sym_gen must be a function bucket_key -> (symbol, "
                                 "data_names, label_names)")
        self._default_bucket_key = _hashable(default_bucket_key, "default_bucket_key")
        self._sym_gen = sym_gen
        self._saved_symbols = dict(_saved_symbols or {})
        self._fixed_param_names = list(fixed_param_names or [])
        self._state_names = list(state_names or [])
        symbol, data_names, label_names = self._call_sym_gen(default_bucket_key)
        _check_input_names(symbol, data_names, "data", True)
        _check_input_names(symbol, label_names, "label", False)
        _check_input_names(symbol, self._state_names, "state", True)
        _check_input_names(symbol, self._fixed_param_names, "fixed_param", True)
        self._context = context
        self._work_load_list = work_load_list
        self._group2ctxs = group2ctxs
        self._compression_params = compression_params
        self._buckets = {}
        self._curr_module = None
        self._curr_bucket_key = None
        self._params_dirty = False
        self._monitor = None
        self._grad_req = None
        self._preloaded = None   # (arg_params, aux_params, optimizer states) from load()

    # -- symbols --------------------------------------------------------------------------
    def _call_sym_gen(self, bucket_key):
        """``(symbol, data_names, label_names)`` of a bucket: the saved symbol of a loaded
        checkpoint, else ``sym_gen`` in a fresh name scope (so auto-generated names are the
        same in every bucket)."""
        saved = self._saved_symbols.get(bucket_key)
        if saved is not None:
            return saved
        if self._sym_gen is None:
            raise ParameterError(f"bucket {bucket_key!r} is not in the loaded checkpoint and "
                                 f"there is no sym_gen to build it; pass sym_gen= to "
                                 f"BucketingModule.load")
        with NameManager():
            result = self._sym_gen(bucket_key)
        try:
            symbol, data_names, label_names = result
        except (TypeError, ValueError):
            raise ParameterError(f"sym_gen({bucket_key!r}) must return (symbol, data_names, "
                                 f"label_names), got {type(result).__name__}") from None
        return (symbol, list(data_names) if data_names is not None else [],
                list(label_names) if label_names is not None else [])

    def _new_module(self, bucket_key):
        symbol, data_names, label_names = self._call_sym_gen(bucket_key)
        return Module(symbol, data_names, label_names, logger=self.logger,
                      context=self._context, work_load_list=self._work_load_list,
                      fixed_param_names=self._fixed_param_names,
                      state_names=self._state_names, group2ctxs=self._group2ctxs,
                      compression_params=self._compression_params)

    # -- information ----------------------------------------------------------------------
    @property
    def default_bucket_key(self):
        return self._default_bucket_key

    @property
    def bucket_keys(self):
        """Keys of the buckets created so far (the default one first)."""
        return list(self._buckets)

    @property
    def saved_bucket_keys(self):
        """Keys of the buckets whose symbols ``load()`` read from the checkpoint."""
        return list(self._saved_symbols)

    @property
    def data_names(self):
        if self.binded:
            return self._curr_module.data_names
        return self._call_sym_gen(self._default_bucket_key)[1]

    @property
    def output_names(self):
        if self.binded:
            return self._curr_module.output_names
        return self._call_sym_gen(self._default_bucket_key)[0].list_outputs()

    @property
    def data_shapes(self):
        need_bound(self, "data_shapes")
        return self._curr_module.data_shapes

    @property
    def label_shapes(self):
        need_bound(self, "label_shapes")
        return self._curr_module.label_shapes

    @property
    def output_shapes(self):
        need_bound(self, "output_shapes")
        return self._curr_module.output_shapes

    @property
    def symbol(self):
        need_bound(self, "symbol")
        return self._curr_module.symbol

    # -- parameters -----------------------------------------------------------------------
    def get_params(self):
        if not self.params_initialized:
            raise ParamsNotInitializedError("get_params() needs initialised parameters: call "
                                            "init_params() (or set_params()) first")
        if not self.binded and self._preloaded is not None:
            return self._preloaded[0], self._preloaded[1]
        self._curr_module._params_dirty = self._params_dirty or \
            self._curr_module._params_dirty
        params = self._curr_module.get_params()
        self._params_dirty = False
        return params

    def init_params(self, initializer=DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Initialise the shared parameters (through the current bucket's module)."""
        if self.params_initialized and not force_init:
            return
        need_bound(self, "init_params()")
        self._curr_module.init_params(initializer=initializer, arg_params=arg_params,
                                      aux_params=aux_params, allow_missing=allow_missing,
                                      force_init=True, allow_extra=allow_extra)
        self._params_dirty = False
        self.params_initialized = True

    def _assign_params(self, arg_params, aux_params, allow_extra):
        self._curr_module.set_params(arg_params, aux_params, allow_missing=True,
                                     force_init=True, allow_extra=allow_extra)
        self._params_dirty = True
        self.params_initialized = True

    # -- binding --------------------------------------------------------------------------
    def _reset_bind(self):
        self.binded = False
        self._buckets = {}
        self._curr_module = None
        self._curr_bucket_key = None

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Bind the default bucket with these shapes (those of the default bucket)."""
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if shared_module is not None:
            raise ParameterError("shared_module for BucketingModule is not supported: buckets "
                                 "already share the default bucket's memory")
        carried = None
        old_default = None
        if self.binded and self.params_initialized:
            carried = self.get_params()
            old_default = self._buckets.get(self._default_bucket_key)
        elif self._preloaded is not None:
            carried = self._preloaded[:2]
        module = self._new_module(self._default_bucket_key)
        if carried is not None:
            # Module.bind copies values given this way into its new buffers (as after
            # Module.load), checking that every name belongs to the symbol
            module._arg_params, module._aux_params = carried
            module.params_initialized = True
        if self._preloaded is not None and self._preloaded[2] is not None:
            module._preload_opt_states = self._preloaded[2]
        module.bind(data_shapes, label_shapes, for_training, inputs_need_grad,
                    force_rebind=False, shared_module=None, grad_req=grad_req)
        if self._monitor is not None:
            module.install_monitor(self._monitor)
        # only now that the new binding exists are the old buckets dropped (a failed bind
        # leaves the module as it was)
        self._reset_bind()
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._grad_req = grad_req
        self._buckets[self._default_bucket_key] = module
        self._curr_module = module
        self._curr_bucket_key = self._default_bucket_key
        self.binded = True
        if carried is not None:
            self.params_initialized = True
        self._preloaded = None
        if self.optimizer_initialized and old_default is not None:
            module.borrow_optimizer(old_default)
            module._updater.rebind(module._exec_group.params)

    def switch_bucket(self, bucket_key, data_shapes, label_shapes=None):
        """Make ``bucket_key`` the current bucket, creating (binding) it on first use with
        the default bucket's parameters, gradients and memory."""
        if not self.binded:
            raise NotBoundError(f"switch_bucket({bucket_key!r}) needs a bound module: call "
                                f"bind() with the default bucket's shapes first (fit() does)")
        _hashable(bucket_key, "bucket_key")
        module = self._buckets.get(bucket_key)
        if module is not None and module.binded:
            self._curr_module = module
            self._curr_bucket_key = bucket_key
            return
        if not self.params_initialized:
            raise ParamsNotInitializedError(
                f"bucket {bucket_key!r} cannot be created before the parameters are "
                f"initialised: every bucket shares the default bucket "
                f"({self._default_bucket_key!r})'s parameters, so call init_params() (or "
                f"set_params(), or fit(), which does both) first")
        if data_shapes is None:
            raise ParameterError(f"bucket {bucket_key!r} is new: give its data_shapes (a "
                                 f"batch's provide_data)")
        if module is None:
            module = self._new_module(bucket_key)
        default = self._buckets[self._default_bucket_key]
        trained = set(default._param_names) - set(default._fixed_param_names)
        unused = sorted(trained - set(module._param_names))
        if unused and self.for_training:
            # one optimizer step covers the whole shared parameter buffer, so parameters a
            # bucket never touches would be updated with stale gradients: refuse, loudly
            raise ParameterError(
                f"bucket {bucket_key!r} does not use parameters {', '.join(unused)} of the "
                f"default bucket {self._default_bucket_key!r}; every bucket trained together "
                f"must use the same parameters (fix them with fixed_param_names, or train "
                f"such buckets in separate modules)")
        module.bind(data_shapes, label_shapes, self.for_training, self.inputs_need_grad,
                    force_rebind=False, shared_module=default, grad_req=self._grad_req)
        if self._monitor is not None:
            module.install_monitor(self._monitor)
        self._buckets[bucket_key] = module
        self._curr_module = module
        self._curr_bucket_key = bucket_key

    # -- optimizer ------------------------------------------------------------------------
    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False,
                       update_on_kvstore=False):
        """Install the optimizer once; every bucket uses the same optimizer and state."""
        need_params(self, "init_optimizer()")
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring.")
            return
        self._curr_module.init_optimizer(kvstore, optimizer, optimizer_params,
                                         force_init=force_init,
                                         update_on_kvstore=update_on_kvstore)
        for mod in self._buckets.values():
            if mod is not self._curr_module:
                mod.borrow_optimizer(self._curr_module)
        self.optimizer_initialized = True

    def save_optimizer_states(self, fname, epoch=None):
        need_optimizer(self, "save_optimizer_states()")
        self._curr_module.save_optimizer_states(fname, epoch=epoch)

    def load_optimizer_states(self, fname):
        need_optimizer(self, "load_optimizer_states()")
        self._curr_module.load_optimizer_states(fname)

    # -- computation ----------------------------------------------------------------------
    def _batch_shapes(self, data_batch):
        """``(bucket_key, data_shapes, label_shapes)`` of a batch. A batch without
        ``bucket_key`` runs in the default bucket; missing ``provide_*`` are derived from
        the arrays with the bound names and layouts."""
        key = getattr(data_batch, "bucket_key", None)
        if key is None:
            key = self._default_bucket_key
        provide_data = getattr(data_batch, "provide_data", None)
        provide_label = getattr(data_batch, "provide_label", None)
        template = self._buckets.get(key) or self._buckets[self._default_bucket_key]
        if not provide_data:
            provide_data = [DataDesc(d.name, tuple(arr.shape), d.dtype, d.layout)
                            for d, arr in zip(template.data_shapes, data_batch.data)]
        if not provide_label:
            labels = getattr(data_batch, "label", None)
            if labels and template.label_shapes:
                provide_label = [DataDesc(d.name, tuple(arr.shape), d.dtype, d.layout)
                                 for d, arr in zip(template.label_shapes, labels)]
            else:
                provide_label = None
        return key, provide_data, provide_label

    def prepare(self, data_batch, sparse_row_id_fn=None):
        """Create the batch's bucket now (so the next ``forward`` does not wait for it)."""
        need_bound(self, "prepare()")
        if not self.params_initialized:
            return
        original = self._curr_bucket_key
        key, data_shapes, label_shapes = self._batch_shapes(data_batch)
        self.switch_bucket(key, data_shapes, label_shapes)
        self._curr_module.prepare(data_batch, sparse_row_id_fn=sparse_row_id_fn)
        self.switch_bucket(original, None, None)

    def forward(self, data_batch, is_train=None):
        """Switch to the batch's bucket (``batch.bucket_key``) and run it."""
        need_params(self, "forward()")
        key, data_shapes, label_shapes = self._batch_shapes(data_batch)
        self.switch_bucket(key, data_shapes, label_shapes)
        self._curr_module.forward(data_batch, is_train=is_train)

    def backward(self, out_grads=None):
        need_params(self, "backward()")
        self._curr_module.backward(out_grads=out_grads)

    def update(self):
        """One optimizer step on the shared parameters (gradients of the last backward)."""
        need_optimizer(self, "update()")
        self._params_dirty = True
        self._curr_module.update()

    def zero_grad(self):
        need_bound(self, "zero_grad()")
        self._curr_module.zero_grad()

    def get_grads(self, merge_multi_context=True):
        need_bound(self, "get_grads()")
        return self._curr_module.get_grads(merge_multi_context)

    def get_outputs(self, merge_multi_context=True):
        need_params(self, "get_outputs()")
        return self._curr_module.get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context=True):
        need_params(self, "get_input_grads()")
        # the current bucket's Module checks inputs_need_grad (every bucket is bound alike)
        return self._curr_module.get_input_grads(merge_multi_context=merge_multi_context)

    def get_states(self, merge_multi_context=True):
        need_params(self, "get_states()")
        return self._curr_module.get_states(merge_multi_context)

    def set_states(self, states=None, value=None):
        need_params(self, "set_states()")
        self._curr_module.set_states(states, value)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        need_params(self, "update_metric()")
        self._curr_module.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon):
        need_bound(self, "install_monitor()")
        self._monitor = mon
        for mod in self._buckets.values():
            mod.install_monitor(mon)

    def _epoch_done(self, epoch):
        super()._epoch_done(epoch)
        for mod in self._buckets.values():
            mod._epoch_done(epoch)

    # -- memory accounting ----------------------------------------------------------------
    def memory_usage(self):
        """Bytes held, per kind: ``pool`` (intermediate buffers, shared by all buckets),
        ``private`` (each executor's outputs and head gradients), ``inputs`` (data/label
        buffers shared by all buckets), ``params`` (parameters, gradients and host copies)."""
        need_bound(self, "memory_usage()")
        return module_memory(list(self._buckets.values()))

    # -- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, prefix, epoch, save_optimizer_states=False,
                        remove_amp_cast=True):
        """Write every used bucket's symbol (``prefix-buckets.json`` indexes them; the
        default bucket's is also ``prefix-symbol.json``), ``prefix-%04d.params`` and, if
        asked, ``prefix-%04d.states``. Each file is written atomically."""
        if not self._buckets:
            raise NotBoundError("save_checkpoint() needs at least one bucket: bind() first")
        kvstore = self._curr_module._kvstore
        if kvstore is not None and kvstore.rank != 0:
            return   # every rank holds the same parameters: rank 0 writes them (as Module)
        from .bucket_checkpoint import write_bucket_symbols
        buckets = [(k, m) for k, m in self._buckets.items() if m.binded]
        write_bucket_symbols(prefix, self._default_bucket_key, buckets,
                             remove_amp_cast=remove_amp_cast)
        self._save_epoch_files(prefix, epoch, save_optimizer_states)

    @staticmethod
    def load(prefix, epoch, sym_gen=None, default_bucket_key=None,
             load_optimizer_states=False, **kwargs):
        """A new, unbound BucketingModule with the checkpoint's bucket symbols, parameters
        and (optionally) optimizer state.

        Saved buckets use their saved symbols (names always match the parameters);
        ``sym_gen`` is only needed for buckets that were not saved (and for checkpoints
        written by MXNet, which store no data/label names). ``default_bucket_key`` defaults
        to the saved one.
        """
        from ..model import load_params
        from .bucket_checkpoint import read_bucket_symbols
        saved_default, symbols = read_bucket_symbols(prefix)
        if default_bucket_key is None:
            default_bucket_key = saved_default
        if default_bucket_key is None:
            raise ParameterError("this checkpoint does not record its default bucket: pass "
                                 "default_bucket_key= to BucketingModule.load")
        complete = {}
        for key, (symbol, data_names, label_names) in symbols.items():
            if data_names is None:
                if sym_gen is None:
                    raise ParameterError(f"checkpoint {prefix!r} stores no data/label names "
                                         f"(an MXNet checkpoint): pass sym_gen= to load()")
                with NameManager():
                    _, data_names, label_names = sym_gen(key)
                data_names = list(data_names or [])
                label_names = list(label_names or [])
            complete[key] = (symbol, data_names, label_names)
        arg_params, aux_params = load_params(prefix, epoch)
        states = None
        if load_optimizer_states:
            from ..checkpoint import load_optimizer_states as _load_states
            fname = f"{prefix}-{epoch:04d}.states"
            states = (fname, _load_states(fname))
        return BucketingModule._from_parts(sym_gen, default_bucket_key, complete, arg_params,
                                           aux_params, states, kwargs)

    @staticmethod
    def load_dict(sym_dict=None, sym_gen=None, default_bucket_key=None, arg_params=None,
                  aux_params=None, **kwargs):
        """A new, unbound BucketingModule from in-memory symbols (``{key: symbol}``, names
        from ``sym_gen``) and parameter dicts."""
        if sym_dict is None or sym_gen is None or default_bucket_key is None or \
                arg_params is None:
            raise ParameterError("load_dict needs sym_dict, sym_gen, default_bucket_key and "
                                 "arg_params")
        complete = {}
        for key, symbol in sym_dict.items():
            with NameManager():
                _, data_names, label_names = sym_gen(key)
            complete[key] = (symbol, list(data_names or []), list(label_names or []))
        return BucketingModule._from_parts(sym_gen, default_bucket_key, complete, arg_params,
                                           aux_params or {}, None, kwargs)

    @staticmethod
    def _from_parts(sym_gen, default_bucket_key, symbols, arg_params, aux_params, states,
                    kwargs):
        if default_bucket_key not in symbols and sym_gen is None:
            raise ParameterError(f"default bucket {default_bucket_key!r} is not in the "
                                 f"checkpoint; pass sym_gen= to build it")
        mod = BucketingModule(sym_gen, default_bucket_key, _saved_symbols=symbols, **kwargs)
        mod._preloaded = (arg_params, aux_params, states)
        mod.params_initialized = True
        return mod
