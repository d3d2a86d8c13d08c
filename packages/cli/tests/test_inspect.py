"""``gradloom inspect`` on MXNet-written checkpoints and on bare symbol files."""
import json
import os
from pathlib import Path

import pytest

from gradloom_cli.main import cli

FIXTURES = Path(os.environ.get("GRADLOOM_MXNET_FIXTURES",
                               Path(__file__).resolve().parents[3].parent / "shared" /
                               "fixtures" / "mxnet"))
needs_fixtures = pytest.mark.skipif(not (FIXTURES / "lenet_bn-symbol.json").exists(),
                                    reason=f"MXNet fixtures not found in {FIXTURES}")

# lenet_bn written by MXNet 1.9.1 (fixtures README): conv 5x5x20, BatchNorm, conv 5x5x50,
# FC 800->128, FC 128->10
LENET_PARAMS = {
    "conv1_weight": ([20, 1, 5, 5], 500), "conv1_bias": ([20], 20),
    "bn1_gamma": ([20], 20), "bn1_beta": ([20], 20),
    "conv2_weight": ([50, 20, 5, 5], 25000), "conv2_bias": ([50], 50),
    "fc1_weight": ([128, 800], 102400), "fc1_bias": ([128], 128),
    "fc2_weight": ([10, 128], 1280), "fc2_bias": ([10], 10),
    "bn1_moving_mean": ([20], 20), "bn1_moving_var": ([20], 20),
}


@needs_fixtures
def test_inspect_mxnet_checkpoint_json(cpu_state, runner):
    result = runner.invoke(cli, ["inspect", str(FIXTURES / "lenet_bn"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mxnet_version"] == "1.9.1"
    assert report["epoch"] == 1
    assert report["params_file"] == str(FIXTURES / "lenet_bn-0001.params")
    assert [i["name"] for i in report["inputs"]] == ["data", "softmax_label"]
    assert report["outputs"] == ["softmax_output"]
    got = {p["name"]: (p["shape"], p["count"]) for p in report["parameters"]}
    assert got == LENET_PARAMS
    kinds = {p["name"]: p["kind"] for p in report["parameters"]}
    assert kinds["bn1_moving_var"] == "aux" and kinds["fc1_weight"] == "arg"
    assert report["total_parameters"] == sum(c for _, c in LENET_PARAMS.values()) == 129468
    assert report["total_bytes"] == 129468 * 4


@needs_fixtures
def test_inspect_text_and_dot(cpu_state, runner, tmp_path):
    dot = tmp_path / "mlp.dot"
    result = runner.invoke(cli, ["inspect", str(FIXTURES / "mlp-0001.params"),
                                 "--dot", str(dot)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("mlp-symbol.json  (MXNet version 1.9.1)")
    assert "fc1_weight  arg   (128, 784)  100,352  float32" in lines
    assert "total: 109,386 values, 427.3 KiB" in lines
    text = dot.read_text()
    assert text.startswith('digraph "gradloom" {')
    # parameters are hidden, operators and real inputs are boxes/ellipses joined by edges
    assert "fc1_weight" not in text
    assert 'n0 [label="data", shape=ellipse];' in text
    assert 'label="fc1\\nFullyConnected\\nnum_hidden=128", shape=box' in text
    assert text.count("->") == 7


@needs_fixtures
def test_inspect_bare_symbol_with_and_without_shapes(cpu_state, runner):
    symbol = str(FIXTURES / "mlp-symbol.json")
    report = json.loads(runner.invoke(cli, ["inspect", symbol, "--json"]).stdout)
    assert report["params_file"] is None
    assert [p["name"] for p in report["parameters"]] == [
        "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "fc3_weight", "fc3_bias"]
    assert report["total_parameters"] is None
    report = json.loads(runner.invoke(cli, ["inspect", symbol, "--shape", "data=2,784",
                                            "--json"]).stdout)
    assert report["total_parameters"] == 109386
    assert report["inputs"][0] == {"name": "data", "shape": [2, 784]}


def test_inspect_symbol_saved_by_gradloom(cpu_state, runner, tmp_path):
    import gradloom as mx
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, name="fc", num_hidden=3)
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    path = tmp_path / "tiny-symbol.json"
    net.save(str(path))
    result = runner.invoke(cli, ["inspect", str(path), "--shape", "data=4,5", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {p["name"]: p["count"] for p in report["parameters"]} == {"fc_weight": 15,
                                                                      "fc_bias": 3}
    assert report["outputs"] == ["softmax_output"]


def test_inspect_errors_are_one_line(cpu_state, runner, tmp_path):
    result = runner.invoke(cli, ["inspect", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: checkpoint not found: {tmp_path}/nothing-symbol.json "
                             f"does not exist (inspect target '{tmp_path}/nothing'); give the "
                             f"prefix used with --checkpoint\n")
    bad = tmp_path / "bad-symbol.json"
    bad.write_text('{"not": "a graph"}')
    result = runner.invoke(cli, ["inspect", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad} is not a symbol JSON file")
    result = runner.invoke(cli, ["inspect", str(bad), "--shape", "data"])
    assert result.exit_code == 2
    assert "bad --shape 'data'" in result.stderr


@needs_fixtures
def test_inspect_missing_epoch_lists_saved_ones(cpu_state, runner):
    result = runner.invoke(cli, ["inspect", str(FIXTURES / "mlp"), "--epoch", "7"])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: checkpoint not found: {FIXTURES}/mlp-0007.params does "
                             f"not exist (saved epochs: 1)\n")
