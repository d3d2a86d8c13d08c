"""How a Module turns summed gradients into new weights.

``FlatUpdater`` (the default) works on the flat buffers of a ParamStore: per dtype it sums
the device gradient buffers into device 0's (one add per device), lets the kvstore reduce
that one buffer over workers, runs ONE ``optimizer.step`` over it with precomputed
per-element lr/wd multipliers (or scalars when all parameters agree), then copies the new
weights to the other devices. Nothing per step builds dicts or walks the graph.

``KVStoreUpdater`` keeps MXNet's update-on-kvstore path (``update_on_kvstore=True``): the
store sums per-parameter gradients and runs the optimizer on its own copy of each weight.

Both save optimizer states keyed by parameter name, with hyper-parameters, counters and
epoch, in the checkpoint container of ``gradloom.checkpoint``.
"""
import warnings

import numpy as np

from ..base import ParameterError

__all__ = ["FlatUpdater", "KVStoreUpdater"]


class _FlatGroup:
    """One dtype's trainable prefix: weights, state and multipliers on device 0."""

    def __init__(self, buffers, optimizer, name2idx, add_mode):
        self.buffers = buffers
        self.backend = backend = buffers.backends[0]
        self.xp = xp = backend.xp
        n = buffers.n_train
        self.segments = [s for s in buffers.segments if s.stop <= n]
        self.indices = [name2idx[s.name] for s in self.segments]
        self.weight = buffers.values[0][:n]
        self.fast = optimizer.has_step
        self.state = optimizer.create_flat_state(xp, self.weight) if self.fast else None

        def block_step(weight, grad, lr, wd, t, *state):
            optimizer.step(xp, weight, grad, state, lr, wd, t)
        self._block_step = block_step
        self.scratch = xp.empty_like(self.weight) if add_mode else None
        dev = buffers.contexts[0].device_id
        lr_mults = [float(optimizer.lr_mult_of(i)) for i in self.indices]
        wd_mults = [float(optimizer.wd_mult_of(i)) for i in self.indices]
        self.lr_scale = self.lr_buf = None
        self.lr_mult = lr_mults[0] if lr_mults else 1.0
        if len(set(lr_mults)) > 1:
            self.lr_scale = self._spread(backend, dev, lr_mults, n)
            self.lr_buf = xp.empty_like(self.lr_scale)
        self.wd_scale = None
        self.wd_mult = wd_mults[0] if wd_mults else 1.0
        if len(set(wd_mults)) > 1:
            self.wd_scale = self._spread(backend, dev, wd_mults, n)
        self._wd_for = None
        self._wd_value = None

    def _spread(self, backend, dev, mults, n):
        host = np.empty((n,), self.buffers.dtype)
        for seg, m in zip(self.segments, mults):
            host[seg.offset:seg.stop] = m
        return backend.from_host(host, dev)

    def lr(self, base):
        if self.lr_scale is None:
            return base * self.lr_mult
        return self.xp.multiply(self.lr_scale, base, out=self.lr_buf)

    def wd(self, base):
        # no decay at all (SGD's default wd=0): a scalar zero lets the optimizer skip two
        # passes over every weight, instead of adding a buffer of zeros each step
        if self.wd_scale is None or base == 0:
            return base * self.wd_mult
        if self._wd_for != base:   # recomputed only when the optimizer's wd changes
            self._wd_value = self.wd_scale * base
            self._wd_for = base
        return self._wd_value

    def step(self, opt, grad, lr, wd, t):
        """One ``opt.step`` over this group: block by block where the rule allows (see
        ``Backend.elementwise``), else in one call."""
        if opt.step_is_elementwise:
            self.backend.elementwise(self._block_step, (self.weight, grad, lr, wd, t)
                                     + self.state)
        else:
            opt.step(self.xp, self.weight, grad, self.state, lr, wd, t)

    def reduced_grad(self, active, n_devices):
        """The gradient summed over the active devices (device 0's buffer, or a scratch
        copy when gradients accumulate with grad_req='add')."""
        b = self.buffers
        if self.scratch is None:
            if n_devices > 1:
                b.sum_grads_into(0, active)
            return b.grads[0]
        first = active[0]
        self.xp.copyto(self.scratch, b.grads[first]) if b.contexts[first] == b.contexts[0] \
            else b.backends[0].copy_from_host(self.scratch, b.backends[first].to_host(
                b.grads[first]))
        for k in active[1:]:
            src = b.grads[k]
            if not isinstance(src, np.ndarray):
                src = b.backends[0].from_host(b.backends[k].to_host(src),
                                              b.contexts[0].device_id)
            self.xp.add(self.scratch, src, out=self.scratch)
        return self.scratch


class FlatUpdater:
    """Optimizer over the flat buffers of a :class:`~gradloom.module.params.ParamStore`."""

    def __init__(self, store, optimizer, kvstore, idx2name, auto_rescale, grad_req="write"):
        self.optimizer = optimizer
        self.kvstore = kvstore
        self.idx2name = dict(idx2name)
        self.name2idx = {n: i for i, n in idx2name.items()}
        self.auto_rescale = auto_rescale
        self.add_mode = _has_add(grad_req)
        self.num_workers = kvstore.num_workers if kvstore is not None else 1
        self._legacy = None
        self._bind(store)
        if kvstore is not None and self.num_workers > 1:
            # every worker starts from rank 0's parameters
            for g in store.arg_groups + store.aux_groups:
                kvstore.broadcast_flat(g.values[0])
                for k in range(1, len(g.values)):
                    g.copy_value_across(0, k)

    def _bind(self, store):
        self.store = store
        self.groups = [_FlatGroup(g, self.optimizer, self.name2idx, self.add_mode)
                       for g in store.arg_groups if g.grads is not None and g.n_train]
        self.indices = [i for fg in self.groups for i in fg.indices]
        self.n_devices = len(store.contexts)
        if not self.optimizer.has_step:
            from ..optimizer import get_updater
            self._legacy = self._legacy or get_updater(self.optimizer)

    def rebind(self, store):
        """Move to the buffers of a new binding, carrying the states over by name."""
        states = self.states_by_name()
        self._bind(store)
        self._install(states)

    def update(self, group):
        plan = group.plan
        opt = self.optimizer
        if self.auto_rescale:
            opt.rescale_grad = _mean_scale(group, self.num_workers, opt.rescale_grad)
        active = plan.active
        kv = self.kvstore if self.num_workers > 1 else None
        if self._legacy is not None:
            self._update_legacy(active, kv)
            return
        lr, t = opt.begin_step(self.indices)
        wd = opt.wd
        for fg in self.groups:
            grad = fg.reduced_grad(active, self.n_devices)
            if kv is not None:
                kv.allreduce_flat(grad)
            fg.step(opt, grad, fg.lr(lr), fg.wd(wd), t)
            b = fg.buffers
            for k in range(1, self.n_devices):
                b.copy_value_across(0, k, b.n_train)

    def _update_legacy(self, active, kv):
        """Per-parameter ``Updater`` calls, for optimizers that only define ``update``."""
        for fg in self.groups:
            grad = fg.reduced_grad(active, self.n_devices)
            if kv is not None:
                kv.allreduce_flat(grad)
            b = fg.buffers
            from ..ndarray import NDArray
            ctx = b.contexts[0]
            for seg, idx in zip(fg.segments, fg.indices):
                self._legacy(idx, NDArray(grad[seg.offset:seg.stop].reshape(seg.shape), ctx),
                             b.value_views[0][seg.name])
            for k in range(1, self.n_devices):
                b.copy_value_across(0, k, b.n_train)

    # -- states ---------------------------------------------------------------------------
    def states_by_name(self):
        """``{name: tuple of numpy arrays}`` for every trainable parameter."""
        out = {}
        if self._legacy is not None:
            from ..checkpoint import updater_states_by_name
            return updater_states_by_name(self._legacy, self.idx2name)
        opt = self.optimizer
        for fg in self.groups:
            slots = opt.state_slots(fg.state)
            backend = fg.buffers.backends[0]
            hosts = [s if isinstance(s, np.ndarray) else backend.to_host(s) for s in slots]
            for seg in fg.segments:
                out[seg.name] = tuple(np.array(h[seg.offset:seg.stop].reshape(seg.shape))
                                      for h in hosts)
        return out

    def save_states(self, fname, epoch=None):
        from ..checkpoint import optimizer_meta, save_optimizer_states
        meta = optimizer_meta(self.optimizer, self.idx2name, epoch=epoch,
                              extra={"update_path": "flat"})
        save_optimizer_states(fname, self.states_by_name(), meta)

    def load_states(self, states, meta, source="optimizer states"):
        """Check ``states`` against this optimizer, then install them and the counters."""
        self._validate(states, source)
        saved = ((meta or {}).get("optimizer") or {}).get("class")
        if saved is not None and saved != type(self.optimizer).__name__.lower():
            warnings.warn(f"{source}: optimizer states were saved by {saved!r} and are loaded "
                          f"into {type(self.optimizer).__name__.lower()!r}", UserWarning,
                          stacklevel=3)
        self._install(states)
        if meta is not None:
            from ..checkpoint import restore_counters
            restore_counters(self.optimizer, meta, self.idx2name)

    def _validate(self, states, source):
        opt = self.optimizer
        shapes = {s.name: s.shape for fg in self.groups for s in fg.segments}
        for name, slots in states.items():
            if name not in shapes:
                continue
            if len(slots) != opt.num_state_slots:
                raise ParameterError(
                    f"{source}: the state of {name!r} has {len(slots)} array(s) but "
                    f"{type(opt).__name__} needs {opt.num_state_slots}; load states written "
                    f"by the same optimizer configuration")
            for slot in slots:
                if tuple(slot.shape) != shapes[name]:
                    raise ParameterError(f"{source}: the state of {name!r} has shape "
                                         f"{tuple(slot.shape)}, the parameter {shapes[name]}")
        missing = [n for n in shapes if n not in states]
        if missing and states:
            warnings.warn(f"{source} has no optimizer state for {missing[:5]} "
                          f"({len(missing)} parameter(s)); they start from fresh states",
                          UserWarning, stacklevel=4)

    def _install(self, states):
        if self._legacy is not None:
            from ..checkpoint import load_into_updater
            load_into_updater(self._legacy, states, self.idx2name)
            return
        opt = self.optimizer
        for fg in self.groups:
            slots = opt.state_slots(fg.state)
            backend = fg.buffers.backends[0]
            for seg in fg.segments:
                if seg.name not in states:
                    continue
                for dst, src in zip(slots, states[seg.name]):
                    backend.copy_from_host(dst[seg.offset:seg.stop].reshape(seg.shape),
                                           np.asarray(src))


def _mean_scale(group, num_workers, current):
    """``rescale_grad`` that turns the summed gradients into a mean over the samples they
    hold: the last batch, or with grad_req='add' every batch since zero_grad()."""
    samples = group.params.grad_samples or group.plan.batch_size
    return 1.0 / (samples * num_workers) if samples else current


class KVStoreUpdater:
    """MXNet's update-on-kvstore path: ``pushpull`` per parameter, optimizer in the store."""

    def __init__(self, module, kvstore, optimizer, auto_rescale):
        self.kvstore = kvstore
        self.optimizer = optimizer
        self.auto_rescale = auto_rescale
        self.num_workers = kvstore.num_workers
        kvstore.set_optimizer(optimizer)
        self._bind(module._exec_group.params)

    def _bind(self, store):
        self.store = store
        n_dev = len(store.contexts)
        self.names = list(store.trainable)
        self.weights = [[store.arg_views(k)[n] for k in range(n_dev)] for n in self.names]
        self.grads = [[store.grad_views(k)[n] for k in range(n_dev)] for n in self.names]
        for name, outs in zip(self.names, self.weights):
            self.kvstore.broadcast(name, outs[0], out=outs)

    def rebind(self, store):
        self._bind(store)

    def update(self, group):
        plan = group.plan
        if self.auto_rescale:
            self.optimizer.rescale_grad = _mean_scale(group, self.num_workers,
                                                      self.optimizer.rescale_grad)
        active = plan.active
        for i, (name, grads, weights) in enumerate(zip(self.names, self.grads, self.weights)):
            self.kvstore.pushpull(name, [grads[k] for k in active], out=weights, priority=-i)

    def states_by_name(self):
        from ..checkpoint import updater_states_by_name
        return updater_states_by_name(self.kvstore._updater, {})

    def save_states(self, fname, epoch=None):
        from ..checkpoint import optimizer_meta, save_optimizer_states
        meta = optimizer_meta(self.optimizer, {}, epoch=epoch,
                              extra={"update_path": "kvstore"})
        save_optimizer_states(fname, self.states_by_name(), meta)

    def load_states(self, states, meta, source="optimizer states"):
        from ..checkpoint import load_into_updater
        load_into_updater(self.kvstore._updater, states, {n: n for n in self.names}, meta)


def _has_add(grad_req):
    if isinstance(grad_req, str):
        return grad_req == "add"
    if isinstance(grad_req, dict):
        return "add" in grad_req.values()
    if isinstance(grad_req, (list, tuple)):
        return "add" in grad_req
    return False
