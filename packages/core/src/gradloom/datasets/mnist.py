"""MNIST and Fashion-MNIST from the standard IDX files, plus a small bundled subset.

Where the files are looked for, in order (first hit wins):
the ``data_dir`` argument (and ``data_dir/<name>``), else ``$GRADLOOM_DATA_DIR/<name>``
(and ``$GRADLOOM_DATA_DIR``), else ``~/.gradloom/datasets/<name>``.
"""
import os
from importlib import resources

import numpy as np

from ..base import GradloomError
from .idx import read_idx

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
KNOWN = ("mnist", "fashion-mnist")
BUNDLED = "mnist-small"
_SOURCES = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ (or any MNIST mirror)",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist (data/fashion)",
}


class DatasetNotFoundError(GradloomError, FileNotFoundError):
    """A data set's files are not in any of the places gradloom looks."""


def candidate_dirs(name, data_dir=None):
    """The directories searched for data set ``name``, in order."""
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        return [data_dir, os.path.join(data_dir, name)]
    env = os.environ.get("GRADLOOM_DATA_DIR")
    if env:
        return [os.path.join(env, name), env]
    return [os.path.join(os.path.expanduser("~"), ".gradloom", "datasets", name)]


def _find(directory, stem):
    for fname in (stem + ".gz", stem):
        path = os.path.join(directory, fname)
        if os.path.isfile(path):
            return path
    return None


def find_split_files(name, split="train", data_dir=None):
    """Paths ``(images, labels)`` of one split, or ``DatasetNotFoundError``."""
    if split not in SPLIT_FILES:
        raise GradloomError(f"split must be 'train' or 'test', got {split!r}")
    stems = SPLIT_FILES[split]
    dirs = candidate_dirs(name, data_dir)
    for directory in dirs:
        paths = [_find(directory, stem) for stem in stems]
        if all(paths):
            return tuple(paths)
    files = ", ".join(f"{s}[.gz]" for pair in SPLIT_FILES.values() for s in pair)
    raise DatasetNotFoundError(
        f"data set {name!r} ({split}) not found; looked in: {', '.join(dirs)}. "
        f"Download the four IDX files ({files}) from {_SOURCES.get(name, 'its home page')} "
        f"into one of those directories, or point GRADLOOM_DATA_DIR or data_dir= at the "
        f"directory holding them. For a quick start without downloads use "
        f"load_mnist({BUNDLED!r}) (a small subset shipped with gradloom).")


def load_bundled_mnist(split="train"):
    """The MNIST subset shipped inside gradloom: ``(images uint8 (N,28,28), labels uint8)``.

    Train: the first 5000 training digits; test: the first 1000 test digits.
    """
    if split not in SPLIT_FILES:
        raise GradloomError(f"split must be 'train' or 'test', got {split!r}")
    ref = resources.files(__package__).joinpath("data", "mnist-small.npz")
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
        return npz[f"{split}_images"], npz[f"{split}_labels"]


def load_mnist(name="mnist", data_dir=None, split="train"):
    """``(images uint8 (N,28,28), labels uint8 (N,))`` of ``name`` ('mnist',
    'fashion-mnist', or the bundled 'mnist-small')."""
    if name == BUNDLED:
        return load_bundled_mnist(split)
    if name not in KNOWN:
        raise GradloomError(f"unknown data set {name!r}; choose one of "
                            f"{', '.join(KNOWN + (BUNDLED,))}")
    image_path, label_path = find_split_files(name, split, data_dir)
    images = read_idx(image_path)
    labels = read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        from ..base import FormatError
        raise FormatError(f"{image_path} / {label_path}: image shape {images.shape} and "
                          f"label shape {labels.shape} do not form a data set (expected "
                          "(N, rows, cols) and (N,)); download the files again")
    return images, labels
