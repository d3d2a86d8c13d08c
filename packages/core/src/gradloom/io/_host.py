"""Moving arrays between user inputs, host numpy arrays and the NDArrays batches carry.

Iterators keep their data as host (numpy) arrays and hand out CPU NDArrays that wrap
slices of them without copying; the executor copies each batch to its device anyway.
"""
import numpy as np

from ..base import DTypeError
from ..random import host_rng  # noqa: F401  (re-exported for the iterators)


def to_host(value, dtype=None):
    """``value`` (NDArray, numpy array, nested list, scalar) as a numpy array."""
    asnumpy = getattr(value, "asnumpy", None)
    if asnumpy is not None:
        arr = asnumpy()
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise DTypeError(
                f"cannot use a {type(value).__name__} as array data ({err}); pass a numpy "
                "array, an NDArray or a nested list of numbers") from err
        if arr.dtype == object:
            raise DTypeError(
                f"cannot use a {type(value).__name__} holding Python objects as array data; "
                "pass a numpy array, an NDArray or a nested list of numbers")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def is_ndarray(value):
    """True for gradloom NDArrays (checked without importing the ndarray module eagerly)."""
    return hasattr(value, "asnumpy") and hasattr(value, "context")


def wrap(arr):
    """A CPU NDArray around the numpy array ``arr`` (no copy)."""
    from ..context import cpu
    from ..ndarray import NDArray
    return NDArray(arr, ctx=cpu())


