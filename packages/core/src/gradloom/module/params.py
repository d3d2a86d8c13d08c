"""Flat parameter storage: all parameters of one dtype on one device live in ONE buffer.

Each parameter, gradient and auxiliary state the executors see is a view into such a buffer.
That turns every per-step operation over "all parameters" into a handful of array calls,
whatever the number of tensors: summing gradients across devices is one add per device, an
optimizer step is one call over the buffer, broadcasting the new weights is one copy per
device, and checkpointing or averaging aux states is one call per buffer.

Layout of an argument buffer: the trainable parameters first (in ``list_arguments`` order),
then the fixed ones, so the gradient buffer and the optimizer state cover exactly the prefix
``[:n_train]`` and fixed parameters are never touched by an update.
"""
import numpy as np

from ..base import ParameterError, ShapeError

__all__ = ["Segment", "FlatBuffers", "ParamStore"]


class Segment:
    """Where one named array lives inside a flat buffer."""

    __slots__ = ("name", "shape", "offset", "size")

    def __init__(self, name, shape, offset):
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.offset = offset
        self.size = int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self):
        return self.offset + self.size


class FlatBuffers:
    """Arrays of one dtype: one flat buffer on every device plus a host master copy.

    ``values[k]`` is device ``k``'s buffer, ``grads[k]`` the gradient buffer over the
    trainable prefix (``None`` without gradients), ``host`` a numpy buffer for
    ``get_params``/``init_params``.
    """

    def __init__(self, dtype, specs, contexts, with_grads):
        from ..ndarray import NDArray
        self.dtype = np.dtype(dtype)
        self.contexts = contexts
        self.segments = []
        offset = 0
        n_train = 0
        for name, shape, trainable in specs:
            seg = Segment(name, shape, offset)
            self.segments.append(seg)
            offset = seg.stop
            if trainable:
                n_train = offset
        self.size = offset
        self.n_train = n_train if with_grads else 0
        self.by_name = {seg.name: seg for seg in self.segments}
        self.backends = [ctx.backend for ctx in contexts]
        self.values = [b.zeros((self.size,), self.dtype, ctx.device_id)
                       for b, ctx in zip(self.backends, contexts)]
        self.grads = None
        if with_grads and self.n_train:
            self.grads = [b.zeros((self.n_train,), self.dtype, ctx.device_id)
                          for b, ctx in zip(self.backends, contexts)]
        self.host = np.zeros((self.size,), self.dtype)
        # NDArray views handed to executors and users, built once
        self.value_views = [{s.name: NDArray(buf[s.offset:s.stop].reshape(s.shape), ctx)
                             for s in self.segments}
                            for buf, ctx in zip(self.values, contexts)]
        self.grad_views = None
        if self.grads is not None:
            self.grad_views = [{s.name: NDArray(buf[s.offset:s.stop].reshape(s.shape), ctx)
                                for s in self.segments if s.stop <= self.n_train}
                               for buf, ctx in zip(self.grads, contexts)]
        from ..context import Context
        host_ctx = Context("cpu", 0)
        self.host_views = {s.name: NDArray(self.host[s.offset:s.stop].reshape(s.shape),
                                           host_ctx)
                           for s in self.segments}

    # -- moving whole buffers -----------------------------------------------------------
    def _to_host(self, k):
        raw = self.values[k]
        return raw if isinstance(raw, np.ndarray) else self.backends[k].to_host(raw)

    def host_from_device(self, average):
        """Host copy <- device 0 (``average=False``) or the mean over devices."""
        np.copyto(self.host, self._to_host(0))
        if average and len(self.values) > 1:
            for k in range(1, len(self.values)):
                np.add(self.host, self._to_host(k), out=self.host)
            np.divide(self.host, len(self.values), out=self.host, casting="unsafe")

    def device_from_host(self):
        """Every device buffer <- host copy."""
        for k, buf in enumerate(self.values):
            self.backends[k].copy_from_host(buf, self.host)

    def copy_value_across(self, src_k, dst_k, stop=None):
        """``values[dst_k][:stop] = values[src_k][:stop]`` (across devices if needed)."""
        stop = self.size if stop is None else stop
        _copy_raw(self.values[dst_k][:stop], self.values[src_k][:stop],
                  self.backends[dst_k], self.backends[src_k])

    def sum_grads_into(self, root, active):
        """``grads[root] = sum(grads[k] for k in active)``: one backend call, which adds
        same-device buffers and uses the backend's cross-device path (NCCL, peer copies or
        host staging) for the others."""
        if not active:
            return
        backend = self.backends[root]
        backend.reduce_sum_into(self.grads[root], [self.grads[k] for k in active],
                                [self.backends[k] for k in active])


def _copy_raw(dst, src, dst_backend, src_backend):
    if isinstance(dst, np.ndarray) and isinstance(src, np.ndarray):
        np.copyto(dst, src)
    elif dst_backend.owns(src) and dst_backend is src_backend and \
            dst_backend.device_of(src) == dst_backend.device_of(dst):
        dst_backend.xp.copyto(dst, src)
    else:
        # a one-term sum is a copy: peer copy between GPUs, host staging otherwise
        dst_backend.reduce_sum_into(dst, [src], [src_backend])


class ParamStore:
    """Arguments (trainable + fixed) and auxiliary states of a module on all its devices.

    ``arg_specs``: ``[(name, shape, dtype, trainable)]`` in ``list_arguments`` order;
    ``aux_specs``: ``[(name, shape, dtype)]``. Buffers are grouped by dtype.
    """

    def __init__(self, contexts, arg_specs, aux_specs, with_grads):
        self.contexts = list(contexts)
        self.arg_names = [s[0] for s in arg_specs]
        self.aux_names = [s[0] for s in aux_specs]
        self.arg_shapes = {s[0]: tuple(s[1]) for s in arg_specs}
        self.aux_shapes = {s[0]: tuple(s[1]) for s in aux_specs}
        self.arg_dtypes = {s[0]: np.dtype(s[2]) for s in arg_specs}
        self.aux_dtypes = {s[0]: np.dtype(s[2]) for s in aux_specs}
        self.trainable = [s[0] for s in arg_specs if s[3] and with_grads]
        self.arg_groups = self._group(
            [(n, shape, dt, tr) for n, shape, dt, tr in arg_specs], with_grads)
        self.aux_groups = self._group([(n, shape, dt, False) for n, shape, dt in aux_specs],
                                      False)
        self._arg_group_of = {s.name: g for g in self.arg_groups for s in g.segments}
        self._aux_group_of = {s.name: g for g in self.aux_groups for s in g.segments}
        #: how many samples' gradients the gradient buffers hold: the last batch with
        #: grad_req='write', every batch since the last zero_grad() with 'add' (kept here,
        #: beside the buffers, because all buckets of a BucketingModule share them)
        self.grad_samples = 0

    def _group(self, specs, with_grads):
        by_dtype = {}
        for name, shape, dtype, trainable in specs:
            by_dtype.setdefault(np.dtype(dtype), []).append((name, shape, trainable))
        groups = []
        for dtype, items in by_dtype.items():
            # trainable first so gradients and optimizer states cover one prefix
            ordered = [i for i in items if i[2]] + [i for i in items if not i[2]]
            groups.append(FlatBuffers(dtype, ordered, self.contexts, with_grads))
        return groups

    # -- views --------------------------------------------------------------------------
    def arg_views(self, k):
        out = {}
        for g in self.arg_groups:
            out.update(g.value_views[k])
        return out

    def grad_views(self, k):
        out = {}
        for g in self.arg_groups:
            if g.grad_views is not None:
                out.update(g.grad_views[k])
        return out

    def aux_views(self, k):
        out = {}
        for g in self.aux_groups:
            out.update(g.value_views[k])
        return out

    def host_args(self):
        """``{name: NDArray}`` host copies in ``list_arguments`` order."""
        views = {}
        for g in self.arg_groups:
            views.update(g.host_views)
        return {n: views[n] for n in self.arg_names}

    def host_aux(self):
        views = {}
        for g in self.aux_groups:
            views.update(g.host_views)
        return {n: views[n] for n in self.aux_names}

    # -- whole-store operations ---------------------------------------------------------
    def sync_to_host(self):
        """Host copies <- devices: parameters from device 0 (identical everywhere after an
        update), aux states averaged (each device computes its own running statistics)."""
        for g in self.arg_groups:
            g.host_from_device(average=False)
        for g in self.aux_groups:
            g.host_from_device(average=True)

    def push_host_to_devices(self):
        for g in self.arg_groups + self.aux_groups:
            g.device_from_host()

    def check_compatible(self, name, shape, what="parameter"):
        expected = self.arg_shapes.get(name) if what == "parameter" else self.aux_shapes.get(
            name)
        if expected is not None and tuple(shape) != expected:
            raise ShapeError(f"{what} {name!r} has shape {expected} in this module but the "
                             f"given value has shape {tuple(shape)}")

    def set_device_value(self, name, value, aux=False):
        """Copy ``value`` (NDArray or array) into ``name`` on every device."""
        group = (self._aux_group_of if aux else self._arg_group_of).get(name)
        if group is None:
            raise ParameterError(f"{name!r} is not a {'auxiliary state' if aux else 'parameter'}"
                                 f" of this module")
        seg = group.by_name[name]
        host = _host_array(value)
        if host.shape != seg.shape:
            raise ShapeError(f"{'auxiliary state' if aux else 'parameter'} {name!r} has shape "
                             f"{seg.shape} but the given value has shape {host.shape}")
        for k, buf in enumerate(group.values):
            group.backends[k].copy_from_host(buf[seg.offset:seg.stop].reshape(seg.shape),
                                             host)


def _host_array(value):
    asnumpy = getattr(value, "asnumpy", None)
    if asnumpy is not None:
        return asnumpy()
    return np.asarray(value)
