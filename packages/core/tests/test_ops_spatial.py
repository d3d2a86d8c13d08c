"""Convolution and Pooling: MXNet's verified shapes and the avg count_include_pad numbers."""
import numpy as np
import pytest

from gradloom.base import ShapeError
from gradloom.testing.harness import bind_op


def test_convolution_shapes():
    bound = bind_op("Convolution", {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1),
                                    "num_filter": 8}, [(2, 3, 9, 9)])
    assert bound.in_shapes[1:] == [(8, 3, 3, 3), (8,)] and bound.out_shapes == [(2, 8, 5, 5)]
    bound = bind_op("Convolution", {"kernel": "(3, 3)", "num_group": 4, "dilate": (2, 2),
                                    "no_bias": True, "num_filter": 8}, [(2, 4, 9, 9)])
    assert bound.in_shapes[1:] == [(8, 1, 3, 3)] and bound.out_shapes == [(2, 8, 5, 5)]


def test_convolution_lenet_shapes():
    bound = bind_op("Convolution", {"kernel": (5, 5), "num_filter": 20}, [(4, 1, 28, 28)])
    assert bound.out_shapes == [(4, 20, 24, 24)]


def test_convolution_channel_mismatch_is_shape_error():
    with pytest.raises(ShapeError, match="num_group"):
        bind_op("Convolution", {"kernel": (3, 3), "num_filter": 4, "num_group": 2},
                [(1, 3, 5, 5)])


def _direct_conv(x, w, b, stride, pad, dilate, groups):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - dilate * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dilate * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, f, oh, ow))
    fg = f // groups
    for o in range(f):
        grp = o // fg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, grp * cg:(grp + 1) * cg,
                           i * stride:i * stride + dilate * (kh - 1) + 1:dilate,
                           j * stride:j * stride + dilate * (kw - 1) + 1:dilate]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)


@pytest.mark.parametrize("stride,pad,dilate,groups", [(1, 0, 1, 1), (2, 1, 1, 1),
                                                      (1, 2, 2, 2)])
def test_convolution_matches_direct_loop(stride, pad, dilate, groups):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, 3, 3))
    b = rng.standard_normal(6)
    bound = bind_op("Convolution", {"kernel": (3, 3), "stride": (stride, stride),
                                    "pad": (pad, pad), "dilate": (dilate, dilate),
                                    "num_filter": 6, "num_group": groups}, [(2, 4, 7, 6)],
                    dtype="float64")
    np.testing.assert_allclose(bound.forward([x, w, b])[0],
                               _direct_conv(x, w, b, stride, pad, dilate, groups), rtol=1e-10)


def test_convolution_1d():
    bound = bind_op("Convolution", {"kernel": (3,), "num_filter": 2, "no_bias": True},
                    [(1, 1, 5)])
    out = bound.forward([np.arange(5.).reshape(1, 1, 5), np.ones((2, 1, 3))])[0]
    np.testing.assert_allclose(out, [[[3, 6, 9], [3, 6, 9]]])


@pytest.mark.parametrize("attrs,shape", [
    ({"kernel": (3, 3), "stride": (2, 2)}, (3, 3)),
    ({"kernel": (3, 3), "stride": (2, 2), "pooling_convention": "full"}, (4, 4)),
    ({"kernel": (2, 2)}, (7, 7)),
])
def test_pooling_output_sizes(attrs, shape):
    assert bind_op("Pooling", attrs, [(1, 1, 8, 8)]).out_shapes == [(1, 1) + shape]


def test_global_pooling():
    bound = bind_op("Pooling", {"global_pool": True, "kernel": (7, 7), "pool_type": "avg"},
                    [(2, 3, 5, 5)])
    assert bound.out_shapes == [(2, 3, 1, 1)]
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(bound.forward([x])[0][..., 0, 0], x.mean(axis=(2, 3)),
                               rtol=1e-5)


@pytest.mark.parametrize("include,expected", [
    (None, [0, .75, .75, 3, 7.5, 4.5, 3, 6.75, 3.75]),
    (False, [0, 1.5, 3, 6, 7.5, 9, 12, 13.5, 15]),
])
def test_avg_pool_count_include_pad(include, expected):
    attrs = {"kernel": (2, 2), "stride": (2, 2), "pad": (1, 1), "pool_type": "avg"}
    if include is not None:
        attrs["count_include_pad"] = include
    bound = bind_op("Pooling", attrs, [(1, 1, 4, 4)])
    out = bound.forward([np.arange(16.).reshape(1, 1, 4, 4)])[0]
    np.testing.assert_allclose(out.ravel(), expected)
    # gradient: each input element receives 1/divisor of its single window
    grad = bound.backward()[0][0, 0]
    if include is None:
        np.testing.assert_allclose(grad, 0.25)
    else:
        per_axis = np.array([1, 2, 2, 1.])  # elements counted by the window holding them
        np.testing.assert_allclose(grad, 1 / np.outer(per_axis, per_axis))


def test_max_pool_routes_gradient_to_argmax():
    x = np.array([[1, 5, 2, 0], [3, 4, 8, 7], [9, 1, 0, 2], [6, 2, 3, 1]], dtype=np.float32)
    bound = bind_op("Pooling", {"kernel": (2, 2), "stride": (2, 2)}, [(1, 1, 4, 4)])
    np.testing.assert_array_equal(bound.forward([x.reshape(1, 1, 4, 4)])[0][0, 0],
                                  [[5, 8], [9, 3]])
    grad = bound.backward([np.array([[[[1, 2], [3, 4]]]])])[0][0, 0]
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[2, 0], expected[3, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(grad, expected)
