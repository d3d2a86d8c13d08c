"""Conformance cases of the per-sample normalisations: LayerNorm, InstanceNorm,
L2Normalization (ops/normalize.py)."""
import numpy as np

from .cases import Case


def _channel_shape(ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return shape


def _layer_norm_stats(x, a):
    axis = a.axis % x.ndim
    mean = x.mean(axis=axis, keepdims=True)
    std = np.sqrt(x.var(axis=axis, keepdims=True) + a.eps)
    return axis, mean, std


def _layer_norm_ref(x, aux, a, t):
    axis, mean, std = _layer_norm_stats(x[0], a)
    shape = _channel_shape(x[0].ndim, axis)
    y = (x[0] - mean) / std * x[1].reshape(shape) + x[2].reshape(shape)
    return [y, mean, std] if a.output_mean_var else [y]


def _layer_norm_grads(x, outs, g, a):
    """MXNet's LayerNorm backward: only the first output's gradient counts (the mean and std
    outputs get none), so the numerical gradient of all visible outputs does not apply."""
    axis, mean, std = _layer_norm_stats(x[0], a)
    others = tuple(i for i in range(x[0].ndim) if i != axis)
    xhat = (x[0] - mean) / std
    gx = g[0] * x[1].reshape(_channel_shape(x[0].ndim, axis))
    dx = (gx - gx.mean(axis=axis, keepdims=True)
          - xhat * (gx * xhat).mean(axis=axis, keepdims=True)) / std
    return [dx, (g[0] * xhat).sum(axis=others), g[0].sum(axis=others)]


def _instance_norm_ref(x, aux, a, t):
    axes = tuple(range(2, x[0].ndim))
    mean = x[0].mean(axis=axes, keepdims=True)
    var = x[0].var(axis=axes, keepdims=True)
    shape = _channel_shape(x[0].ndim, 1)
    return [(x[0] - mean) / np.sqrt(var + a.eps) * x[1].reshape(shape) + x[2].reshape(shape)]


def _l2_normalization_ref(x, aux, a, t):
    nd = x[0].ndim
    axes = {"instance": tuple(range(1, nd)), "channel": (1,),
            "spatial": tuple(range(2, nd))}[a.mode]
    return [x[0] / np.sqrt((x[0] ** 2).sum(axis=axes, keepdims=True) + a.eps)]


def add_cases(add):
    for attrs, shape, tag in (({}, (2, 3, 4), ""),
                              ({"axis": 1, "eps": 1e-3}, (2, 3, 4), "-axis1"),
                              ({"axis": 0}, (3, 2, 2), "-axis0"),
                              ({}, (5,), "-1d")):
        add(Case("LayerNorm", attrs, [shape], _layer_norm_ref, name=f"LayerNorm{tag}"))
    add(Case("LayerNorm", {"axis": -2, "output_mean_var": True}, [(2, 4, 3)], _layer_norm_ref,
             grad=_layer_norm_grads, name="LayerNorm-mean-var"))
    add(Case("InstanceNorm", {}, [(2, 3, 4)], _instance_norm_ref))
    add(Case("InstanceNorm", {"eps": 0.01}, [(2, 2, 3, 2)], _instance_norm_ref,
             name="InstanceNorm-4d"))
    for mode, shape in (("instance", (2, 3, 4)), ("instance", (3, 4)),
                        ("channel", (2, 3, 2, 2)), ("spatial", (2, 3, 2, 2)),
                        ("channel", (2, 3, 4))):
        add(Case("L2Normalization", {"mode": mode}, [shape], _l2_normalization_ref,
                 name=f"L2Normalization-{mode}-{len(shape)}d"))
    add(Case("L2Normalization", {"eps": 0.5}, [(2, 3)], _l2_normalization_ref,
             name="L2Normalization-eps"))
