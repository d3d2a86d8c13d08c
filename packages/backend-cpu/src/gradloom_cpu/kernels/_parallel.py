"""Split large numpy element-wise work over the host's threads.

BLAS runs its GEMMs on several threads, but numpy's element-wise loops (tanh, im2col copies,
pooling comparisons) run on the calling thread only: on a 2-core host a LeNet step spends
about 40% of its time there while the second core idles. numpy releases the GIL inside
those loops, so running them on slices of the arrays from several Python threads uses the
other cores.

Work is cut into chunks that the caller and the helper threads take from a shared counter:
if a helper is slow to wake (a busy machine), the caller simply does more chunks, so a split
call is never much slower than the plain one. Only arrays of at least ``MIN_ELEMENTS`` are
split; below that the hand-off (tens of microseconds) would cost more than it saves.
``GRADLOOM_CPU_THREADS`` (else ``OMP_NUM_THREADS``, else the usable cores) sets the thread
count; 1 disables splitting.
"""
import itertools
import os
import queue
import threading

MIN_ELEMENTS = 1 << 17


def _thread_count():
    for name in ("GRADLOOM_CPU_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return max(1, int(value.split(",")[0]))
            except ValueError:
                pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Job:
    __slots__ = ("fn", "parts", "counter", "pending", "lock", "done", "error")

    def __init__(self, fn, parts):
        self.fn, self.parts = fn, parts
        self.counter = itertools.count()   # next() is atomic under the GIL
        self.pending = len(parts)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def work(self):
        n = len(self.parts)
        while True:
            i = next(self.counter)
            if i >= n:
                return
            try:
                self.fn(*self.parts[i])
            except BaseException as exc:  # re-raised in the caller
                self.error = exc
            with self.lock:
                self.pending -= 1
                if not self.pending:
                    self.done.set()


class ThreadSplitter:
    """Runs ``fn(*part)`` for every part, on the caller plus ``threads - 1`` helpers."""

    def __init__(self, threads=None):
        self.threads = _thread_count() if threads is None else threads
        self._queues = []
        self._busy = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget_threads)

    def _forget_threads(self):
        # a forked child has none of the parent's threads
        self._queues = []
        self._busy = threading.Lock()

    def _start(self):
        for _ in range(self.threads - 1):
            q = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(q,), daemon=True,
                             name="gradloom-cpu-worker").start()
            self._queues.append(q)

    @staticmethod
    def _serve(q):
        while True:
            q.get().work()

    def chunks(self, size):
        """How many parts to cut ``size`` elements into (1: do not split)."""
        if self.threads < 2 or size < MIN_ELEMENTS or self._busy.locked():
            return 1   # (locked: a SerialSection, or another thread's job, is running)
        return 2 * self.threads

    def run(self, fn, parts):
        if len(parts) < 2 or self.threads < 2:
            for part in parts:
                fn(*part)
            return
        # another Python thread already splitting (two executors at once): stay serial
        if not self._busy.acquire(blocking=False):
            for part in parts:
                fn(*part)
            return
        try:
            if not self._queues:
                self._start()
            job = _Job(fn, parts)
            for q in self._queues:
                q.put(job)
            job.work()
            job.done.wait()
        finally:
            self._busy.release()
        if job.error is not None:
            raise job.error


SPLITTER = ThreadSplitter()


class SerialSection:
    """While inside, ``SPLITTER`` runs every job on the calling thread.

    For steps whose GEMMs run on BLAS's own threads: after each product those threads keep
    spinning for a while, so helpers woken for the element-wise work in between compete with
    them for the cores (on a 2-core host a relu over 256x1024 floats took 0.13 ms split and
    0.07 ms serial). One per executor: it remembers whether it took the splitter's lock.
    """

    def __init__(self, splitter=None):
        self.splitter = SPLITTER if splitter is None else splitter
        self.held = False

    def __enter__(self):
        # another thread splitting right now keeps the lock; this step then stays serial
        # anyway (``run`` sees the lock taken)
        self.held = self.splitter._busy.acquire(blocking=False)

    def __exit__(self, *exc):
        if self.held:
            self.held = False
            self.splitter._busy.release()


def bounds(length, parts):
    """``parts`` (start, stop) ranges covering ``range(length)``, none empty."""
    parts = max(1, min(parts, length))
    step, extra = divmod(length, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + step + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def split_axis(shape):
    """The first axis long enough to cut (None: none is)."""
    for axis, n in enumerate(shape):
        if n >= 2:
            return axis
    return None


def run_sliced(fn, arrays, axis=None, size=None):
    """``fn(*slices)`` over matching slices of ``arrays`` (same length along ``axis``).

    ``None`` entries pass through unsliced. Serial when the arrays are small or the host
    has one thread.
    """
    first = arrays[0]
    if first is None:
        first = next(a for a in arrays if a is not None)
    size = first.size if size is None else size
    if size < MIN_ELEMENTS:          # the common small case: no further Python work
        fn(*arrays)
        return
    chunks = SPLITTER.chunks(size)
    if axis is None:
        axis = split_axis(first.shape)
    if chunks < 2 or axis is None:
        fn(*arrays)
        return
    parts = []
    for start, stop in bounds(first.shape[axis], chunks):
        index = (slice(None),) * axis + (slice(start, stop),)
        parts.append(tuple(None if a is None else a[index] for a in arrays))
    SPLITTER.run(fn, parts)
