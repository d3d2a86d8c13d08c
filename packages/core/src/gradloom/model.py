"""Checkpoint helpers of MXNet's ``mx.model``: ``save_checkpoint``, ``load_checkpoint``,
``load_params`` (and ``BatchEndParam`` for scripts that import it from here).

A checkpoint is ``prefix-symbol.json`` (MXNet's symbol JSON) plus ``prefix-%04d.params``
(MXNet's NDArray container with ``arg:``/``aux:`` keys); both are written atomically, so an
interrupted save leaves the previous files intact.
"""
import logging
import os
import warnings

from .base import FormatError
from .callback import BatchEndParam

__all__ = ["save_checkpoint", "load_checkpoint", "load_params", "BatchEndParam"]

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
