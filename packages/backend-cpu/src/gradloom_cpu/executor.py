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
