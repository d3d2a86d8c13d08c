"""Operators: each defined once (``OpDef`` + generic ``Kernel``), for every backend."""
from .opdef import REQUIRED, Attrs, Kernel, OpDef, Param, assign

_OP_MODULES = ("structural", "arrays", "elementwise", "activation", "reduce", "indexing",
               "sequence", "dense", "conv", "deconv", "pooling", "upsampling", "pad", "norm",
               "normalize", "dropout", "loss", "rnn_op", "sampling", "custom")


def all_ops():
    """Every operator core provides, as ``OpDef`` instances."""
    import importlib
    ops = []
    for module_name in _OP_MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        ops.extend(module.OPS)
    return ops
