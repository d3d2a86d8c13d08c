"""The CPU backend's executor: the generic engine with host-memory shortcuts."""
import numpy as np

from gradloom.base import ShapeError
from gradloom.executor.graph_executor import GraphExecutor, _raw


class CpuExecutor(GraphExecutor):
    """``GraphExecutor`` on numpy. Inputs are copied with one ``np.copyto`` (no device hop)."""

    def _copy_into(self, name, dst, value):
        src = value if type(value) is np.ndarray else _raw(value)
        if not isinstance(src, np.ndarray):
            src = np.asarray(src)
        if src.shape != dst.shape:
            raise ShapeError(f"{name!r}: got shape {src.shape}, bound shape is {dst.shape}; "
                             f"call reshape() to change bound shapes")
        np.copyto(dst, src, casting="unsafe")

    def _make_kernels(self):
        from gradloom.executor.layout import apply_layouts, plan_layouts, stored_shape
        kernels = super()._make_kernels()
        plan = self._plan
        self._layouts = plan_layouts(plan, kernels)
        apply_layouts(plan, kernels, self._layouts)
        for e, perm in self._layouts.items():
            plan.shapes[e] = stored_shape(plan.shapes[e], perm)
        return kernels
