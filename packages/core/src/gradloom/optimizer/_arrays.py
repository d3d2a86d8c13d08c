"""Getting at the raw backend array (and its array module) behind an optimizer argument.

The NDArray-level API (``Optimizer.update``, ``Updater``) accepts gradloom NDArrays and, for
convenience in tests and scripts, bare numpy/cupy arrays. Update rules only ever see raw
arrays plus the ``xp`` module that owns them.
"""
import importlib

import numpy as np


def raw_of(arr):
    """The backend array behind ``arr`` (an NDArray's ``.raw`` or the array itself)."""
    raw = getattr(arr, "raw", None)
    return arr if raw is None else raw


def xp_of(raw):
    """The array module of a raw array: numpy for numpy arrays, else its top-level package.

    Looking the package up from the array's type keeps this file free of any ``import cupy``.
    """
    if isinstance(raw, np.ndarray):
        return np
    return importlib.import_module(type(raw).__module__.split(".")[0])


def wrap_like(raw, like):
    """``raw`` in the same kind of container as ``like`` (NDArray on its context, or raw)."""
    if getattr(like, "raw", None) is None:
        return raw
    from ..ndarray import NDArray
    return NDArray(raw, like.context)


def place_like(host, like):
    """A copy of the numpy array ``host`` on the device (and in the container) of ``like``."""
    if getattr(like, "raw", None) is None:
        if isinstance(like, np.ndarray):
            return np.array(host, copy=True)
        return xp_of(like).asarray(host)
    from ..ndarray import array
    return array(host, ctx=like.context, dtype=host.dtype)
