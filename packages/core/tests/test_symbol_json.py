"""Symbol JSON: MXNet 1.9.1's exact bytes, its fixtures, legacy files and load errors."""
import json
import os
from pathlib import Path

import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, FormatError, UnknownOperatorError

FIXTURES = "/work/shared/fixtures/mxnet"

WORKED_EXAMPLE = """{
  "nodes": [
    {
      "op": "null", 
      "name": "data", 
      "inputs": []
    }, 
    {
      "op": "null", 
      "name": "fc_weight", 
      "attrs": {"num_hidden": "2"}, 
      "inputs": []
    }, 
    {
      "op": "null", 
      "name": "fc_bias", 
      "attrs": {"num_hidden": "2"}, 
      "inputs": []
    }, 
    {
      "op": "FullyConnected", 
      "name": "fc", 
      "attrs": {"num_hidden": "2"}, 
      "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    }, 
    {
      "op": "null", 
      "name": "softmax_label", 
      "inputs": []
    }, 
    {
      "op": "SoftmaxOutput", 
      "name": "softmax", 
      "inputs": [[3, 0, 0], [4, 0, 0]]
    }
  ], 
  "arg_nodes": [0, 1, 2, 4], 
  "node_row_ptr": [0, 1, 2, 3, 4, 5, 6], 
  "heads": [[5, 0, 0]], 
  "attrs": {"mxnet_version": ["int", 10901]}
}"""


def fixture_text(name):
    with open(os.path.join(FIXTURES, f"{name}-symbol.json"), encoding="utf-8") as f:
        return f.read()


def test_worked_example_is_byte_identical():
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    net = mx.sym.SoftmaxOutput(fc, name="softmax")
    assert net.tojson() == WORKED_EXAMPLE
    assert mx.sym.load_json(WORKED_EXAMPLE).tojson() == WORKED_EXAMPLE


def test_mlp_fixture_round_trips_byte_for_byte():
    text = fixture_text("mlp")
    net = mx.sym.load_json(text)
    assert net.tojson() == text
    assert net.list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias",
                                    "fc3_weight", "fc3_bias", "softmax_label"]
    assert net.list_outputs() == ["softmax_output"]
    assert net.list_auxiliary_states() == []


def test_lenet_bn_fixture_round_trips_byte_for_byte():
    # includes BatchNorm (3 outputs) and max pooling, which MXNet counts as 2 in node_row_ptr
    text = fixture_text("lenet_bn")
    assert mx.sym.load_json(text).tojson() == text


def test_composite_graph_matches_mxnet_bytes():
    # data/composite-symbol.mxnet191.json was written by MXNet 1.9.1 for this same graph:
    # BatchNorm aux inputs and __init__, hidden outputs, auto names, lr_mult, scalar ops
    with mx.name.NameManager():  # fresh automatic-name counters, as in a new MXNet process
        net = _composite_graph()
    expected = (Path(__file__).parent / "data" / "composite-symbol.mxnet191.json").read_text()
    assert net.tojson() == expected


def _composite_graph():
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
    net = mx.sym.BatchNorm(net, name="bn1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Dropout(net, p=0.25)
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=10, lr_mult=2)
    net = net * 2 + 1
    return mx.sym.SoftmaxOutput(net, name="softmax")


@pytest.mark.parametrize("name", ["mlp", "lenet_bn"])
def test_fixture_interface_and_attributes(name):
    text = fixture_text(name)
    raw = json.loads(text)
    net = mx.sym.load_json(text)
    expected_attrs = {n["name"]: n["attrs"] for n in raw["nodes"] if n.get("attrs")}
    assert net.attr_dict() == expected_attrs
    aux_ids = {e[0] for n in raw["nodes"] for e in n["inputs"] if e[2] == 1}
    var_names = [raw["nodes"][i]["name"] for i in raw["arg_nodes"]]
    aux_names = [raw["nodes"][i]["name"] for i in sorted(aux_ids)]
    assert net.list_auxiliary_states() == aux_names
    assert net.list_arguments() == [v for v in var_names if v not in aux_names]
    out = json.loads(net.tojson())
    assert [n["name"] for n in out["nodes"]] == [n["name"] for n in raw["nodes"]]
    assert [n["inputs"] for n in out["nodes"]] == [n["inputs"] for n in raw["nodes"]]
    assert out["arg_nodes"] == raw["arg_nodes"] and out["heads"] == raw["heads"]


def test_batchnorm_and_dropout_layout():
    data = mx.sym.Variable("data")
    bn = mx.sym.BatchNorm(data, name="bn")
    net = mx.sym.Dropout(bn, p=0.5, name="drop")
    out = json.loads(net.tojson())
    bn_node = out["nodes"][5]
    assert bn_node["op"] == "BatchNorm"
    assert bn_node["inputs"] == [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [4, 0, 1]]
    assert out["node_row_ptr"] == [0, 1, 2, 3, 4, 5, 8, 10]
    assert out["attrs"] == {"mxnet_version": ["int", 10901]}
    text = net.tojson()
    assert '"attrs": {"__init__": "[\\"zero\\", {}]"}' in text


def test_long_arrays_are_one_per_line():
    data = mx.sym.Variable("data")
    parts = [mx.sym.Variable(f"x{i}") for i in range(11)]
    text = mx.sym.concat(*parts, dim=1, name="cat").tojson()
    assert '"inputs": [\n        [0, 0, 0], \n        [1, 0, 0], ' in text
    assert '"arg_nodes": [\n    0, \n    1, ' in text
    assert data.tojson().endswith('"attrs": {"mxnet_version": ["int", 10901]}\n}')


def test_save_and_load_file(tmp_path):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    net = mx.sym.SoftmaxOutput(fc, name="softmax")
    path = tmp_path / "net-symbol.json"
    net.save(str(path))
    assert path.read_text() == WORKED_EXAMPLE
    assert sorted(os.listdir(tmp_path)) == ["net-symbol.json"]  # no temporary left behind
    assert mx.sym.load(str(path)).tojson() == WORKED_EXAMPLE


LEGACY = {
    "nodes": [
        {"op": "null", "param": {}, "name": "data", "inputs": [], "backward_source_id": -1,
         "attr": {"ctx_group": "stage1", "lr_mult": "0.2"}},
        {"op": "null", "param": {}, "name": "fc1_weight", "inputs": [],
         "backward_source_id": -1,
         "attr": {"ctx_group": "stage1", "wd_mult": "0.3", "lr_mult": "1.2"}},
        {"op": "null", "param": {}, "name": "fc1_bias", "inputs": [], "backward_source_id": -1,
         "attr": {"ctx_group": "stage1", "wd_mult": "0.3"}},
        {"op": "FullyConnected", "param": {"no_bias": "False", "num_hidden": "128"},
         "name": "fc1", "inputs": [[0, 0], [1, 0], [2, 0]], "backward_source_id": -1,
         "attr": {"ctx_group": "stage1", "wd_mult": "0.3"}},
        {"op": "null", "param": {}, "name": "fc2_weight", "inputs": [],
         "backward_source_id": -1},
        {"op": "FullyConnected", "param": {"no_bias": "True", "num_hidden": "64"},
         "name": "fc2", "inputs": [[3, 0], [4, 0]], "backward_source_id": -1,
         "attr": {"weight_lr_mult": "0.01", "ctx_group": "stage2"}},
        {"op": "null", "param": {}, "name": "batchnorm0_gamma", "inputs": [],
         "backward_source_id": -1},
        {"op": "null", "param": {}, "name": "batchnorm0_beta", "inputs": [],
         "backward_source_id": -1},
        {"op": "BatchNorm", "param": {"eps": "0.001", "fix_gamma": "True", "momentum": "0.9"},
         "name": "batchnorm0", "inputs": [[5, 0], [6, 0], [7, 0]], "backward_source_id": -1},
        {"op": "null", "param": {}, "name": "softmax_label", "inputs": [],
         "backward_source_id": -1},
        {"op": "SoftmaxOutput", "param": {"grad_scale": "1"}, "name": "softmax",
         "inputs": [[8, 0], [9, 0]], "backward_source_id": -1},
    ],
    "arg_nodes": [0, 1, 2, 4, 6, 7, 9],
    "heads": [[10, 0]],
}


def test_legacy_08_file_is_upgraded():
    net = mx.sym.load_json(json.dumps(LEGACY))
    assert net.list_arguments() == ["data", "fc1_weight", "fc1_bias", "fc2_weight",
                                    "batchnorm0_gamma", "batchnorm0_beta", "softmax_label"]
    assert net.list_auxiliary_states() == ["batchnorm0_moving_mean", "batchnorm0_moving_var"]
    assert net.list_outputs() == ["softmax_output"]
    attrs = net.attr_dict()
    assert attrs["data"] == {"__ctx_group__": "stage1", "__lr_mult__": "0.2"}
    assert attrs["fc1_weight"]["__lr_mult__"] == "1.2"
    assert attrs["fc1"]["__wd_mult__"] == "0.3"
    assert attrs["fc2_weight"] == {"__lr_mult__": "0.01"}  # moved from fc2's weight_lr_mult
    assert "weight_lr_mult" not in attrs["fc2"] and attrs["fc2"]["__ctx_group__"] == "stage2"
    assert attrs["batchnorm0_moving_mean"]["__init__"] == '["zero", {}]'
    assert attrs["batchnorm0_moving_var"]["__init__"] == '["one", {}]'
    assert attrs["batchnorm0_moving_mean"]["momentum"] == "0.9"
    # re-saving writes the aux inputs as mutated entries
    out = json.loads(net.tojson())
    bn = next(n for n in out["nodes"] if n["op"] == "BatchNorm")
    assert [e[2] for e in bn["inputs"]] == [0, 0, 0, 1, 1]
    assert net.infer_shape(data=(4, 10))[2] == [(64,), (64,)]


def test_current_file_without_aux_inputs_is_an_error():
    doc = json.loads(json.dumps(LEGACY))
    doc["attrs"] = {"mxnet_version": ["int", 10901]}
    with pytest.raises(FormatError, match="moving_mean"):
        mx.sym.load_json(json.dumps(doc))


def test_load_errors():
    with pytest.raises(UnknownOperatorError, match="NoSuchOp"):
        mx.sym.load_json('{"nodes": [{"op": "null", "name": "x", "inputs": []}, '
                         '{"op": "NoSuchOp", "name": "fc", "inputs": [[0, 0, 0]]}], '
                         '"heads": [[1, 0, 0]]}')
    with pytest.raises(AttributeValueError, match="foo"):
        mx.sym.load_json('{"nodes": [{"op": "null", "name": "x", "inputs": []}, '
                         '{"op": "Activation", "name": "a", "attrs": {"act_type": "relu", '
                         '"foo": "1"}, "inputs": [[0, 0, 0]]}], "heads": [[1, 0, 0]]}')
    with pytest.raises(FormatError):
        mx.sym.load_json("{not json")
    with pytest.raises(FormatError, match="refers to node"):
        mx.sym.load_json('{"nodes": [{"op": "Activation", "name": "a", "attrs": '
                         '{"act_type": "relu"}, "inputs": [[3, 0, 0]]}], "heads": [[0, 0, 0]]}')


def test_unknown_attribute_on_variable_is_kept():
    text = ('{"nodes": [{"op": "null", "name": "x", "attrs": {"num_hidden": "3"}, '
            '"inputs": []}], "heads": [[0, 0, 0]]}')
    assert mx.sym.load_json(text).list_attr() == {"num_hidden": "3"}
