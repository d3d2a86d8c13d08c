"""GEMMs cut over the host's threads by gradloom, each piece on one BLAS thread.

OpenBLAS splits every large GEMM statically over its threads and waits for the slowest. On
a host shared with other work one of them is often descheduled, and a GEMM that takes 8 ms
on one thread took 40-60 ms on two (measured on a 2-core machine at load 5). For the large
products of the CPU kernels, numpy's OpenBLAS is told to use one thread for the duration of
the call, and the product is cut into row or column blocks that the caller and the helper
threads of ``_parallel`` take from a shared counter: on an idle host every core works, on
a busy one the caller simply computes more blocks itself. (Another Python thread's BLAS
call during those milliseconds also runs on one thread.)

OpenBLAS is found among the loaded libraries (numpy's bundled copy names its functions
with a ``scipy_`` prefix and ``64_`` suffix). Without it — another BLAS, or one thread —
nothing changes: products run as one call with the BLAS's own threading.
"""
import ctypes

import numpy as np

from . import _parallel

MIN_MACS = 1 << 21   # smaller products: one call (a hand-off costs tens of microseconds)

_NAMES = [("openblas_set_num_threads", "openblas_get_num_threads"),
          ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
          ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads")]


def _find_openblas():
    """(set, get) thread-count functions of the OpenBLAS numpy uses, or None."""
    np.dot(np.ones((2, 2)), np.ones((2, 2)))   # make sure the BLAS library is loaded
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps
                     if "openblas" in line.lower() and ".so" in line}
    except OSError:   # not Linux
        return None
    for path in sorted(paths):
        if not path.startswith("/"):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                setter, getter = getattr(lib, set_name), getattr(lib, get_name)
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


class _Blas:
    """The OpenBLAS thread-count functions, looked up on first use."""

    searched = False
    functions = None

    @classmethod
    def get(cls):
        if not cls.searched:
            cls.functions = _find_openblas()
            cls.searched = True
        return cls.functions


def matmul(a, b, out, split="rows"):
    """``np.matmul(a, b, out=out)`` for 2-D operands, cut into row (of ``a``/``out``) or
    column (of ``b``/``out``) blocks over threads inside a single-threaded BLAS section."""
    m, k = a.shape
    n = b.shape[1]
    splitter = _parallel.SPLITTER
    functions = _Blas.get() if m * k * n >= MIN_MACS and splitter.threads > 1 else None
    if functions is None:
        np.matmul(a, b, out=out)
        return
    setter, getter = functions
    saved = getter()
    if saved <= 1:        # BLAS deliberately on one thread: so are we
        np.matmul(a, b, out=out)
        return
    # one block per thread: smaller GEMMs lose efficiency (4 row blocks of a 256-row
    # product cost 13% more than one, 2 blocks 6%); an idle helper's block is still taken
    # over by the caller
    chunks = splitter.threads
    if split == "rows":
        parts = [(a[s:e], b, out[s:e]) for s, e in _parallel.bounds(m, chunks)]
    else:
        parts = [(a, b[:, s:e], out[:, s:e]) for s, e in _parallel.bounds(n, chunks)]
    setter(1)
    try:
        splitter.run(_matmul_into, parts)
    finally:
        setter(saved)


def _matmul_into(a, b, out):
    np.matmul(a, b, out=out)
