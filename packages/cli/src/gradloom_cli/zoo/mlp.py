"""Multi-layer perceptron: 128 -> 64 -> classes with ReLU (MXNet's mnist_mlp)."""
import numpy as np

DESCRIPTION = "fully connected 128-64-classes with ReLU; any input, flattened"
PARAMS = {"hidden": "128,64"}


def input_shape(sample_shape):
    return (int(np.prod(sample_shape)),)


def build(num_classes, input_shape, hidden=PARAMS["hidden"]):
    import gradloom as mx

    from . import int_list
    net = mx.sym.Variable("data")
    # names fc1, relu1, ... as in MXNet's example, so its checkpoints line up with ours
    layers = int_list(hidden, "hidden")
    for i, width in enumerate(layers, start=1):
        net = mx.sym.FullyConnected(net, name=f"fc{i}", num_hidden=width)
        net = mx.sym.Activation(net, name=f"relu{i}", act_type="relu")
    net = mx.sym.FullyConnected(net, name=f"fc{len(layers) + 1}", num_hidden=num_classes)
    return mx.sym.SoftmaxOutput(net, name="softmax")
