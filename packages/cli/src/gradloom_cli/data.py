"""Data specs of the command line: a named data set, an IDX directory or file, CSV, .npz, .npy.

``load_arrays(spec, split, data_dir)`` returns ``(data, label)`` as numpy arrays: images as
float32 ``(N, 1, H, W)`` scaled to [0, 1], labels as float32 class indices (``None`` when
the source has no labels).
"""
import os

import numpy as np

from gradloom.base import ConfigError, FormatError

#: data sets known by name; loaded through gradloom.datasets
NAMED = ("mnist", "fashion-mnist", "mnist-small")

def _images(array):
    """uint8 images (N, H, W) -> float32 (N, 1, H, W) in [0, 1]; other arrays as float32."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32, copy=False)
    return array[:, None] if array.ndim == 3 else array


def _split_files(directory, split):
    """(images, labels) paths of a split in an IDX directory, or None."""
    from gradloom.datasets import DatasetNotFoundError, find_split_files
    try:
        return find_split_files(os.path.basename(os.path.normpath(directory)), split,
                                directory)
    except DatasetNotFoundError:
        return None


def load_idx_dir(directory, split):
    from gradloom.datasets import read_idx
    paths = _split_files(directory, split)
    if paths is None:
        prefix = "train" if split == "train" else "t10k"
        raise ConfigError(f"no {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte"
                          f"[.gz] in {directory}; an IDX directory holds MNIST-style files")
    return _images(read_idx(paths[0])), read_idx(paths[1]).astype(np.float32)


def load_named(name, split, data_dir):
    try:
        from gradloom.datasets import load_mnist
    except ImportError as exc:
        raise ConfigError(f"data set {name!r} needs gradloom.datasets, which this "
                          f"gradloom-core does not provide ({exc})") from None
    data, label = load_mnist(name, data_dir or None, split)
    data = _images(data.asnumpy() if hasattr(data, "asnumpy") else data)
    label = np.asarray(label.asnumpy() if hasattr(label, "asnumpy") else label,
                       dtype=np.float32)
    return data, label


def load_csv(path):
    """CSV with the label in the first column (a header row is skipped)."""
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    skip = 0 if _is_numeric_row(first) else 1
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32, skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise FormatError(f"{path}: not a numeric CSV ({exc}); expected label,feature,...") \
            from None
    if table.shape[1] < 2:
        raise FormatError(f"{path}: needs a label column and at least one feature column")
    return table[:, 1:], table[:, 0]


def load_csv_features(path):
    """CSV of features only (for prediction): every column is an input."""
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    skip = 0 if _is_numeric_row(first) else 1
    try:
        return np.loadtxt(path, delimiter=",", dtype=np.float32, skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise FormatError(f"{path}: not a numeric CSV ({exc})") from None


def _is_numeric_row(line):
    try:
        [float(v) for v in line.strip().split(",") if v.strip()]
        return True
    except ValueError:
        return False


def load_npz(path, need_label=True):
    with np.load(path, allow_pickle=False) as archive:
        if "data" not in archive.files:
            raise FormatError(f"{path} has no array 'data' (found: "
                              f"{', '.join(archive.files) or 'none'}); save it with "
                              f"numpy.savez(path, data=..., label=...)")
        data = _images(archive["data"])
        label = archive["label"].astype(np.float32) if "label" in archive.files else None
    if need_label and label is None:
        raise FormatError(f"{path} has no array 'label'; labelled data needs "
                          f"numpy.savez(path, data=..., label=...)")
    return data, label


def load_arrays(spec, split="train", data_dir="", need_label=True, option="--data"):
    """Resolve a data spec to ``(data, label)`` numpy arrays."""
    spec = str(spec)
    if spec in NAMED:
        return load_named(spec, split, data_dir)
    if not os.path.exists(spec):
        raise ConfigError(f"data not found: {spec!r} ({option}); give one of "
                          f"{', '.join(NAMED)}, an IDX directory, or a .csv/.npz file")
    if os.path.isdir(spec):
        return load_idx_dir(spec, split)
    lower = spec.lower()
    if lower.endswith(".npz"):
        return load_npz(spec, need_label)
    if lower.endswith(".csv"):
        if need_label:
            return load_csv(spec)
        return load_csv_features(spec), None
    if lower.endswith(".npy"):
        return _images(np.load(spec, allow_pickle=False)), None
    if "idx" in os.path.basename(lower):
        from gradloom.datasets import read_idx
        return _images(read_idx(spec)), None
    raise ConfigError(f"cannot tell the format of {spec!r} ({option}): use a .npz "
                      f"(arrays data, label), .csv (label first), .npy or IDX file, or a "
                      f"directory of IDX files")


def has_test_split(spec):
    return spec in NAMED or (os.path.isdir(spec) and _split_files(spec, "test") is not None)


def shape_for(data, input_shape):
    """Reshape ``data`` (N, ...) to the model's per-sample ``input_shape`` when sizes agree."""
    per_sample = int(np.prod(data.shape[1:]))
    wanted = int(np.prod(input_shape))
    if per_sample != wanted:
        raise ConfigError(f"the data has {per_sample} values per sample (shape "
                          f"{tuple(data.shape[1:])}) but the model takes {tuple(input_shape)}; "
                          f"pick a model that fits the data or reshape the data")
    return data.reshape((data.shape[0],) + tuple(input_shape))
