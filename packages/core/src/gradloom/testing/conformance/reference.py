"""Straightforward numpy references for the conformance suite (float64, loops where clearer).

They are written independently of the kernels (direct loops instead of im2col, explicit
formulas instead of fused updates) so that agreement means something.
"""
import itertools
import math

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softrelu": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
}


def leaky_relu(x, gamma, a):
    act = a.act_type
    if act == "leaky":
        return np.where(x > 0, x, a.slope * x)
    if act == "prelu":
        g = gamma.reshape((1, -1) + (1,) * (x.ndim - 2))
        return np.where(x > 0, x, g * x)
    if act == "elu":
        return np.where(x > 0, x, a.slope * (np.exp(x) - 1))
    if act == "selu":
        lam, alpha = 1.0507009873554805, 1.6732632423543772
        return lam * np.where(x > 0, x, alpha * (np.exp(x) - 1))
    if act == "gelu":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(act)


def _tuple(value, n, default):
    return tuple(value) if value else (default,) * n


def convolution(x, w, b, a):
    k = tuple(a.kernel)
    nd = len(k)
    stride, dilate, pad = (_tuple(a.stride, nd, 1), _tuple(a.dilate, nd, 1),
                           _tuple(a.pad, nd, 0))
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    n, c = x.shape[:2]
    f, cg = w.shape[:2]
    fg = f // a.num_group
    out_sp = [(x.shape[2 + i] - dilate[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((n, f) + tuple(out_sp))
    for o in range(f):
        g = o // fg
        for pos in itertools.product(*(range(s) for s in out_sp)):
            idx = (slice(None), slice(g * cg, (g + 1) * cg)) + tuple(
                slice(p * s, p * s + d * (kk - 1) + 1, d)
                for p, s, d, kk in zip(pos, stride, dilate, k))
            out[(slice(None), o) + pos] = (x[idx] * w[o]).reshape(n, -1).sum(axis=1)
    if b is not None:
        out += b.reshape((1, -1) + (1,) * nd)
    return out


def pooling(x, a):
    nd = x.ndim - 2
    spatial = x.shape[2:]
    if a.global_pool:
        k, stride, pad = spatial, (1,) * nd, (0,) * nd
    else:
        k, stride, pad = tuple(a.kernel), _tuple(a.stride, nd, 1), _tuple(a.pad, nd, 0)
    out_sp = []
    for n, kk, s, p in zip(spatial, k, stride, pad):
        span = n + 2 * p - kk
        full = a.pooling_convention == "full" and not a.global_pool
        out_sp.append((-(-span // s) if full else span // s) + 1)
    out = np.zeros(x.shape[:2] + tuple(out_sp))
    for pos in itertools.product(*(range(o) for o in out_sp)):
        lo = [q * s - p for q, s, p in zip(pos, stride, pad)]
        hi_pad = [min(l + kk, n + p) for l, kk, n, p in zip(lo, k, spatial, pad)]
        lo_in = [max(l, 0) for l in lo]
        hi_in = [min(h, n) for h, n in zip(hi_pad, spatial)]
        window = x[(slice(None), slice(None)) + tuple(slice(l, h) for l, h in zip(lo_in, hi_in))]
        flat = window.reshape(x.shape[0], x.shape[1], -1)
        if a.pool_type == "max":
            val = flat.max(axis=2)
        elif a.pool_type == "sum":
            val = flat.sum(axis=2)
        elif a.pool_type == "lp":
            p = a.p_value or 2
            val = (np.abs(flat) ** p).sum(axis=2) ** (1 / p)
        else:
            if a.count_include_pad is False:
                count = math.prod(h - l for l, h in zip(lo_in, hi_in))
            else:
                count = math.prod(h - l for l, h in zip(lo, hi_pad))
            val = flat.sum(axis=2) / count
        out[(slice(None), slice(None)) + pos] = val
    return out


def batch_norm(x, gamma, beta, mm, mv, a, is_train):
    axis = a.axis % x.ndim
    axes = tuple(i for i in range(x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    if a.fix_gamma:
        gamma = np.ones_like(gamma)
    if is_train and not a.use_global_stats:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = mm, mv
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + a.eps)
    return y * gamma.reshape(shape) + beta.reshape(shape)


def softmax_output_grad(prob, label, a):
    """Gradient of SoftmaxOutput for hard or soft labels (operators.md 7.1)."""
    if label.shape == prob.shape:
        return a.grad_scale * (prob - label)
    n = prob.shape[0]
    if a.multi_output:
        p = prob.reshape(n, prob.shape[1], -1)
    elif a.preserve_shape:
        p = prob.reshape(-1, prob.shape[-1])[:, :, None]
    else:
        p = prob.reshape(n, -1)[:, :, None]
    k, positions = p.shape[1], p.shape[2]
    lab = np.trunc(label.reshape(p.shape[0], positions)).astype(int)
    grad = p.copy()
    alpha = a.smooth_alpha
    for r in range(p.shape[0]):
        for c in range(positions):
            target = np.full(k, alpha / (k - 1) if alpha else 0.0)
            if 0 <= lab[r, c] < k:
                target[lab[r, c]] = 1 - alpha
            grad[r, :, c] -= target
            if a.use_ignore and lab[r, c] == int(a.ignore_label):
                grad[r, :, c] = 0
    if a.normalization == "valid":
        count = max(int((lab != int(a.ignore_label)).sum()), 1)
    elif a.normalization == "batch":
        count = p.shape[0] * (positions if a.multi_output else 1)
    else:
        count = positions if a.multi_output else 1
    return (grad * a.grad_scale / count).reshape(prob.shape)
