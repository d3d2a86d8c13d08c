"""LeNet-5 as in MXNet's image-classification example: two tanh conv blocks, FC 500."""
from gradloom.base import ConfigError

DESCRIPTION = "LeNet: conv5x5(20)-pool-conv5x5(50)-pool-fc500-classes; images (C, H, W) >= 16x16"
PARAMS = {}


def input_shape(sample_shape):
    return _image_shape(sample_shape, "lenet", minimum=16)


def _image_shape(sample_shape, model, minimum):
    shape = tuple(int(s) for s in sample_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) == 1:  # flat square images (CSV rows of 784 pixels)
        side = int(round(shape[0] ** 0.5))
        if side * side == shape[0]:
            shape = (1, side, side)
    if len(shape) != 3 or min(shape[1:]) < minimum:
        raise ConfigError(f"model {model!r} needs images of shape (channels, height, width) "
                          f"at least {minimum}x{minimum}; the data has samples of shape "
                          f"{tuple(sample_shape)}; use --model mlp for other data")
    return shape


def build(num_classes, input_shape):
    import gradloom as mx
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, name="conv1", kernel=(5, 5), num_filter=20)
    net = mx.sym.Activation(net, name="tanh1", act_type="tanh")
    net = mx.sym.Pooling(net, name="pool1", pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, name="conv2", kernel=(5, 5), num_filter=50)
    net = mx.sym.Activation(net, name="tanh2", act_type="tanh")
    net = mx.sym.Pooling(net, name="pool2", pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net, name="flatten")
    net = mx.sym.FullyConnected(net, name="fc1", num_hidden=500)
    net = mx.sym.Activation(net, name="tanh3", act_type="tanh")
    net = mx.sym.FullyConnected(net, name="fc2", num_hidden=num_classes)
    return mx.sym.SoftmaxOutput(net, name="softmax")
