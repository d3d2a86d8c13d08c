"""GEMMs cut over the host's threads by gradloom, each piece on one BLAS thread.

OpenBLAS splits every large GEMM statically over its threads and waits for the slowest,
and after each call its threads keep spinning for a while. Both hurt a training step that
alternates GEMMs with element-wise work: on a host shared with other work a GEMM that takes
8 ms on one thread took 40-60 ms on two (2-core machine at load 5), and the spinning
threads take the cores that ``_parallel`` would use for the element-wise loops.

So while a CPU executor runs a step of a graph that asks for it (``blas_section``; see
``gradloom_cpu.executor``), numpy's OpenBLAS is set to one thread and the kernels' products
are cut into row or column blocks that the caller and the helper threads of ``_parallel``
take from a shared counter: on an idle host every core works, on a busy one the caller
computes more blocks itself. Measured
on a 2-core host at load 1.5, LeNet's step went from 1.08x to 1.31x PyTorch's speed. (A
BLAS call from another Python thread during the step also runs on one thread.)

OpenBLAS is found among the loaded libraries (numpy's bundled copy names its functions
with a ``scipy_`` prefix and ``64_`` suffix). Without it — another BLAS, or one thread —
nothing changes: products run as one call with the BLAS's own threading.
"""
import ctypes
import threading

import numpy as np

from . import _parallel

MIN_MACS = 1 << 21   # smaller products: one call (a hand-off costs tens of microseconds)
# a small output over a long reduction (a convolution's weight gradient): row or column
# blocks would each read a whole operand again, so such a product is cut along the
# reduction instead, into caller-given partial results that are summed (or, without them,
# stays one call)
MIN_OUTPUT = 1 << 14

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


class _Section:
    """Process-wide single-threaded-BLAS state; nested and concurrent steps share it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.saved = 0          # BLAS threads before the outermost section (0: not set)

    def __enter__(self):
        with self.lock:
            if self.depth == 0:
                self.saved = 0
                functions = _Blas.get() if _parallel.SPLITTER.threads > 1 else None
                if functions is not None:
                    threads = functions[1]()
                    if threads > 1:
                        functions[0](1)
                        self.saved = threads
            self.depth += 1

    def __exit__(self, *exc):
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.saved:
                _Blas.functions[0](self.saved)
                self.saved = 0


blas_section = _Section()


def matmul(a, b, out, split="rows", partials=None):
    """``np.matmul(a, b, out=out)`` for 2-D operands; inside ``blas_section``, large
    products are cut into row (of ``a``/``out``) or column (of ``b``/``out``) blocks, or,
    when the output is small and ``partials`` (``(parts, *out.shape)``) is given, along
    the reduction."""
    m, k = a.shape
    n = b.shape[1]
    if not blas_section.saved or m * k * n < MIN_MACS:
        np.matmul(a, b, out=out)
        return
    if out.size < MIN_OUTPUT:
        if partials is None:
            np.matmul(a, b, out=out)
            return
        ranges = _parallel.bounds(k, len(partials))
        _parallel.SPLITTER.run(_matmul_into, [(a[:, s:e], b[s:e], partials[i])
                                              for i, (s, e) in enumerate(ranges)])
        np.add.reduce(partials[:len(ranges)], axis=0, out=out)
        return
    # one block per thread: smaller GEMMs lose efficiency (4 row blocks of a 256-row
    # product cost 13% more than one, 2 blocks 6%); an idle helper's block is still taken
    # over by the caller
    chunks = _parallel.SPLITTER.threads
    if split == "rows":
        parts = [(a[s:e], b, out[s:e]) for s, e in _parallel.bounds(m, chunks)]
    else:
        parts = [(a, b[:, s:e], out[:, s:e]) for s, e in _parallel.bounds(n, chunks)]
    _parallel.SPLITTER.run(_matmul_into, parts)


def _matmul_into(a, b, out):
    np.matmul(a, b, out=out)
