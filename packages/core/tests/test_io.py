"""Data iterators: DataDesc/DataBatch, NDArrayIter, ResizeIter, PrefetchingIter, CSVIter,
MNISTIter (numbers from MXNet's test_io.py and verified 1.9.1 behaviour)."""
import gzip
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ConfigError, GradloomError
from gradloom.io import (CSVIter, DataBatch, DataDesc, DataIter, DataIterError, MNISTIter,
                         NDArrayIter, PrefetchingIter, ResizeIter)
from gradloom.io.errors import UnsupportedDataError

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
                                 reason=f"MNIST files not found in {MNIST_DIR}")


def values(batch, which="data", k=0):
    return getattr(batch, which)[k].asnumpy()


# -- DataDesc / DataBatch -----------------------------------------------------------------
def test_datadesc_tuple_semantics():
    d = DataDesc("data", (2, 3), np.float16, "NTC")
    name, shape = d
    assert (name, shape) == ("data", (2, 3))
    assert d == DataDesc("data", (2, 3)) and hash(d) == hash(DataDesc("data", (2, 3)))
    assert d.dtype == np.float16 and d.layout == "NTC"
    assert repr(DataDesc("x", (4,))) == "DataDesc[x,(4,),<class 'numpy.float32'>,NCHW]"
    assert DataDesc.get_batch_axis(None) == 0
    assert DataDesc.get_batch_axis("TNC") == 1
    assert DataDesc.get_batch_axis("TC") == -1
    descs = DataDesc.get_list([("a", (1, 2)), ("b", (3,))], [("a", np.int32), ("b", np.float64)])
    assert [(x.name, x.shape, x.dtype) for x in descs] == [("a", (1, 2), np.int32),
                                                           ("b", (3,), np.float64)]
    assert DataDesc.get_list([("a", (1,))], None)[0].dtype == np.float32


def test_databatch_str_and_checks():
    assert str(DataBatch([mx.nd.ones((2, 3))])) == \
        "DataBatch: data shapes: [(2, 3)] label shapes: None"
    b = DataBatch([mx.nd.ones((2, 3)), mx.nd.ones((7, 8))], [mx.nd.ones((4, 5))])
    assert str(b) == "DataBatch: data shapes: [(2, 3), (7, 8)] label shapes: [(4, 5)]"
    with pytest.raises(AssertionError):
        DataBatch(mx.nd.ones((2, 3)))
    with pytest.raises(DataIterError):
        DataBatch([mx.nd.ones((2, 3))], label=mx.nd.ones((2,)))


def test_base_dataiter_builds_batches_from_accessors():
    class Counter(DataIter):
        def __init__(self):
            super().__init__(batch_size=2)
            self.i = 0

        def reset(self):
            self.i = 0

        def iter_next(self):
            self.i += 1
            return self.i <= 3

        def getdata(self):
            return [mx.nd.array(np.full((2,), self.i))]

    it = Counter()
    assert iter(it) is it
    got = [values(b)[0] for b in it]
    assert got == [1, 2, 3]
    it.reset()
    assert next(it).pad == 0


# -- NDArrayIter -------------------------------------------------------------------------
@pytest.mark.parametrize("mode,expected", [
    ("pad", [([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0), ([8, 9, 0, 1], 2)]),
    ("discard", [([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]),
    ("roll_over", [([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]),
])
def test_last_batch_handle_small(mode, expected):
    it = NDArrayIter(np.arange(10), batch_size=4, last_batch_handle=mode)
    assert [(values(b).tolist(), b.pad) for b in it] == expected


def test_roll_over_carries_remainder_and_hard_reset_drops_it():
    it = NDArrayIter(np.arange(10), batch_size=4, last_batch_handle="roll_over")
    list(it)
    it.reset()
    assert [(values(b).tolist(), b.pad) for b in it] == \
        [([8, 9, 0, 1], 0), ([2, 3, 4, 5], 0), ([6, 7, 8, 9], 0)]
    it.reset()
    assert [values(b).tolist() for b in it] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    it.reset()
    it.hard_reset()
    assert values(next(it)).tolist() == [0, 1, 2, 3]


def _counts(it, value):
    """How many label entries equal ``value`` over one epoch (and the batch count)."""
    n, count = 0, 0
    for batch in it:
        lab = values(batch, "label")
        count += int((lab == value).sum())
        n += 1
        # every batch's data row 0 element equals its label
        data = batch.data[0].asnumpy()
        np.testing.assert_array_equal(data.reshape(data.shape[0], -1)[:, 0], lab.ravel())
    return n, count


@pytest.mark.parametrize("as_nd", [False, True])
def test_ndarrayiter_mxnet_counts(as_nd):
    # test_io.py::test_NDArrayIter: 1000 samples, batch 128
    data = np.ones((1000, 2, 2), dtype=np.float32)
    label = np.ones((1000, 1), dtype=np.float32)
    for i in range(1000):
        data[i] = i // 100
        label[i] = i // 100
    if as_nd:
        data, label = mx.nd.array(data), mx.nd.array(label)
    n, c0 = _counts(NDArrayIter(data, label, 128, last_batch_handle="pad"), 0)
    assert (n, c0) == (8, 124)
    n, c8 = _counts(NDArrayIter(data, label, 128, last_batch_handle="pad"), 8)
    assert c8 == 100
    n, c0 = _counts(NDArrayIter(data, label, 128, last_batch_handle="discard"), 0)
    assert (n, c0) == (7, 100)
    assert _counts(NDArrayIter(data, label, 128, last_batch_handle="discard"), 8)[1] == 96
    it = NDArrayIter(data, label, 128, last_batch_handle="roll_over")
    n, c0 = _counts(it, 0)
    assert (n, c0) == (7, 100)
    it.reset()
    first = next(it)
    last_pad = list(NDArrayIter(data, label, 128, last_batch_handle="pad"))[-1]
    np.testing.assert_array_equal(values(first), values(last_pad))
    # the rolled-over batch holds only real samples: no pad (MXNet reported 104 there)
    assert (first.pad, last_pad.pad) == (0, 24)


@pytest.mark.parametrize("mode,batches", [("pad", 40), ("discard", 39), ("roll_over", 39)])
def test_ndarrayiter_image_batches(mode, batches):
    data = np.zeros((5000, 1, 28, 28), dtype=np.float32)
    it = NDArrayIter(data, np.zeros(5000), 128, last_batch_handle=mode)
    assert sum(1 for _ in it) == batches


def test_input_forms_and_names():
    a = np.arange(12).reshape(6, 2)
    it = NDArrayIter([a, a + 100], batch_size=3)
    assert [d.name for d in it.provide_data] == ["_0_data", "_1_data"]
    b = next(it)
    np.testing.assert_array_equal(values(b, k=1), a[:3] + 100)
    it = NDArrayIter({"b": a, "a": a * 2}, {"lab": np.arange(6)}, batch_size=2)
    assert [d.name for d in it.provide_data] == ["a", "b"]  # sorted by key
    assert [d.name for d in it.provide_label] == ["lab"]
    b = next(it)
    np.testing.assert_array_equal(values(b, k=0), a[:2] * 2)
    # integer numpy inputs become float32; NDArray inputs keep their dtype
    assert values(b, "label").dtype == np.float32
    assert it.provide_label[0].dtype == np.float32
    nd_int = mx.nd.array(np.arange(6), dtype=np.int32)
    assert NDArrayIter(nd_int, batch_size=2).provide_data[0].dtype == np.int32
    # no labels / empty label list
    for lab in (None, []):
        batch = next(NDArrayIter(a, lab, batch_size=2))
        assert batch.label == []
    with pytest.raises(AssertionError):
        NDArrayIter(None)
    with pytest.raises(ConfigError):
        NDArrayIter(a, last_batch_handle="wrap")


def test_provide_shapes_and_layout():
    it = NDArrayIter(np.zeros((10, 3, 4)), np.zeros(10), batch_size=4)
    assert it.provide_data[0].shape == (4, 3, 4)
    assert it.provide_label[0].shape == (4,)
    assert it.provide_data[0].layout == "NCHW"
    # time-major data: batch axis 1
    it = NDArrayIter(np.arange(30).reshape(3, 10), batch_size=4, layout="TN")
    assert it.provide_data[0].shape == (3, 4)
    b = next(it)
    np.testing.assert_array_equal(values(b), np.arange(30).reshape(3, 10)[:, :4])


def test_shuffle_follows_idx_and_seed():
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    mx.random.seed(7)
    it = NDArrayIter(data, np.arange(10), batch_size=1, shuffle=True)
    for i, batch in enumerate(it):
        np.testing.assert_array_equal(values(batch)[0], data[it.idx[i]])
        assert values(batch, "label")[0] == it.idx[i]
    assert sorted(it.idx.tolist()) == list(range(10))
    order1 = it.idx.copy()
    orders = set()
    for _ in range(5):  # every reset draws a new order
        it.reset()
        orders.add(tuple(it.idx))
    assert len(orders) > 1
    # the same seed gives the same order
    mx.random.seed(7)
    again = NDArrayIter(data, np.arange(10), batch_size=1, shuffle=True)
    np.testing.assert_array_equal(again.idx, order1)


def test_tiny_dataset_padding_tiles():
    it = NDArrayIter(np.arange(10), batch_size=205)
    batch = next(it)
    expected = np.concatenate([np.tile(np.arange(10), 20), np.arange(5)])
    np.testing.assert_array_equal(values(batch), expected)
    assert batch.pad == 195


class _FakeCSR:
    """Stands in for a sparse CSR array: the iterator only needs ``stype`` and
    conversion to dense."""
    stype = "csr"

    def __init__(self, dense):
        self.dense = dense
        self.shape = dense.shape

    def asnumpy(self):
        return self.dense


def test_sparse_only_with_discard():
    dense = np.arange(30, dtype=np.float32).reshape(10, 3)
    with pytest.raises(NotImplementedError):
        NDArrayIter(_FakeCSR(dense), batch_size=3)
    with pytest.raises(UnsupportedDataError):
        NDArrayIter(_FakeCSR(dense), batch_size=3, last_batch_handle="roll_over")
    it = NDArrayIter(_FakeCSR(dense), np.arange(10), batch_size=3, shuffle=True,
                     last_batch_handle="discard")
    assert sum(1 for _ in it) == 10 // 3
    with pytest.raises(StopIteration):
        next(it)


# -- ResizeIter ----------------------------------------------------------------------------
def test_resize_iter():
    inner = NDArrayIter(np.arange(10), batch_size=4)
    it = ResizeIter(inner, 5)
    assert it.provide_data == inner.provide_data and it.batch_size == 4
    got = [(values(b).tolist(), b.pad) for b in it]
    assert got == [([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0), ([8, 9, 0, 1], 2),
                   ([0, 1, 2, 3], 0), ([4, 5, 6, 7], 0)]
    it.reset()
    assert values(next(it)).tolist() == [0, 1, 2, 3]
    # without reset_internal the next epoch continues the inner iterator
    it = ResizeIter(NDArrayIter(np.arange(10), batch_size=4), 2, reset_internal=False)
    list(it)
    it.reset()
    assert values(next(it)).tolist() == [8, 9, 0, 1]


# -- PrefetchingIter -----------------------------------------------------------------------
def test_prefetching_concatenates_and_renames():
    a = NDArrayIter(np.arange(10), np.arange(10) * 2, batch_size=4)
    b = NDArrayIter(np.arange(10) + 100, np.arange(10) * 3, batch_size=4)
    it = PrefetchingIter([a, b], rename_data=[{"data": "d1"}, {"data": "d2"}])
    assert [d.name for d in it.provide_data] == ["d1", "d2"]
    assert [d.name for d in it.provide_label] == ["softmax_label", "softmax_label"]
    assert it.batch_size == 4
    batches = list(it)
    assert len(batches) == 3
    assert values(batches[0], k=1).tolist() == [100, 101, 102, 103]
    assert values(batches[0], "label", k=1).tolist() == [0, 3, 6, 9]
    assert batches[2].pad == 2
    assert [d.name for d in batches[0].provide_data] == ["d1", "d2"]
    it.reset()
    assert values(next(it)).tolist() == [0, 1, 2, 3]
    it.close()
    with pytest.raises(GradloomError, match="closed"):
        next(it)


def test_prefetching_mismatched_iterators():
    a = NDArrayIter(np.arange(8), batch_size=4)
    b = NDArrayIter(np.arange(12), batch_size=4)
    it = PrefetchingIter([a, b])
    next(it)
    next(it)
    with pytest.raises(AssertionError, match="mismatch"):
        next(it)
    it.close()


class _Slow(DataIter):
    """Each batch takes ``delay`` seconds to produce."""

    def __init__(self, n, delay):
        super().__init__(batch_size=2)
        self.n, self.delay, self.i = n, delay, 0
        self.provide_data = [DataDesc("data", (2,))]
        self.provide_label = []

    def reset(self):
        self.i = 0

    def next(self):
        if self.i >= self.n:
            raise StopIteration
        time.sleep(self.delay)
        self.i += 1
        return DataBatch([mx.nd.array(np.full((2,), self.i))], [])


def test_prefetching_overlaps_loading_with_compute():
    n, delay = 6, 0.05
    start = time.perf_counter()
    for _ in _Slow(n, delay):
        time.sleep(delay)  # the "compute"
    serial = time.perf_counter() - start
    it = PrefetchingIter(_Slow(n, delay))
    start = time.perf_counter()
    got = []
    for batch in it:
        got.append(values(batch)[0])
        time.sleep(delay)
    overlapped = time.perf_counter() - start
    it.close()
    assert got == [1, 2, 3, 4, 5, 6]
    assert serial >= 2 * n * delay * 0.95
    # sum would be 0.6 s, max-bound about 0.35 s
    assert overlapped < 0.8 * serial, (overlapped, serial)


def test_prefetching_reraises_source_errors_and_stops_threads():
    class Broken(_Slow):
        def next(self):
            raise OSError("disk gone")

    it = PrefetchingIter(Broken(3, 0))
    with pytest.raises(OSError, match="disk gone"):
        next(it)
    threads = list(it._threads)
    it.close()
    for t in threads:
        t.join(timeout=2)
        assert not t.is_alive()


# -- CSVIter ---------------------------------------------------------------------------------
def _write_csv(path, rows):
    path.write_text("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")


def test_csviter_round_batch(tmp_path):
    data = tmp_path / "data.csv"
    _write_csv(data, [[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]])
    it = CSVIter(data_csv=str(data), data_shape=(3,), batch_size=3)
    first = [(values(b).tolist(), b.pad) for b in it]
    assert first == [([[1, 2, 3], [2, 3, 4], [3, 4, 5]], 0),
                     ([[4, 5, 6], [1, 2, 3], [2, 3, 4]], 2)]
    it.reset()  # MXNet: the next epoch continues after the wrapped rows
    second = [(values(b).tolist(), b.pad) for b in it]
    assert second == [([[3, 4, 5], [4, 5, 6], [1, 2, 3]], 1)]
    assert it.provide_data[0].shape == (3, 3)
    assert it.provide_label[0].shape == (3,)
    assert values(next(CSVIter(str(data), (3,), batch_size=2)), "label").tolist() == [0, 0]


def test_csviter_labels_shapes_and_no_round(tmp_path):
    data, label = tmp_path / "d.csv", tmp_path / "l.csv"
    _write_csv(data, [[i] * 4 for i in range(5)])
    _write_csv(label, [[i * 10] for i in range(5)])
    it = CSVIter(str(data), (2, 2), label_csv=str(label), batch_size=2, round_batch=False)
    batches = list(it)
    assert [b.pad for b in batches] == [0, 0, 1]
    assert values(batches[0]).shape == (2, 2, 2)
    assert values(batches[1], "label").tolist() == [20, 30]
    assert values(batches[2], "label")[0] == 40
    it.reset()
    assert len(list(it)) == 3
    bad = tmp_path / "bad.csv"
    _write_csv(bad, [[1, 2, 3]])
    with pytest.raises(GradloomError, match="needs 4"):
        CSVIter(str(bad), (2, 2), batch_size=1)


# -- MNISTIter ---------------------------------------------------------------------------
def _write_idx(path, arr, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I",
                                                                         *arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        Path(path).write_bytes(raw)


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    labels = np.arange(10, dtype=np.uint8)
    _write_idx(tmp_path / "img-idx3-ubyte.gz", images, True)
    _write_idx(tmp_path / "lab-idx1-ubyte", labels, False)
    return tmp_path, images, labels


def test_mnistiter_small_files(tiny_mnist):
    d, images, labels = tiny_mnist
    # the .gz file is found from the uncompressed name
    it = MNISTIter(image=str(d / "img-idx3-ubyte"), label=str(d / "lab-idx1-ubyte"),
                   batch_size=4, shuffle=False, silent=True)
    batches = list(it)
    assert len(batches) == 2  # the incomplete third batch is dropped
    b = batches[1]
    assert b.pad == 0
    assert values(b).shape == (4, 1, 28, 28) and values(b).dtype == np.float32
    np.testing.assert_array_equal(values(b), images[4:8, None] / np.float32(256))
    assert values(b, "label").tolist() == [4, 5, 6, 7]
    assert it.provide_data[0].shape == (4, 1, 28, 28)
    assert it.provide_label[0].shape == (4,)
    flat = MNISTIter(image=str(d / "img-idx3-ubyte.gz"), label=str(d / "lab-idx1-ubyte"),
                     batch_size=5, shuffle=False, flat=True, silent=True)
    assert values(next(flat)).shape == (5, 784)
    shaped = MNISTIter(image=str(d / "img-idx3-ubyte.gz"), label=str(d / "lab-idx1-ubyte"),
                       batch_size=5, shuffle=False, input_shape=(784,), silent=True,
                       data_shape=(784,))
    assert values(next(shaped)).shape == (5, 784)


def test_mnistiter_shuffle_and_parts(tiny_mnist):
    d, images, labels = tiny_mnist
    kw = dict(image=str(d / "img-idx3-ubyte.gz"), label=str(d / "lab-idx1-ubyte"),
              batch_size=1, silent=True)
    a = [values(b, "label")[0] for b in MNISTIter(shuffle=True, seed=3, **kw)]
    b = [values(b, "label")[0] for b in MNISTIter(shuffle=True, seed=3, **kw)]
    assert a == b and sorted(a) == list(range(10)) and a != list(range(10))
    it = MNISTIter(shuffle=True, seed=3, **kw)
    first = [values(x, "label")[0] for x in it]
    it.reset()  # reset keeps the order
    assert [values(x, "label")[0] for x in it] == first
    parts = [[values(x, "label")[0] for x in MNISTIter(shuffle=False, num_parts=3,
                                                       part_index=p, **kw)]
             for p in range(3)]
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    with pytest.raises(ConfigError):
        MNISTIter(num_parts=2, part_index=2, **kw)
    with pytest.raises(ConfigError):
        MNISTIter(bogus=1, **kw)


@needs_mnist
def test_mnistiter_real_mnist():
    it = MNISTIter(image=str(MNIST_DIR / "t10k-images-idx3-ubyte.gz"),
                   label=str(MNIST_DIR / "t10k-labels-idx1-ubyte.gz"),
                   batch_size=100, shuffle=False, flat=True, silent=True)
    batches = list(it)
    assert len(batches) == 100
    first = values(batches[0])
    assert first.shape == (100, 784)
    assert 0.0 <= first.min() and first.max() <= 255 / 256
    assert values(batches[0], "label")[:5].tolist() == [7, 2, 1, 0, 4]
    it2 = MNISTIter(image=str(MNIST_DIR / "t10k-images-idx3-ubyte.gz"),
                    label=str(MNIST_DIR / "t10k-labels-idx1-ubyte.gz"),
                    batch_size=100, shuffle=True, num_parts=2, part_index=1, silent=True)
    labels = np.concatenate([values(b, "label") for b in it2])
    assert len(labels) == 5000


def test_data_iterators_are_exported_on_mx():
    assert mx.io.NDArrayIter is NDArrayIter
    assert os.path.basename(mx.io.__file__) == "__init__.py"
