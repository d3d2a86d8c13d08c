"""Built-in models for ``gradloom train --model NAME``.

A classifier module provides ``DESCRIPTION``, ``PARAMS`` (its ``--model-param`` names with
defaults), ``input_shape(sample_shape)`` (the per-sample shape it takes, given the data's)
and ``build(num_classes, input_shape, **params)`` (the Symbol, its head named ``softmax`` so
the label is ``softmax_label``). A sequence model (``lstm-lm``) provides ``make_job``
instead, because its data and module differ (see ``zoo/lstm_lm.py``).
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


def model_params(model_module, given, model_name):
    """``PARAMS`` defaults overlaid with ``given`` (``--model-param``), names checked."""
    defaults = getattr(model_module, "PARAMS", {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(f"{k} (default {v})" for k, v in defaults.items()) or "none"
        raise ConfigError(f"model {model_name!r} has no parameter {', '.join(unknown)} "
                          f"(--model-param / [model_params]); its parameters: {known}")
    return {**defaults, **given}


def int_list(value, name):
    """``[128, 64]``, ``"128,64"`` or ``128`` -> ``[128, 64]`` / ``[128]``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        value = [v for v in value.replace(" ", "").split(",") if v]
    try:
        out = [int(v) for v in value]
    except (TypeError, ValueError):
        raise ConfigError(f"model parameter {name!r} must be integers like 128,64; got "
                          f"{value!r}") from None
    if not out or min(out) < 1:
        raise ConfigError(f"model parameter {name!r} needs positive integers, got {value!r}")
    return out
