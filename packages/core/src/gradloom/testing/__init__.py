"""Checks for operators and backends: numerical gradients, references, conformance.

* ``assert_almost_equal`` - closeness with the location of the worst error
* ``numeric_grad`` / ``check_kernel_gradient`` - central differences in float64
* ``check_kernel_forward`` - a kernel against a numpy reference
* ``check_consistency`` - the same operator on every available backend
* ``bind_op`` - one operator bound to shapes on a backend, driven with host arrays
* ``gradloom.testing.conformance`` - the backend-parametrised operator suite
* ``download`` - MXNet's ``test_utils.download`` (existing files are kept)
* ``default_context`` / ``set_default_context`` - the context tests run on (MXNet's names for
  ``current_context`` and a ``with ctx:`` that lasts)
"""
from .checks import (assert_almost_equal, check_consistency, check_kernel_forward,
                     check_kernel_gradient, numeric_grad)
from ..context import Context, current_context as default_context
from .download import download
from .harness import BoundOp, bind_op

__all__ = ["assert_almost_equal", "numeric_grad", "check_kernel_gradient",
           "check_kernel_forward", "check_consistency", "bind_op", "BoundOp",
           "download", "default_context", "set_default_context"]


def set_default_context(ctx):
    """Make ``ctx`` the default context of this thread (MXNet's test helper)."""
    Context._local.value = ctx
