"""dist stores under real MPI: workers launched with mpiexec, one JSON line per rank.

Results must be rank-invariant (every rank holds the same sums) and match numpy references
computed here from the number of ranks.
"""
import numpy as np
import pytest

pytestmark = pytest.mark.mpi

KEYS = {"a": ((3, 4), np.float32), "b": ((5,), np.float64), "big": ((300,), np.float32),
        "c": ((2, 2), np.int32), "d": ((7,), np.float16)}


def _check_ok(run):
    assert run.returncode == 0, f"mpiexec failed ({run.returncode}):\n{run.stderr[-3000:]}"


@pytest.mark.parametrize("n,store,threshold", [
    (1, "dist_sync", 256),
    (2, "dist_sync", 256),                    # 'big' (1200 bytes) exceeds the threshold
    (3, "dist_sync", 0),                      # one allreduce per key
    (2, "dist_device_sync", 64 * 1024 * 1024),
])
def test_allreduce_sums_are_rank_invariant(run_mpi, n, store, threshold):
    run = run_mpi(n, "allreduce_worker.py", store, threshold)
    _check_ok(run)
    reports = run.reports()
    assert [r["rank"] for r in reports] == list(range(n))
    names = sorted(KEYS)
    for report in reports:
        assert report["size"] == n and report["type"] == store
        for key in names:                              # rank 0's init value wins
            assert report["init"][key] == [100] * int(np.prod(KEYS[key][0]))
        for rep, rnd in enumerate(report["rounds"]):   # twice: plans are reused
            for i, key in enumerate(names):
                expected = sum(r + i + rep for r in range(n))
                got = np.array(rnd["pushpull"][key])
                assert got.shape == (int(np.prod(KEYS[key][0])),)
                np.testing.assert_array_equal(got, expected)
            np.testing.assert_array_equal(rnd["pair"], sum(r + rep + 1 for r in range(n)))
            np.testing.assert_allclose(rnd["flat"], np.arange(10) * n * (n + 1) / 2)


def test_debug_check_names_the_disagreeing_rank(run_mpi):
    run = run_mpi(3, "debug_worker.py", env={"GRADLOOM_KVSTORE_DEBUG": "1"})
    _check_ok(run)
    reports = run.reports()
    assert len(reports) == 3
    for report in reports:
        errors = report["errors"]
        assert set(errors) == {"init_shape", "push_keys", "flat_dtype", "nan"}
        assert "ranks [1, 2]" in errors["init_shape"]
        assert "shape (4,) on rank 1 but (3,) on rank 0" in errors["init_shape"]
        assert "ranks [2]" in errors["push_keys"] and "missing on rank 2: ['b']" in \
            errors["push_keys"]
        assert "dtype float32 on rank 1 but float64 on rank 0" in errors["flat_dtype"]
        assert "NaN or Inf" in errors["nan"]
        assert report["after"] == [3.0, 3.0]


def test_two_ranks_half_batch_equal_one_rank_full_batch(run_mpi):
    # SGD with momentum and Adam, each with the optimizer after the sum ('local') and on
    # the store ('store'), all in one launch per rank count
    one = run_mpi(1, "equivalence_worker.py")
    two = run_mpi(2, "equivalence_worker.py")
    _check_ok(one)
    _check_ok(two)
    ref = one.reports()[0]["params"]
    assert set(ref) == {"sgd/local", "sgd/store", "adam/local", "adam/store"}
    reports = two.reports()
    assert len(reports) == 2
    for report in reports:
        for combo, params in ref.items():
            for key, values in params.items():
                np.testing.assert_allclose(report["params"][combo][key], values, rtol=0,
                                           atol=1e-5, err_msg=f"{combo} {key}")
    # the ranks hold bit-identical parameters
    assert reports[0]["params"] == reports[1]["params"]
    # and the optimizers really differ (the comparison is not vacuous)
    assert ref["sgd/local"] != ref["adam/local"]


@pytest.mark.parametrize("n,examples,batch", [(2, 10, 2), (3, 10, 2)])
def test_sharded_iter_equal_batches_and_reduced_metric(run_mpi, n, examples, batch):
    run = run_mpi(n, "shard_worker.py", examples, batch)
    _check_ok(run)
    reports = run.reports()
    per_rank = -(-examples // n)
    for epoch in range(2):
        seen = [r["epochs"][epoch] for r in reports]
        assert {len(s) for s in seen} == {per_rank}          # equal batches on every rank
        assert set(sum(seen, [])) == set(range(examples))    # together: the whole data set
    assert reports[0]["epochs"][0] != reports[0]["epochs"][1]  # reshuffled per epoch
    assert {r["seed"] for r in reports} == {1000}             # rank 0's seed
    expected = sum(r + 1 for r in range(n)) / (4 * n)
    for report in reports:
        assert report["num_inst"] == 4 * n
        assert report["acc"] == pytest.approx(expected)
        assert report["local_acc"] == pytest.approx((report["rank"] + 1) / 4)


@pytest.mark.parametrize("mode,plain", [("raise", True), ("exit", False), ("kill", False)])
def test_a_failing_rank_ends_the_job_quickly(run_mpi, mode, plain):
    # 'raise' runs as plain `python worker.py`: the store's abort hook, not mpi4py's runner,
    # has to turn the exception into MPI_Abort
    run = run_mpi(3, "failure_worker.py", mode, plain_python=plain, timeout=30)
    assert run.returncode != 0
    assert run.seconds < 10, f"the job took {run.seconds:.1f} s to end"
    assert f"rank 2 fails now ({mode})" in run.stdout
    if mode == "raise":
        assert "injected failure on rank 2" in run.stderr
        assert "Traceback" in run.stderr


@pytest.mark.parametrize("mode,message", [
    ("barrier", "barrier() did not complete within 1.0 s"),
    ("sum", "the sum of keys ['w'] did not complete within 1.0 s"),
    ("flat", "allreduce_flat (the gradients) did not complete within 1.0 s"),
])
def test_timeouts_turn_a_stalled_rank_into_an_error(run_mpi, mode, message):
    run = run_mpi(2, "stall_worker.py", mode, plain_python=True, timeout=50)
    assert run.returncode != 0
    assert run.seconds < 10, f"the job took {run.seconds:.1f} s to end"
    assert message in run.stderr
    assert "rank 0" in run.stderr


@pytest.mark.parametrize("n", [2, 3])
def test_optimizer_on_the_store_sums_every_worker_push(run_mpi, n):
    # test-cases K2: in round i every element is (n+1)*n/2 * 2 * i + 1 on every rank
    run = run_mpi(n, "optimizer_on_store_worker.py")
    _check_ok(run)
    reports = run.reports()
    assert [r["rank"] for r in reports] == list(range(n))
    for report in reports:
        for i, pulled in enumerate(report["rounds"], start=1):
            expected = (n + 1) * n / 2 * 2 * i + 1
            assert pulled == {"3": [expected], "99": [expected]}
