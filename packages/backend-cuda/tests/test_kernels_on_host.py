"""The GPU kernel classes, run on the host: their CUDA sources compiled with g++.

``host_cuda`` compiles every kernel spec for the host and patches the kernel modules so that
each GPU kernel class builds host stand-ins instead of cupy kernels; with the cpu backend's
numpy as ``xp`` the classes then run their own buffers, views, argument lists, fallbacks
and CUDA arithmetic. They must match the operator's generic kernel exactly (float64) and to
float32 tolerance, for every variant in ``gpu_cases`` - and the executor's bias/activation
fusion must not change any number. Skipped with the reason when no host C++ compiler exists.
"""
import shutil

import numpy as np
import pytest

import gradloom as mx
from gradloom.executor import BindRequest
from gradloom_cuda.executor import CudaExecutor
from gradloom_cuda.kernels import KERNELS

import host_cuda
from gpu_cases import GPU_CASES, compare, run_op


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no host C++ compiler (g++) to build the CUDA sources for the host")
    return host_cuda.HostKernels(str(tmp_path_factory.mktemp("hostcuda")))


@pytest.fixture
def emulated(monkeypatch, host_kernels):
    host_cuda.patch_kernel_modules(monkeypatch, host_kernels)


# float32: sums over up to ~10^4 terms (convolution weight gradients) in another order
@pytest.mark.parametrize("dtype,rtol,atol", [("float64", 1e-9, 1e-11),
                                             ("float32", 1e-4, 1e-4)])
@pytest.mark.parametrize("op,attrs,shapes,kinds,aux,fast", GPU_CASES)
def test_gpu_kernel_class_on_host_matches_generic(emulated, cpu, op, attrs, shapes, kinds,
                                                  aux, fast, dtype, rtol, atol):
    got = run_op(op, attrs, shapes, kinds, aux, cpu, kernel=KERNELS[op], dtype=dtype)
    assert type(got[0].kernel) is KERNELS[op]
    assert getattr(got[0].kernel, "fast", True) is fast
    want = run_op(op, attrs, shapes, kinds, aux, cpu, generic=True, dtype=dtype)
    compare(op, got, want, rtol, atol, ("host-run GPU kernel", "generic"))
    if op == "BatchNorm" and not attrs.get("use_global_stats"):
        compare(op + "-inference",
                run_op(op, attrs, shapes, kinds, aux, cpu, is_train=False,
                       kernel=KERNELS[op], dtype=dtype),
                run_op(op, attrs, shapes, kinds, aux, cpu, is_train=False, generic=True,
                       dtype=dtype), rtol, atol, ("host-run GPU kernel", "generic"))


def _net():
    data = mx.sym.Variable("data")
    c = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv")
    c = mx.sym.Activation(c, act_type="relu", name="crelu")
    c = mx.sym.Pooling(c, kernel=(2, 2), stride=(2, 2), name="pool")
    h = mx.sym.FullyConnected(mx.sym.Flatten(c), num_hidden=12, name="fc1")
    h = mx.sym.Activation(h, act_type="softrelu", name="act1")
    h = mx.sym.FullyConnected(h, num_hidden=8, name="fc2")
    h = mx.sym.Activation(h, act_type="sigmoid", name="act2")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=5, name="fc3"),
                                name="softmax")


def test_fused_executor_on_host_matches_the_generic_engine(emulated, cpu, monkeypatch):
    from gradloom.plugins import load_plugins
    sym = _net()
    plain = sym.simple_bind(mx.cpu(), data=(6, 2, 8, 8))
    rng = np.random.default_rng(0)
    for name, arr in plain.arg_dict.items():
        arr[:] = (rng.integers(0, 5, arr.shape) if name.endswith("label")
                  else rng.standard_normal(arr.shape) * 0.5).astype(np.float32)
    # the GPU kernel classes for this executor only
    registry = load_plugins().kernels
    monkeypatch.setattr(registry, "lookup", lambda op, device: KERNELS.get(op))
    args = [a.copy() for a in plain.arg_raw]
    grads = [None if g is None else np.zeros_like(g) for g in plain.grad_raw]
    fused = CudaExecutor(cpu, BindRequest(symbol=sym, ctx=mx.cpu(), device_id=0, args=args,
                                          args_grad=grads, aux_states=[],
                                          grad_req=list(plain.grad_req.values())))
    monkeypatch.undo()
    assert len(fused._fusion_pairs) == 3      # conv+relu, fc1+softrelu, fc2+sigmoid
    for monitored in (False, True):
        if monitored:
            fused.set_monitor_callback(lambda name, arr: None)
            assert not any(fused._kernels[i].defer_bias for i, _, _ in fused._fusion_pairs)
        for ex in (plain, fused):
            ex.forward(is_train=True)
            ex.backward()
        np.testing.assert_allclose(fused.outputs[0].asnumpy(), plain.outputs[0].asnumpy(),
                                   rtol=1e-5, atol=1e-6)
        for name, g in plain.grad_dict.items():
            if g is not None and not name.endswith("label"):
                np.testing.assert_allclose(fused.grad_dict[name].asnumpy(), g.asnumpy(),
                                           rtol=1e-4, atol=1e-6, err_msg=name)
