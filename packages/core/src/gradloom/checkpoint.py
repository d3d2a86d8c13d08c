"""The optimizer-state file (``prefix-NNNN.states``): an NDArray container, not a pickle.

MXNet wrote ``pickle.dumps(updater.states)`` keyed by optimizer index, so states were lost
when the device count or the update path changed, and loading meant unpickling. This file
is MXNet's NDArray container (``gradloom.nd.save`` format, written atomically) holding

* ``__meta__``: a uint8 array of UTF-8 JSON: ``format``, ``version``, ``slots`` (number of
  state arrays of every parameter, so parameters with no state still round-trip), and what
  the writer passed: the optimizer's class and hyper-parameters, ``num_update``, per-name
  ``update_counts``, ``epoch`` and a user ``extra`` dict;
* ``state/<parameter name>/<i>``: the i-th state array of that parameter (e.g. Adam's mean
  then variance), on the host.

Readers check everything and raise ``FormatError`` naming the file for anything else
(truncated or corrupted bytes, a ``.params`` file). MXNet's own pickled ``.states`` files are
imported by ``gradloom.mxnet_states``, which reads them without unpickling.
"""
import json
import os
import warnings

import numpy as np

from .base import FormatError, ParameterError
from .mxnet_states import is_mxnet_pickle, read_mxnet_states

__all__ = ["save_optimizer_states", "load_optimizer_states", "dumps_optimizer_states",
           "loads_optimizer_states", "optimizer_meta", "optimizer_from_meta",
           "updater_states_by_name", "load_into_updater", "restore_counters",
           "dumps_updater_states", "loads_updater_states", "restore_updater_counters",
           "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "gradloom-optimizer-states"
FORMAT_VERSION = 1
META_KEY = "__meta__"
_PREFIX = "state/"


# --------------------------------------------------------------------------------------
# bytes <-> (states, meta)
# --------------------------------------------------------------------------------------
def _entries(states, meta):
    """The ordered container entries (numpy arrays) for ``states`` and ``meta``."""
    if not isinstance(states, dict):
        raise ParameterError(f"optimizer states must be a dict name -> tuple of arrays, got "
                             f"{type(states).__name__}")
    slots = {}
    arrays = {}
    for name, value in states.items():
        if not isinstance(name, str):
            raise ParameterError(f"optimizer state keys must be parameter names (str), got "
                                 f"{name!r}; map indices to names first "
                                 f"(updater_states_by_name)")
        value = () if value is None else value
        if not isinstance(value, (tuple, list)):
            value = (value,)
        slots[name] = len(value)
        for i, arr in enumerate(value):
            host = arr.asnumpy() if hasattr(arr, "asnumpy") else np.asarray(arr)
            arrays[f"{_PREFIX}{name}/{i}"] = host
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **dict(meta or {}),
              "slots": slots}
    try:
        text = json.dumps(header, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"optimizer-state metadata must be JSON-serialisable: {err}; "
                             f"pass plain numbers, strings, lists and dicts") from None
    entries = {META_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()}
    entries.update(arrays)
    return entries


def dumps_optimizer_states(states, meta=None):
    """The bytes of a state file holding ``states`` (name -> tuple of arrays) and ``meta``."""
    from .ndarray.serialization import save_tobuffer
    return save_tobuffer(_entries(states, meta))


def save_optimizer_states(fname, states, meta=None):
    """Write ``states`` (name -> tuple of numpy arrays) and ``meta`` to ``fname`` atomically.

    ``meta`` is a JSON-serialisable dict (see :func:`optimizer_meta`).
    """
    from .ndarray.serialization import save
    save(fname, _entries(states, meta))


def _decode(entries, source):
    """(states, meta) from the container entries of a state file read from ``source``."""
    if not isinstance(entries, dict):
        raise FormatError(f"{source} is not an optimizer-state file: it holds an unnamed "
                          f"list of arrays (an NDArray list file?); pass the .states file "
                          f"written by save_optimizer_states")
    if META_KEY not in entries:
        kind = ("a parameter file (it has arg:/aux: entries)"
                if any(k.startswith(("arg:", "aux:")) for k in entries)
                else "an NDArray file without optimizer metadata")
        raise FormatError(f"{source} is not an optimizer-state file: it is {kind}; pass the "
                          f"prefix-NNNN.states file written by save_optimizer_states")
    raw = _host(entries[META_KEY])
    try:
        meta = json.loads(raw.astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FormatError(f"{source}: the {META_KEY} entry is not valid UTF-8 JSON (the file "
                          f"is corrupted); re-save the optimizer states") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise FormatError(f"{source}: {META_KEY} does not describe a {FORMAT_NAME} file")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FormatError(f"{source} has optimizer-state format version {version!r}; this "
                          f"gradloom reads up to version {FORMAT_VERSION}; upgrade gradloom")
    slots = meta.get("slots")
    if not isinstance(slots, dict):
        raise FormatError(f"{source}: {META_KEY} lacks the 'slots' table (corrupted file)")
    states = {}
    expected = {META_KEY}
    for name, count in slots.items():
        if not isinstance(count, int) or count < 0:
            raise FormatError(f"{source}: bad slot count {count!r} for {name!r}")
        keys = [f"{_PREFIX}{name}/{i}" for i in range(count)]
        missing = [k for k in keys if k not in entries]
        if missing:
            raise FormatError(f"{source}: missing state array(s) {', '.join(missing)} "
                              f"(the file is truncated or was edited)")
        expected.update(keys)
        states[name] = tuple(_host(entries[k]) for k in keys)
    extra = sorted(set(entries) - expected)
    if extra:
        raise FormatError(f"{source}: unexpected entries {', '.join(extra[:5])} not listed "
                          f"in its metadata (the file was edited or is corrupted)")
    return states, meta


def _host(arr):
    return np.array(arr.asnumpy() if hasattr(arr, "asnumpy") else arr, copy=True)


def loads_optimizer_states(buf, source="optimizer-state bytes"):
    """(states, meta) from bytes written by :func:`dumps_optimizer_states`, or
    (states keyed as MXNet keyed them, None) from an MXNet ``.states`` pickle."""
    from .ndarray.serialization import load_frombuffer
    if isinstance(buf, (bytes, bytearray, memoryview)) and is_mxnet_pickle(buf):
        states = read_mxnet_states(buf, source)
        warnings.warn(f"{source} was written by MXNet: its {len(states)} state(s) are imported, "
                      f"but MXNet saved no update counts, so learning-rate schedules and "
                      f"Adam-style bias corrections restart (as they did when MXNet resumed); "
                      f"save_optimizer_states writes gradloom's complete format",
                      UserWarning, stacklevel=2)
        return states, None
    try:
        entries = load_frombuffer(buf)
    except FormatError as err:
        raise FormatError(f"{source} is not a valid optimizer-state file: {err}") from None
    return _decode(entries, source)


def load_optimizer_states(fname):
    """(states name -> tuple of numpy arrays, meta dict) from a file written by
    :func:`save_optimizer_states` (or MXNet's, see :func:`loads_optimizer_states`); any
    problem raises ``FormatError`` naming the file."""
    from .fileio import read_bytes_checked
    source = f"optimizer-state file {os.fsdecode(fname)!r}"
    buf = read_bytes_checked(fname, "optimizer-state file")
    return loads_optimizer_states(buf, source)


# --------------------------------------------------------------------------------------
# Optimizer / Updater <-> (states, meta)
# --------------------------------------------------------------------------------------
def optimizer_meta(optimizer, idx2name=None, epoch=None, extra=None):
    """The ``meta`` dict describing ``optimizer`` for :func:`save_optimizer_states`.

    Update counts are keyed by parameter name through ``idx2name`` (default: the
    optimizer's own); when several device copies share a name, the largest count is kept.
    """
    idx2name = optimizer.idx2name if idx2name is None else idx2name
    counts = {}
    for idx, count in optimizer._index_update_count.items():
        name = idx if isinstance(idx, str) else idx2name.get(idx)
        if name is not None:
            counts[name] = max(count, counts.get(name, 0))
    meta = {"optimizer": optimizer.describe(), "num_update": int(optimizer.num_update),
            "update_counts": counts}
    if epoch is not None:
        meta["epoch"] = int(epoch)
    if extra is not None:
        meta["extra"] = extra
    return meta


def optimizer_from_meta(meta, **overrides):
    """Rebuild the saved optimizer: same class and hyper-parameters, counters restored.

    ``overrides`` (e.g. ``lr_scheduler=...``, ``sym=...``, ``param_idx2name=...``) are
    passed to the constructor on top of the saved values; a scheduler is not rebuilt from
    the file, pass it here.
    """
    from .optimizer import create
    desc = meta.get("optimizer")
    if not isinstance(desc, dict) or "class" not in desc:
        raise FormatError("the optimizer-state metadata does not describe an optimizer "
                          "(it was saved without optimizer_meta); create the optimizer "
                          "yourself and use load_into_updater")
    kwargs = dict(desc.get("hyper_params") or {})
    sched = overrides.get("lr_scheduler")
    if sched is not None and "learning_rate" not in overrides:
        kwargs["learning_rate"] = sched.base_lr    # the given scheduler keeps its base_lr
    kwargs.update(overrides)
    opt = create(desc["class"], **kwargs)
    restore_counters(opt, meta)
    return opt


def updater_states_by_name(updater, idx2name):
    """``{parameter name: tuple of numpy arrays}`` from an Updater's index-keyed states.

    Several indices mapping to one name (one per device) hold identical states after
    synchronised updates; the first one is kept.
    """
    opt = updater.optimizer
    states = {}
    for idx, state in updater.states.items():
        name = idx if isinstance(idx, str) else idx2name.get(idx)
        if name is None:
            raise ParameterError(f"optimizer index {idx!r} has no parameter name in "
                                 f"idx2name; pass the module's index -> name mapping")
        if name not in states:
            states[name] = tuple(_host(s) for s in opt.unpack_state(state))
    return states


def restore_counters(optimizer, meta, idx2name=None):
    """Put ``meta``'s ``num_update`` and per-name update counts back into ``optimizer``.

    Counts go to every index that ``idx2name`` maps to a saved name; with an empty mapping
    the optimizer is taken to be driven by names (kvstore-side updates) and gets them
    keyed by name.
    """
    counts = meta.get("update_counts") or {}
    idx2name = optimizer.idx2name if idx2name is None else idx2name
    if idx2name:
        for idx, name in idx2name.items():
            if name in counts:
                optimizer._index_update_count[idx] = int(counts[name])
    else:
        for name, count in counts.items():
            optimizer._index_update_count[name] = int(count)
    optimizer.num_update = max(int(meta.get("num_update", 0)), optimizer.num_update)


def load_into_updater(updater, states, idx2name, meta=None):
    """Install name-keyed ``states`` into ``updater`` for every index of ``idx2name``.

    States move to each weight's device on first use. A parameter whose number of state
    arrays does not match the optimizer raises ``ParameterError`` (e.g. Adam states loaded
    for SGD with momentum). With ``meta``, update counters are restored too.
    """
    opt = updater.optimizer
    if meta is not None:
        saved = (meta.get("optimizer") or {}).get("class")
        if saved is not None and saved != type(opt).__name__.lower():
            warnings.warn(f"optimizer states were saved by {saved!r} and are loaded into "
                          f"{type(opt).__name__.lower()!r}", UserWarning, stacklevel=2)
    for idx, name in idx2name.items():
        if name not in states:
            continue
        slots = list(states[name])
        if len(slots) != opt.num_state_slots:
            raise ParameterError(
                f"saved optimizer state of {name!r} has {len(slots)} array(s) but "
                f"{type(opt).__name__} needs {opt.num_state_slots}; load states written by "
                f"the same optimizer configuration or start without them")
        updater.states[idx] = opt.pack_state(slots)
        updater.states_synced[idx] = False
    if meta is not None:
        restore_counters(opt, meta, idx2name)


def dumps_updater_states(updater):
    """Bytes for ``Updater.get_states``: states keyed by index (int or name)."""
    opt = updater.optimizer
    states, key_types = {}, {}
    for idx, state in updater.states.items():
        key = str(idx)
        key_types[key] = "int" if isinstance(idx, int) else "str"
        states[key] = tuple(_host(s) for s in opt.unpack_state(state))
    meta = {"optimizer": opt.describe(), "num_update": int(opt.num_update),
            "counters": {str(k): v for k, v in opt._index_update_count.items()},
            "counter_key_types": {str(k): "int" if isinstance(k, int) else "str"
                                  for k in opt._index_update_count},
            "key_types": key_types}
    return dumps_optimizer_states(states, meta)


def _typed_key(key, kind):
    return int(key) if kind == "int" else key


def loads_updater_states(buf):
    """(index -> tuple of numpy arrays, meta) from ``Updater.get_states`` bytes."""
    states, meta = loads_optimizer_states(buf, "Updater states")
    if meta is None:   # MXNet's pickle: its own index (or name) keys, no counters
        return states, {}
    key_types = meta.get("key_types") or {}
    return {_typed_key(k, key_types.get(k, "str")): v for k, v in states.items()}, meta


def restore_updater_counters(optimizer, meta):
    """Counters from ``Updater.get_states`` metadata back into ``optimizer``."""
    kinds = meta.get("counter_key_types") or {}
    for key, count in (meta.get("counters") or {}).items():
        optimizer._index_update_count[_typed_key(key, kinds.get(key, "str"))] = int(count)
    optimizer.num_update = max(int(meta.get("num_update", 0)), optimizer.num_update)
