"""Data sets: IDX reading, MNIST / Fashion-MNIST loading, and a bundled MNIST subset."""
from .idx import parse_idx, read_idx
from .mnist import (DatasetNotFoundError, candidate_dirs, find_split_files, load_bundled_mnist,
                    load_mnist)

__all__ = ["read_idx", "parse_idx", "load_mnist", "load_bundled_mnist", "find_split_files",
           "candidate_dirs", "DatasetNotFoundError"]
