"""GPU kernels against the cpu backend, to float32 tolerance (needs a usable GPU).

Every kernel the CUDA plugin registers is run on attribute variants that reach each of its
branches (fused fast paths and the generic fallbacks) and compared with the operator's
generic kernel on the cpu backend (the one definition of its semantics), and so is every
conformance case of the generic operators run with the GPU's kernels.
Forward outputs, auxiliary states, gradients with ``grad_req='write'`` and accumulation with
``'add'`` must match.
"""
import numpy as np
import pytest

from gradloom.testing import assert_almost_equal, bind_op
from gradloom.testing.conformance.cases import CASES

from gpu_cases import GPU_CASES, compare, run_op

pytestmark = pytest.mark.gpu


# float32: sums over up to ~10^4 terms (convolution weight gradients) in another order;
# float64 shows that the formulas are the same, not merely close
TOLERANCES = [pytest.param("float32", 1e-4, 1e-4, id="f32"),
              pytest.param("float64", 1e-7, 1e-9, id="f64")]


@pytest.mark.parametrize("dtype,rtol,atol", TOLERANCES)
@pytest.mark.parametrize("op,attrs,shapes,kinds,aux,fast", GPU_CASES)
def test_registered_gpu_kernel_matches_cpu(gpu, cpu, op, attrs, shapes, kinds, aux, fast,
                                           dtype, rtol, atol):
    gpu_result = run_op(op, attrs, shapes, kinds, aux, gpu, dtype=dtype)
    kernel = gpu_result[0].kernel
    assert type(kernel).__module__.startswith("gradloom_cuda.kernels")
    assert getattr(kernel, "fast", True) is fast
    compare(op, gpu_result, run_op(op, attrs, shapes, kinds, aux, cpu, generic=True,
                                   dtype=dtype), rtol, atol)
    if op == "BatchNorm" and not attrs.get("use_global_stats"):
        # inference forward: moving statistics instead of batch statistics
        compare(op + "-inference",
                run_op(op, attrs, shapes, kinds, aux, gpu, is_train=False, dtype=dtype),
                run_op(op, attrs, shapes, kinds, aux, cpu, is_train=False, generic=True,
                       dtype=dtype), rtol, atol)


DETERMINISTIC = [pytest.param(case, id=case.id) for case in CASES if case.grad != "mask"]


@pytest.mark.parametrize("case", DETERMINISTIC)
def test_generic_operator_matches_cpu(gpu, cpu, case):
    if not case.shapes:
        bound = bind_op(case.op, case.attrs, [], gpu)
        c_bound = bind_op(case.op, case.attrs, [], cpu)
        assert_almost_equal(bound.forward([]), c_bound.forward([]), 0, 0)
        return
    # the generic definition on numpy is the reference (the suite's test_matches_cpu
    # compares with the cpu backend's own kernels)
    args = (case.op, case.attrs, case.shapes, case.kinds, case.aux)
    compare(case.id, run_op(*args, gpu, case.is_train),
            run_op(*args, cpu, case.is_train, generic=True), 1e-4, 1e-4)


def test_dropout_mask_and_gradient_on_gpu(gpu):
    bound = bind_op("Dropout", {"p": 0.5}, [(64, 32)], gpu)
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    gpu.seed(3)
    out, mask = bound.forward([x], is_train=True)
    assert set(np.unique(mask)) <= {0.0, 2.0} and 0 < (mask == 0).sum() < mask.size
    assert_almost_equal(out, x * mask, 1e-6, 1e-6)
    g = np.ones_like(x)
    assert_almost_equal(bound.backward([g])[0], mask, 0, 0)
