"""``mx.viz.print_summary`` prints MXNet's table."""
import os

import pytest

import gradloom as mx
from gradloom.base import ShapeError

DATA = os.path.join(os.path.dirname(__file__), "data")


def _lenet_bn():
    net = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(5, 5), num_filter=20,
                             name="conv1")
    # the names MXNet gave its automatically named layers in a fresh process
    net = mx.sym.Activation(mx.sym.BatchNorm(net, name="bn"), act_type="tanh",
                            name="activation0")
    net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pooling0")
    net = mx.sym.FullyConnected(mx.sym.Flatten(net, name="flatten0"), num_hidden=10, name="fc")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def test_summary_is_mxnets_table(capsys):
    mx.viz.print_summary(_lenet_bn(), shape={"data": (1, 1, 28, 28)})
    with open(os.path.join(DATA, "print_summary.mxnet191.txt")) as f:
        assert capsys.readouterr().out == f.read()   # what MXNet 1.9.1 printed


def test_every_input_and_every_previous_layer_is_listed(capsys):
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=4, name="c1",
                            no_bias=True)
    c2 = mx.sym.Convolution(data, kernel=(1, 1), num_filter=4, name="c2")
    emb = mx.sym.Embedding(mx.sym.Variable("words"), input_dim=7, output_dim=3, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.Flatten(c1 + c2, name="flat"), num_hidden=5, name="fc")
    out = mx.sym.LinearRegressionOutput(mx.sym.Concat(fc, mx.sym.Flatten(emb), dim=1),
                                        name="lro")
    mx.viz.print_summary(out, shape={"data": (2, 1, 6, 6), "words": (2, 4)})
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    by_layer = {r[0]: r[1:] for r in rows if r and "(" in r[0] and r[0] != "Layer"}
    assert by_layer["c1(Convolution)"] == ["4x6x6", "36", "data"]       # 4*1*3*3, no bias
    assert by_layer["c2(Convolution)"] == ["4x6x6", "8", "data"]
    assert by_layer["emb(Embedding)"] == ["4x3", "21", "words"]
    assert by_layer["fc(FullyConnected)"] == ["5", "725", "flat"]   # 144*5 + 5
    assert by_layer["lro(LinearRegressionOutput)"][:2] == ["17", "0"]   # its label is no param
    plus = next(k for k in by_layer if k.endswith("(elemwise_add)"))
    assert by_layer[plus] == ["4x6x6", "0", "c1"]
    assert ["c2"] in rows                                   # a second previous layer, own line
    assert ["Total", "params:", "790"] in rows


def test_summary_needs_the_input_shapes():
    with pytest.raises(ShapeError, match="shape="):
        mx.viz.print_summary(_lenet_bn())
