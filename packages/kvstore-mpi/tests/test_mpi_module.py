"""gradloom.mod.Module trained over a dist store under real MPI."""
import os
import pathlib

import numpy as np
import pytest

pytestmark = pytest.mark.mpi

MNIST = pathlib.Path(os.environ.get("GRADLOOM_TEST_MNIST",
                                    pathlib.Path(__file__).resolve().parents[3].parent
                                    / "shared" / "data" / "mnist"))


def _ok(run):
    assert run.returncode == 0, f"mpiexec failed ({run.returncode}):\n{run.stderr[-3000:]}"
    return run.reports()


def test_fit_on_two_ranks_matches_one_rank_and_rank0_checkpoints(run_mpi, tmp_path):
    one = _ok(run_mpi(1, "module_worker.py", tmp_path))
    two = _ok(run_mpi(2, "module_worker.py", tmp_path))
    assert len(two) == 2
    for optimizer in ("sgd", "adam"):
        ref = one[0]["runs"][optimizer]["params"]
        for report in two:
            run = report["runs"][optimizer]
            assert run["params"].keys() == ref.keys()
            for key, values in ref.items():
                np.testing.assert_allclose(run["params"][key], values, rtol=0, atol=1e-5,
                                           err_msg=f"{optimizer} {key}")
            # rank 0 wrote the checkpoint (with optimizer states); every rank reads it back
            assert run["writer"] is (report["rank"] == 0)
            assert run["loaded_matches"]
        assert (tmp_path / f"model-n2-{optimizer}-0002.params").exists()
        assert (tmp_path / f"model-n2-{optimizer}-0002.states").exists()
    assert one[0]["runs"]["sgd"]["params"] != one[0]["runs"]["adam"]["params"]


@pytest.mark.slow
def test_mnist_mlp_two_ranks_reach_single_process_accuracy(run_mpi):
    if not (MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {MNIST} (set GRADLOOM_TEST_MNIST)")
    one = _ok(run_mpi(1, "mnist_worker.py", MNIST, 100, 1, timeout=300))
    two = _ok(run_mpi(2, "mnist_worker.py", MNIST, 100, 1, timeout=300))
    single = one[0]["acc"]
    assert single > 0.94
    assert [r["num_inst"] for r in two] == [10000, 10000]   # both halves of the test set
    assert len({r["acc"] for r in two}) == 1                 # the same summary on each rank
    assert two[0]["acc"] >= single - 0.01
