"""The ``Optimizer`` base class: MXNet's constructor, multipliers, counters and registry.

Every update rule is written once, as ``step(xp, weight, grad, state, lr, wd, t)`` on raw
backend arrays. Two callers share it:

* the fast path: a Module keeps all parameters of a device in one flat buffer, creates one
  flat state with ``create_flat_state(xp, flat_weight)`` and calls ``step`` once per batch
  with ``lr``/``wd`` as floats or as arrays of per-element multiplied values;
* MXNet's NDArray API: ``create_state(index, weight)`` / ``update(index, weight, grad,
  state)``, used by ``Updater`` and by user code, which wraps the same ``step``.

A flat state is a tuple: the persistent slots (momentum, moments, ...; what a checkpoint
stores) followed by one scratch array, so that ``step`` never allocates.
"""
import json
import warnings

import numpy as np

from ..base import ConfigError, StateError, UnknownNameError
from ._arrays import raw_of, wrap_like, xp_of

__all__ = ["Optimizer", "register", "create", "create_optimizer"]


class Optimizer:
    """Base class of all optimizers (MXNet 1.x constructor and semantics).

    Parameters are MXNet's: ``rescale_grad`` multiplies every gradient first,
    ``clip_gradient`` clamps it to ``[-c, c]`` (``None`` or ``<= 0``: no clipping), ``wd`` is
    the L2 weight decay, ``learning_rate`` defaults to 0.01 (or to the scheduler's
    ``base_lr``), ``sym`` + ``param_idx2name`` give per-parameter ``__lr_mult__`` /
    ``__wd_mult__``; ``multi_precision`` is accepted and changes nothing (our float16
    updates already compute in the weight's own precision through numpy/cupy).
    """

    opt_registry = {}

    #: how many persistent state arrays one parameter needs (subclasses override)
    num_state_slots = 0
    #: MXNet's create_state returns a lone NDArray (not a tuple) when there is one slot
    single_state = True
    #: learning rate used when neither ``learning_rate`` nor ``lr_scheduler`` is given
    default_learning_rate = 0.01
    #: ``step`` computes every element from the same element of its arrays alone, so the
    #: updater may run it block by block (cache-sized, over several threads). All built-in
    #: rules do; a rule that looks across elements (a norm, as in LARS) must leave it False.
    step_is_elementwise = False

    def __init__(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        # An optimizer's own default rate applies only without a scheduler; MXNet let e.g.
        # Adam's 0.001 silently replace the scheduler's base_lr.
        if learning_rate is None:
            learning_rate = (self.default_learning_rate if lr_scheduler is None
                             else lr_scheduler.base_lr)
        self.lr = learning_rate
        if lr_scheduler is not None and lr_scheduler.base_lr != learning_rate:
            # MXNet prints (does not raise) this warning and lets learning_rate win.
            warnings.warn("learning rate from ``lr_scheduler`` has been overwritten by "
                          "``learning_rate`` in optimizer.", UserWarning, stacklevel=2)
            reset = getattr(lr_scheduler, "reset_base_lr", None)
            if reset is not None:
                reset(learning_rate)
            else:
                lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        # per device: index -> number of updates applied (MXNet keeps one dict per device)
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.lr_mult = {}
        self.wd_mult = {}
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise ConfigError("param_idx2name must be a dict {index: parameter name}, got "
                              f"{type(param_idx2name).__name__}")
        self.idx2name = dict(param_idx2name)
        self.sym_info = (sym.attr_dict(), sym.list_arguments()) if sym is not None else ()
        self.param_dict = param_dict if param_dict else {}
        self._scratch = {}
        self.set_lr_mult({})
        self.set_wd_mult({})

    # -- registry ---------------------------------------------------------------------
    @staticmethod
    def register(klass):
        """Class decorator: make ``klass`` creatable by its lower-cased class name."""
        if not (isinstance(klass, type) and issubclass(klass, Optimizer)):
            raise ConfigError(f"Optimizer.register expects an Optimizer subclass, got "
                              f"{klass!r}")
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            old = Optimizer.opt_registry[name]
            warnings.warn(f"WARNING: New optimizer {klass.__module__}.{klass.__name__} is "
                          f"overriding existing optimizer {old.__module__}.{old.__name__}",
                          UserWarning, stacklevel=2)
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """An optimizer from its registered name (case-insensitive) and constructor kwargs."""
        if isinstance(name, Optimizer):
            return name
        if not isinstance(name, str):
            raise ConfigError(f"optimizer must be a name or an Optimizer, got "
                              f"{type(name).__name__}")
        klass = Optimizer.opt_registry.get(name.lower())
        if klass is None:
            known = ", ".join(sorted(Optimizer.opt_registry))
            raise UnknownNameError(f"Cannot find optimizer {name!r}; registered optimizers: "
                                   f"{known} (add your own with @gradloom.optimizer.register)")
        return klass(**kwargs)

    # -- learning rate ----------------------------------------------------------------
    @property
    def learning_rate(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        if self.lr_scheduler is not None:
            # MXNet raises UserWarning as an exception here; scripts may catch exactly that.
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note "
                              "that set_learning_rate can mutate the value of the learning "
                              "rate of the optimizer only when the LRScheduler of the "
                              "optimizer is undefined.")
        self.lr = lr

    def set_lr_scale(self, args_lrscale):
        raise UserWarning("set_lr_scale is deprecated; use set_lr_mult instead")

    # -- multipliers ------------------------------------------------------------------
    def set_lr_mult(self, args_lr_mult):
        """Learning-rate multipliers: the symbol's ``__lr_mult__`` attributes, then the dict."""
        self.lr_mult = self._symbol_multipliers("__lr_mult__")
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Weight-decay multipliers.

        Every known parameter whose name does not end in ``_weight`` or ``_gamma`` (biases,
        betas, ...) gets 0; then the symbol's ``__wd_mult__`` attributes; then the dict.
        """
        self.wd_mult = {}
        for name in self.idx2name.values():
            if not (name.endswith("_weight") or name.endswith("_gamma")):
                self.wd_mult[name] = 0.0
        self.wd_mult.update(self._symbol_multipliers("__wd_mult__"))
        self.wd_mult.update(args_wd_mult)

    def _symbol_multipliers(self, key):
        """``{argument: float}`` from the symbol's ``key`` attributes (empty without a symbol)."""
        found = {}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and key in attr[name]:
                    found[name] = float(attr[name][key])
        return found

    def _multiplier(self, index, table, attr):
        param = self.param_dict.get(index) if self.param_dict else None
        if param is not None:
            return getattr(param, attr, 1.0)
        if index in table:
            return table[index]
        if index in self.idx2name:
            return table.get(self.idx2name[index], 1.0)
        return 1.0

    def lr_mult_of(self, index):
        """The learning-rate multiplier of ``index`` (an optimizer index or a name)."""
        return self._multiplier(index, self.lr_mult, "lr_mult")

    def wd_mult_of(self, index):
        """The weight-decay multiplier of ``index`` (an optimizer index or a name)."""
        return self._multiplier(index, self.wd_mult, "wd_mult")

    def flat_multipliers(self, indices, sizes, xp=np, dtype=np.float32):
        """``(lr_mult, wd_mult)`` over a flat buffer holding ``indices`` back to back.

        ``sizes[i]`` is the element count of parameter ``indices[i]``. Each result is a
        float when every parameter shares it (then ``step`` can take a scalar), else an
        ``xp`` array of per-element multipliers to scale by the base lr/wd each step.
        """
        out = []
        for mult_of in (self.lr_mult_of, self.wd_mult_of):
            values = [float(mult_of(i)) for i in indices]
            if len(set(values)) <= 1:
                out.append(values[0] if values else 1.0)
            else:
                host = np.repeat(np.asarray(values, dtype=dtype), np.asarray(sizes))
                out.append(host if xp is np else xp.asarray(host))
        return tuple(out)

    def _get_lrs(self, indices):
        lr = self.learning_rate
        return [lr * self.lr_mult_of(i) for i in indices]

    def _get_wds(self, indices):
        return [self.wd * self.wd_mult_of(i) for i in indices]

    def _get_lr(self, index):
        return self._get_lrs([index])[0]

    def _get_wd(self, index):
        return self._get_wds([index])[0]

    # -- update counting --------------------------------------------------------------
    def _set_current_context(self, device_id):
        """Select the per-device update counters (MXNet counts per device)."""
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    def _update_count(self, index):
        """Count one more update of ``index`` (or of each index in a list)."""
        indices = index if isinstance(index, (list, tuple)) else [index]
        counts = self._index_update_count
        for idx in indices:
            count = counts.get(idx, self.begin_num_update) + 1
            counts[idx] = count
            if count > self.num_update:
                self.num_update = count

    def begin_step(self, indices):
        """Fast path bookkeeping for one flat ``step`` over the parameters ``indices``.

        Counts one update for each index and returns ``(lr, t)``: the current base learning
        rate (scheduler applied, multipliers not) and the update count for bias correction.
        """
        self._update_count(list(indices))
        counts = self._index_update_count
        t = max((counts[i] for i in indices), default=self.num_update)
        return self.learning_rate, t

    # -- states -----------------------------------------------------------------------
    def create_flat_state(self, xp, weight):
        """State arrays for ``weight`` (a raw array): the persistent slots, then a scratch.

        Slots start at zero unless a subclass overrides ``_init_slots``.
        """
        slots = self._init_slots(xp, weight)
        return tuple(slots) + (xp.empty_like(weight),)

    def _init_slots(self, xp, weight):
        return [xp.zeros_like(weight) for _ in range(self.num_state_slots)]

    def state_slots(self, flat_state):
        """The persistent part of a flat state (what a checkpoint stores)."""
        return tuple(flat_state[:self.num_state_slots])

    def create_state(self, index, weight):
        """MXNet's per-parameter state: ``None``, one array, or a tuple of arrays."""
        raw = raw_of(weight)
        slots = [wrap_like(s, weight) for s in self._init_slots(xp_of(raw), raw)]
        return self.pack_state(slots)

    def create_state_multi_precision(self, index, weight):
        return self.create_state(index, weight)

    def pack_state(self, slots):
        """Slots (list) -> the object ``create_state`` returns for this optimizer."""
        if not slots:
            return None
        if len(slots) == 1 and self.single_state:
            return slots[0]
        return tuple(slots)

    @staticmethod
    def unpack_state(state):
        """The object ``create_state`` returned -> tuple of slots."""
        if state is None:
            return ()
        if isinstance(state, (tuple, list)):
            return tuple(state)
        return (state,)

    def _scratch_for(self, xp, raw, count):
        """Reusable scratch arrays shaped like ``raw`` for the NDArray path (cached)."""
        key = (xp.__name__, str(getattr(raw, "device", "")), raw.shape, raw.dtype.str)
        bufs = self._scratch.get(key)
        if bufs is None:
            bufs = self._scratch[key] = tuple(xp.empty_like(raw) for _ in range(count))
        return bufs

    def update(self, index, weight, grad, state):
        """Apply one update of parameter ``index`` (MXNet's NDArray API).

        ``grad`` is left untouched (the rule works on a scratch copy of it).
        """
        self._update_count(index)
        lr = self._get_lr(index)
        wd = self._get_wd(index)
        t = self._index_update_count[index]
        w = raw_of(weight)
        xp = xp_of(w)
        g_copy, tmp = self._scratch_for(xp, w, 2)
        xp.copyto(g_copy, raw_of(grad))
        slots = tuple(raw_of(s) for s in self.unpack_state(state))
        self.step(xp, w, g_copy, slots + (tmp,), lr, wd, t)

    def update_multi_precision(self, index, weight, grad, state):
        self.update(index, weight, grad, state)

    @property
    def has_step(self):
        """True when this optimizer implements the flat ``step`` (all built-in ones do)."""
        return type(self).step is not Optimizer.step

    def step(self, xp, weight, grad, state, lr, wd, t):
        """Update ``weight`` in place from ``grad`` (which may be overwritten).

        ``state`` is a flat state from ``create_flat_state``; ``lr``/``wd`` are floats or
        arrays shaped like ``weight``; ``t`` is the update count (from 1) for bias
        correction. Subclasses implement it; a custom optimizer written MXNet's way may
        override ``update`` instead.
        """
        raise StateError(f"{type(self).__name__} implements neither step() nor update(); "
                         f"define one of them to use it for training")

    # -- shared pieces of update rules ------------------------------------------------
    def _clip_value(self):
        """The clip bound, or None. MXNet clips only for a positive ``clip_gradient``."""
        c = self.clip_gradient
        return c if c is not None and c > 0 else None

    def _rescale_clip(self, xp, grad):
        """grad = clip(rescale_grad * grad), in place."""
        if self.rescale_grad != 1.0:
            xp.multiply(grad, self.rescale_grad, out=grad)
        c = self._clip_value()
        if c is not None:
            xp.clip(grad, -c, c, out=grad)

    @staticmethod
    def _add_wd(xp, grad, weight, wd, tmp):
        """grad += wd * weight, in place (``tmp`` is scratch)."""
        if isinstance(wd, (int, float)) and wd == 0:
            return
        xp.multiply(weight, wd, out=tmp)
        xp.add(grad, tmp, out=grad)

    def _rescale_wd_clip(self, xp, grad, weight, wd, tmp):
        """grad = clip(rescale_grad * grad + wd * weight), in place.

        The order of Adam, Adamax, RMSProp and FTML in MXNet: weight decay joins the
        gradient before clipping (SGD-like rules clip first, see ``_rescale_clip``).
        """
        if self.rescale_grad != 1.0:
            xp.multiply(grad, self.rescale_grad, out=grad)
        self._add_wd(xp, grad, weight, wd, tmp)
        c = self._clip_value()
        if c is not None:
            xp.clip(grad, -c, c, out=grad)

    def _momentum_descend(self, xp, weight, grad, lr, state):
        """The last move of SGD-like rules, from the prepared gradient ``grad`` (overwritten).

        Without momentum ``w -= lr*grad``; with it ``m = momentum*m - lr*grad; w += m``,
        ``m`` being ``state[0]``.
        """
        xp.multiply(grad, lr, out=grad)
        if self.momentum != 0.0:
            mom = state[0]
            xp.multiply(mom, self.momentum, out=mom)
            xp.subtract(mom, grad, out=mom)
            xp.add(weight, mom, out=weight)
        else:
            xp.subtract(weight, grad, out=weight)

    # -- description (checkpoints) ----------------------------------------------------
    def hyper_params(self):
        """The constructor arguments that define this optimizer, JSON-serialisable."""
        params = {"learning_rate": self.lr, "rescale_grad": self.rescale_grad,
                  "wd": self.wd, "clip_gradient": self.clip_gradient,
                  "begin_num_update": self.begin_num_update,
                  "multi_precision": self.multi_precision}
        params.update(self._own_hyper_params())
        return _jsonable(params)

    def _own_hyper_params(self):
        return {}

    def describe(self):
        """Everything a checkpoint records about this optimizer (JSON-serialisable)."""
        sched = self.lr_scheduler
        return {
            "class": type(self).__name__.lower(),
            "hyper_params": self.hyper_params(),
            "lr_scheduler": None if sched is None else _jsonable(
                {"class": type(sched).__name__,
                 **{k: v for k, v in vars(sched).items() if not k.startswith("_")}}),
            "num_update": self.num_update,
            "index_update_count": {str(k): v for k, v in self._index_update_count.items()},
            "lr_mult": {str(k): v for k, v in self.lr_mult.items()},
            "wd_mult": {str(k): v for k, v in self.wd_mult.items()},
        }

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper_params().items())
        return f"{type(self).__name__}({args})"


def _jsonable(value):
    """``value`` with numpy scalars/arrays turned into plain Python (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


register = Optimizer.register
create = Optimizer.create_optimizer
create_optimizer = Optimizer.create_optimizer
