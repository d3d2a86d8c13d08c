"""``DataIter``: the iterator protocol modules consume.

A subclass either overrides ``next`` or implements ``iter_next`` (advance, return whether
a batch is available) plus the ``get*`` accessors for the current batch.
"""
from .desc import DataBatch


class DataIter:
    """Base class of data iterators: ``for batch in it``, ``it.reset()``, ``provide_data``."""

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def reset(self):
        """Go back to the first batch. The base iterator has no position to reset."""

    def next(self):
        """The next ``DataBatch``; raises ``StopIteration`` at the end of the epoch."""
        if self.iter_next():
            return DataBatch(data=self.getdata(), label=self.getlabel(),
                             pad=self.getpad(), index=self.getindex())
        raise StopIteration

    def __next__(self):
        return self.next()

    def iter_next(self):
        """Advance to the next batch; False when the epoch is over (the base has none)."""
        return False

    def getdata(self):
        """List of data arrays of the current batch."""
        return None

    def getlabel(self):
        """List of label arrays of the current batch."""
        return None

    def getindex(self):
        """Example indices of the current batch (None when not tracked)."""
        return None

    def getpad(self):
        """Number of filler examples at the end of the current batch."""
        return 0

    @property
    def provide_data(self):
        """``DataDesc`` list of the data inputs (subclasses set or override it)."""
        return self.__dict__.get("_provide_data", [])

    @provide_data.setter
    def provide_data(self, value):
        self.__dict__["_provide_data"] = value

    @property
    def provide_label(self):
        """``DataDesc`` list of the label inputs (subclasses set or override it)."""
        return self.__dict__.get("_provide_label", [])

    @provide_label.setter
    def provide_label(self, value):
        self.__dict__["_provide_label"] = value


class BatchHoldingIter(DataIter):
    """A ``DataIter`` whose ``iter_next`` builds the whole current ``DataBatch``.

    ``iter_next`` stores it in ``current_batch`` (as MXNet's ResizeIter and PrefetchingIter
    expose it); ``next`` returns that same object and the ``get*`` accessors read its fields,
    so no second batch is assembled from the parts.
    """

    current_batch = None

    def next(self):
        if self.iter_next():
            return self.current_batch
        raise StopIteration

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad
