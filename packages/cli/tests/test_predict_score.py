"""``gradloom predict`` and ``gradloom score`` against MXNet's own answers and real data."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from gradloom_cli.main import cli

FIXTURES = Path(os.environ.get("GRADLOOM_MXNET_FIXTURES",
                               Path(__file__).resolve().parents[3].parent / "shared" /
                               "fixtures" / "mxnet"))
needs_fixtures = pytest.mark.skipif(not (FIXTURES / "mlp-io.npz").exists(),
                                    reason=f"MXNet fixtures not found in {FIXTURES}")


@pytest.fixture
def mxnet_io(tmp_path):
    """MXNet 1.9.1's inputs and answers for its two checkpoints (fixtures README)."""
    out = {}
    for model in ("mlp", "lenet_bn"):
        with np.load(FIXTURES / f"{model}-io.npz") as archive:
            out[model] = {k: archive[k] for k in archive.files}
        np.save(tmp_path / f"{model}-in.npy", out[model]["data"])
    return out


@needs_fixtures
@pytest.mark.parametrize("model", ["mlp", "lenet_bn"])
def test_predict_matches_mxnet_outputs(cpu_state, runner, tmp_path, mxnet_io, model):
    out = tmp_path / "out.npy"
    result = runner.invoke(cli, ["predict", str(FIXTURES / model),
                                 str(tmp_path / f"{model}-in.npy"), "-o", str(out),
                                 "--batch-size", "5"])  # 16 = 5+5+5+1: the pad is dropped
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote outputs of shape (16, 10) to {out}\n"
    np.testing.assert_allclose(np.load(out), mxnet_io[model]["softmax"], rtol=1e-4, atol=1e-5)


@needs_fixtures
def test_predict_prints_top_k_labels(cpu_state, runner, tmp_path, mxnet_io):
    result = runner.invoke(cli, ["predict", str(FIXTURES / "mlp-0001.params"),
                                 str(tmp_path / "mlp-in.npy"), "--top-k", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 16
    softmax = mxnet_io["mlp"]["softmax"]
    for index, line in enumerate(lines):
        number, pairs = line.split("\t")
        assert int(number) == index
        labels = [int(p.split()[0]) for p in pairs.split("  ")]
        probs = [float(p.split("(")[1].rstrip(")")) for p in pairs.split("  ")]
        assert labels == list(np.argsort(-softmax[index], kind="stable")[:2])
        assert labels[0] == mxnet_io["mlp"]["argmax"][index]
        np.testing.assert_allclose(probs, softmax[index][labels], atol=1e-4)


@needs_fixtures
def test_predict_csv_output_and_csv_input(cpu_state, runner, tmp_path, mxnet_io):
    csv_in = tmp_path / "in.csv"
    np.savetxt(csv_in, mxnet_io["lenet_bn"]["data"].reshape(16, -1), delimiter=",",
               fmt="%.9g")
    csv_out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["predict", str(FIXTURES / "lenet_bn"), str(csv_in),
                                 "--output", str(csv_out)])
    assert result.exit_code == 0, result.output
    # flat CSV rows of 784 values were fitted to the model's (1, 28, 28) input
    np.testing.assert_allclose(np.loadtxt(csv_out, delimiter=","),
                               mxnet_io["lenet_bn"]["softmax"], rtol=1e-4, atol=1e-5)


@needs_fixtures
def test_predict_errors(cpu_state, runner, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 10), np.float32))
    result = runner.invoke(cli, ["predict", str(FIXTURES / "mlp"), str(tmp_path / "wrong.npy")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: the input data has samples of shape (10,), which "
                                    "does not fit the model in ")
    result = runner.invoke(cli, ["predict", str(FIXTURES / "mlp"), str(tmp_path / "none.npy")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: data not found: ")
    result = runner.invoke(cli, ["predict", str(tmp_path / "nomodel"),
                                 str(tmp_path / "wrong.npy")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: checkpoint not found: {tmp_path}/nomodel-symbol.json")
    np.save(tmp_path / "ok.npy", np.zeros((2, 784), np.float32))
    result = runner.invoke(cli, ["predict", str(FIXTURES / "mlp"), str(tmp_path / "ok.npy"),
                                 "-o", str(tmp_path / "out.txt")])
    assert result.exit_code == 2
    assert "use a .npy or .csv file name" in result.stderr


@needs_fixtures
def test_score_mxnet_checkpoint_against_its_own_answers(cpu_state, runner, tmp_path, mxnet_io):
    # labels = MXNet's argmax, with the first 4 changed: accuracy must be exactly 12/16
    labels = mxnet_io["lenet_bn"]["argmax"].astype(np.float32).copy()
    labels[:4] = (labels[:4] + 1) % 10
    data = tmp_path / "labelled.npz"
    np.savez(data, data=mxnet_io["lenet_bn"]["data"], label=labels)
    result = runner.invoke(cli, ["score", str(FIXTURES / "lenet_bn"), str(data), "--json",
                                 "--metric", "acc", "--metric", "ce", "--batch-size", "6"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["samples"] == 16
    assert report["metrics"]["accuracy"] == pytest.approx(12 / 16)
    softmax = mxnet_io["lenet_bn"]["softmax"]
    expected_ce = -np.mean(np.log(softmax[np.arange(16), labels.astype(int)]))
    assert report["metrics"]["cross-entropy"] == pytest.approx(expected_ce, rel=1e-4)


def test_train_then_score_and_predict_bundled(cpu_state, runner, tmp_path):
    prefix = str(tmp_path / "m")
    log = tmp_path / "log.jsonl"
    result = runner.invoke(cli, ["train", "--epochs", "1", "--checkpoint", prefix,
                                 "--log-json", str(log), "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    validation = json.loads(log.read_text())["validation"]["accuracy"]
    result = runner.invoke(cli, ["score", prefix, "mnist-small"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{prefix}-0001.params on mnist-small (1000 samples):"
    # scoring the test split reproduces the validation accuracy measured while training
    assert lines[1] == f"  accuracy = {validation:.4f}"
    result = runner.invoke(cli, ["score", prefix, "mnist-small", "--metric", "nope"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
