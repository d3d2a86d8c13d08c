"""Finding checkpoint files: ``PREFIX-symbol.json`` + ``PREFIX-NNNN.params`` (+ ``.states``)."""
import os
import re

from gradloom.base import ConfigError
from gradloom.model import latest_epoch, saved_epochs  # noqa: F401 (this module's API)

_PARAMS = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d{4,})\.params$")


def params_path(prefix, epoch):
    return f"{prefix}-{epoch:04d}.params"


def states_path(prefix, epoch):
    return f"{prefix}-{epoch:04d}.states"


def symbol_path(prefix):
    return f"{prefix}-symbol.json"


def split_checkpoint(spec, epoch=None, option="CHECKPOINT"):
    """``runs/mlp``, ``runs/mlp-0003.params`` or ``runs/mlp-symbol.json`` -> (prefix, epoch).

    Without an epoch, the newest saved one is used. Missing files are reported by name.
    """
    spec = str(spec)
    match = _PARAMS.match(spec)
    if match:
        prefix, found = match.group("prefix"), int(match.group("epoch"))
        if epoch is not None and epoch != found:
            raise ConfigError(f"{option} {spec!r} is epoch {found} but --epoch {epoch} was "
                              f"given; give one of them")
        epoch = found
    elif spec.endswith("-symbol.json"):
        prefix = spec[: -len("-symbol.json")]
    else:
        prefix = spec
    if not os.path.exists(symbol_path(prefix)):
        raise ConfigError(f"checkpoint not found: {symbol_path(prefix)} does not exist "
                          f"({option} {spec!r}); give the prefix used with --checkpoint")
    if epoch is None:
        epoch = latest_epoch(prefix)
        if epoch is None:
            raise ConfigError(f"no parameter file {prefix}-NNNN.params next to "
                              f"{symbol_path(prefix)}; train with --checkpoint {prefix} first")
    elif not os.path.exists(params_path(prefix, epoch)):
        have = ", ".join(str(e) for e in saved_epochs(prefix)) or "none"
        raise ConfigError(f"checkpoint not found: {params_path(prefix, epoch)} does not exist "
                          f"(saved epochs: {have})")
    return prefix, epoch


def check_params_match(arg_shapes, aux_shapes, arg_params, aux_params, where):
    """Raise ParameterError when saved parameters do not fit the model's names and shapes.

    ``arg_shapes``/``aux_shapes`` map parameter name -> shape expected by the model;
    ``arg_params``/``aux_params`` are what the file holds.
    """
    from gradloom.base import ParameterError
    problems = []
    for kind, expected, saved in (("argument", arg_shapes, arg_params),
                                  ("auxiliary state", aux_shapes, aux_params)):
        missing = sorted(set(expected) - set(saved))
        extra = sorted(set(saved) - set(expected))
        if missing:
            problems.append(f"missing {kind}s {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected {kind}s {', '.join(extra)}")
        for name in sorted(set(expected) & set(saved)):
            have = tuple(saved[name].shape)
            if tuple(expected[name]) != have:
                problems.append(f"{name} has shape {have}, the model needs "
                                f"{tuple(expected[name])}")
    if problems:
        raise ParameterError(f"{where} does not match the model: {'; '.join(problems)}")
