"""Checkpoint helpers of MXNet's ``mx.model``: ``save_checkpoint``, ``load_checkpoint``,
``load_params`` (and ``BatchEndParam`` for scripts that import it from here).

A checkpoint is ``prefix-symbol.json`` (MXNet's symbol JSON) plus ``prefix-%04d.params``
(MXNet's NDArray container with ``arg:``/``aux:`` keys); both are written atomically, so an
interrupted save leaves the previous files intact.
"""
import glob
import logging
import os
import re
import warnings

from .base import ConfigError, FormatError
from .callback import BatchEndParam

__all__ = ["save_checkpoint", "load_checkpoint", "load_params", "saved_epochs", "latest_epoch",
           "resume_point", "BatchEndParam"]

_PARAMS_FILE = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d{4,})\.params$")

_log = logging.getLogger(__name__)


def _host(value):
    from .context import cpu
    from .ndarray import NDArray
    from .ndarray import array as nd_array
    if isinstance(value, NDArray):
        return value.as_in_context(cpu())
    return nd_array(value)


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Write ``prefix-symbol.json`` (unless ``symbol`` is None) and ``prefix-%04d.params``."""
    from .ndarray import save
    if symbol is not None:
        symbol.save(f"{prefix}-symbol.json", remove_amp_cast=remove_amp_cast)
    save_dict = {f"arg:{k}": _host(v) for k, v in (arg_params or {}).items()}
    save_dict.update({f"aux:{k}": _host(v) for k, v in (aux_params or {}).items()})
    param_name = f"{prefix}-{epoch:04d}.params"
    save(param_name, save_dict)
    _log.info('Saved checkpoint to "%s"', param_name)


def split_params(save_dict, fname, strict=False):
    """``(arg_params, aux_params)`` from what ``nd.load`` read out of a ``.params`` file.

    A file without arrays (a model without parameters) gives two empty dicts. Keys are
    ``arg:NAME`` or ``aux:NAME``; other prefixes are dropped (as ``load_checkpoint`` did in
    MXNet) or, with ``strict`` (``Module.load_params``), raise."""
    if isinstance(save_dict, list) and not save_dict:
        _log.warning("parameter file %r holds no arrays; no parameters loaded", fname)
        return {}, {}
    if not isinstance(save_dict, dict):
        raise FormatError(f"parameter file {fname!r} holds an unnamed list of arrays; a "
                          f".params file maps 'arg:NAME'/'aux:NAME' to arrays")
    arg_params, aux_params = {}, {}
    for key, value in save_dict.items():
        arg_type, sep, name = key.partition(":")
        if not sep or (strict and arg_type not in ("arg", "aux")):
            raise FormatError(f"parameter file {fname!r}: key {key!r} is neither "
                              f"'arg:NAME' nor 'aux:NAME'")
        if arg_type in ("arg", "aux"):
            (arg_params if arg_type == "arg" else aux_params)[name] = value
    return arg_params, aux_params


def load_params(prefix, epoch):
    """``(arg_params, aux_params)`` from ``prefix-%04d.params`` (unknown prefixes dropped)."""
    from .ndarray import load
    fname = f"{prefix}-{epoch:04d}.params"
    if os.path.exists(fname) and os.path.getsize(fname) == 0:
        warnings.warn(f"parameter file {fname!r} is empty; no parameters loaded",
                      UserWarning, stacklevel=2)
        return {}, {}
    return split_params(load(fname), fname)


def load_checkpoint(prefix, epoch):
    """``(symbol, arg_params, aux_params)`` of the checkpoint ``prefix``/``epoch``."""
    from . import symbol as sym
    symbol = sym.load(f"{prefix}-symbol.json")
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params


def saved_epochs(prefix):
    """Epoch numbers of every ``prefix-NNNN.params`` file, ascending."""
    epochs = []
    for path in glob.glob(glob.escape(prefix) + "-*.params"):
        match = _PARAMS_FILE.match(path)
        if match and match.group("prefix") == prefix:
            epochs.append(int(match.group("epoch")))
    return sorted(epochs)


def latest_epoch(prefix):
    """The newest epoch saved under ``prefix`` (None: no checkpoint)."""
    epochs = saved_epochs(prefix)
    return epochs[-1] if epochs else None


def resume_point(resume_from):
    """``(epoch, arg_params, aux_params, states file or None)`` of a checkpoint to resume.

    ``resume_from`` is a prefix (its newest ``prefix-NNNN.params``) or ``(prefix, epoch)``.
    """
    if isinstance(resume_from, (tuple, list)) and len(resume_from) == 2:
        prefix, epoch = resume_from
        epoch = int(epoch)
        if not os.path.exists(f"{prefix}-{epoch:04d}.params"):
            found = saved_epochs(os.fspath(prefix))
            raise ConfigError(f"resume_from: no checkpoint {prefix}-{epoch:04d}.params; "
                              f"saved epochs under {prefix!r}: {found or 'none'}")
    elif isinstance(resume_from, (str, os.PathLike)):
        prefix = os.fspath(resume_from)
        epoch = latest_epoch(prefix)
        if epoch is None:
            raise ConfigError(f"resume_from: no checkpoint {prefix}-NNNN.params to resume "
                              f"from; save with save_checkpoint/do_checkpoint({prefix!r}) or "
                              f"drop resume_from to start from the beginning")
    else:
        raise ConfigError(f"resume_from must be a checkpoint prefix or (prefix, epoch), got "
                          f"{resume_from!r}")
    arg_params, aux_params = load_params(prefix, epoch)
    states = f"{prefix}-{epoch:04d}.states"
    return epoch, arg_params, aux_params, states if os.path.exists(states) else None
