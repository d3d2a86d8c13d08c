"""Building and launching cupy kernels: declared once at import, compiled on first launch.

Kernel *specs* (source strings) are plain module-level data, so importing a kernel module
never imports cupy. ``elementwise(name)``, ``reduction(name)`` and ``raw(name, fn)`` build the
cupy objects lazily, once per process (cupy then compiles per device on first launch and
caches the binary on disk). ``SPECS`` lists every spec so tests can compile them all with
NVRTC on a machine without a GPU.
"""
import functools

import numpy as np

#: name -> ("elementwise", in_params, out_params, operation, preamble)
#:       | ("reduction", in_params, out_params, map, reduce, post_map, identity, reduce_type)
#:       | ("raw", source, (template name expressions...))
SPECS = {}

#: dtypes the hand-written kernels handle; other dtypes use the generic kernels
FLOATS = ("float32", "float64")

# numeric helpers shared by the raw kernels (NVRTC has no <cmath> constants)
RAW_PRELUDE = r"""
template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() {
    return __int_as_float(0xff800000);
}
template <> __device__ __forceinline__ double neg_inf<double>() {
    return __longlong_as_double(0xfff0000000000000ULL);
}
"""


def declare_elementwise(name, in_params, out_params, operation, preamble=""):
    SPECS[name] = ("elementwise", in_params, out_params, operation, preamble)
    return name


def declare_reduction(name, in_params, out_params, map_expr, reduce_expr, post_map_expr,
                      identity, reduce_type=None):
    SPECS[name] = ("reduction", in_params, out_params, map_expr, reduce_expr, post_map_expr,
                   identity, reduce_type)
    return name


def declare_raw(name, source, name_expressions):
    SPECS[name] = ("raw", RAW_PRELUDE + source, tuple(name_expressions))
    return name


def cupy():
    import cupy as cp
    return cp


@functools.lru_cache(maxsize=None)
def elementwise(name):
    _, ins, outs, op, preamble = SPECS[name]
    return cupy().ElementwiseKernel(ins, outs, op, name=f"gradloom_{name}", preamble=preamble)


@functools.lru_cache(maxsize=None)
def reduction(name):
    _, ins, outs, map_expr, reduce_expr, post_map, identity, reduce_type = SPECS[name]
    return cupy().ReductionKernel(ins, outs, map_expr, reduce_expr, post_map, identity,
                                  name=f"gradloom_{name}", reduce_type=reduce_type)


@functools.lru_cache(maxsize=None)
def raw_module(name):
    _, source, exprs = SPECS[name]
    return cupy().RawModule(code=source, options=("--std=c++14",), name_expressions=exprs)


def raw(name, function, dtype):
    """The ``function<T>`` kernel of module ``name`` for ``dtype`` (float32 / float64)."""
    ctype = "float" if np.dtype(dtype) == np.float32 else "double"
    return raw_module(name).get_function(f"{function}<{ctype}>")


THREADS = 256


def grid(n, threads=THREADS):
    """Blocks for ``n`` threads of work (at least one block)."""
    return (max(1, -(-int(n) // threads)),)


_MAX_BLOCKS = 65535 * 32   # grid-stride loops cover the rest


def capped_grid(total):
    """Blocks for a grid-stride kernel over ``total`` items, at most ``_MAX_BLOCKS``."""
    return (min(grid(total)[0], _MAX_BLOCKS),)


class GenericFallback:
    """For a GPU kernel class that subclasses the operator's generic kernel
    (``generic_kernel``) and sets ``fast`` in ``setup()``: ``_generic(method, *args)`` runs
    the generic math for the cases the hand-written kernels do not cover."""

    generic_kernel = None

    def _generic(self, method, *args):
        """Unsupported cases (other ranks or dtypes) and strided views: the generic math,
        from a generic kernel bound to the same shapes (the fast buffers use another
        layout)."""
        if not self.fast:
            # setup() was the generic one: this object holds the generic buffers
            return getattr(self.generic_kernel, method)(self, *args)
        fallback = self.__dict__.get("_fallback")
        if fallback is None:
            fallback = self._fallback = self.generic_kernel(
                self.op, self.attrs, self.in_shapes, self.out_shapes, self.dtypes,
                self.backend, self.device_id)
        return getattr(fallback, method)(*args)


def fast_dtype(dtypes):
    """True when every dtype is one the hand-written kernels handle."""
    return all(np.dtype(d).name in FLOATS for d in dtypes)


def contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)
