"""`gradloom launch`: the command line it builds, its errors, and a real 2-rank run."""
import os
import re
import sys

import pytest
from click.testing import CliRunner

from gradloom.base import ConfigError
from gradloom_mpi.launch import build_command, find_mpiexec, launch_command

PY = "/opt/py/bin/python"


def test_python_script_runs_under_mpi4py():
    cmd = build_command(3, ["train.py", "--epochs", "2"], mpiexec="/x/mpiexec", python=PY)
    assert cmd == ["/x/mpiexec", "-n", "3", PY, "-m", "mpi4py", "train.py", "--epochs", "2"]


def test_other_commands_after_double_dash_are_passed_as_is():
    cmd = build_command(2, ["--", "hostname", "-f"], mpiexec="/x/mpiexec", python=PY)
    assert cmd == ["/x/mpiexec", "-n", "2", "hostname", "-f"]


@pytest.mark.parametrize("args", [["--", "gradloom", "train", "--kvstore", "dist_sync"],
                                  ["/venv/bin/gradloom", "train", "--kvstore", "dist_sync"],
                                  ["train", "--kvstore", "dist_sync"]])
def test_gradloom_commands_run_under_mpi4py(args):
    # a failing rank exits with status 2 from the CLI: mpi4py's runner turns that into
    # MPI_Abort, where plain `gradloom` would wait in MPI_Finalize for the other ranks
    cmd = build_command(2, args, mpiexec="/x/mpiexec", python=PY)
    assert cmd[:7] == ["/x/mpiexec", "-n", "2", PY, "-m", "mpi4py", "-c"]
    assert "gradloom_cli.main" in cmd[7]
    assert cmd[8:] == ["train", "--kvstore", "dist_sync"]


def test_module_and_extra_mpi_args():
    cmd = build_command(2, ["-m", "pkg.mod", "-n", "5"], mpiexec="/x/mpiexec", python=PY,
                        extra_mpi_args=["-bind-to", "none"])
    assert cmd == ["/x/mpiexec", "-n", "2", "-bind-to", "none", PY, "-m", "mpi4py", "-m",
                   "pkg.mod", "-n", "5"]


@pytest.mark.parametrize("n,args,match", [(0, ["a.py"], "at least 1"),
                                          (2, [], "nothing to launch"),
                                          (2, ["--"], "nothing to launch")])
def test_bad_requests(n, args, match):
    with pytest.raises(ConfigError, match=match):
        build_command(n, args, mpiexec="/x/mpiexec", python=PY)


def test_missing_mpiexec_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=r"gradloom-kvstore-mpi\[mpich\]"):
        find_mpiexec(python=str(tmp_path / "python"))


def test_finds_mpiexec_next_to_python(tmp_path):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_mpiexec(python=str(tmp_path / "python")) == str(fake)


def test_cli_dry_run_prints_command():
    result = CliRunner().invoke(launch_command(), ["-n", "2", "--mpiexec", "/x/mpiexec",
                                                   "--dry-run", "train.py", "-n", "7"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"/x/mpiexec -n 2 {sys.executable} -m mpi4py train.py -n 7"


def test_cli_usage_error_without_program():
    result = CliRunner().invoke(launch_command(), ["-n", "2", "--mpiexec", "/x/mpiexec"])
    assert result.exit_code == 2 and "nothing to launch" in result.output


def test_launch_is_a_gradloom_command():
    from gradloom_cli.main import cli
    result = CliRunner().invoke(cli, ["launch", "--help"])
    assert result.exit_code == 0, result.output
    assert "MPI ranks" in result.output


@pytest.mark.mpi
def test_launch_runs_script_on_two_ranks_and_propagates_failure(mpiexec, tmp_path):
    import subprocess
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\nfrom mpi4py import MPI\nc = MPI.COMM_WORLD\n"
        "print(f'rank {c.rank} of {c.size}', flush=True)\n"
        "c.Barrier()\n"
        "if len(sys.argv) > 1 and c.rank == 1:\n    raise RuntimeError('rank one failed')\n"
        "c.Barrier()\n")
    gradloom = os.path.join(os.path.dirname(sys.executable), "gradloom")
    ok = subprocess.run([gradloom, "launch", "-n", "2", str(script)], capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    # the launcher forwards each rank's output as it comes, so two ranks' lines may interleave
    assert sorted(re.findall(r"rank (\d) of 2", ok.stdout)) == ["0", "1"]
    bad = subprocess.run([gradloom, "launch", "-n", "2", str(script), "fail"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0
    assert "rank one failed" in bad.stderr
    # the gradloom command itself, started through mpi4py's runner on both ranks
    cli = subprocess.run([gradloom, "launch", "-n", "2", "--", "gradloom", "kvstores"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.count("dist_sync ") == 2


@pytest.mark.mpi
def test_cli_train_on_two_ranks_shares_the_batches_and_reports_once(mpiexec, tmp_path):
    import json
    import subprocess
    gradloom = os.path.join(os.path.dirname(sys.executable), "gradloom")
    log, prefix = tmp_path / "log.jsonl", tmp_path / "ck" / "mlp"
    args = ["train", "--model", "mlp", "--data", "mnist-small", "--epochs", "2",
            "--log-json", str(log), "--checkpoint", str(prefix)]
    run = subprocess.run([gradloom, "launch", "-n", "2", "--", "gradloom", *args,
                          "--kvstore", "dist_sync"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    # one report (rank 0's), not one per rank
    assert out.count("Training mlp on mnist-small") == 1
    assert "kvstore dist_sync (2 workers, progress of rank 0)" in out
    assert out.count("Epoch 2/2:  train-accuracy=") == 1
    # 5,000 digits in batches of 64 are 79 batches: each rank trains on 39 of them (the
    # last, incomplete round of two is left out on both), not on all 79
    assert "batch 39/39" in out and "/79" not in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["validation"]["accuracy"] > 0.75
    assert sorted(p.name for p in prefix.parent.iterdir()) == [
        "mlp-0001.params", "mlp-0001.states", "mlp-0002.params", "mlp-0002.states",
        "mlp-symbol.json"]
    # the same run in one process takes all 79 batches per epoch
    single = subprocess.run([gradloom, *args[:6], "1"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    assert "batch 79/79" in single.stdout
