"""IDX reading, MNIST / Fashion-MNIST loading and the bundled MNIST subset."""
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from gradloom.base import FormatError, GradloomError
from gradloom.datasets import (DatasetNotFoundError, load_bundled_mnist, load_mnist, parse_idx,
                               read_idx)
from gradloom.datasets import mnist as mnist_mod

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists()
    or not (SHARED_DATA / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists(),
    reason=f"MNIST / Fashion-MNIST files not found under {SHARED_DATA}")


def idx_bytes(arr, code=0x08):
    dt = {0x08: ">u1", 0x0D: ">f4", 0x0C: ">i4"}[code]
    return (struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
            + arr.astype(dt).tobytes())


def test_parse_idx_types_and_round_trip(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)
    f = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    out = parse_idx(idx_bytes(f, 0x0D))
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, f)
    i = np.array([-5, 70000], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(i, 0x0C)), i)
    raw, gz = tmp_path / "a-idx3-ubyte", tmp_path / "b.gz"
    raw.write_bytes(idx_bytes(a))
    with gzip.open(gz, "wb") as fh:
        fh.write(idx_bytes(a))
    np.testing.assert_array_equal(read_idx(raw), a)
    np.testing.assert_array_equal(read_idx(gz), a)  # detected by content


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0", "trailing"),
    (lambda b: b"\x01" + b[1:], "not an IDX"),
    (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX"),
    (lambda b: b[:6], "truncated IDX header"),
    (lambda b: b[:2], "too short"),
])
def test_bad_idx_names_the_file(tmp_path, mutate, match):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(mutate(idx_bytes(np.arange(10, dtype=np.uint8).reshape(2, 5))))
    with pytest.raises(FormatError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_is_format_error(tmp_path):
    path = tmp_path / "x.gz"
    data = gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(FormatError, match=str(path)):
        read_idx(path)


def test_missing_dataset_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADLOOM_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("fashion-mnist")
    msg = str(info.value)
    assert str(tmp_path / "env" / "fashion-mnist") in msg and str(tmp_path / "env") in msg
    assert "train-images-idx3-ubyte" in msg and "mnist-small" in msg
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, GradloomError)
    monkeypatch.delenv("GRADLOOM_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_mod.candidate_dirs("mnist") == [
        os.path.join(str(tmp_path / "home"), ".gradloom", "datasets", "mnist")]
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "given")):
        load_mnist("mnist", data_dir=tmp_path / "given")
    with pytest.raises(GradloomError, match="unknown data set"):
        load_mnist("cifar")
    with pytest.raises(GradloomError, match="split"):
        load_mnist("mnist-small", split="valid")


def test_lookup_order_and_raw_files(tmp_path, monkeypatch):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 7], dtype=np.uint8)
    env_dir = tmp_path / "env" / "mnist"
    env_dir.mkdir(parents=True)
    (env_dir / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (env_dir / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    monkeypatch.setenv("GRADLOOM_DATA_DIR", str(tmp_path / "env"))
    got_i, got_l = load_mnist("mnist", split="test")
    np.testing.assert_array_equal(got_i, images)
    np.testing.assert_array_equal(got_l, labels)
    # a mismatched pair is a format error
    (env_dir / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:1]))
    with pytest.raises(FormatError, match="do not form a data set"):
        load_mnist("mnist", split="test")


def test_bundled_subset_shape_and_size():
    path = Path(mnist_mod.__file__).parent / "data" / "mnist-small.npz"
    assert path.stat().st_size < 3 * 1024 * 1024
    assert (path.parent / "README.md").exists()
    tr_i, tr_l = load_bundled_mnist("train")
    te_i, te_l = load_mnist("mnist-small", split="test")
    assert tr_i.shape == (5000, 28, 28) and tr_i.dtype == np.uint8
    assert te_i.shape == (1000, 28, 28) and te_l.shape == (1000,)
    assert tr_l[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert set(np.unique(tr_l)) == set(range(10))
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["test_images", "test_labels", "train_images",
                                     "train_labels"]


@needs_shared
def test_full_mnist_and_fashion_mnist():
    for name in ("mnist", "fashion-mnist"):
        tr_i, tr_l = load_mnist(name, data_dir=SHARED_DATA, split="train")
        te_i, te_l = load_mnist(name, data_dir=SHARED_DATA / name, split="test")
        assert tr_i.shape == (60000, 28, 28) and tr_l.shape == (60000,)
        assert te_i.shape == (10000, 28, 28) and te_l.shape == (10000,)
        assert tr_l.min() == 0 and tr_l.max() == 9 and te_l.min() == 0 and te_l.max() == 9
        assert np.bincount(tr_l).tolist() == ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                               5851, 5949] if name == "mnist" else [6000] * 10)
    tr_i, tr_l = load_mnist("mnist", data_dir=SHARED_DATA)
    assert abs(tr_i.mean() / 255 - 0.1307) < 1e-3
    small_i, small_l = load_bundled_mnist("train")
    np.testing.assert_array_equal(small_i, tr_i[:5000])
    np.testing.assert_array_equal(small_l, tr_l[:5000])
    te_i, te_l = load_mnist("mnist", data_dir=SHARED_DATA, split="test")
    small_i, small_l = load_bundled_mnist("test")
    np.testing.assert_array_equal(small_i, te_i[:1000])
    np.testing.assert_array_equal(small_l, te_l[:1000])
