"""Every CUDA source of the GPU kernels compiles with NVRTC (no GPU needed).

Raw modules are compiled as cupy would compile them (same options, every template
instantiation). Elementwise and reduction specs are wrapped into a stand-alone kernel with
the parameter types cupy would substitute (T = float and double), which catches syntax and
type errors in the operation strings. Skipped with the reason when cupy or its NVRTC library
is not installed (``pip install cupy-cuda13x nvidia-cuda-nvrtc``).
"""
import re
import warnings

import pytest

from gradloom_cuda.kernels import _cuda

_ARCH = "90"


def _nvrtc():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from cupy.cuda import compiler, nvrtc
            nvrtc.getVersion()
    except Exception as exc:   # ImportError, or the NVRTC shared library is missing
        pytest.skip(f"cupy with NVRTC is needed to compile kernels here: {exc}")
    return compiler


def _ctype(token, real):
    return {"T": real, "L": "float", "int64": "long long", "int32": "int", "float64": "double",
            "float32": "float", "bool": "bool"}[token]


def _params(spec, real):
    out = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        words = part.split()
        if words[0] == "raw":
            out.append(f"{_ctype(words[1], real)}* {words[2]}")
        else:
            out.append(f"{_ctype(words[0], real)} {words[1]}")
    return out


def _standalone(name, spec, real):
    kind = spec[0]
    if kind == "elementwise":
        _, ins, outs, op, preamble = spec
        params = ", ".join(_params(ins, real) + _params(outs, real))
        body = f"ptrdiff_t i = threadIdx.x; (void)i; typedef {real} T; {op}"
        return f"{preamble}\n__global__ void check_{name}({params}) {{ {body} }}\n"
    _, ins, outs, map_expr, reduce_expr, post_map, identity, reduce_type = spec
    params = ", ".join(_params(ins, real) + _params(outs, real))
    rtype = _ctype(reduce_type, real) if reduce_type else real
    body = (f"typedef {real} T; {rtype} a = {identity}; {rtype} b = ({map_expr}); "
            f"a = ({reduce_expr}); {post_map};")
    return f"__global__ void check_{name}({params}) {{ {body} }}\n"


def _compile(compiler, source, name_expressions):
    # an explicit target architecture: the default asks the (absent) GPU for its own
    compiler.compile_using_nvrtc(source, options=("--std=c++14", "-dlto"), arch=_ARCH,
                                 name_expressions=name_expressions, method="lto")


@pytest.mark.parametrize("name", sorted(_cuda.SPECS))
def test_kernel_source_compiles(name):
    compiler = _nvrtc()
    spec = _cuda.SPECS[name]
    if spec[0] == "raw":
        _, source, exprs = spec
        _compile(compiler, source, list(exprs))
        return
    for real in ("float", "double"):
        _compile(compiler, _standalone(name, spec, real), None)


def test_every_kernel_module_declares_its_sources():
    from gradloom_cuda import kernels
    assert set(kernels.KERNELS) >= {"Activation", "SoftmaxOutput", "BatchNorm", "Convolution",
                                    "Pooling", "FullyConnected"}
    names = set(_cuda.SPECS)
    for expected in ("relu_fwd", "sigmoid_bwd_add", "softrelu_bias_fwd", "softmax_rows",
                     "softmax_output_grad", "count_not_ignored", "bn_var", "bn_apply",
                     "bn_dx_write", "im2col", "pool2d", "add_bias"):
        assert expected in names
    # raw sources are templates instantiated for both float widths
    for name, spec in _cuda.SPECS.items():
        if spec[0] == "raw":
            assert all(re.search(r"<(float|double)>$", e) for e in spec[2])


def test_every_spec_builds_a_cupy_kernel_object():
    """cupy parses parameter lists when a kernel object is made (no GPU needed for that)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cupy  # noqa: F401
    except Exception as exc:
        pytest.skip(f"cupy is not installed here: {exc}")
    for name, spec in _cuda.SPECS.items():
        build = {"elementwise": _cuda.elementwise, "reduction": _cuda.reduction,
                 "raw": _cuda.raw_module}[spec[0]]
        assert build(name) is build(name)      # built once, then cached
