"""The CUDA executor: the generic engine, run inside the device's scope.

Kernels are launched on cupy's current stream, so a step queues work without waiting; the host
only synchronises where the user asks for values (``asnumpy``). Binding (kernel workspaces,
the buffer pool) and every step run with the executor's GPU current, so ``gpu(1)`` arrays and
kernels land on device 1 even when the caller's current device is another one. Bias-adds
are fused into the following activation where the graph allows it (``fusion``).
"""
import numpy as np

from gradloom.base import ShapeError
from gradloom.executor.graph_executor import GraphExecutor, _raw


class CudaExecutor(GraphExecutor):
    # binding already runs in the device's scope (GraphExecutor.__init__)
    def forward(self, is_train=False, **kwargs):
        with self._backend.device_scope(self._device_id):
            return super().forward(is_train, **kwargs)

    def backward(self, out_grads=None, is_train=True):
        with self._backend.device_scope(self._device_id):
            return super().backward(out_grads, is_train)

    def _build_plans(self):
        # decided once per bind; re-applied on every re-carve (bias arrays may move) and
        # switched off while a monitor wants to see each node's own output
        from . import fusion
        if not hasattr(self, "_fusion_pairs"):
            self._fusion_pairs = fusion.find_pairs(self._plan, self._kernels)
        fusion.apply(self._fusion_pairs, self._kernels, self._values, self._monitor is None)
        super()._build_plans()

    def set_monitor_callback(self, callback, monitor_all=False):
        with self._backend.device_scope(self._device_id):
            return super().set_monitor_callback(callback, monitor_all)

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        with self._backend.device_scope(self._device_id):
            return super().copy_params_from(arg_params, aux_params, allow_extra_params)

    def _copy_into(self, name, dst, value):
        """Inputs: device arrays are copied on the GPU (peer copy across devices), host
        arrays with one host-to-device transfer straight into the bound array."""
        src = _raw(value)
        shape = tuple(getattr(src, "shape", np.shape(src)))
        if shape != tuple(dst.shape):
            raise ShapeError(f"{name!r}: got shape {shape}, bound shape is "
                             f"{tuple(dst.shape)}; call reshape() to change bound shapes")
        backend = self._backend
        if backend.owns(src):
            if backend.device_of(src) == backend.device_of(dst):
                self._xp.copyto(dst, src, casting="unsafe")
            else:
                backend.reduce_sum_into(dst, [src])
            return
        ctx = getattr(value, "context", None)
        if ctx is not None and not isinstance(src, np.ndarray):
            # an array of another backend: through the host
            backend.reduce_sum_into(dst, [src], [ctx.backend])
            return
        backend.copy_from_host(dst, np.asarray(src))
