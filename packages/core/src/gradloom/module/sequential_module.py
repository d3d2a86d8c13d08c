"""``SequentialModule``: modules chained so that each one's outputs are the next one's data,
with gradients flowing back through each module's input gradients."""
import copy
import logging

from ..base import ParameterError
from .base_module import DEFAULT_INIT, BaseModule
from .errors import ExtraParamError, InputsGradError, need_bound, need_optimizer, need_params

__all__ = ["SequentialModule"]


class SequentialModule(BaseModule):
    """A chain of modules trained as one. ``add(module, take_labels=..., auto_wiring=...)``:
    ``take_labels`` feeds the batch's labels to that module (and scores it in
    ``update_metric``); ``auto_wiring`` renames the incoming data to the module's
    ``data_names``."""

    META_TAKE_LABELS = "take_labels"
    META_AUTO_WIRING = "auto_wiring"

    def __init__(self, logger=logging):
        super().__init__(logger=logger)
        self._modules = []
        self._metas = []
        self._label_shapes = None
        self._data_shapes = None
        self._meta_keys = {self.META_TAKE_LABELS, self.META_AUTO_WIRING}

    def add(self, module, **kwargs):
        """Append ``module``; returns ``self`` so calls chain. Resets the state flags (the
        chain must be bound and initialised again)."""
        for key in kwargs:
            if key not in self._meta_keys:
                raise ParameterError(f'Unknown meta "{key}", a typo? Known: '
                                     f'{sorted(self._meta_keys)}')
        self._modules.append(module)
        self._metas.append(dict(kwargs))
        self.binded = False
        self.params_initialized = False
        self.optimizer_initialized = False
        return self

    @property
    def modules(self):
        return list(self._modules)

    # -- information ----------------------------------------------------------------------
    @property
    def data_names(self):
        return self._modules[0].data_names if self._modules else []

    @property
    def output_names(self):
        return self._modules[-1].output_names if self._modules else []

    @property
    def data_shapes(self):
        need_bound(self, "data_shapes")
        return self._modules[0].data_shapes

    @property
    def output_shapes(self):
        need_bound(self, "output_shapes")
        return self._modules[-1].output_shapes

    # -- parameters -----------------------------------------------------------------------
    def get_params(self):
        need_params(self, "get_params()")
        arg_params, aux_params = {}, {}
        for module in self._modules:
            arg, aux = module.get_params()
            arg_params.update(arg)
            aux_params.update(aux)
        return arg_params, aux_params

    def init_params(self, initializer=DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Initialise every module with the same dicts; parameter names must be unique
        across modules."""
        if self.params_initialized and not force_init:
            return
        need_bound(self, "init_params()")
        self._check_unique()
        if not allow_extra:
            self._check_extra(arg_params, aux_params)
        for module in self._modules:
            # each module sees the others' names as extra: checked for the chain above
            module.init_params(initializer=initializer, arg_params=arg_params,
                               aux_params=aux_params, allow_missing=allow_missing,
                               force_init=force_init, allow_extra=True)
        self.params_initialized = True

    def _param_names(self, module):
        sym = getattr(module, "symbol", None)
        if sym is None or not hasattr(module, "_param_names"):
            return [], []
        return list(module._param_names), list(sym.list_auxiliary_states())

    def _check_unique(self):
        seen_arg, seen_aux = {}, {}
        for i, module in enumerate(self._modules):
            args, auxs = self._param_names(module)
            for seen, names in ((seen_arg, args), (seen_aux, auxs)):
                for name in names:
                    if name in seen:
                        raise ParameterError(f"Duplicated parameter names: {name!r} is in "
                                             f"module {seen[name]} and module {i}; name the "
                                             f"layers uniquely")
                    seen[name] = i

    def _check_extra(self, arg_params, aux_params):
        args, auxs = set(), set()
        for module in self._modules:
            a, x = self._param_names(module)
            args.update(a)
            auxs.update(x)
        for given, known in ((arg_params, args), (aux_params, auxs)):
            extra = sorted(set(given or {}) - known)
            if extra:
                raise ExtraParamError(f"Find name {extra[0]!r} that is not in any module "
                                      f"({extra[:5]}); pass allow_extra=True to ignore them")

    # -- binding --------------------------------------------------------------------------
    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Bind each module with the previous one's output shapes as its data shapes."""
        from ..io import DataDesc
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if inputs_need_grad and not for_training:
            raise ParameterError("inputs_need_grad=True needs for_training=True")
        if shared_module is not None:
            raise ParameterError("Shared module is not supported by SequentialModule")
        if not self._modules:
            raise ParameterError("Attempting to bind an empty SequentialModule: add() modules "
                                 "first")
        my_data_shapes = data_shapes
        anybody_needs_label = False
        for i, (module, meta) in enumerate(zip(self._modules, self._metas)):
            if meta.get(self.META_TAKE_LABELS, False):
                my_label_shapes = label_shapes
                anybody_needs_label = True
            else:
                my_label_shapes = None
            # every module after the first passes gradients back to its predecessor
            my_inputs_need_grad = bool(inputs_need_grad or (for_training and i > 0))
            descs = [d if isinstance(d, DataDesc) else DataDesc(d[0], tuple(d[1]))
                     for d in my_data_shapes]
            if meta.get(self.META_AUTO_WIRING, False):
                names = module.data_names
                if len(names) != len(descs):
                    raise ParameterError(f"auto_wiring: module {i} takes {len(names)} inputs "
                                         f"{list(names)} but receives {len(descs)}")
                descs = [DataDesc(n, d.shape, d.dtype, d.layout) for n, d in zip(names, descs)]
            module.bind(data_shapes=descs, label_shapes=my_label_shapes,
                        for_training=for_training, inputs_need_grad=my_inputs_need_grad,
                        force_rebind=force_rebind, shared_module=None, grad_req=grad_req)
            my_data_shapes = module.output_shapes
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._label_shapes = label_shapes if anybody_needs_label else None
        self.binded = True

    # -- optimizer ------------------------------------------------------------------------
    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Give every module its own optimizer (and kvstore) with these settings."""
        need_params(self, "init_optimizer()")
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring.")
            return
        for module in self._modules:
            module.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                                  optimizer_params=optimizer_params, force_init=force_init)
        self.optimizer_initialized = True

    # -- computation ----------------------------------------------------------------------
    def forward(self, data_batch, is_train=None):
        from ..io import DataDesc
        need_params(self, "forward()")
        batch = copy.copy(data_batch)
        last = len(self._modules) - 1
        for i, module in enumerate(self._modules):
            module.forward(batch, is_train=is_train)
            if i == last:
                break
            batch.data = module.get_outputs()
            if getattr(batch, "provide_data", None):
                # name the data as the next module reads it, so its implicit reshape works
                nxt = self._modules[i + 1]
                if self._metas[i + 1].get(self.META_AUTO_WIRING, False):
                    names = list(nxt.data_names)
                else:
                    names = [name for name, _ in module.output_shapes]
                batch.provide_data = [DataDesc(n, tuple(x.shape))
                                      for n, x in zip(names, batch.data)]

    def backward(self, out_grads=None):
        need_params(self, "backward()")
        for i in range(len(self._modules) - 1, -1, -1):
            module = self._modules[i]
            module.backward(out_grads=out_grads)
            if i == 0:
                break
            out_grads = module.get_input_grads()

    def update(self):
        need_optimizer(self, "update()")
        for module in self._modules:
            module.update()

    def get_outputs(self, merge_multi_context=True):
        need_params(self, "get_outputs()")
        return self._modules[-1].get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context=True):
        need_params(self, "get_input_grads()")
        if not self.inputs_need_grad:
            raise InputsGradError("input gradients are only computed for a module bound with "
                                  "inputs_need_grad=True: bind(..., inputs_need_grad=True)")
        return self._modules[0].get_input_grads(merge_multi_context=merge_multi_context)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """Update ``eval_metric`` with every module that takes labels."""
        need_params(self, "update_metric()")
        for meta, module in zip(self._metas, self._modules):
            if meta.get(self.META_TAKE_LABELS, False):
                module.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon):
        need_bound(self, "install_monitor()")
        for module in self._modules:
            module.install_monitor(mon)
