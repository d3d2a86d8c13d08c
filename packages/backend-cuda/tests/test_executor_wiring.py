"""The CUDA executor's overrides and the bias/activation fusion planner, on the host.

``CudaExecutor`` only adds device scopes, input copies and fusion to the generic engine; run
with the cpu backend (whose device scope is a no-op and whose kernels never fuse) it must
behave exactly like the generic executor, which checks that it uses the engine's real
attributes and method signatures. The planner is checked on real bound graphs with stand-in
kernels that offer what the GPU kernels offer (``can_defer_bias``, ``accepts_bias``).
"""
import numpy as np

import gradloom as mx
from gradloom.executor import BindRequest
from gradloom_cuda import fusion
from gradloom_cuda.executor import CudaExecutor


def _mlp():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=6, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def _fill(ex, seed=0):
    rng = np.random.default_rng(seed)
    for name, arr in ex.arg_dict.items():
        if name == "softmax_label":
            arr[:] = rng.integers(0, 3, arr.shape).astype(np.float32)
        else:
            arr[:] = rng.standard_normal(arr.shape).astype(np.float32)


def test_cuda_executor_on_the_host_backend_matches_the_generic_engine(cpu):
    sym = _mlp()
    ex = sym.simple_bind(mx.cpu(), data=(4, 5))
    _fill(ex)
    ex.forward(is_train=True)
    ex.backward()
    expected_out = ex.outputs[0].asnumpy().copy()
    expected_grads = {k: v.asnumpy().copy() for k, v in ex.grad_dict.items() if v is not None}
    for g in ex.grad_arrays:
        if g is not None:
            g[:] = 0
    # the same arrays, bound by the CUDA executor's code
    request = BindRequest(symbol=sym, ctx=mx.cpu(), device_id=0, args=ex.arg_raw,
                          args_grad=ex.grad_raw, aux_states=ex.aux_raw,
                          grad_req=list(ex.grad_req.values()))
    cex = CudaExecutor(cpu, request)
    assert cex._fusion_pairs == []                # host kernels offer no fusion
    x = ex.arg_dict["data"].asnumpy().copy()
    cex.forward(is_train=True, data=mx.nd.array(x))
    cex.backward()
    np.testing.assert_allclose(cex.outputs[0].asnumpy(), expected_out, rtol=1e-6)
    for name, value in expected_grads.items():
        np.testing.assert_allclose(cex.grad_dict[name].asnumpy(), value, rtol=1e-5, atol=1e-7)
    seen = []
    cex.set_monitor_callback(lambda name, arr: seen.append(name))
    cex.forward(is_train=False)
    assert "fc1_output" in seen
    cex.copy_params_from({"fc1_bias": mx.nd.ones((6,))})
    assert (cex.arg_dict["fc1_bias"].asnumpy() == 1).all()


class _Layer:
    can_defer_bias = True

    def __init__(self, view):
        self.view = view
        self.defer_bias = False

    def bias_views(self):
        return self.view, (1, self.view[1])


class _Act:
    accepts_bias = True

    def __init__(self):
        self.bias = None

    def set_bias(self, bias, view, bias_view):
        self.bias = None if bias is None else (bias, view, bias_view)


def _stand_ins(plan):
    kernels = []
    for i, node in enumerate(plan.order):
        name = node.op.name if node.op is not None else None
        if name == "FullyConnected":
            kernels.append(_Layer(plan.shapes[plan.row_ptr[i]]))
        elif name == "Activation":
            kernels.append(_Act())
        else:
            kernels.append(None)
    return kernels


def _index(plan, name):
    return next(i for i, n in enumerate(plan.order) if n.name == name)


def test_fusion_pairs_a_layer_with_its_only_consumer():
    ex = _mlp().simple_bind(mx.cpu(), data=(4, 5))
    plan = ex._plan
    kernels = _stand_ins(plan)
    pairs = fusion.find_pairs(plan, kernels)
    fc1, relu1 = _index(plan, "fc1"), _index(plan, "relu1")
    bias_eid = plan.input_eids(fc1)[2]
    assert pairs == [(fc1, relu1, bias_eid)]          # fc2 feeds the loss: not fused
    fusion.apply(pairs, kernels, ex._values, True)
    assert kernels[fc1].defer_bias
    bias, view, bview = kernels[relu1].bias
    assert bias is ex.arg_dict["fc1_bias"].raw and view == (4, 6) and bview == (1, 6)
    fusion.apply(pairs, kernels, ex._values, False)
    assert not kernels[fc1].defer_bias and kernels[relu1].bias is None


def test_no_fusion_when_the_layer_output_is_shared_or_an_output():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    act = mx.sym.Activation(fc, act_type="tanh", name="act")
    shared = mx.sym.elemwise_add(act, fc, name="plus")         # fc read twice
    exposed = mx.sym.Group([mx.sym.Activation(mx.sym.FullyConnected(
        data, num_hidden=4, name="fc_b"), act_type="relu", name="act_b"),
        mx.sym.FullyConnected(data, num_hidden=4, name="fc_c")])
    for sym in (shared, exposed):
        ex = sym.simple_bind(mx.cpu(), data=(2, 3))
        pairs = fusion.find_pairs(ex._plan, _stand_ins(ex._plan))
        names = [(ex._plan.order[i].name, ex._plan.order[j].name) for i, j, _ in pairs]
        assert ("fc", "act") not in names and ("fc_c", ) not in [n[:1] for n in names]
        if sym is exposed:
            assert names == [("fc_b", "act_b")]
        else:
            assert names == []
