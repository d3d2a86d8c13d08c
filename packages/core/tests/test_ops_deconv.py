"""Deconvolution: MXNet 1.9.1's numbers and shapes, and its identity with Convolution's data
gradient."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.testing.harness import bind_op, resolve_op


def _deconv(attrs, shapes, dtype="float64"):
    return bind_op("Deconvolution", attrs, shapes, dtype=dtype)


# -- MXNet 1.9.1's outputs (mx.nd.Deconvolution under autograd, float64) ---------------------
OGRAD_4x4 = [[[[-1, 0, 1, -1], [0, 1, -1, 0], [1, -1, 0, 1], [-1, 0, 1, -1]]]]


def test_2d_stride_pad_adj_bias_matches_mxnet():
    attrs = {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "adj": (1, 1), "num_filter": 1,
             "no_bias": False}
    x = np.array([[[[1, 2], [3, 4]], [[0.5, -1], [2, 0]]]])
    w = np.array([[[[1, 0.5, 0], [-1, 2, 1], [0, 1, -0.5]]],
                  [[[0.5, 0, 1], [1, -1, 0], [2, 0, 1]]]])
    bound = _deconv(attrs, [x.shape])
    assert bound.in_shapes == [(1, 2, 2, 2), (2, 1, 3, 3), (1,)]
    out = bound.forward([x, w, [0.25]])[0]
    # MXNet 1.9.1's outputs
    np.testing.assert_allclose(out, [[[[1.75, -1.75, 5.25, 2.25], [2.75, 4.25, 4.25, -1.75],
                                       [4.25, -0.75, 8.25, 4.25], [3.25, 0.75, 4.25, -1.75]]]])
    dx, dw, db = bound.backward([np.array(OGRAD_4x4, dtype=float)])
    np.testing.assert_allclose(dx, [[[[-2.5, 0], [0, 4]], [[2, 1], [0, -1.5]]]])
    np.testing.assert_allclose(dw, [[[[4, -4, 3], [-4, 4, -1], [2, -1, -3]]],
                                    [[[0, 0, 2], [0, 0.5, -1], [-1, -1, 0.5]]]])
    np.testing.assert_allclose(db, [-1])


def test_1d_grouped_target_shape_matches_mxnet():
    # target 7 of a full size 3*2+2 = 8: MXNet pads 1 and adds adj 1
    attrs = {"kernel": (2,), "stride": (3,), "target_shape": (7,), "num_filter": 2,
             "num_group": 2}
    x = np.array([[[1, -2, 3], [0.5, 1, -1]]])
    w = np.array([[[1, 2]], [[-1, 0.5]]])
    bound = _deconv(attrs, [x.shape])
    out = bound.forward([x, w])[0]
    # MXNet 1.9.1's outputs
    np.testing.assert_allclose(out, [[[2, 0, -2, -4, 0, 3, 6], [0.25, 0, -1, 0.5, 0, 1, -0.5]]])
    ograd = np.array([[[-1, 0, 1, -1, 0, 1, -1], [0, 1, -1, 0, 1, -1, 0]]], dtype=float)
    dx, dw = bound.backward([ograd])
    np.testing.assert_allclose(dx, [[[-2, -1, -1], [0, 1, 1]]])
    np.testing.assert_allclose(dw, [[[1, -2]], [[0, 0]]])


def test_strided_dilated_is_convolution_data_gradient():
    """A deliberate difference: MXNet 1.9.1's CPU Deconvolution forward is wrong where an axis
    has both stride > 1 and dilate > 1 (it gives [1, 0, 10, 2, 103, 20, 200, 30, 300] here,
    which is not the adjoint of its own gradient). We give what MXNet 1.9.1's Convolution
    data gradient gives for the same geometry (and MXNet's Deconvolution gradients agree)."""
    bound = _deconv({"kernel": (3,), "stride": (2,), "dilate": (2,), "num_filter": 1},
                    [(1, 1, 3)])
    out = bound.forward([[[[1, 2, 3]]], [[[1, 10, 100]]]])[0]
    # MXNet 1.9.1's Convolution data gradient (out_grad [1, 2, 3], data shape (1, 1, 9))
    np.testing.assert_allclose(out, [[[1, 0, 12, 0, 123, 0, 230, 0, 300]]])


# -- shapes: MXNet 1.9.1's infer_shape results -----------------------------------------------
@pytest.mark.parametrize("data,attrs,weight,out", [
    ((2, 3, 5, 5), {}, (3, 4, 3, 3), (2, 4, 7, 7)),
    ((2, 3, 5, 5), {"stride": (2, 2), "pad": (1, 1), "adj": (1, 1)}, (3, 4, 3, 3),
     (2, 4, 10, 10)),
    ((2, 3, 5, 5), {"stride": (2, 2), "pad": (1, 1), "adj": (1, 0)}, (3, 4, 3, 3),
     (2, 4, 10, 9)),
    ((2, 3, 5, 5), {"kernel": (4, 4), "stride": (2, 2), "target_shape": (10, 10)},
     (3, 4, 4, 4), (2, 4, 10, 10)),
    ((2, 3, 5, 5), {"kernel": (4, 4), "stride": (2, 2), "target_shape": (11, 10)},
     (3, 4, 4, 4), (2, 4, 11, 10)),
    ((2, 3, 5, 5), {"kernel": (4, 4), "stride": (2, 2), "target_shape": (12, 9)},
     (3, 4, 4, 4), (2, 4, 12, 9)),
    # target_shape wins over pad and adj
    ((2, 3, 5, 5), {"stride": (2, 2), "target_shape": (8, 8), "pad": (1, 1), "adj": (1, 1)},
     (3, 4, 3, 3), (2, 4, 8, 8)),
    ((2, 3, 5, 5), {"stride": (2, 2), "target_shape": (1, 1)}, (3, 4, 3, 3), (2, 4, 1, 1)),
    ((2, 3, 5, 5), {"stride": (2, 2), "pad": (5, 5)}, (3, 4, 3, 3), (2, 4, 1, 1)),
    ((2, 3, 5, 5), {"num_filter": 6, "num_group": 3}, (3, 2, 3, 3), (2, 6, 7, 7)),
    ((2, 3, 5, 5), {"dilate": (2, 2), "pad": (1, 1)}, (3, 4, 3, 3), (2, 4, 7, 7)),
    ((2, 3, 5, 5), {"stride": (2, 2), "dilate": (2, 2), "adj": (1, 1)}, (3, 4, 3, 3),
     (2, 4, 14, 14)),
    ((2, 3, 5, 5), {"kernel": (3, 4), "num_filter": 5}, (3, 5, 3, 4), (2, 5, 7, 8)),
    ((2, 3, 5), {"kernel": (3,), "stride": (2,)}, (3, 4, 3), (2, 4, 11)),
    ((2, 3, 4, 4, 4), {"kernel": (3, 3, 3), "stride": (2, 2, 2)}, (3, 4, 3, 3, 3),
     (2, 4, 9, 9, 9)),
])
def test_shapes(data, attrs, weight, out):
    attrs = dict({"kernel": (3, 3), "num_filter": 4}, **attrs)
    sym = mx.sym.Deconvolution(mx.sym.var("data"), name="de", **attrs)
    args, outs, _ = sym.infer_shape(data=data)
    assert sym.list_arguments() == ["data", "de_weight"]   # no_bias defaults to True
    assert args == [data, weight] and outs == [out]


def test_bias_argument_and_json_round_trip():
    sym = mx.sym.Deconvolution(mx.sym.var("data"), kernel=(2, 2), stride=(2, 2), adj=(1, 0),
                               num_filter=3, no_bias=False, name="up")
    assert sym.list_arguments() == ["data", "up_weight", "up_bias"]
    args, outs, _ = sym.infer_shape(data=(1, 2, 3, 3))
    assert args == [(1, 2, 3, 3), (2, 3, 2, 2), (3,)] and outs == [(1, 3, 7, 6)]
    loaded = mx.sym.load_json(sym.tojson())
    assert loaded.list_arguments() == sym.list_arguments()
    assert loaded.list_outputs() == sym.list_outputs() == ["up_output"]
    assert loaded.infer_shape(data=(1, 2, 3, 3)) == (args, outs, [])


def test_batch_size_inferred_from_output():
    op = resolve_op("Deconvolution")
    attrs = op.parse_attrs({"kernel": (3, 3), "num_filter": 4})
    ins, outs = op.infer_shape(attrs, [(0, 3, 5, 5), None], [(2, 4, 7, 7)])
    assert ins == [(2, 3, 5, 5), (3, 4, 3, 3)] and outs == [(2, 4, 7, 7)]


# -- the transposed convolution: forward and data gradient against Convolution's ------------
@pytest.mark.parametrize("attrs,data", [
    ({"kernel": (3, 3)}, (2, 4, 4, 5)),
    ({"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "adj": (1, 0)}, (2, 4, 3, 4)),
    ({"kernel": (2, 3), "stride": (2, 3), "dilate": (3, 2), "num_group": 2}, (1, 4, 3, 3)),
    ({"kernel": (4, 4), "stride": (2, 2), "target_shape": (7, 9), "num_group": 4},
     (2, 4, 4, 5)),
    ({"kernel": (3,), "stride": (2,), "pad": (2,)}, (2, 4, 6)),
    ({"kernel": (2, 2, 3), "stride": (2, 1, 2), "pad": (1, 0, 1)}, (1, 4, 2, 3, 3)),
])
def test_deconvolution_is_convolution_data_gradient(attrs, data):
    rng = np.random.default_rng(5)
    attrs = dict(attrs, num_filter=4)
    de = _deconv(attrs, [data])
    out_shape = de.out_shapes[0]
    x = rng.standard_normal(data)
    w = rng.standard_normal(de.in_shapes[1])
    y = de.forward([x, w])[0]
    # the convolution from Deconvolution's output back to its input, with pad/adj resolved
    nd = len(attrs["kernel"])
    pad = attrs.get("pad", (0,) * nd)
    if "target_shape" in attrs:
        full = [s * (i - 1) + k for s, i, k in zip(attrs["stride"], data[2:], attrs["kernel"])]
        pad = tuple((f - t + 1) // 2 for f, t in zip(full, attrs["target_shape"]))
    conv_attrs = {key: attrs[key] for key in ("kernel", "stride", "dilate", "num_group")
                  if key in attrs}
    conv = bind_op("Convolution", dict(conv_attrs, pad=pad, num_filter=data[1], no_bias=True),
                   [out_shape], dtype="float64")
    assert conv.out_shapes == [data] and conv.in_shapes[1] == de.in_shapes[1]
    conv.forward([np.zeros(out_shape), w])
    np.testing.assert_allclose(y, conv.backward([x])[0], rtol=1e-12, atol=1e-12)
    # and back: Deconvolution's data gradient is that Convolution's forward
    dy = rng.standard_normal(out_shape)
    dx = de.backward([dy])[0]
    np.testing.assert_allclose(dx, conv.forward([dy, w])[0], rtol=1e-12, atol=1e-12)


def test_float32_and_grad_req_add():
    attrs = {"kernel": (3, 3), "stride": (2, 2), "num_filter": 2, "no_bias": False}
    x = np.random.default_rng(1).standard_normal((2, 3, 3, 3)).astype(np.float32)
    b64, b32 = _deconv(attrs, [x.shape]), _deconv(attrs, [x.shape], "float32")
    w = np.ones(b64.in_shapes[1])
    np.testing.assert_allclose(b32.forward([x, w, [1, 2]])[0], b64.forward([x, w, [1, 2]])[0],
                               rtol=1e-5)
    written = b64.backward()
    added = b64.backward(req="add", grads=written)
    for a, w_ in zip(added, written):
        np.testing.assert_allclose(a, 2 * w_)


# -- typed errors naming what to change -----------------------------------------------------
@pytest.mark.parametrize("attrs,data,error,match", [
    ({"adj": (1, 1)}, (2, 3, 5, 5), AttributeValueError, r"adj must be smaller than stride"),
    ({"stride": (2, 2), "adj": (2, 2)}, (2, 3, 5, 5), AttributeValueError, "adj"),
    ({"stride": (2, 2), "target_shape": (20, 20)}, (2, 3, 5, 5), ShapeError,
     r"target_shape.*reaches at most 11"),
    # stride 1 cannot take the odd remainder a target size leaves
    ({"target_shape": (6, 6)}, (2, 3, 5, 5), AttributeValueError, r"needs adj=1"),
    ({"target_shape": (7,)}, (2, 3, 5, 5), AttributeValueError, r"target_shape.*2 output"),
    ({"stride": (2, 2), "pad": (6, 6)}, (2, 3, 5, 5), ShapeError, "less padding"),
    ({"num_filter": 5, "num_group": 2}, (2, 4, 5, 5), AttributeValueError, "num_group"),
    ({"num_filter": 4, "num_group": 2}, (2, 3, 5, 5), ShapeError, "not divisible"),
    ({}, (2, 3, 5), ShapeError, r"2-d kernel needs 4-d data"),
    ({"stride": (2,)}, (2, 3, 5, 5), AttributeValueError, r"stride=\(2,\) has 1 values"),
    ({"dilate": (0, 1)}, (2, 3, 5, 5), AttributeValueError, "dilate"),
    ({"kernel": (3, 3, 3, 3)}, (2, 3, 5, 5, 5, 5), AttributeValueError, "1, 2 or 3"),
    ({"layout": "NHWC"}, (2, 3, 5, 5), AttributeValueError, "NCHW"),
])
def test_bad_attributes_and_shapes(attrs, data, error, match):
    attrs = dict({"kernel": (3, 3), "num_filter": 4}, **attrs)
    with pytest.raises(error, match=match) as info:
        _deconv(attrs, [data])
    assert "Deconvolution" in str(info.value)


def test_missing_kernel_is_attribute_error():
    with pytest.raises(AttributeValueError, match="kernel"):
        mx.sym.Deconvolution(mx.sym.var("data"), num_filter=2).infer_shape(data=(1, 1, 2, 2))
