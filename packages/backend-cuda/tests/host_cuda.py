"""Run the CUDA kernels' sources on the host, to check the GPU kernel classes without a GPU.

The CUDA C of every elementwise, reduction and raw kernel spec is compiled with the host C++
compiler behind a small shim (``__global__`` and friends become plain C++, one "thread"
walks each grid-stride loop), and stand-ins with cupy's calling conventions are built on top:

* ``ElementwiseKernel``: array arguments broadcast together, ``i`` the linear index, output
  arguments read and written in place;
* ``ReductionKernel``: inputs broadcast, reduced over ``axis`` into ``out``;
* ``RawKernel``: ``kernel(grid, block, args)`` with numpy arrays as device pointers.

Warp-level kernels (``__shfl_xor_sync``) cannot run one thread at a time; ``WARP_KERNELS``
gives numpy stand-ins for those few. With these patched into the kernel modules and the cpu
backend's numpy as ``xp``, a GPU kernel class runs its own orchestration (buffers, views,
argument order, fallbacks) and its own CUDA arithmetic on the host.
"""
import ctypes
import hashlib
import os
import re
import shutil
import subprocess

import numpy as np

from gradloom_cuda.kernels import _cuda

_SHIM = r"""
#include <cmath>
#include <cstring>
#include <cstddef>
#include <algorithm>
using namespace std;
struct _Dim { unsigned x; };
static _Dim blockIdx = {0}, blockDim = {1}, gridDim = {1}, threadIdx = {0};
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
static inline float __int_as_float(unsigned int v) { float f; memcpy(&f, &v, 4); return f; }
static inline double __longlong_as_double(unsigned long long v) {
    double d; memcpy(&d, &v, 8); return d;
}
"""

_CTYPES = {"T": None, "L": None, "int64": ctypes.c_longlong, "int32": ctypes.c_int,
           "float64": ctypes.c_double, "float32": ctypes.c_float, "bool": ctypes.c_bool}
_CNAMES = {"int64": "long long", "int32": "int", "float64": "double", "float32": "float",
           "bool": "bool"}
_REALS = {"float": np.float32, "double": np.float64}

#: kernels that use warp shuffles: numpy stand-ins taking the raw kernel's arguments
WARP_KERNELS = {}


def _softmax_rows(x, y, pairs, k, p):
    rows = int(pairs) // int(p)
    xv = x.reshape(rows, int(k), int(p)).astype(np.float64)
    e = np.exp(xv - xv.max(axis=1, keepdims=True))
    y.reshape(rows, int(k), int(p))[...] = e / e.sum(axis=1, keepdims=True)


WARP_KERNELS["softmax_rows"] = _softmax_rows


def _params(spec):
    out = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        words = part.split()
        raw = words[0] == "raw"
        if raw:
            words = words[1:]
        out.append((raw, words[0], words[1]))
    return out


def _ctype(token, real):
    return real if token in ("T", "L") else _CNAMES[token]


def _elementwise_source(name, spec, real):
    _, ins, outs, op, preamble = spec
    ins, outs = _params(ins), _params(outs)
    args, loads, stores = ["long long _n"], [], []
    for k, (raw, typ, var) in enumerate(ins + outs):
        c = _ctype(typ, real)
        if raw:
            args.append(f"{c}* {var}")
        elif typ in ("T", "L") or k >= len(ins):
            args.append(f"{c}* _p_{var}")
            loads.append(f"{c} {var} = _p_{var}[i];")
            if k >= len(ins):
                stores.append(f"_p_{var}[i] = {var};")
        else:
            args.append(f"{c} {var}")
    return (f"{preamble}\nextern \"C\" void ew_{name}_{real}({', '.join(args)}) {{\n"
            f"  typedef {real} T; typedef {real} L;\n"
            f"  for (ptrdiff_t i = 0; i < _n; ++i) {{ {' '.join(loads)} {{ {op} }} "
            f"{' '.join(stores)} }}\n}}\n")


def _reduction_source(name, spec, real):
    _, ins, outs, map_expr, reduce_expr, post_map, identity, reduce_type = spec
    ins, outs = _params(ins), _params(outs)
    rtype = _ctype(reduce_type, real) if reduce_type else real
    args, loads, outs_decl, stores = ["long long _n_out", "long long _n_red"], [], [], []
    for raw, typ, var in ins:
        c = _ctype(typ, real)
        if typ in ("T", "L"):
            args.append(f"{c}* _p_{var}")
            loads.append(f"{c} {var} = _p_{var}[_o * _n_red + _r];")
        else:
            args.append(f"{c} {var}")
    for raw, typ, var in outs:
        c = _ctype(typ, real)
        args.append(f"{c}* _p_{var}")
        outs_decl.append(f"{c} {var} = 0;")
        stores.append(f"_p_{var}[_o] = {var};")
    return (f"extern \"C\" void rd_{name}_{real}({', '.join(args)}) {{\n"
            f"  typedef {real} T; typedef {real} L;\n"
            f"  for (long long _o = 0; _o < _n_out; ++_o) {{\n"
            f"    {rtype} a = ({rtype})({identity});\n"
            f"    for (long long _r = 0; _r < _n_red; ++_r) {{ {' '.join(loads)} "
            f"{rtype} b = ({rtype})({map_expr}); a = ({reduce_expr}); }}\n"
            f"    {' '.join(outs_decl)} {post_map}; {' '.join(stores)}\n  }}\n}}\n")


_KERNEL_RE = re.compile(r"template\s*<typename T>\s*__global__\s+void\s+(\w+)\s*\(([^)]*)\)")


def _raw_wrappers(name, source):
    """``extern "C"`` entry points for every ``template <typename T>`` kernel of a module
    (compiled inside its own namespace: modules share helper definitions)."""
    found, code = {}, []
    for fn, params in _KERNEL_RE.findall(source):
        names, kinds = [], []
        for p in [q.strip() for q in params.split(",")]:
            names.append(re.split(r"[\s*]+", p)[-1])
            kinds.append("ptr" if "*" in p else "ll" if "long long" in p else "int")
        found[fn] = kinds
        for real in ("float", "double"):
            typed = re.sub(r"\bT\b", real, params)
            code.append(f"extern \"C\" void raw_{fn}_{real}({typed}) "
                        f"{{ m_{name}::{fn}<{real}>({', '.join(names)}); }}")
    return found, "\n".join(code)


class HostKernels:
    """Every spec of ``_cuda.SPECS`` compiled into one host library."""

    def __init__(self, workdir):
        compiler = shutil.which("g++") or shutil.which("c++")
        if compiler is None:
            raise RuntimeError("no host C++ compiler (g++) to build the kernel sources")
        parts, self.raw_kinds = [_SHIM], {}
        for name, spec in sorted(_cuda.SPECS.items()):
            if spec[0] == "raw":
                if name in WARP_KERNELS:
                    continue
                kinds, wrappers = _raw_wrappers(name, spec[1])
                self.raw_kinds.update(kinds)
                parts.append(f"namespace m_{name} {{\n{spec[1]}\n}}\n{wrappers}")
            else:
                build = _elementwise_source if spec[0] == "elementwise" else \
                    _reduction_source
                for real in ("float", "double"):
                    parts.append(build(name, spec, real))
        source = "\n".join(parts)
        digest = hashlib.sha1(source.encode()).hexdigest()[:12]
        lib = os.path.join(workdir, f"hostcuda_{digest}.so")
        if not os.path.exists(lib):
            src = os.path.join(workdir, f"hostcuda_{digest}.cpp")
            with open(src, "w") as fobj:
                fobj.write(source)
            proc = subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-std=c++14", "-o",
                                   lib, src], capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"host build of the kernel sources failed:\n{proc.stderr}")
        self.lib = ctypes.CDLL(lib)

    def function(self, prefix, name, real):
        return getattr(self.lib, f"{prefix}_{name}_{real}")


def _real(dtype):
    return "float" if np.dtype(dtype) == np.float32 else "double"


def _scalar(typ, value):
    return _CTYPES[typ](value.item() if hasattr(value, "item") else value)


def _ptr(array, keep):
    """A pointer to ``array``'s data; ``keep`` holds the array until the call returns."""
    assert isinstance(array, np.ndarray) and array.flags.c_contiguous, \
        "host kernels take contiguous host arrays"
    keep.append(array)
    return ctypes.c_void_p(array.ctypes.data)


class HostElementwise:
    def __init__(self, kernels, name):
        self.kernels, self.name = kernels, name
        _, ins, outs, _, _ = _cuda.SPECS[name]
        self.ins, self.outs = _params(ins), _params(outs)

    def __call__(self, *args):
        params = self.ins + self.outs
        assert len(args) == len(params), f"{self.name}: {len(args)} args for {len(params)}"
        arrays = [a for (raw, typ, _), a in zip(params, args)
                  if not raw and isinstance(a, np.ndarray)]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        real = _real(next(a.dtype for (raw, typ, _), a in zip(params, args)
                          if typ == "T" and isinstance(a, np.ndarray)))
        call, outs, keep = [ctypes.c_longlong(int(np.prod(shape, dtype=np.int64)))], [], []
        for k, ((raw, typ, var), a) in enumerate(zip(params, args)):
            if raw:
                call.append(_ptr(np.ascontiguousarray(a), keep))
            elif isinstance(a, np.ndarray):
                buf = np.ascontiguousarray(np.broadcast_to(a, shape)).copy()
                if k >= len(self.ins):
                    outs.append((a, buf))
                call.append(_ptr(buf, keep))
            else:
                call.append(_scalar(typ, a))
        self.kernels.function("ew", self.name, real)(*call)
        for dst, buf in outs:
            dst[...] = buf


class HostReduction:
    def __init__(self, kernels, name):
        self.kernels, self.name = kernels, name
        spec = _cuda.SPECS[name]
        self.ins, self.outs = _params(spec[1]), _params(spec[2])

    def __call__(self, *args, axis=None, out=None, keepdims=False):
        assert out is not None, "the GPU kernels always pass a preallocated out="
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        axes = tuple(range(len(shape))) if axis is None else \
            tuple(sorted(x % len(shape) for x in np.atleast_1d(axis)))
        kept = [d for d in range(len(shape)) if d not in axes]
        n_out = int(np.prod([shape[d] for d in kept], dtype=np.int64))
        n_red = int(np.prod([shape[d] for d in axes], dtype=np.int64))
        real = _real(arrays[0].dtype)
        call, keep = [ctypes.c_longlong(n_out), ctypes.c_longlong(n_red)], []
        for (raw, typ, var), a in zip(self.ins, args):
            if isinstance(a, np.ndarray):
                full = np.broadcast_to(a, shape).transpose(kept + list(axes))
                call.append(_ptr(np.ascontiguousarray(full).copy(), keep))
            else:
                call.append(_scalar(typ, a))
        result = np.empty(n_out, dtype=out.dtype)
        call.append(_ptr(result, keep))
        self.kernels.function("rd", self.name, real)(*call)
        out[...] = result.reshape(out.shape)


class HostRaw:
    def __init__(self, kernels, module, function, dtype):
        self.kernels, self.function, self.real = kernels, function, _real(dtype)
        self.warp = WARP_KERNELS.get(module)

    def __call__(self, grid, block, args):
        if self.warp is not None:
            return self.warp(*args)
        kinds = self.kernels.raw_kinds[self.function]
        call, keep = [], []
        for kind, a in zip(kinds, args):
            if kind == "ptr":
                call.append(_ptr(a, keep))
            elif kind == "ll":
                call.append(ctypes.c_longlong(int(a)))
            else:
                call.append(ctypes.c_int(int(a)))
        self.kernels.function("raw", self.function, self.real)(*call)


def patch_kernel_modules(monkeypatch, kernels):
    """Make every GPU kernel module build host stand-ins instead of cupy kernels."""
    from gradloom_cuda.kernels import (activation, batchnorm, convolution, dense, pooling,
                                       softmax_output)
    for module in (activation, batchnorm, convolution, dense, pooling, softmax_output):
        if hasattr(module, "elementwise"):
            monkeypatch.setattr(module, "elementwise",
                                lambda name: HostElementwise(kernels, name))
        if hasattr(module, "reduction"):
            monkeypatch.setattr(module, "reduction", lambda name: HostReduction(kernels, name))
        if hasattr(module, "raw"):
            monkeypatch.setattr(module, "raw",
                                lambda mod, fn, dtype: HostRaw(kernels, mod, fn, dtype))
