"""Sharding helpers without MPI: scatter_index is pure; ShardedIter gets a stand-in comm."""
import numpy as np
import pytest

from gradloom.base import ConfigError
from gradloom_mpi.comm import SingleProcess
from gradloom_mpi.data import ShardedIter, reduce_metric, scatter_index


@pytest.mark.parametrize("n,size", [(10, 1), (10, 3), (7, 2), (3, 5), (100, 4), (1, 2)])
def test_equal_length_shards_cover_everything_with_equal_lengths(n, size):
    shards = [scatter_index(n, r, size) for r in range(size)]
    assert {len(s) for s in shards} == {-(-n // size)}
    assert set(np.concatenate(shards).tolist()) == set(range(n))
    assert all(s.min() >= 0 and s.max() < n for s in shards)


@pytest.mark.parametrize("n,size", [(10, 3), (7, 2), (100, 4), (5, 5)])
def test_exact_shards_partition(n, size):
    shards = [scatter_index(n, r, size, equal_length=False) for r in range(size)]
    assert np.array_equal(np.concatenate(shards), np.arange(n))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_scatter_index_values():
    # 10 over 3: starts 0, 3, 6; length 4; the last shard wraps to index 0
    assert scatter_index(10, 0, 3).tolist() == [0, 1, 2, 3]
    assert scatter_index(10, 1, 3).tolist() == [3, 4, 5, 6]
    assert scatter_index(10, 2, 3).tolist() == [6, 7, 8, 9]
    assert scatter_index(11, 2, 3).tolist() == [7, 8, 9, 10]
    assert scatter_index(7, 1, 2).tolist() == [3, 4, 5, 6]


@pytest.mark.parametrize("args", [(0, 0, 1), (5, 2, 2), (5, -1, 2), (5, 0, 0)])
def test_scatter_index_rejects_bad_arguments(args):
    with pytest.raises(ConfigError):
        scatter_index(*args)


class TwoRanks(SingleProcess):
    """Rank ``rank`` of a 2-rank job whose rank 0 chose seed 1234 (for ShardedIter only)."""

    size = 2

    def __init__(self, rank):
        self.rank = rank

    def bcast_obj(self, obj, root=0):
        return 1234


def test_sharded_iter_two_ranks_disjoint_equal_batches_and_consistent_epochs():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10, dtype=np.float32)
    its = [ShardedIter(x, TwoRanks(r), batch_size=2, label=y, seed=99) for r in range(2)]
    for epoch in range(2):
        seen = []
        counts = []
        for it in its:
            batches = list(it)
            counts.append(len(batches))
            for b in batches:
                labels = b.label[0].asnumpy()
                # rows stay paired with their labels after the shuffle
                assert np.array_equal(b.data[0].asnumpy()[:, 0], labels * 2)
                seen.extend(labels.tolist())
            it.reset()
        assert counts == [3, 3]            # 5 examples per rank, batches of 2, last padded
        assert set(seen) == set(range(10))
    # the shuffle changes between epochs but both ranks use the same permutation
    a0, a1 = its[0].shard_indices(0), its[0].shard_indices(1)
    assert not np.array_equal(a0, a1)
    assert set(its[0].shard_indices(3)) | set(its[1].shard_indices(3)) == set(range(10))


def test_sharded_iter_over_data_iter_round_robin_drops_incomplete_round():
    from gradloom.io import NDArrayIter
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    outs = []
    for r in range(2):
        base = NDArrayIter(x, batch_size=2, last_batch_handle="pad")   # 4 batches
        it = ShardedIter(base, TwoRanks(r))
        outs.append([b.data[0].asnumpy()[:, 0].tolist() for b in it])
    assert outs[0] == [[0.0, 2.0], [8.0, 10.0]]
    assert outs[1] == [[4.0, 6.0], [12.0, 0.0]]


def test_sharded_iter_needs_batch_size_for_arrays():
    with pytest.raises(ConfigError, match="batch_size"):
        ShardedIter(np.zeros((4, 2)), SingleProcess())


class _Metric:
    def __init__(self, s, n):
        self.sum_metric, self.num_inst = s, n
        self.global_sum_metric, self.global_num_inst = s, n


def test_reduce_metric_single_process_keeps_values():
    m = _Metric(3.0, 4)
    assert reduce_metric(m, SingleProcess()) is m
    assert (m.sum_metric, m.num_inst) == (3.0, 4) and isinstance(m.num_inst, int)
