"""Summing arrays of several GPUs (and of other backends) into one GPU array.

This is what the ``device`` kvstore and the Module's gradient summation run through
``Backend.reduce_sum_into``:

* every source on its own GPU and the destination one of them: ONE NCCL reduce (a ring over
  NVLink/PCIe, in place on the destination), when cupy finds the NCCL library;
* otherwise GPU sources on other devices are peer-copied (``cudaMemcpyPeerAsync``) into a
  cached staging buffer on the destination GPU and added there;
* sources of other backends (host arrays) are copied in through host memory.

Ordering: each source device records an event on its current stream and the destination's
stream waits on it, so the copy starts after the source's backward without the host
waiting. NCCL calls are enqueued on each device's current stream, which orders them after
that device's earlier work in the same way.
"""
import warnings

import numpy as np

_NCCL = {"state": None}          # lazily: the nccl module, or False when unusable
_COMMS = {}                      # tuple(device ids) -> communicators (one per device)


def nccl_module():
    """cupy's NCCL binding, or ``None`` when the library is missing (checked once)."""
    if _NCCL["state"] is None:
        try:
            with warnings.catch_warnings():
                # cupy warns (not raises) when libnccl is absent; that only means "no NCCL"
                warnings.simplefilter("ignore")
                from cupy.cuda import nccl
            _NCCL["state"] = nccl if getattr(nccl, "available", False) else False
        except Exception:   # ImportError or a broken NCCL install: use peer copies
            _NCCL["state"] = False
    return _NCCL["state"] or None


def _nccl_dtype(nccl, dtype):
    names = {"float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64", "float16": "NCCL_FLOAT16",
             "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8"}
    name = names.get(np.dtype(dtype).name)
    return None if name is None else getattr(nccl, name, None)


def _communicators(nccl, devices):
    comms = _COMMS.get(devices)
    if comms is None:
        comms = _COMMS[devices] = nccl.NcclCommunicator.initAll(list(devices))
    return comms


def _try_nccl(backend, dst, gpu_srcs):
    """One NCCL reduce onto ``dst`` when the sources allow it; True when it ran."""
    if len(gpu_srcs) < 2 or not any(s is dst for s in gpu_srcs):
        return False
    devices = tuple(s.device.id for s in gpu_srcs)
    if len(set(devices)) != len(devices):
        return False
    if any(s.dtype != dst.dtype or s.size != dst.size or not s.flags.c_contiguous
           for s in gpu_srcs):
        return False
    nccl = nccl_module()
    if nccl is None:
        return False
    dtype = _nccl_dtype(nccl, dst.dtype)
    if dtype is None:
        return False
    cupy = backend.xp
    comms = _communicators(nccl, devices)
    root = devices.index(dst.device.id)
    nccl.groupStart()
    try:
        for comm, src, dev in zip(comms, gpu_srcs, devices):
            with cupy.cuda.Device(dev):
                stream = cupy.cuda.get_current_stream().ptr
                # in place on the root (sendbuf == recvbuf); other ranks only send
                comm.reduce(src.data.ptr, src.data.ptr, src.size, dtype, nccl.NCCL_SUM, root,
                            stream)
    finally:
        nccl.groupEnd()
    return True


def _peer_copy(backend, target, src):
    """Copy the GPU array ``src`` (another device) into ``target`` on the current device.

    The bytes move with one ``cudaMemcpyPeerAsync`` on the current device's stream, after
    the source device's queued work (an event the stream waits on). Strided arrays are made
    contiguous on their own device first (and land in a staging buffer when ``target`` is
    strided), so no kernel ever reads another device's memory.
    """
    cupy = backend.xp
    ev = backend.event(src.device.id)
    with cupy.cuda.Device(src.device.id):
        if not src.flags.c_contiguous:
            src = cupy.ascontiguousarray(src)
        ev.record(cupy.cuda.get_current_stream())
    stream = cupy.cuda.get_current_stream()
    stream.wait_event(ev)
    here = cupy.cuda.Device().id
    landing = target if target.flags.c_contiguous else \
        backend.staging(("strided",), src.shape, src.dtype, here)
    landing.data.copy_from_device_async(src.data, src.nbytes, stream)
    if landing is not target:
        cupy.copyto(target, landing.reshape(target.shape))


def reduce_sum_into(backend, dst, srcs, src_backends=None):
    cupy = backend.xp
    if src_backends is None:
        src_backends = [backend] * len(srcs)
    here = dst.device.id
    mine = [s for s, b in zip(srcs, src_backends) if b is backend and backend.owns(s)]
    foreign = [(s, b) for s, b in zip(srcs, src_backends)
               if not (b is backend and backend.owns(s))]
    with cupy.cuda.Device(here):
        started = _try_nccl(backend, dst, mine)
        if started:
            mine = []
        else:
            started = any(s is dst for s in mine)
        for slot, src in enumerate(mine):
            if src is dst:
                continue
            if src.device.id == here:
                part = src
            elif not started and src.shape == dst.shape and src.dtype == dst.dtype:
                _peer_copy(backend, dst, src)   # first value: straight into dst
                started = True
                continue
            else:
                part = backend.staging(("peer", slot), src.shape, src.dtype, here)
                _peer_copy(backend, part, src)
            if started:
                cupy.add(dst, part.reshape(dst.shape), out=dst, casting="unsafe")
            else:
                cupy.copyto(dst, part.reshape(dst.shape), casting="unsafe")
                started = True
        for slot, (src, other) in enumerate(foreign):
            host = src if isinstance(src, np.ndarray) else other.to_host(src)
            if not started:
                backend.copy_from_host(dst, host)
                started = True
                continue
            part = backend.staging(("host", slot), dst.shape, dst.dtype, here)
            backend.copy_from_host(part, host)
            cupy.add(dst, part, out=dst, casting="unsafe")
        if not started:
            dst.fill(0)
