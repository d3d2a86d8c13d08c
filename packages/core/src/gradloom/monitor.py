"""``Monitor``: statistics of every array an executor computes, every ``interval`` batches.

``tic()`` before a forward switches collection on (every ``interval``-th call); while on, the
executors report each operator output (and, with ``monitor_all``, inputs) whose name matches
``pattern``, during forward and backward. ``toc()`` adds the matching argument and
auxiliary arrays, switches collection off and returns ``[(step, name, text), ...]``;
``toc_print()`` logs them.
"""
import logging
import math
import re

import numpy as np

__all__ = ["Monitor"]


def _default_stat(x):
    """RMS of ``x``: ``norm(x) / sqrt(x.size)``, computed on its own device."""
    raw = x.raw if hasattr(x, "raw") else np.asarray(x)
    if raw.size == 0:
        return 0.0
    xp = np if isinstance(raw, np.ndarray) else _xp_of(raw)
    flat = raw.reshape(-1).astype(np.float64) if raw.dtype.kind != "f" or \
        raw.dtype.itemsize < 4 else raw.reshape(-1)
    return xp.sqrt(xp.vdot(flat, flat)) / math.sqrt(raw.size)


def _xp_of(raw):
    import importlib
    return importlib.import_module(type(raw).__module__.split(".")[0])


def _text(value):
    if hasattr(value, "asnumpy"):
        value = value.asnumpy()
    elif not isinstance(value, (np.ndarray, np.generic, float, int)):
        value = np.asarray(value.get() if hasattr(value, "get") else value)
    value = np.asarray(value)
    if value.size == 1:
        return str(value.reshape(-1)[0])
    return np.array2string(value.reshape(-1), separator=" ")


class Monitor:
    """Collects ``stat_func(array)`` for arrays whose names match ``pattern``."""

    def __init__(self, interval, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        self.interval = int(interval)
        self.stat_func = stat_func if stat_func is not None else _default_stat
        self.activated = False
        self.queue = []
        self.step = 0
        self.exes = []
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all

    def stat_helper(self, name, array):
        """Executor callback: record ``array`` under ``name`` while collecting."""
        if not self.activated or not self.re_prog.match(name):
            return
        if not hasattr(array, "asnumpy"):
            from .ndarray import NDArray
            array = NDArray(array)
        self.queue.append((self.step, name, self.stat_func(array)))

    def install(self, exe):
        """Attach to an executor (a Module installs it on all of its executors)."""
        exe.set_monitor_callback(self.stat_helper, self.monitor_all)
        self.exes.append(exe)

    def tic(self):
        """Start collecting if this batch is one of every ``interval``."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self):
        """Stop collecting; ``[(step, name, text)]`` including argument and aux arrays."""
        if not self.activated:
            return []
        for exe in self.exes:
            for name, array in _named(exe.arg_dict):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
            for name, array in _named(exe.aux_dict):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        queue = sorted(self.queue, key=lambda x: x[1]) if self.sort else self.queue
        res = [(n, k, _text(v)) for n, k, v in queue]
        self.queue = []
        return res

    def toc_print(self):
        """``toc()`` and log every record."""
        for n, k, v in self.toc():
            logging.info("Batch: %7d %30s %s", n, k, v)


def _named(mapping):
    return list(mapping.items()) if mapping else []
