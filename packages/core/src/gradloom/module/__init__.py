"""The Module API: ``gradloom.mod.Module`` and friends (MXNet's ``mx.mod``)."""
from .base_module import BaseModule
from .bucketing_module import BucketingModule
from .errors import (ExtraParamError, InputsGradError, MissingParamError, NotBoundError,
                     NotForTrainingError, OptimizerNotInitializedError,
                     ParamsNotInitializedError)
from .executor_group import DataParallelExecutorGroup
from .module import Module
from .python_module import PythonLossModule, PythonModule
from .sequential_module import SequentialModule

__all__ = ["BaseModule", "Module", "BucketingModule", "SequentialModule", "PythonModule",
           "PythonLossModule", "DataParallelExecutorGroup", "NotBoundError",
           "ParamsNotInitializedError", "OptimizerNotInitializedError", "NotForTrainingError",
           "InputsGradError", "MissingParamError", "ExtraParamError"]
