"""Executors: a bound symbol run as a precomputed plan of kernel calls.

``GraphExecutor`` is the generic engine every backend uses (a backend subclasses it for its
memory, streams or kernels); ``Executor`` is its public name, as in MXNet.
"""
from .graph_executor import GraphExecutor
from .request import BindRequest

Executor = GraphExecutor

__all__ = ["Executor", "GraphExecutor", "BindRequest"]
