"""Conformance cases of Deconvolution, UpSampling and Pad, with direct numpy references.

The references scatter every input element through the kernel one at a time, repeat pixels
with ``np.repeat`` and pad with ``np.pad``: nothing shared with the kernels' im2col path.
"""
import itertools
from types import SimpleNamespace

import numpy as np

from .cases import Case


def _expand(value, nd, default):
    return tuple(value) if value else (default,) * nd


def deconvolution(x, w, b, a):
    """Transposed convolution by direct scatter: input (i) times weight offset (k) lands at
    ``stride*i + dilate*k`` of the uncropped output, which is then cropped by ``pad``."""
    k = tuple(a.kernel)
    nd = len(k)
    stride, dilate = _expand(a.stride, nd, 1), _expand(a.dilate, nd, 1)
    pad, adj = _expand(a.pad, nd, 0), _expand(a.adj, nd, 0)
    target = _expand(a.target_shape, nd, 0)
    n, c = x.shape[:2]
    fg = w.shape[1]
    cg = c // a.num_group
    full = [s * (i - 1) + d * (kk - 1) + 1 for s, i, d, kk in zip(stride, x.shape[2:], dilate, k)]
    out_sp, crop = [], []
    for size, p, q, t in zip(full, pad, adj, target):
        if t:   # the pad (and adj) that give the target size
            p = (size - t + 1) // 2
            q = t - (size - 2 * p)
        out_sp.append(size - 2 * p + q)
        crop.append(p)
    reach = tuple(max(f, p + o) for f, p, o in zip(full, crop, out_sp))   # adj may pass full
    canvas = np.zeros((n, fg * a.num_group) + reach)
    for ch in range(c):
        g = ch // cg
        for pos in itertools.product(*(range(i) for i in x.shape[2:])):
            for off in itertools.product(*(range(kk) for kk in k)):
                at = tuple(s * i + d * o for s, i, d, o in zip(stride, pos, dilate, off))
                value = x[(slice(None), ch) + pos][:, None] * w[(ch, slice(None)) + off]
                canvas[(slice(None), slice(g * fg, (g + 1) * fg)) + at] += value
    out = canvas[(slice(None), slice(None)) + tuple(slice(p, p + o)
                                                    for p, o in zip(crop, out_sp))]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * nd)
    return out


def _deconv_ref(x, aux, a, t):
    return [deconvolution(x[0], x[1], x[2] if len(x) > 2 else None, a)]


def _upsampling_ref(x, aux, a, t):
    if a.sample_type == "bilinear":
        s = a.scale
        p = int(np.ceil((s - 1) / 2))
        attrs = SimpleNamespace(kernel=(2 * s - s % 2,) * 2, stride=(s, s), pad=(p, p),
                                dilate=(), adj=(), target_shape=(), num_group=a.num_filter)
        return [deconvolution(x[0], x[1], None, attrs)]
    height = x[0].shape[2] * a.scale
    parts = []
    for v in x:
        f = height // v.shape[2]
        parts.append(np.repeat(np.repeat(v, f, axis=2), f, axis=3))
    return [sum(parts) if a.multi_input_mode == "sum" else np.concatenate(parts, axis=1)]


def _pad_ref(x, aux, a, t):
    width = list(zip(a.pad_width[::2], a.pad_width[1::2]))
    if a.mode == "constant":
        return [np.pad(x[0], width, mode="constant", constant_values=a.constant_value)]
    return [np.pad(x[0], width, mode=a.mode)]


def add_cases(add):
    for attrs, shape, tag in (
            ({"kernel": (3, 3), "num_filter": 3, "no_bias": False}, (2, 2, 3, 4), "bias"),
            ({"kernel": (3, 3), "num_filter": 2, "stride": (2, 2), "pad": (1, 1),
              "adj": (1, 0)}, (1, 3, 3, 3), "stride-pad-adj"),
            ({"kernel": (2, 2), "num_filter": 4, "num_group": 2, "dilate": (2, 1),
              "stride": (1, 2)}, (1, 4, 3, 3), "grouped-dilated"),
            ({"kernel": (4, 4), "num_filter": 2, "stride": (2, 2), "target_shape": (7, 8)},
             (1, 2, 3, 4), "target-shape"),
            ({"kernel": (3,), "num_filter": 2, "stride": (2,), "dilate": (2,), "pad": (1,),
              "no_bias": False}, (2, 3, 4), "1d-strided-dilated"),
            ({"kernel": (2, 2, 2), "num_filter": 2, "stride": (2, 1, 1), "pad": (0, 1, 0)},
             (1, 2, 2, 2, 2), "3d")):
        add(Case("Deconvolution", attrs, [shape], _deconv_ref, name=f"Deconvolution-{tag}"))
    for attrs, shapes, tag in (
            ({"scale": 2}, [(2, 2, 2, 3)], "nearest"),
            ({"scale": 3}, [(1, 2, 2, 2)], "nearest-3"),
            ({"scale": 2}, [(1, 1, 2, 2), (1, 2, 4, 4), (1, 1, 1, 1)], "nearest-concat"),
            ({"scale": 2, "multi_input_mode": "sum"}, [(2, 2, 2, 3), (2, 2, 4, 6)],
             "nearest-sum")):
        attrs = dict(attrs, sample_type="nearest", num_args=len(shapes))
        add(Case("UpSampling", attrs, shapes, _upsampling_ref, name=f"UpSampling-{tag}"))
    for scale, shape in ((2, (1, 2, 3, 3)), (3, (2, 1, 2, 3))):
        add(Case("UpSampling", {"scale": scale, "sample_type": "bilinear",
                                "num_filter": shape[1], "num_args": 1}, [shape],
                 _upsampling_ref, name=f"UpSampling-bilinear-{scale}"))
    for attrs, shape, tag in (
            ({"mode": "constant", "pad_width": (0, 0, 0, 0, 1, 2, 2, 1),
              "constant_value": 1.5}, (2, 2, 3, 3), "constant"),
            ({"mode": "edge", "pad_width": (0, 0, 0, 0, 2, 1, 1, 3)}, (1, 2, 3, 4), "edge"),
            ({"mode": "reflect", "pad_width": (0, 0, 0, 0, 2, 1, 3, 2)}, (1, 2, 3, 4),
             "reflect"),
            ({"mode": "edge", "pad_width": (0, 0, 0, 0, 1, 2, 0, 1, 2, 1)}, (1, 1, 2, 3, 2),
             "edge-5d"),
            ({"mode": "reflect", "pad_width": (0, 0, 0, 0, 1, 1, 2, 0, 1, 1)},
             (1, 2, 2, 3, 2), "reflect-5d")):
        add(Case("Pad", attrs, [shape], _pad_ref, name=f"Pad-{tag}"))
