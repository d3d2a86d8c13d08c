"""The installed ``gradloom`` command, run as a user runs it: a new process, every plugin."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _gradloom():
    # the console script installed next to this interpreter (a venv's bin/ or Scripts/)
    script = Path(sys.executable).with_name("gradloom")
    if script.exists():
        return [str(script)]
    found = shutil.which("gradloom")
    if found is None:
        pytest.fail("the gradloom console script is not installed; "
                    "pip install -e packages/cli")
    return [found]


def run(*args, cwd=None):
    env = dict(os.environ)
    env.pop("GRADLOOM_LOAD_PLUGINS", None)
    env.pop("GRADLOOM_DISABLE_PLUGINS", None)
    env.pop("GRADLOOM_DEBUG", None)
    return subprocess.run(_gradloom() + list(args), capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_plugins_lists_every_installed_distribution():
    proc = run("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    distributions = {p["distribution"] for p in report["plugins"]}
    distributions |= {f["distribution"] for f in report["failures"]}
    assert {"gradloom-core", "gradloom-backend-cpu", "gradloom-cli"} <= distributions
    by_name = {p["name"]: p for p in report["plugins"]}
    assert {"backends", "train", "predict", "score", "inspect"} <= set(by_name["cli"]["commands"])
    cpu = by_name["cpu"]["backends"][0]
    assert cpu["name"] == "cpu" and cpu["available"] is True


def test_train_inspect_score_round_trip(tmp_path):
    proc = run("train", "--epochs", "1", "--batch-size", "100", "--checkpoint", "runs/mlp",
               "--log-json", "log.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "log.jsonl").read_text())
    assert record["validation"]["accuracy"] > 0.75
    proc = run("inspect", "runs/mlp", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total_parameters"] == 109386  # 784-128-64-10 MLP
    proc = run("score", "runs/mlp", "mnist-small", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    score = json.loads(proc.stdout)["metrics"]["accuracy"]
    assert score == pytest.approx(record["validation"]["accuracy"])


def test_errors_exit_2_without_traceback(tmp_path):
    proc = run("train", "--model", "vgg", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("Error: unknown model 'vgg'")
    assert "Traceback" not in proc.stderr
    proc = run("--debug", "train", "--model", "vgg", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr
