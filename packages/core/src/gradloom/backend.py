"""The interface a device backend implements (numpy on CPUs, cupy on NVIDIA GPUs, ...).

A backend owns its array module (``xp``), transfers to and from the host, device scopes,
synchronisation and random generators. Core code and operator math only ever talk to a
``Backend`` and its ``xp``; they never name cupy.
"""
import abc
import contextlib

import numpy as np


#: generators start from this seed until ``gradloom.random.seed`` is called, so unseeded runs
#: are reproducible, as they were with MXNet
DEFAULT_SEED = 0


class Backend(abc.ABC):
    """Base class for device backends. Subclasses set ``device_type`` and ``package``."""

    #: device type served, as in ``Context(device_type, i)``: "cpu", "gpu"
    device_type = None
    #: distribution that provides it (shown by ``gradloom plugins``)
    package = None

    def __init__(self):
        self._rngs = {}
        self._scratch = {}
        self._seed = DEFAULT_SEED

    # -- availability -----------------------------------------------------------------
    def is_available(self):
        """True when arrays can be created on at least one device of this type."""
        return self.unavailable_reason is None

    @property
    def unavailable_reason(self):
        """``None`` when usable, else a sentence saying why not and what to do."""
        return None

    @abc.abstractmethod
    def device_count(self):
        """Number of devices of this type that can be used."""

    def has_device(self, device_id):
        """True when ``device_id`` names a usable device of this type."""
        return 0 <= device_id < self.device_count()

    # -- arrays -----------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def xp(self):
        """The array module (numpy-compatible) of this backend."""

    @abc.abstractmethod
    def owns(self, array):
        """True when ``array`` is an array of this backend's array module."""

    @abc.abstractmethod
    def to_host(self, array):
        """A numpy copy (or view, on the host backend) of ``array``."""

    @abc.abstractmethod
    def from_host(self, array, device_id=0):
        """A new array on device ``device_id`` holding the numpy ``array``."""

    def copy_from_host(self, dst, array):
        """Copy the numpy ``array`` into the existing device array ``dst`` (no allocation)."""
        self.xp.copyto(dst, self.xp.asarray(array, dtype=dst.dtype))

    def empty(self, shape, dtype=np.float32, device_id=0):
        with self.device_scope(device_id):
            return self.xp.empty(shape, dtype=dtype)

    def zeros(self, shape, dtype=np.float32, device_id=0):
        with self.device_scope(device_id):
            return self.xp.zeros(shape, dtype=dtype)

    def scratch(self, device_id, shape, dtype, role):
        """A scratch array shared by every kernel bound on ``device_id``.

        Kernels of one device run one at a time, and a scratch value never outlives the
        kernel call that wrote it, so all kernels asking for the same ``(shape, dtype, role)``
        can share one array: an unrolled RNN then holds one weight-sized scratch, not one per
        time step. ``role`` keeps apart buffers one kernel needs at the same time.
        """
        key = (device_id, tuple(int(d) for d in shape), np.dtype(dtype).str, role)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = self.empty(key[1], dtype, device_id)
        return buf

    def device_scope(self, device_id):
        """Context manager that makes ``device_id`` current (no-op on the host)."""
        return contextlib.nullcontext()

    def synchronize(self, device_id=None):
        """Wait until queued work on the device has finished (no-op on the host)."""

    def device_of(self, array):
        """Index of the device holding ``array``."""
        return 0

    # -- cross-device reduction -------------------------------------------------------
    def reduce_sum_into(self, dst, srcs, src_backends=None):
        """``dst[...] = sum(srcs)``, in place, where ``dst`` is an array of this backend.

        ``srcs`` may hold ``dst`` itself (then the others are added to it) and arrays of
        other devices or backends; ``src_backends[i]`` is the backend owning ``srcs[i]``
        (default: this one). The generic version adds same-device arrays directly and
        stages the rest through host memory; a device backend overrides it with its fast
        path (NCCL, peer copies). Kvstores and the Module's gradient summation call this,
        so they never branch on device types.
        """
        xp = self.xp
        if src_backends is None:
            src_backends = [self] * len(srcs)
        started = any(s is dst for s in srcs)
        here = self.device_of(dst)
        for src, backend in zip(srcs, src_backends):
            if src is dst:
                continue
            if not (backend is self and self.owns(src) and self.device_of(src) == here):
                # the owning backend knows how to bring its arrays to the host
                host = backend.to_host(src) if backend.owns(src) else np.asarray(src)
                if not started:   # the first value is copied straight in, no temporary
                    self.copy_from_host(dst, host)
                    started = True
                    continue
                src = self.from_host(host, here)
            if started:
                xp.add(dst, src, out=dst, casting="unsafe")
            else:
                xp.copyto(dst, src, casting="unsafe")
                started = True
        if not started:
            dst[...] = 0

    # -- element-wise work over long flat buffers ---------------------------------------
    def elementwise(self, fn, arrays):
        """``fn(*arrays)`` where ``fn`` treats each element on its own (an optimizer step).

        ``arrays`` starts with a 1-D array; the others of its length are cut alike, anything
        else (scalars, None) passes through as it is. A backend may instead call ``fn`` on
        matching blocks of the arrays: the CPU backend runs cache-sized blocks over several
        threads, so a chain of numpy passes over a parameter buffer reads memory once rather
        than once a pass.
        """
        fn(*arrays)

    # -- randomness -------------------------------------------------------------------
    def seed(self, seed):
        """Re-seed the generators of every device of this backend."""
        self._seed = seed
        self._rngs.clear()

    def rng(self, device_id=0):
        """The random generator of device ``device_id`` (seeded by ``seed``)."""
        gen = self._rngs.get(device_id)
        if gen is None:
            gen = self._rngs[device_id] = self._make_rng(self._seed, device_id)
        return gen

    def _make_rng(self, seed, device_id):
        seq = None if seed is None else [seed, device_id]
        return np.random.default_rng(seq)

    # -- execution --------------------------------------------------------------------
    def make_executor(self, plan_args):
        """Create the executor that runs a bound graph on this backend.

        ``plan_args`` is a ``gradloom.executor.BindRequest``; the generic engine serves every
        backend, and a backend overrides this to add its own memory, stream or kernel policy.
        """
        from .executor.graph_executor import GraphExecutor
        return GraphExecutor(self, plan_args)

    def describe(self):
        """One line for ``gradloom backends``."""
        if self.is_available():
            return f"{self.device_type}: available, {self.device_count()} device(s)"
        return f"{self.device_type}: unavailable ({self.unavailable_reason})"
