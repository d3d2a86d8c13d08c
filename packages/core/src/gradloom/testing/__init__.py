"""Checks for operators and backends: numerical gradients, references, conformance.

* ``assert_almost_equal`` - closeness with the location of the worst error
* ``numeric_grad`` / ``check_kernel_gradient`` - central differences in float64
* ``check_kernel_forward`` - a kernel against a numpy reference
* ``check_consistency`` - the same operator on every available backend
* ``bind_op`` - one operator bound to shapes on a backend, driven with host arrays
* ``gradloom.testing.conformance`` - the backend-parametrised operator suite
* ``download`` - MXNet's ``test_utils.download`` (existing files are kept)
"""
from .checks import (assert_almost_equal, check_consistency, check_kernel_forward,
                     check_kernel_gradient, numeric_grad)
from .download import download
from .harness import BoundOp, bind_op

__all__ = ["assert_almost_equal", "numeric_grad", "check_kernel_gradient",
           "check_kernel_forward", "check_consistency", "bind_op", "BoundOp",
           "download"]
