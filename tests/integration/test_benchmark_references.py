"""The hand-written numpy steps of ``benchmarks/numpy_reference.py`` compute what the
executor computes: their ratio to PyTorch is a fair ceiling for the executor's."""
import os
import sys

import numpy as np
import pytest

import gradloom as mx

BENCHMARKS = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")
sys.path.insert(0, BENCHMARKS)
from _common import build  # noqa: E402
from numpy_reference import STEPS  # noqa: E402


@pytest.mark.parametrize("network", sorted(STEPS))
def test_reference_gradients_match_the_executor(network):
    batch = 16
    ref = STEPS[network](batch)
    ref.step()
    sym = build(mx, network)
    req = {n: "null" if n in ("data", "softmax_label") else "write"
           for n in sym.list_arguments()}
    exe = sym.simple_bind(mx.cpu(), data=ref.data.shape, grad_req=req)
    for name, value in ref.params.items():
        exe.arg_dict[name][:] = value
    exe.arg_dict["data"][:] = ref.data
    exe.arg_dict["softmax_label"][:] = ref.label.astype(np.float32)
    exe.forward(is_train=True)
    exe.backward()
    assert sorted(ref.grads) == sorted(n for n, r in req.items() if r == "write")
    for name, grad in ref.grads.items():
        expected = exe.grad_dict[name].asnumpy()
        scale = np.abs(expected).max()
        assert scale > 0, name
        np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5 * scale, err_msg=name)
