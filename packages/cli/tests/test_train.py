"""``gradloom train``: flags, config files, checkpoints, resume, logs, errors.

Small real data (a slice of the bundled MNIST subset) and one epoch keep each run short.
"""
import json

import numpy as np
import pytest

from gradloom_cli.main import cli


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """512 training and 128 validation digits from the bundled subset, as .npz files."""
    from gradloom.datasets import load_mnist
    root = tmp_path_factory.mktemp("data")
    x, y = load_mnist("mnist-small", None, "train")
    np.savez(root / "train.npz", data=x[:512], label=y[:512])
    x, y = load_mnist("mnist-small", None, "test")
    np.savez(root / "val.npz", data=x[:128], label=y[:128])
    return root


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_train_bundled_default_data_with_checkpoint(cpu_state, runner, tmp_path):
    log = tmp_path / "log.jsonl"
    result = runner.invoke(cli, ["train", "--epochs", "1", "--batch-size", "100",
                                 "--checkpoint", str(tmp_path / "runs" / "mlp"),
                                 "--log-json", str(log)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # not a terminal: plain progress lines, then the epoch summary
    assert lines[0] == ("Training mlp on mnist-small (5000 samples, validation 1000, 10 "
                        "classes) on cpu(0), kvstore local, batch size 100, "
                        "sgd(learning_rate=0.1)")
    assert lines[1].startswith("Epoch 1/1 batch 10/50  ")
    assert "samples/s  accuracy=" in lines[1]
    assert lines[-1].startswith("Epoch 1/1:  train-accuracy=")
    assert "validation-accuracy=" in lines[-1]
    (record,) = _records(log)
    assert record["epoch"] == 1
    assert record["checkpoint"] == str(tmp_path / "runs" / "mlp-0001.params")
    # 5000 digits, one epoch of an MLP with SGD 0.1: far above chance (0.1)
    assert record["train"]["accuracy"] > 0.5
    assert record["validation"]["accuracy"] > 0.75
    assert record["samples_per_sec"] > 0
    for name in ("mlp-symbol.json", "mlp-0001.params", "mlp-0001.states"):
        assert (tmp_path / "runs" / name).exists()


def test_train_config_file_and_flag_override(cpu_state, runner, tmp_path, small_data):
    config = tmp_path / "run.toml"
    config.write_text(f'model = "lenet"\ndata = "{small_data / "train.npz"}"\n'
                      f'val-data = "{small_data / "val.npz"}"\nbatch_size = 64\nepochs = 3\n'
                      f'optimizer = "sgd"\n[optimizer_params]\nlearning_rate = 0.05\n'
                      f'momentum = 0.9\n')
    log = tmp_path / "log.jsonl"
    result = runner.invoke(cli, ["train", "--config", str(config), "--epochs", "1",
                                 "--checkpoint", str(tmp_path / "lenet"),
                                 "--log-json", str(log)])
    assert result.exit_code == 0, result.output
    (record,) = _records(log)  # --epochs 1 won over the file's 3
    assert record["epoch"] == 1 and set(record["validation"]) == {"accuracy"}
    from gradloom.checkpoint import load_optimizer_states
    states, meta = load_optimizer_states(str(tmp_path / "lenet-0001.states"))
    assert meta["optimizer"]["hyper_params"]["learning_rate"] == 0.05
    assert meta["optimizer"]["hyper_params"]["momentum"] == 0.9
    assert meta["num_update"] == 8  # 512 samples / 64
    assert set(states) == {"conv1_weight", "conv1_bias", "conv2_weight", "conv2_bias",
                           "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"}


def test_resume_continues_epoch_and_optimizer_state(cpu_state, runner, tmp_path, small_data):
    prefix = str(tmp_path / "mlp")
    log = tmp_path / "log.jsonl"
    common = ["train", "--data", str(small_data / "train.npz"), "--val-data", "none",
              "--batch-size", "64", "--checkpoint", prefix, "--log-json", str(log),
              "--opt-param", "momentum=0.9"]
    assert runner.invoke(cli, common + ["--epochs", "1"]).exit_code == 0
    result = runner.invoke(cli, common + ["--epochs", "2", "--resume"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (f"Resuming from {prefix}-0001.params (epoch 1, "
                                             f"with optimizer state)")
    assert [r["epoch"] for r in _records(log)] == [1, 2]
    assert "validation" not in _records(log)[1]
    from gradloom.checkpoint import load_optimizer_states
    _, meta = load_optimizer_states(f"{prefix}-0002.states")
    # the update counter went on from the saved 8 instead of restarting at 0
    assert (meta["epoch"], meta["num_update"]) == (2, 16)
    result = runner.invoke(cli, common + ["--epochs", "2", "--resume"])
    assert result.exit_code == 0
    assert "already holds 2 epoch(s) and --epochs is 2: nothing to do" in result.stdout


def test_resume_with_other_model_says_what_does_not_match(cpu_state, runner, tmp_path,
                                                           small_data):
    prefix = str(tmp_path / "mlp")
    args = ["train", "--data", str(small_data / "val.npz"), "--val-data", "none",
            "--checkpoint", prefix, "--epochs", "1"]
    assert runner.invoke(cli, args).exit_code == 0
    args[args.index("--epochs") + 1] = "2"
    result = runner.invoke(cli, args + ["--resume", "--model", "lenet"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {prefix}-0001.params does not match the model: "
                                    f"missing arguments conv1_bias, conv1_weight, ")
    assert "unexpected arguments fc3_bias, fc3_weight" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--model", "vgg"], "Error: unknown model 'vgg' (--model); built-in models: mlp, lenet, "
                         "resnet"),
    (["--context", "tpu:0"], "Error: unknown context 'tpu:0' (--context): device type 'tpu' "
                             "is not provided by any installed backend (registered: cpu)"),
    (["--data", "nope.npz"], "Error: data not found: 'nope.npz' (--data)"),
    (["--kvstore", "nccl"], "Error: unknown kvstore 'nccl' (--kvstore); registered: "),
    (["--resume"], "Error: --resume needs --checkpoint PREFIX"),
    (["--model", "missing-symbol.json"], "Error: symbol file not found: missing-symbol.json"),
    (["--opt-param", "lr"], "Error: bad --opt-param 'lr': write KEY=VALUE"),
])
def test_train_errors_are_one_actionable_line(cpu_state, runner, args, message):
    result = runner.invoke(cli, ["train", "--epochs", "1"] + args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_config_key_is_reported_with_file(cpu_state, runner, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("epoch = 2\n")
    result = runner.invoke(cli, ["train", "-c", str(config)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {config}: unknown key 'epoch'; did you mean "
                                    f"'epochs'?")


def test_plot_without_matplotlib_fails_before_training(cpu_state, runner, tmp_path,
                                                       monkeypatch):
    import importlib.util
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else
                        real_find_spec(name, *a))
    result = runner.invoke(cli, ["train", "--plot", str(tmp_path / "c.png"),
                                 "--checkpoint", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert result.stderr == ("Error: --plot needs matplotlib, which is not installed: run "
                             "pip install 'gradloom-cli[plot]' (or pip install matplotlib)\n")
    assert not list(tmp_path.iterdir())


def test_plot_writes_png(cpu_state, runner, tmp_path, small_data):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    result = runner.invoke(cli, ["train", "--data", str(small_data / "val.npz"),
                                 "--val-data", str(small_data / "val.npz"), "--epochs", "2",
                                 "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Training curves written to {png}" in result.stdout


def test_train_symbol_json_model_on_csv(cpu_state, runner, tmp_path):
    import gradloom as mx
    rng = np.random.default_rng(1)
    # two separable classes in 4 features
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    csv = tmp_path / "two.csv"
    np.savetxt(csv, np.column_stack([y, x]), delimiter=",", fmt="%.6f")
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), name="fc", num_hidden=2)
    mx.sym.SoftmaxOutput(net, name="out").save(str(tmp_path / "lin-symbol.json"))
    log = tmp_path / "log.jsonl"
    result = runner.invoke(cli, ["train", "--model", str(tmp_path / "lin-symbol.json"),
                                 "--data", str(csv), "--epochs", "3", "--batch-size", "32",
                                 "--optimizer", "adam", "--opt-param", "learning_rate=0.05",
                                 "--log-json", str(log), "--metric", "ce"])
    assert result.exit_code == 0, result.output
    records = _records(log)
    losses = [r["train"]["cross-entropy"] for r in records]
    assert losses[-1] < losses[0] < 1.0


def test_lstm_lm_without_rnn_support_is_a_clear_error(cpu_state, runner, monkeypatch):
    from gradloom_cli import zoo
    monkeypatch.setattr(zoo, "_importable", lambda name: False)
    assert "lstm-lm" not in zoo.model_names()
    result = runner.invoke(cli, ["train", "--model", "lstm-lm"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: model 'lstm-lm' needs gradloom.rnn, which the installed "
                             "gradloom-core does not provide; choose one of mlp, lenet, resnet "
                             "or upgrade gradloom-core\n")


def test_two_devices_sum_gradients_like_one(cpu_state, runner, tmp_path, small_data):
    # the same seed, data and batch on cpu(0) and on cpu(0)+cpu(1): the batch is split over
    # the devices and their gradients summed, so the parameters after training agree
    import gradloom as mx
    for name, ctx in (("one", "cpu"), ("two", "cpu:0,1")):
        result = runner.invoke(cli, ["train", "--data", str(small_data / "val.npz"),
                                     "--val-data", "none", "--epochs", "1", "--context", ctx,
                                     "--checkpoint", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert f"on {'cpu(0),cpu(1)' if ctx != 'cpu' else 'cpu(0)'}, kvstore local" \
            in result.stdout
    one = mx.nd.load(str(tmp_path / "one-0001.params"))
    two = mx.nd.load(str(tmp_path / "two-0001.params"))
    assert set(one) == set(two)
    for key in one:
        np.testing.assert_allclose(one[key].asnumpy(), two[key].asnumpy(), rtol=1e-4,
                                   atol=1e-6)


def test_model_params_change_the_network(cpu_state, runner, tmp_path, small_data):
    result = runner.invoke(cli, ["train", "--data", str(small_data / "val.npz"), "--val-data",
                                 "none", "--epochs", "1", "--model-param", "hidden=32",
                                 "--checkpoint", str(tmp_path / "narrow")])
    assert result.exit_code == 0, result.output
    report = json.loads(runner.invoke(cli, ["inspect", str(tmp_path / "narrow"),
                                            "--json"]).stdout)
    shapes = {p["name"]: p["shape"] for p in report["parameters"]}
    assert shapes == {"fc1_weight": [32, 784], "fc1_bias": [32], "fc2_weight": [10, 32],
                      "fc2_bias": [10]}
    result = runner.invoke(cli, ["train", "--model-param", "depth=3"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: model 'mlp' has no parameter depth (--model-param / "
                             "[model_params]); its parameters: hidden (default 128,64)\n")


LM_TEXT = "\n".join(["the cat sat on the mat", "the dog sat on the log",
                     "a cat and a dog", "the mat and the log"] * 12) + "\n"


def test_lstm_lm_trains_and_resumes(cpu_state, runner, tmp_path):
    pytest.importorskip("gradloom.rnn")
    text = tmp_path / "tiny.txt"
    text.write_text(LM_TEXT)
    prefix = str(tmp_path / "lm")
    log = tmp_path / "log.jsonl"
    args = ["train", "--model", "lstm-lm", "--data", str(text), "--val-data", str(text),
            "--model-param", "num_hidden=16", "--model-param", "num_embed=8",
            "--model-param", "num_layers=1", "--model-param", "buckets=4,6",
            "--batch-size", "8", "--optimizer", "adam", "--opt-param", "learning_rate=0.05",
            "--checkpoint", prefix, "--log-json", str(log)]
    result = runner.invoke(cli, args + ["--epochs", "2"])
    assert result.exit_code == 0, result.output
    # 9 distinct words + <unk> get ids 1..10 (0 pads): vocabulary 11
    assert result.stdout.splitlines()[0] == (
        "Training lstm-lm on " + str(text) + " (48 sentences, validation 48, vocabulary 11, "
        "buckets [4, 6]) on cpu(0), kvstore local, batch size 8, adam(learning_rate=0.05)")
    first, second = _records(log)
    # a uniform guess over 11 ids has perplexity 11; learning the toy language goes below
    assert first["train"]["perplexity"] < 11.0
    assert second["validation"]["perplexity"] < first["validation"]["perplexity"]
    vocab = json.loads((tmp_path / "lm-vocab.json").read_text())
    assert vocab["invalid_label"] == 0 and vocab["vocab"]["the"] == 1
    assert (tmp_path / "lm-symbol.json").exists()  # the default bucket, for inspect
    result = runner.invoke(cli, args + ["--epochs", "3", "--resume"])
    assert result.exit_code == 0, result.output
    assert [r["epoch"] for r in _records(log)] == [1, 2, 3]


def test_lstm_lm_needs_text(cpu_state, runner):
    pytest.importorskip("gradloom.rnn")
    result = runner.invoke(cli, ["train", "--model", "lstm-lm"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: model 'lstm-lm' trains on a text file: give --data "
                             "FILE.txt (one sentence per line), e.g. tinyshakespeare/input.txt;"
                             " got 'mnist-small'\n")


def test_interactive_progress_rewrites_one_line():
    import io

    from gradloom_cli.progress import Progress
    stream = io.StringIO()
    progress = Progress(total_epochs=1, batches_per_epoch=3, stream=stream, interactive=True)
    progress.start_epoch(0)
    for nbatch in range(3):
        progress.batch(nbatch, 10, lambda: [("accuracy", 0.5)])
    progress.end_epoch({"epoch": 1, "train": {"accuracy": 0.5}, "time": 1.0,
                        "samples_per_sec": 30.0})
    text = stream.getvalue()
    assert text.startswith("\rEpoch 1/1 [")
    assert "3/3" in text and "accuracy=0.5000" in text
    assert text.endswith("Epoch 1/1:  train-accuracy=0.5000  30.0 samples/s  1.0s\n")
    assert text.count("\n") == 1
