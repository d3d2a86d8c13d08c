"""``ResizeIter``: a fixed number of batches per epoch from any iterator."""
from .base import BatchHoldingIter


class ResizeIter(BatchHoldingIter):
    """Yield exactly ``size`` batches per epoch, restarting ``data_iter`` when it runs out.

    ``reset()`` restarts the count and, with ``reset_internal`` (default), the inner
    iterator too; without it the next epoch continues where the inner iterator stopped.
    The inner batches are passed through unchanged (bucket keys and per-batch shapes kept).
    """

    def __init__(self, data_iter, size, reset_internal=True):
        super().__init__(data_iter.batch_size)
        self.data_iter = data_iter
        self.size = int(size)
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self):
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self):
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True
