"""Files of a ``BucketingModule`` checkpoint: one symbol per bucket plus a JSON index.

``prefix-buckets.json`` maps every bucket key that was used to its symbol file and its
data/label names; the default bucket's symbol is also ``prefix-symbol.json`` (so
``Module.load``/``gradloom.model.load_checkpoint`` open it). Integer keys additionally get
MXNet's ``prefix-<key>-symbol.json`` names and a ``prefix.buckets`` key list, so MXNet's own
``BucketingModule.load`` reads the checkpoint too.

Keys may be any hashable built from ``None``/bool/int/float/str and tuples of those; a tuple
is stored as ``{"tuple": [...]}`` (dicts cannot be keys, so that is unambiguous).
"""
import json
import math
import os

from ..base import FormatError, ParameterError
from ..fileio import atomic_write, read_bytes_checked

__all__ = ["encode_key", "decode_key", "write_bucket_symbols", "read_bucket_symbols",
           "index_path"]

FORMAT = "gradloom-bucketing-checkpoint"
VERSION = 1


def index_path(prefix):
    return f"{prefix}-buckets.json"


def encode_key(key):
    """A JSON value for the bucket key ``key`` (raises for keys JSON cannot round-trip)."""
    if key is None or isinstance(key, (bool, str)):
        return key
    if isinstance(key, int):
        return int(key)
    if isinstance(key, float):
        if not math.isfinite(key):
            raise ParameterError(f"bucket key {key!r} cannot be saved: use a finite number")
        return key
    if isinstance(key, tuple):
        return {"tuple": [encode_key(k) for k in key]}
    try:   # numpy scalars
        import numpy as np
        if isinstance(key, np.integer):
            return int(key)
        if isinstance(key, np.floating):
            return encode_key(float(key))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    raise ParameterError(f"bucket key {key!r} ({type(key).__name__}) cannot be saved in a "
                         f"checkpoint: use None, bool, int, float, str or tuples of those")


def decode_key(value, source="bucket index"):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and set(value) == {"tuple"} and isinstance(value["tuple"],
                                                                          list):
        return tuple(decode_key(v, source) for v in value["tuple"])
    raise FormatError(f"{source}: {value!r} is not a valid encoded bucket key")


def _symbol_file(prefix, key, index):
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{prefix}-{key}-symbol.json"
    return f"{prefix}-bucket{index}-symbol.json"


def write_bucket_symbols(prefix, default_key, buckets, remove_amp_cast=True):
    """Write every bucket's symbol and the index. ``buckets``: ``[(key, module)]``."""
    from ..ndarray import array, save
    entries = []
    ordered = sorted(buckets, key=lambda kv: (kv[0] != default_key, repr(kv[0])))
    for i, (key, mod) in enumerate(ordered):
        encoded = encode_key(key)
        fname = _symbol_file(prefix, key, i)
        mod.symbol.save(fname, remove_amp_cast=remove_amp_cast)
        entries.append({"key": encoded, "symbol": os.path.basename(fname),
                        "data_names": list(mod.data_names),
                        "label_names": list(mod.label_names)})
        if key == default_key:
            mod.symbol.save(f"{prefix}-symbol.json", remove_amp_cast=remove_amp_cast)
    index = {"format": FORMAT, "version": VERSION, "default_bucket_key": encode_key(default_key),
             "buckets": entries}
    with atomic_write(index_path(prefix), "w") as fobj:
        json.dump(index, fobj, indent=1)
    keys = [k for k, _ in ordered]
    if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        save(f"{prefix}.buckets", [array(keys, dtype="int32")])


def read_bucket_symbols(prefix):
    """``(default_key, {key: (symbol, data_names, label_names)})`` of a checkpoint.

    Reads gradloom's index, or MXNet's ``prefix.buckets`` (then names are ``None``: they
    come from ``sym_gen``).
    """
    from .. import symbol as sym
    path = index_path(prefix)
    if os.path.exists(path):
        raw = read_bytes_checked(path, "bucket index")
        try:
            index = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise FormatError(f"bucket index {path!r} is not valid JSON ({err}); the file is "
                              f"corrupted, save the checkpoint again") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT or not isinstance(
                index.get("buckets"), list):
            raise FormatError(f"bucket index {path!r} is not a {FORMAT} file")
        if index.get("version") != VERSION:
            raise FormatError(f"bucket index {path!r} has version {index.get('version')}; "
                              f"this gradloom reads version {VERSION}")
        folder = os.path.dirname(path)
        symbols = {}
        for entry in index["buckets"]:
            try:
                key = decode_key(entry["key"], path)
                fname = os.path.join(folder, entry["symbol"])
                names = (list(entry["data_names"]), list(entry["label_names"]))
            except (KeyError, TypeError):
                raise FormatError(f"bucket index {path!r}: entry {entry!r} lacks key, symbol, "
                                  f"data_names or label_names") from None
            symbols[key] = (sym.load(fname), names[0], names[1])
        default_key = decode_key(index.get("default_bucket_key"), path)
        if default_key not in symbols:
            raise FormatError(f"bucket index {path!r}: the default bucket "
                              f"{default_key!r} has no symbol entry")
        return default_key, symbols
    legacy = f"{prefix}.buckets"
    if os.path.exists(legacy):
        from ..ndarray import load
        loaded = load(legacy)
        if not isinstance(loaded, list) or len(loaded) != 1:
            raise FormatError(f"{legacy!r} should hold one array of bucket keys")
        keys = [int(k) for k in loaded[0].asnumpy().reshape(-1)]
        symbols = {k: (sym.load(f"{prefix}-{k}-symbol.json"), None, None) for k in keys}
        return None, symbols
    raise FormatError(f"no bucketing checkpoint at prefix {prefix!r}: neither {path!r} nor "
                      f"{legacy!r} exists; save with BucketingModule.save_checkpoint")
