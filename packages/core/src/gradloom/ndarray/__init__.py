"""``gradloom.nd``: MXNet's NDArray API over backend arrays, and the ``.params`` format."""
from . import random
from .creation import (arange, array, empty, from_numpy, full, full_like, ones, ones_like,
                       zeros, zeros_like)
from .functions import *  # noqa: F401,F403  (MXNet's flat nd.* namespace)
from .functions import __all__ as _function_names
from .ndarray import NDArray, mx_real_t
from .random import normal as random_normal, uniform as random_uniform
from .serialization import load, load_frombuffer, save

__all__ = ["NDArray", "mx_real_t", "array", "empty", "zeros", "ones", "full", "arange",
           "zeros_like", "ones_like", "full_like", "from_numpy", "save", "load",
           "load_frombuffer", "random", "random_uniform", "random_normal",
           *_function_names]


def __getattr__(name):
    # every other registered operator, imperatively (``nd.Convolution``, ``nd.topk``, ...)
    from .operators import is_operator, operator_function
    if is_operator(name):
        fn = operator_function(name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module 'gradloom.ndarray' has no attribute {name!r} (no operator "
                         f"or function of that name; see docs/operators.md)")
