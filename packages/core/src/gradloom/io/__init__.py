"""Data iterators (MXNet's ``mx.io``): ``DataDesc``, ``DataBatch``, ``DataIter``,
``NDArrayIter``, ``ResizeIter``, ``PrefetchingIter``, ``CSVIter``, ``MNISTIter``."""
from .base import DataIter
from .csv_iter import CSVIter
from .desc import DataBatch, DataDesc
from .errors import DataIterError
from .mnist_iter import MNISTIter
from .ndarray_iter import NDArrayIter
from .prefetch import PrefetchingIter
from .resize import ResizeIter

__all__ = ["DataDesc", "DataBatch", "DataIter", "DataIterError", "NDArrayIter", "ResizeIter",
           "PrefetchingIter", "CSVIter", "MNISTIter"]
