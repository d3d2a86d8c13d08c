"""``DataDesc`` (name + shape + dtype + layout of one input) and ``DataBatch``."""
from collections import namedtuple

import numpy as np

from ..base import DTypeError, ShapeError
from .errors import DataIterError


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Description of one data or label input: ``DataDesc(name, shape, dtype, layout)``.

    It is a ``(name, shape)`` tuple with two extra attributes, so it unpacks as a pair and
    compares/hashes by name and shape only: a dtype or layout difference alone is not a
    "shape change" for the executors.
    """

    def __new__(cls, name, shape, dtype=np.float32, layout="NCHW"):
        if isinstance(shape, list):
            shape = tuple(shape)
        ret = super().__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __getnewargs__(self):
        return (self.name, self.shape, self.dtype, self.layout)

    def __repr__(self):
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"

    @staticmethod
    def get_batch_axis(layout):
        """Axis holding the batch: 0 without a layout, else the position of ``'N'``.

        -1 (no ``N``) means the input is not split across devices but copied whole.
        """
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes, types):
        """``[(name, shape), ...]`` plus optional ``[(name, dtype), ...]`` -> DataDescs."""
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


class DataBatch:
    """One mini-batch: lists of data and label arrays plus bookkeeping.

    ``pad`` counts the filler examples at the END of the batch (they repeat earlier
    examples and should not be scored); ``bucket_key`` picks the bucket of a
    BucketingModule; ``provide_data``/``provide_label`` describe this batch's shapes when
    they differ from the iterator's.
    """

    def __init__(self, data, label=None, pad=None, index=None, bucket_key=None,
                 provide_data=None, provide_label=None):
        if data is not None and not isinstance(data, (list, tuple)):
            raise DataIterError(
                f"DataBatch data must be a list of arrays, got {type(data).__name__}; "
                "wrap a single array as [array]")
        if label is not None and not isinstance(label, (list, tuple)):
            raise DataIterError(
                f"DataBatch label must be a list of arrays, got {type(label).__name__}; "
                "wrap a single array as [array]")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        data_shapes = [d.shape for d in self.data] if self.data is not None else None
        label_shapes = [lab.shape for lab in self.label] if self.label else None
        return (f"{self.__class__.__name__}: data shapes: {data_shapes} "
                f"label shapes: {label_shapes}")


def normalise_descs(shapes, what="data_shapes"):
    """``[DataDesc]`` from DataDescs or ``(name, shape)`` pairs, shapes checked."""
    if shapes is None:
        return None
    out = []
    for item in shapes:
        if isinstance(item, DataDesc):
            desc = item
        else:
            try:
                name, shape = item
            except (TypeError, ValueError):
                raise DTypeError(f"{what} entries must be DataDesc or (name, shape) pairs, "
                                 f"got {item!r}") from None
            desc = DataDesc(name, shape)
        shape = desc.shape
        if not isinstance(shape, (tuple, list)) or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
            raise DTypeError(f"the shape of {what[:-7] or 'input'} {desc.name!r} must be a "
                             f"tuple of ints, got {shape!r}")
        if any(s < 0 for s in shape):
            raise ShapeError(f"the shape of {desc.name!r} has a negative size: {shape}")
        if not isinstance(desc.shape, tuple):
            desc = DataDesc(desc.name, tuple(shape), desc.dtype, desc.layout)
        out.append(desc)
    return out
