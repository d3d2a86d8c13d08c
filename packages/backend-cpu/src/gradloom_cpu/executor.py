"""The CPU backend's executor: the generic engine with host-memory shortcuts.

Steps of graphs with a kernel that asks for it (``wants_blas_section``: convolutions, whose
im2col copies, activations and pooling around them are element-wise work numpy runs on one
core) run inside ``blas_section``: BLAS on one thread, the kernels cutting products and
element-wise loops over their own threads (``gradloom_cpu.kernels._blas`` says why).
Measured on a 2-core host: LeNet's step 1.08x -> 1.13-1.31x PyTorch's speed at low load;
an MLP (all GEMM) was 20% faster with BLAS's own threads, so it keeps them, and its
element-wise work stays on the calling thread (``SerialSection``): BLAS's threads spin
between products and split loops would wait for them (MLP step 2-4% faster). A relu, tanh
or sigmoid read only by a max pooling runs after the pooling, on the pooled values
(``kernels.act_pool``).
"""
import numpy as np

from gradloom import profiler as _profiler
from gradloom.base import ShapeError
from gradloom.executor.graph_executor import GraphExecutor, _raw

from .kernels._blas import blas_section
from .kernels.act_pool import SwappedActPool, find_pairs, swap_calls
from .kernels._parallel import SerialSection


def _step_section(kernels):
    """The context a step of these kernels runs in (None: none needed)."""
    if any(getattr(k, "wants_blas_section", False) for k in kernels):
        return blas_section
    if any(getattr(k, "threaded_blas", False) for k in kernels):
        return SerialSection()
    return None


class CpuExecutor(GraphExecutor):
    """``GraphExecutor`` on numpy. Inputs are copied with one ``np.copyto`` (no device hop)."""

    def __init__(self, backend, request):
        super().__init__(backend, request)
        self._section = _step_section(self._kernels)

    def forward(self, is_train=False, **kwargs):
        if self._section is None:
            return super().forward(is_train, **kwargs)
        with self._section:
            return super().forward(is_train, **kwargs)

    def backward(self, out_grads=None, is_train=True):
        if self._section is None:
            return super().backward(out_grads, is_train)
        with self._section:
            return super().backward(out_grads, is_train)

    def _build_plans(self):
        super()._build_plans()
        # relu/tanh/sigmoid -> max pooling pairs run swapped (``kernels.act_pool``), except while
        # a monitor or the operator profiler wants every node's own call
        if not hasattr(self, "_swaps"):
            self._swaps = [(i, j, SwappedActPool(self._kernels[i], self._kernels[j]))
                           for i, j in find_pairs(self._plan, self._kernels, self._layouts)]
        if self._swaps and self._monitor is None and not _profiler.operators_enabled():
            op_nodes = [i for i, node in enumerate(self._plan.order) if node.op is not None]
            self._fwd_active, self._bwd_active = swap_calls(
                self._swaps, self._fwd, self._bwd, op_nodes, self._bwd_nodes)

    def _copy_into(self, name, dst, value):
        src = value if type(value) is np.ndarray else _raw(value)
        if not isinstance(src, np.ndarray):
            src = np.asarray(src)
        if src.shape != dst.shape:
            raise ShapeError(f"{name!r}: got shape {src.shape}, bound shape is {dst.shape}; "
                             f"call reshape() to change bound shapes")
        np.copyto(dst, src, casting="unsafe")

