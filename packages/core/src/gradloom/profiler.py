"""``mx.profiler``: MXNet's profiler API, timing every operator an executor runs.

Scripts written for MXNet (``example/image-classification/common/fit.py`` among them) call
``set_config(filename=..., profile_all=True)`` then ``set_state('run')``; the profile is
written in Chrome's trace-event format (open it in chrome://tracing or Perfetto), the
format MXNet writes, by ``dump()`` or, as in MXNet, when the process exits.

What is recorded: one complete event per operator call (forward and backward) of every
executor while the state is ``'run'`` and operator profiling is on (``profile_all`` or
``profile_symbolic``), plus the user objects ``Task``/``Frame``/``Event`` (spans),
``Marker`` (instants) and ``Counter`` (values). Operator times on accelerators include a
device synchronise after each operator, so they are real kernel times, not launch times.

Executors switch to a timed call list only while profiling, so an executor that is not
profiled runs exactly the code it runs without this module.
"""
import atexit
import json
import os
import threading
import time
import weakref

from .base import ConfigError, StateError

_CONFIG_KEYS = {"profile_all", "profile_symbolic", "profile_imperative", "profile_memory",
                "profile_api", "filename", "continuous_dump", "dump_period",
                "aggregate_stats", "profile_process"}


class _State:
    def __init__(self):
        self.config = {"filename": "profile.json", "profile_symbolic": False,
                       "profile_all": False, "aggregate_stats": False}
        self.running = False
        self.paused = False
        self.events = []          # (name, category, phase, start_us, dur_us, args|None)
        self.dirty = False        # events recorded since the last dump
        self.lock = threading.Lock()
        self.executors = weakref.WeakSet()
        self.t0 = time.perf_counter()


_STATE = _State()


def _now_us():
    return (time.perf_counter() - _STATE.t0) * 1e6


def _check_process(profile_process):
    if profile_process != "worker":
        raise ConfigError(
            f"profile_process={profile_process!r}: gradloom has no parameter servers (its "
            "distributed kvstores allreduce between workers), so only the workers can be "
            "profiled; use profile_process='worker' on each worker")


def set_config(**kwargs):
    """Configure the profiler (MXNet's keys: ``filename``, ``profile_all``,
    ``profile_symbolic``, ``profile_imperative``, ``profile_memory``, ``profile_api``,
    ``aggregate_stats``, ``continuous_dump``, ``dump_period``, ``profile_process``)."""
    unknown = sorted(set(kwargs) - _CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"profiler.set_config got unknown key(s) {unknown}; valid keys: "
                          f"{', '.join(sorted(_CONFIG_KEYS))}")
    _check_process(kwargs.pop("profile_process", "worker"))
    _STATE.config.update(kwargs)
    _refresh_executors()


def set_state(state="stop", profile_process="worker"):
    """``'run'`` starts recording, ``'stop'`` stops it (the events stay until ``dump``)."""
    _check_process(profile_process)
    if state not in ("run", "stop"):
        raise ConfigError(f"profiler state must be 'run' or 'stop', got {state!r}")
    _STATE.running = state == "run"
    _STATE.paused = False
    _refresh_executors()


def profiler_set_state(state="stop"):
    """MXNet's older spelling of ``set_state``."""
    set_state(state)


def profiler_set_config(mode="symbolic", filename="profile.json"):
    """MXNet's older configuration call: ``mode`` 'symbolic' or 'all'."""
    if mode not in ("symbolic", "all"):
        raise ConfigError(f"profiler mode must be 'symbolic' or 'all', got {mode!r}")
    set_config(filename=filename, profile_all=mode == "all", profile_symbolic=True)


def pause(profile_process="worker"):
    """Stop recording until ``resume`` (the state stays 'run')."""
    _check_process(profile_process)
    _STATE.paused = True
    _refresh_executors()


def resume(profile_process="worker"):
    _check_process(profile_process)
    _STATE.paused = False
    _refresh_executors()


def operators_enabled():
    """True while operator calls are being timed (executors ask this when building plans)."""
    cfg = _STATE.config
    return (_STATE.running and not _STATE.paused
            and bool(cfg.get("profile_all") or cfg.get("profile_symbolic")))


def recording():
    return _STATE.running and not _STATE.paused


def register_executor(executor):
    """Executors register once at bind time so a state change can re-plan them."""
    _STATE.executors.add(executor)


def _refresh_executors():
    for exe in list(_STATE.executors):
        exe._build_plans()


def record(name, category, start_us, dur_us, args=None):
    """Add one complete event (``dur_us`` microseconds from ``start_us``)."""
    with _STATE.lock:
        _STATE.events.append((name, category, "X", start_us, dur_us, args))
        _STATE.dirty = True


def _instant(name, category, phase, args=None):
    if not recording():
        return
    with _STATE.lock:
        _STATE.events.append((name, category, phase, _now_us(), 0.0, args))
        _STATE.dirty = True


def timed(name, category, fn, sync=None):
    """``fn`` wrapped so each call is recorded as an event named ``name``."""
    def call(*args):
        start = time.perf_counter()
        fn(*args)
        if sync is not None:
            sync()
        end = time.perf_counter()
        record(name, category, (start - _STATE.t0) * 1e6, (end - start) * 1e6)
    return call


def _trace():
    events = [{"name": "process_name", "ph": "M", "pid": os.getpid(),
               "args": {"name": "gradloom worker"}}]
    pid = os.getpid()
    for name, cat, phase, ts, dur, args in _STATE.events:
        ev = {"name": name, "cat": cat, "ph": phase, "ts": round(ts, 3), "pid": pid,
              "tid": 0}
        if phase == "X":
            ev["dur"] = round(dur, 3)
        if phase == "i":
            ev["s"] = "p"
        if args:
            ev["args"] = args
        events.append(ev)
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def dump(finished=True, profile_process="worker"):
    """Write the recorded events to the configured ``filename`` (Chrome trace JSON).

    ``finished=True`` also clears them, as MXNet does when profiling is finished."""
    _check_process(profile_process)
    from .fileio import atomic_write
    with _STATE.lock:
        text = json.dumps(_trace())
        if finished:
            _STATE.events = []
        _STATE.dirty = False
    with atomic_write(_STATE.config["filename"], "w", encoding="utf-8") as f:
        f.write(text)


def dump_profile():
    """MXNet's older spelling of ``dump``."""
    dump(True)


def dumps(reset=False, format="table", sort_by="total", ascending=False):
    """Aggregate statistics per event name: count and total/min/max/avg time (ms)."""
    if format not in ("table", "json"):
        raise ConfigError(f"profiler.dumps format must be 'table' or 'json', got {format!r}")
    keys = {"total": 1, "avg": 4, "min": 2, "max": 3, "count": 0}
    if sort_by not in keys:
        raise ConfigError(f"profiler.dumps sort_by must be one of {sorted(keys)}, "
                          f"got {sort_by!r}")
    stats = {}
    with _STATE.lock:
        for name, cat, phase, _ts, dur, _args in _STATE.events:
            if phase != "X":
                continue
            ms = dur / 1000.0
            s = stats.setdefault((cat, name), [0, 0.0, ms, ms])
            s[0] += 1
            s[1] += ms
            s[2] = min(s[2], ms)
            s[3] = max(s[3], ms)
        if reset:
            _STATE.events = []
    rows = {k: (c, tot, mn, mx, tot / c) for k, (c, tot, mn, mx) in stats.items()}
    if format == "json":
        out = {}
        for (cat, name), (c, tot, mn, mx, avg) in rows.items():
            out.setdefault(cat, {})[name] = {"Count": c, "Total": tot, "Min": mn,
                                             "Max": mx, "Avg": avg}
        return json.dumps({"Time": out, "Unit": {"Time": "ms"}})
    lines = ["Profile Statistics:", "\tNote the difference in units for different entries."]
    for cat in sorted({c for c, _ in rows}):
        lines += ["", cat, "=" * 17,
                  f"{'Name':<40}{'Total Count':>12}{'Time (ms)':>14}{'Min Time (ms)':>15}"
                  f"{'Max Time (ms)':>15}{'Avg Time (ms)':>15}",
                  f"{'----':<40}{'-----------':>12}{'---------':>14}{'-------------':>15}"
                  f"{'-------------':>15}{'-------------':>15}"]
        names = [n for c, n in rows if c == cat]
        names.sort(key=lambda n: rows[(cat, n)][keys[sort_by]], reverse=not ascending)
        for n in names:
            c, tot, mn, mx, avg = rows[(cat, n)]
            lines.append(f"{n:<40}{c:>12}{tot:>14.4f}{mn:>15.4f}{mx:>15.4f}{avg:>15.4f}")
    return "\n".join(lines) + "\n"


@atexit.register
def _dump_at_exit():
    # MXNet writes the profile when the process ends; scripts rely on that (fit.py never
    # calls dump()). Only when something was recorded, so importing this module is free.
    if _STATE.dirty and _STATE.events:
        try:
            dump(True)
        except OSError:
            pass


# -- user objects ---------------------------------------------------------------------------
class Domain:
    """A named group for tasks, frames, events, counters and markers."""

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name

    def new_task(self, name):
        return Task(self, name)

    def new_frame(self, name):
        return Frame(self, name)

    def new_counter(self, name, value=None):
        return Counter(self, name, value)

    def new_marker(self, name):
        return Marker(self, name)


class _Span:
    _category = "span"

    def __init__(self, domain, name):
        self.domain, self.name = domain, name
        self._start = None

    def start(self):
        if self._start is not None:
            raise StateError(f"{type(self).__name__} {self.name!r} is already started; "
                             "call stop() first")
        self._start = _now_us()

    def stop(self):
        if self._start is None:
            raise StateError(f"{type(self).__name__} {self.name!r} was not started; "
                             "call start() first")
        start, self._start = self._start, None
        if recording():
            record(self.name, f"{self.domain}:{self._category}", start, _now_us() - start)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def __str__(self):
        return self.name


class Task(_Span):
    _category = "task"


class Frame(_Span):
    _category = "frame"


class Event(_Span):
    """A span without a domain (MXNet's ``profiler.Event(name)``)."""
    _category = "event"

    def __init__(self, name):
        super().__init__("event", name)


class Counter:
    """A named value; every change is recorded as a counter event."""

    def __init__(self, domain, name, value=None):
        self.domain, self.name = domain, name
        self.value = 0
        if value is not None:
            self.set_value(value)

    def set_value(self, value):
        self.value = value
        _instant(self.name, f"{self.domain}:counter", "C", {self.name: value})

    def increment(self, delta=1):
        self.set_value(self.value + delta)

    def decrement(self, delta=1):
        self.set_value(self.value - delta)

    def __iadd__(self, delta):
        self.increment(delta)
        return self

    def __isub__(self, delta):
        self.decrement(delta)
        return self

    def __str__(self):
        return self.name


class Marker:
    """An instant event."""

    def __init__(self, domain, name):
        self.domain, self.name = domain, name

    def mark(self, scope="process"):
        _instant(self.name, f"{self.domain}:marker", "i", {"scope": scope})
