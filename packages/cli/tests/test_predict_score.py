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


LM_LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
            "the mat and the log"]


@pytest.fixture
def trained_lm(cpu_state, runner, tmp_path):
    """A word-level lstm-lm trained on a four-sentence toy language; (prefix, text, log)."""
    pytest.importorskip("gradloom.rnn")
    text = tmp_path / "toy.txt"
    text.write_text("\n".join(LM_LINES * 12) + "\n")
    prefix = str(tmp_path / "lm")
    log = tmp_path / "log.jsonl"
    result = runner.invoke(cli, [
        "train", "--model", "lstm-lm", "--data", str(text), "--val-data", str(text),
        "--model-param", "num_hidden=24", "--model-param", "num_embed=8",
        "--model-param", "num_layers=1", "--model-param", "buckets=4,6", "--batch-size", "8",
        "--optimizer", "adam", "--opt-param", "learning_rate=0.05", "--epochs", "8",
        "--checkpoint", prefix, "--log-json", str(log)])
    assert result.exit_code == 0, result.output
    return prefix, text, [json.loads(line) for line in log.read_text().splitlines()]


def test_score_language_model_gives_the_validation_perplexity(runner, trained_lm, tmp_path):
    prefix, text, records = trained_lm
    result = runner.invoke(cli, ["score", prefix, str(text), "--json", "--batch-size", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # every line of the toy text fits bucket 6 and fills whole batches of 8 in training, so
    # training's validation pass saw exactly these tokens (5 or 4 predicted per line)
    assert (report["lines"], report["tokens"], report["skipped_lines"]) == (48, 216, 0)
    perplexity = report["metrics"]["perplexity"]
    np.testing.assert_allclose(perplexity, records[-1]["validation"]["perplexity"], rtol=1e-4)
    assert perplexity < 3.0        # a uniform guess over the 10 words would score 10
    # one line longer than the longest bucket is counted, not scored
    extra = tmp_path / "more.txt"
    extra.write_text(f"{LM_LINES[0]}\n{' '.join(['the'] * 7)}\n")
    result = runner.invoke(cli, ["score", prefix, str(extra)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"{prefix}-0008.params on {extra} (1 lines, 5 predicted tokens; 1 longer than the "
        f"longest bucket (6) skipped):")
    result = runner.invoke(cli, ["score", prefix, str(extra), "--metric", "acc"])
    assert result.exit_code == 2
    assert "scored by perplexity" in result.stderr


def test_predict_language_model_continues_each_line(runner, trained_lm, tmp_path):
    prefix, _, _ = trained_lm
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat sat on the\nthe dog sat on\nthe zebra\n"
                       + " ".join(["a"] * 9) + "\n")
    result = runner.invoke(cli, ["predict", prefix, str(prompts), "--top-k", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("0\tmat (")       # the cat sits on the mat...
    assert lines[1].startswith("1\tthe (")       # ...and anything sits on "the"
    assert lines[2].split("\t")[0] == "2"        # unseen words become <unk>, still predicted
    assert lines[3] == "3\t(longer than the longest bucket (6 tokens))"
    out = tmp_path / "next.npy"
    result = runner.invoke(cli, ["predict", prefix, str(prompts), "-o", str(out)])
    assert result.exit_code == 0, result.output
    probs = np.load(out)
    vocab = json.loads(Path(f"{prefix}-vocab.json").read_text())
    assert vocab["tokens"] == "words"
    assert probs.shape == (4, max(vocab["vocab"].values()) + 1)
    np.testing.assert_allclose(probs[:3].sum(axis=1), 1.0, rtol=1e-5)
    assert (probs[:3, 0] == 0).all()                 # padding is no token
    assert np.isnan(probs[3]).all()
    assert probs[0, vocab["vocab"]["mat"]] > 0.5
