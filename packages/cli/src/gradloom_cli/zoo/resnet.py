"""A small pre-activation ResNet (MXNet's CIFAR branch of symbols/resnet.py).

Three stages of ``units`` basic residual units each (16, 32, 64 filters; strides 1, 2, 2).
The default, one unit per stage, has eight weighted layers: small enough for CPUs;
``units=3`` is MXNet's ResNet-20.
"""
from .lenet import _image_shape

DESCRIPTION = "pre-activation ResNet-8 (CIFAR style, BatchNorm); images (C, H, W) >= 8x8"

PARAMS = {"units": 1}
_STAGES = ((16, 1), (32, 2), (64, 2))
_BN = {"eps": 2e-5, "momentum": 0.9}


def input_shape(sample_shape):
    return _image_shape(sample_shape, "resnet", minimum=8)


def _unit(mx, x, num_filter, stride, dim_match, name):
    bn1 = mx.sym.BatchNorm(x, name=f"{name}_bn1", fix_gamma=False, **_BN)
    act1 = mx.sym.Activation(bn1, name=f"{name}_relu1", act_type="relu")
    conv1 = mx.sym.Convolution(act1, name=f"{name}_conv1", num_filter=num_filter,
                               kernel=(3, 3), stride=(stride, stride), pad=(1, 1),
                               no_bias=True)
    bn2 = mx.sym.BatchNorm(conv1, name=f"{name}_bn2", fix_gamma=False, **_BN)
    act2 = mx.sym.Activation(bn2, name=f"{name}_relu2", act_type="relu")
    conv2 = mx.sym.Convolution(act2, name=f"{name}_conv2", num_filter=num_filter,
                               kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True)
    if dim_match:
        shortcut = x
    else:
        shortcut = mx.sym.Convolution(act1, name=f"{name}_sc", num_filter=num_filter,
                                      kernel=(1, 1), stride=(stride, stride), no_bias=True)
    return mx.sym.elemwise_add(conv2, shortcut, name=f"{name}_plus")


def build(num_classes, input_shape, units=PARAMS["units"]):
    import gradloom as mx
    data = mx.sym.Variable("data")
    net = mx.sym.BatchNorm(data, name="bn_data", fix_gamma=True, **_BN)
    net = mx.sym.Convolution(net, name="conv0", num_filter=16, kernel=(3, 3), stride=(1, 1),
                             pad=(1, 1), no_bias=True)
    channels = 16
    from . import int_list
    units = int_list(units, "units")
    if len(units) != 1:
        from gradloom.base import ConfigError
        raise ConfigError(f"model parameter 'units' is one number (units per stage), got "
                          f"{units}")
    units = units[0]
    for i, (num_filter, stride) in enumerate(_STAGES):
        for j in range(units):
            step = stride if j == 0 else 1
            net = _unit(mx, net, num_filter, step, channels == num_filter and step == 1,
                        f"stage{i + 1}_unit{j + 1}")
            channels = num_filter
    net = mx.sym.BatchNorm(net, name="bn1", fix_gamma=False, **_BN)
    net = mx.sym.Activation(net, name="relu1", act_type="relu")
    net = mx.sym.Pooling(net, name="pool1", global_pool=True, kernel=(7, 7), pool_type="avg")
    net = mx.sym.Flatten(net, name="flatten")
    net = mx.sym.FullyConnected(net, name="fc1", num_hidden=num_classes)
    return mx.sym.SoftmaxOutput(net, name="softmax")
