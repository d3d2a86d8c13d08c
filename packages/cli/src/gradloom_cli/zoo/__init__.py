"""Built-in models for ``gradloom train --model NAME``.

Each model module provides ``DESCRIPTION``, ``input_shape(sample_shape)`` (the per-sample
shape it takes, given the data's) and ``build(num_classes, input_shape)`` (the Symbol, with
its head named ``softmax`` so the label is ``softmax_label``).
"""
import importlib
import importlib.util

from gradloom.base import ConfigError

_MODULES = {"mlp": "mlp", "lenet": "lenet", "resnet": "resnet"}
#: models that need an optional part of gradloom-core: name -> (module, required import)
_OPTIONAL = {"lstm-lm": ("lstm_lm", "gradloom.rnn")}


def _importable(module_name):
    try:
        return importlib.util.find_spec(module_name) is not None
    except ImportError:
        return False


def model_names():
    """Names usable as ``--model`` with this installation."""
    names = list(_MODULES)
    names += [name for name, (_, needs) in _OPTIONAL.items() if _importable(needs)]
    return names


def get_model(name):
    """The model module for ``name``; a ConfigError lists what exists."""
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{_MODULES[name]}")
    if name in _OPTIONAL:
        module, needs = _OPTIONAL[name]
        if not _importable(needs):
            raise ConfigError(f"model {name!r} needs {needs}, which the installed "
                              f"gradloom-core does not provide; choose one of "
                              f"{', '.join(model_names())} or upgrade gradloom-core")
        return importlib.import_module(f"{__name__}.{module}")
    raise ConfigError(f"unknown model {name!r} (--model); built-in models: "
                      f"{', '.join(model_names())}, or give a symbol JSON file "
                      f"(NAME-symbol.json)")
