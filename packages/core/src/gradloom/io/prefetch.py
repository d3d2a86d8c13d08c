"""``PrefetchingIter``: read the next batch in a background thread while the caller
computes on the current one.

One worker thread per inner iterator. Each worker waits until its slot has been taken,
then fetches the next batch into it; numpy and file reading release the GIL, so loading
really overlaps with compute. Exceptions raised by an inner iterator are re-raised in the
caller's thread.
"""
import threading
import weakref

from ..base import StateError
from .base import BatchHoldingIter
from .desc import DataBatch, DataDesc
from .errors import DataIterError


class _Slot:
    """The hand-over point between one worker and the consumer."""

    def __init__(self, source):
        self.source = source
        self.ready = threading.Event()   # a batch (or the end / an error) is in `batch`
        self.taken = threading.Event()   # the consumer wants the next batch
        self.batch = None
        self.error = None
        self.stop = False


def _worker(slot):
    # Holds only the slot, never the PrefetchingIter, so the iterator can be collected.
    while True:
        slot.taken.wait()
        if slot.stop:
            return
        slot.taken.clear()
        try:
            slot.batch = slot.source.next()
            slot.error = None
        except StopIteration:
            slot.batch = None
        except BaseException as err:  # handed to the consumer thread
            slot.batch = None
            slot.error = err
        slot.ready.set()


def _shutdown(slots, threads):
    for slot in slots:
        slot.stop = True
        slot.taken.set()
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(timeout=5)


class PrefetchingIter(BatchHoldingIter):
    """Prefetch from one or several iterators; their data/label lists are concatenated.

    ``rename_data``/``rename_label``: one ``{old: new}`` dict per inner iterator applied to
    its ``provide_data``/``provide_label`` names. All inner iterators must yield the same
    number of batches with the same ``pad``.
    """

    def __init__(self, iters, rename_data=None, rename_label=None):
        super().__init__()
        if not isinstance(iters, (list, tuple)):
            iters = [iters]
        if not iters:
            raise DataIterError("PrefetchingIter needs at least one iterator")
        self.iters = list(iters)
        self.n_iter = len(self.iters)
        self.rename_data = rename_data
        self.rename_label = rename_label
        self.provide_data = self._renamed("provide_data", rename_data)
        self.provide_label = self._renamed("provide_label", rename_label)
        self.batch_size = self.provide_data[0].shape[0]
        self.current_batch = None
        self._closed = False
        self._slots = [_Slot(it) for it in self.iters]
        self._threads = [threading.Thread(target=_worker, args=(slot,), daemon=True,
                                          name=f"gradloom-prefetch-{i}")
                         for i, slot in enumerate(self._slots)]
        for thread in self._threads:
            thread.start()
        self._finalizer = weakref.finalize(self, _shutdown, self._slots, self._threads)
        self._request_all()

    def _renamed(self, attr, renames, sources=None):
        descs = []
        for i, src in enumerate(sources if sources is not None else self.iters):
            mapping = renames[i] if renames is not None else {}
            for desc in getattr(src, attr) or []:
                if not isinstance(desc, DataDesc):
                    desc = DataDesc(*desc)
                descs.append(DataDesc(mapping.get(desc.name, desc.name), desc.shape,
                                      desc.dtype, desc.layout))
        return descs

    def _request_all(self):
        for slot in self._slots:
            slot.ready.clear()
            slot.taken.set()

    def _wait_all(self):
        for slot in self._slots:
            slot.ready.wait()
        for slot in self._slots:
            if slot.error is not None:
                err, slot.error = slot.error, None
                raise err

    def close(self):
        """Stop the worker threads (also done when the iterator is garbage collected)."""
        self._closed = True
        self._finalizer()

    def _check_open(self):
        if self._closed:
            raise StateError("this PrefetchingIter was closed; create a new one to read "
                             "the data again")

    def reset(self):
        self._check_open()
        # Let the in-flight fetches finish before rewinding the sources under them.
        for slot in self._slots:
            slot.ready.wait()
        for it in self.iters:
            it.reset()
        for slot in self._slots:
            slot.error = None
        self._request_all()

    def iter_next(self):
        self._check_open()
        self._wait_all()
        batches = [slot.batch for slot in self._slots]
        if batches[0] is None:
            if any(b is not None for b in batches):
                raise DataIterError("Number of entry mismatches between iterators: they "
                                    "must all yield the same number of batches")
            return False
        if any(b is None for b in batches) or any(b.pad != batches[0].pad for b in batches):
            raise DataIterError("Number of entry mismatches between iterators: batch counts "
                                "or pads differ")
        self.current_batch = DataBatch(
            sum((list(b.data) for b in batches), []),
            sum((list(b.label or []) for b in batches), []),
            batches[0].pad, batches[0].index,
            bucket_key=batches[0].bucket_key,
            provide_data=self._batch_descs(batches, "provide_data", self.rename_data),
            provide_label=self._batch_descs(batches, "provide_label", self.rename_label))
        for slot in self._slots:
            slot.batch = None
        self._request_all()
        return True

    def _batch_descs(self, batches, attr, renames):
        # Batches that describe their own shapes (bucketing) keep doing so.
        if all(getattr(b, attr, None) is not None for b in batches):
            return self._renamed(attr, renames, batches)
        return getattr(self, attr)
