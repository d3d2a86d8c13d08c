"""Typed errors of the Module family. Each says which call is missing or what to change.

They subclass :class:`gradloom.base.StateError` / :class:`~gradloom.base.ParameterError`,
so ``except gradloom.base.StateError`` catches every "wrong order of calls" error.
"""
from ..base import ParameterError, StateError

__all__ = ["NotBoundError", "ParamsNotInitializedError", "OptimizerNotInitializedError",
           "NotForTrainingError", "InputsGradError", "MissingParamError", "ExtraParamError"]


class NotBoundError(StateError):
    """The module has no executors yet: call ``bind()`` first."""


class ParamsNotInitializedError(StateError):
    """Parameters have no values yet: call ``init_params()`` (or ``set_params``) first."""


class OptimizerNotInitializedError(StateError):
    """No optimizer is installed: call ``init_optimizer()`` first."""


class NotForTrainingError(StateError):
    """``backward`` on a module bound with ``for_training=False``."""


class InputsGradError(StateError):
    """Input gradients were requested from a module bound without ``inputs_need_grad``."""


class MissingParamError(ParameterError, RuntimeError):
    """A parameter has no value in the given dicts (MXNet raised ``RuntimeError``)."""


class ExtraParamError(ParameterError):
    """The given dicts hold names the module does not have (MXNet raised ``ValueError``)."""


def need_bound(module, what):
    if not module.binded:
        raise NotBoundError(f"{what} needs a bound module: call bind() first "
                            f"(or fit(), which binds)")


def need_params(module, what):
    if not module.binded:
        raise NotBoundError(f"{what} needs a bound module: call bind() first, then "
                            f"init_params()")
    if not module.params_initialized:
        raise ParamsNotInitializedError(f"{what} needs initialised parameters: call "
                                        f"init_params() (or set_params()) first")


def need_optimizer(module, what):
    need_params(module, what)
    if not module.optimizer_initialized:
        raise OptimizerNotInitializedError(f"{what} needs an optimizer: call "
                                           f"init_optimizer() first")
