"""Fused activation kernels (one pass each way) for ``Activation`` and ``relu``/``sigmoid``/
``tanh``, with an optional bias added in the same pass.

Forward computes ``y = f(x [+ bias])``; backward ``dx = g * f'(y)`` from the OUTPUT only
(``relu``: y > 0 exactly when x > 0), so an executor may hand the bias-add of the producing
FullyConnected/Convolution to this kernel (see ``gradloom_cuda.fusion``) without changing any
gradient. Other activations (softsign) and dtypes run the generic kernel.
"""
from gradloom.ops.activation import ActivationKernel
from gradloom.ops.elementwise import UnaryMathKernel

from ._cuda import declare_elementwise, elementwise, fast_dtype

# f(v) and f'(y) written against the template type T
_FORWARD = {
    "relu": "v > (T)0 ? v : (T)0",
    # 0.5 (1 + tanh(v/2)): no overflow for large |v| (same formula as the generic kernel)
    "sigmoid": "(T)0.5 * tanh((T)0.5 * v) + (T)0.5",
    "tanh": "tanh(v)",
    # log(1 + e^v) = max(v, 0) + log1p(e^-|v|), without overflow
    "softrelu": "fmax(v, (T)0) + log1p(exp(-fabs(v)))",
}
_GRAD = {
    "relu": "(y > (T)0 ? g : (T)0)",
    "sigmoid": "g * y * ((T)1 - y)",
    "tanh": "g * ((T)1 - y * y)",
    "softrelu": "g * -expm1(-y)",     # sigmoid(x) = 1 - e^-y
}
FUSED = tuple(_FORWARD)

for _act, _f in _FORWARD.items():
    declare_elementwise(f"{_act}_fwd", "T x", "T y", f"T v = x; y = {_f};")
    declare_elementwise(f"{_act}_bias_fwd", "T x, T b", "T y", f"T v = x + b; y = {_f};")
    declare_elementwise(f"{_act}_bwd_write", "T y, T g", "T dx", f"dx = {_GRAD[_act]};")
    declare_elementwise(f"{_act}_bwd_add", "T y, T g", "T dx", f"dx += {_GRAD[_act]};")


class _FusedActivation:
    """Mixin: ``self.act`` names the activation; ``set_bias`` lets an executor fuse a bias."""

    def _setup_fused(self, act):
        self.act = act
        self.fast = act in FUSED and fast_dtype(self.dtypes["in"] + self.dtypes["out"])
        self.bias = None        # (bias array, data view shape, bias view shape) when fused
        if self.fast:
            self._fwd = elementwise(f"{act}_fwd")
            self._fwd_bias = elementwise(f"{act}_bias_fwd")
            self._bwd = {"write": elementwise(f"{act}_bwd_write"),
                         "add": elementwise(f"{act}_bwd_add")}

    @property
    def accepts_bias(self):
        return self.fast

    def set_bias(self, bias, data_view, bias_view):
        """Add ``bias`` (viewed as ``bias_view``) to the input before the activation;
        ``None`` turns fusion off."""
        self.bias = None if bias is None else (bias, data_view, bias_view)

    def forward(self, is_train, inputs, outputs, aux):
        if not self.fast:
            return super().forward(is_train, inputs, outputs, aux)
        if self.bias is None:
            self._fwd(inputs[0], outputs[0])
        else:
            bias, view, bview = self.bias
            self._fwd_bias(inputs[0].reshape(view), bias.reshape(bview),
                           outputs[0].reshape(view))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.fast:
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        if self.wants(0, in_grads, req):
            self._bwd[req[0]](outputs[0], out_grads[0], in_grads[0])


class ActivationKernelGPU(_FusedActivation, ActivationKernel):
    def setup(self):
        super().setup()
        self._setup_fused(self.attrs.act_type)


class UnaryActivationKernelGPU(_FusedActivation, UnaryMathKernel):
    """The standalone ``relu``/``sigmoid``/``tanh`` operators."""

    def setup(self):
        super().setup()
        self._setup_fused(self.op.name)


KERNELS = {"Activation": ActivationKernelGPU, "relu": UnaryActivationKernelGPU,
           "sigmoid": UnaryActivationKernelGPU, "tanh": UnaryActivationKernelGPU}
