import numpy as np
import pytest

from gradloom_mpi.fusion import plan_groups, reduce_dtype_for, sort_keys


def entries(*specs):
    return [(k, shape, np.dtype(d)) for k, shape, d in specs]


def test_keys_sorted_ints_then_strings_deterministically():
    assert sort_keys(["b", "a", "c10", "c2"]) == ["a", "b", "c10", "c2"]
    assert sort_keys([10, 2, 33]) == [2, 10, 33]


def test_one_group_per_dtype_below_threshold():
    groups = plan_groups(entries(("a", (2, 3), "f4"), ("b", (4,), "f8"), ("c", (5,), "f4")),
                         threshold_bytes=1 << 20)
    assert [g.dtype for g in groups] == [np.dtype("f4"), np.dtype("f8")]
    f4 = groups[0]
    assert [(s.key, s.offset, s.size) for s in f4.segments] == [("a", 0, 6), ("c", 6, 5)]
    assert f4.size == 11 and f4.nbytes == 44
    assert groups[1].size == 4


def test_threshold_splits_and_big_key_gets_own_buffer():
    # 10 floats = 40 bytes per key, threshold 100 bytes: two keys per buffer
    specs = [(f"k{i}", (10,), "f4") for i in range(5)] + [("huge", (1000,), "f4")]
    groups = plan_groups(entries(*specs), threshold_bytes=100)
    assert [[s.key for s in g.segments] for g in groups] == [
        ["k0", "k1"], ["k2", "k3"], ["k4"], ["huge"]]
    assert all(g.nbytes <= 100 or len(g.segments) == 1 for g in groups)


def test_zero_threshold_is_one_buffer_per_key():
    groups = plan_groups(entries(("a", (2,), "f4"), ("b", (3,), "f4")), threshold_bytes=0)
    assert [[s.key for s in g.segments] for g in groups] == [["a"], ["b"]]


def test_half_precision_is_reduced_in_float32():
    assert reduce_dtype_for(np.float16) == np.float32
    assert reduce_dtype_for(np.int32) == np.int32
    groups = plan_groups(entries(("h", (4,), "f2"), ("s", (2,), "f4")), threshold_bytes=1024)
    assert len(groups) == 1 and groups[0].dtype == np.float32
    assert [s.dtype for s in groups[0].segments] == [np.dtype("f2"), np.dtype("f4")]


def test_negative_threshold_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        plan_groups([], threshold_bytes=-1)
