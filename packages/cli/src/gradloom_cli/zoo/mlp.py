"""Multi-layer perceptron: 128 -> 64 -> classes with ReLU (MXNet's mnist_mlp)."""
import numpy as np

DESCRIPTION = "fully connected 128-64-classes with ReLU; any input, flattened"


def input_shape(sample_shape):
    return (int(np.prod(sample_shape)),)


def build(num_classes, input_shape):
    import gradloom as mx
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, name="fc1", num_hidden=128)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=64)
    net = mx.sym.Activation(net, name="relu2", act_type="relu")
    net = mx.sym.FullyConnected(net, name="fc3", num_hidden=num_classes)
    return mx.sym.SoftmaxOutput(net, name="softmax")
