"""UpSampling (nearest, bilinear) and Pad (constant, edge, reflect): MXNet 1.9.1's numbers,
shapes and argument names, and typed errors."""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.testing.harness import bind_op


def _ograd(shape):
    """The output gradient the MXNet runs below used: -1, 0, 1, -1, ... in C order."""
    return (np.arange(int(np.prod(shape))).reshape(shape) % 3 - 1).astype(np.float64)


def _run(op, attrs, inputs):
    bound = bind_op(op, attrs, [np.shape(x) for x in inputs], dtype="float64")
    out = bound.forward(inputs)[0]
    return bound, out, bound.backward([_ograd(out.shape)])


# -- UpSampling: MXNet 1.9.1's outputs (mx.nd.UpSampling under autograd, float64) -----------
IMAGE = [[[[1.0, 2.0], [3.0, 4.0]]]]


def test_nearest_concat_matches_mxnet():
    attrs = {"scale": 2, "sample_type": "nearest", "num_args": 2}
    _, out, (g0, g1) = _run("UpSampling", attrs, [IMAGE, [[[[10.0]], [[20.0]]]]])
    # MXNet 1.9.1's outputs: arg1 (1x1) is enlarged 4 times to reach arg0's 4x4
    expected = np.concatenate([np.kron(np.array(IMAGE), np.ones((2, 2))),
                               np.full((1, 1, 4, 4), 10.0), np.full((1, 1, 4, 4), 20.0)], axis=1)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(g0, [[[[0, -1], [-1, 1]]]])
    np.testing.assert_array_equal(g1, [[[[0]], [[1]]]])


def test_nearest_sum_matches_mxnet():
    attrs = {"scale": 2, "sample_type": "nearest", "num_args": 2, "multi_input_mode": "sum"}
    other = [[[[0.5, -1, 2, 0], [1, 1, -2, 3], [0, 0, 1, 1], [2, 2, 2, 2]]]]
    _, out, (g0, g1) = _run("UpSampling", attrs, [IMAGE, other])
    # MXNet 1.9.1's outputs
    np.testing.assert_array_equal(out, [[[[1.5, 0, 4, 2], [2, 2, 0, 5], [3, 3, 5, 5],
                                           [5, 5, 6, 6]]]])
    np.testing.assert_array_equal(g0, [[[[0, -1], [-1, 1]]]])
    np.testing.assert_array_equal(g1, _ograd((1, 1, 4, 4)))


# MXNet 1.9.1's mx.init.Bilinear() weight for scale 2 (a (1, 1, 4, 4) kernel)
BILINEAR_4x4 = [[[[0.0625, 0.1875, 0.1875, 0.0625], [0.1875, 0.5625, 0.5625, 0.1875],
                  [0.1875, 0.5625, 0.5625, 0.1875], [0.0625, 0.1875, 0.1875, 0.0625]]]]


def test_bilinear_initializer_matches_mxnet():
    weight = mx.nd.zeros((1, 1, 4, 4))
    mx.init.Bilinear()(mx.init.InitDesc("up_weight"), weight)
    np.testing.assert_allclose(weight.asnumpy(), BILINEAR_4x4)


def test_bilinear_scale2_matches_mxnet():
    attrs = {"scale": 2, "sample_type": "bilinear", "num_filter": 1, "num_args": 2}
    bound, out, (gx, gw) = _run("UpSampling", attrs, [IMAGE, BILINEAR_4x4])
    assert bound.arg_names == ["data", "weight"]
    # MXNet 1.9.1's outputs
    np.testing.assert_allclose(out, [[[[0.5625, 0.9375, 1.3125, 1.125],
                                       [1.125, 1.75, 2.25, 1.875],
                                       [1.875, 2.75, 3.25, 2.625],
                                       [1.6875, 2.4375, 2.8125, 2.25]]]])
    np.testing.assert_allclose(gx, [[[[0, -0.25], [-0.25, 0.25]]]])
    np.testing.assert_allclose(gw, [[[[4, -4, 3, -3], [-4, 4, -1, 1], [2, -1, -3, 2],
                                      [-2, 1, 1, 0]]]])


def test_bilinear_scale3_matches_mxnet():
    # MXNet 1.9.1's Bilinear weight for scale 3 is the outer product of this profile
    profile = np.array([1, 2, 3, 2, 1]) / 3
    weight = np.outer(profile, profile).reshape(1, 1, 5, 5)
    attrs = {"scale": 3, "sample_type": "bilinear", "num_filter": 1, "num_args": 2}
    _, out, (gx, gw) = _run("UpSampling", attrs, [IMAGE, weight])
    # MXNet 1.9.1's outputs (computed in float32 there: rtol 1e-6), in ninths
    np.testing.assert_allclose(out * 9, [[[[4, 6, 8, 10, 12, 8], [6, 9, 12, 15, 18, 12],
                                           [10, 15, 18, 21, 24, 16], [14, 21, 24, 27, 30, 20],
                                           [18, 27, 30, 33, 36, 24],
                                           [12, 18, 20, 22, 24, 16]]]], rtol=1e-6)
    np.testing.assert_allclose(gx * 9, [[[[-8, 8], [-8, 8]]]], rtol=1e-6)
    np.testing.assert_allclose(gw, [[[[4, -7, 0, 7, -3]] + [[6, -10, 0, 10, -4]] * 3 +
                                     [[2, -3, 0, 3, -1]]]])


# -- UpSampling shapes, names and variable attributes (MXNet 1.9.1's) ------------------------
@pytest.mark.parametrize("attrs,shapes,out", [
    ({"scale": 2}, [(2, 3, 4, 5)], (2, 3, 8, 10)),
    ({"scale": 2}, [(2, 3, 4, 6), (2, 2, 2, 3)], (2, 5, 8, 12)),
    ({"scale": 2}, [(2, 3, 4, 6), (2, 2, 8, 12)], (2, 5, 8, 12)),
    ({"scale": 2}, [(1, 1, 2, 2), (1, 2, 4, 4), (1, 1, 1, 1)], (1, 4, 4, 4)),
    ({"scale": 2, "multi_input_mode": "sum"}, [(2, 3, 4, 6), (2, 3, 2, 3)], (2, 3, 8, 12)),
])
def test_nearest_shapes(attrs, shapes, out):
    xs = [mx.sym.var(f"x{i}") for i in range(len(shapes))]
    sym = mx.sym.UpSampling(*xs, sample_type="nearest", name="up", **attrs)
    assert sym.attr_dict()["up"]["num_args"] == str(len(shapes))
    args, outs, _ = sym.infer_shape(**{f"x{i}": s for i, s in enumerate(shapes)})
    assert args == shapes and outs == [out]


@pytest.mark.parametrize("scale,weight,out", [
    (1, (3, 1, 1, 1), (2, 3, 4, 5)), (2, (3, 1, 4, 4), (2, 3, 8, 10)),
    (3, (3, 1, 5, 5), (2, 3, 12, 15)), (4, (3, 1, 8, 8), (2, 3, 16, 20)),
])
def test_bilinear_shapes(scale, weight, out):
    sym = mx.sym.UpSampling(mx.sym.var("x"), scale=scale, sample_type="bilinear", num_filter=3,
                            name="up")
    assert sym.list_arguments() == ["x", "up_weight"]
    args, outs, _ = sym.infer_shape(x=(2, 3, 4, 5))
    assert args == [(2, 3, 4, 5), weight] and outs == [out]


def test_auto_created_inputs_match_mxnet():
    x = mx.sym.var("x")
    sym = mx.sym.UpSampling(x, num_args=3, sample_type="nearest", scale=2, name="up")
    assert sym.list_arguments() == ["x", "up_arg1", "up_arg2"]
    # MXNet 1.9.1 gives the operator's second input a Bilinear initializer, in either mode
    attrs = sym.attr_dict()
    assert attrs["up_arg1"]["__init__"] == '["bilinear", {}]'
    assert "__init__" not in attrs["up_arg2"]
    sym = mx.sym.UpSampling(x, sample_type="bilinear", scale=2, num_filter=1, name="up")
    assert sym.attr_dict()["up_weight"] == {"__init__": '["bilinear", {}]', "num_args": "1",
                                            "num_filter": "1", "sample_type": "bilinear",
                                            "scale": "2"}
    assert mx.sym.UpSampling(sample_type="nearest", scale=2, num_args=1,
                             name="up2").list_arguments() == ["up2_arg0"]


@pytest.mark.parametrize("attrs,shapes,error,match", [
    ({"scale": 2}, [(2, 3, 4, 6), (2, 2, 3, 3)], ShapeError, r"'arg1'.*integer"),
    # MXNet 1.9.1 infers the next three but its forward fails (no one factor fits both
    # axes; another batch size): we refuse them when shapes are inferred
    ({"scale": 2}, [(2, 1, 2, 3), (2, 1, 1, 6)], ShapeError, r"'arg1'"),
    ({"scale": 2}, [(2, 3, 4, 6), (2, 2, 1, 1)], ShapeError, r"'arg1'"),
    ({"scale": 2}, [(2, 3, 4, 6), (3, 2, 2, 3)], ShapeError, "batch size 2"),
    ({"scale": 2, "multi_input_mode": "sum"}, [(2, 3, 4, 6), (2, 2, 2, 3)], ShapeError,
     "equal channels"),
    ({"scale": 2}, [(2, 3, 4)], ShapeError, r"4-d \(N, C, H, W\)"),
    ({"scale": 2}, [(2, 3, 4, 5, 6)], ShapeError, "4-d"),
    ({"scale": 0}, [(2, 3, 4, 5)], AttributeValueError, "scale=0"),
    # MXNet 1.9.1 infers these two but its forward fails (num_filter 2) or aborts (missing)
    ({"scale": 2, "sample_type": "bilinear", "num_filter": 2}, [(2, 3, 4, 5)], ShapeError,
     "pass num_filter=3"),
    ({"scale": 2, "sample_type": "bilinear"}, [(2, 3, 4, 5)], AttributeValueError,
     "num_filter"),
    ({"scale": 2, "sample_type": "linear"}, [(2, 3, 4, 5)], AttributeValueError,
     "nearest, bilinear"),
])
def test_upsampling_errors(attrs, shapes, error, match):
    attrs = dict({"sample_type": "nearest", "num_args": len(shapes)}, **attrs)
    with pytest.raises(error, match=match) as info:
        bind_op("UpSampling", attrs, shapes)
    assert "UpSampling" in str(info.value)


# -- Pad: MXNet 1.9.1's outputs (mx.nd.Pad under autograd, float64) --------------------------
SMALL = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]]


@pytest.mark.parametrize("attrs,out,grad", [
    ({"mode": "constant", "pad_width": (0, 0, 0, 0, 1, 0, 0, 2), "constant_value": -1},
     [[-1, -1, -1, -1, -1], [1, 2, 3, -1, -1], [4, 5, 6, -1, -1]],
     [[1, -1, 0], [0, 1, -1]]),
    ({"mode": "edge", "pad_width": (0, 0, 0, 0, 1, 2, 2, 1)},
     [[1, 1, 1, 2, 3, 3], [1, 1, 1, 2, 3, 3], [4, 4, 4, 5, 6, 6], [4, 4, 4, 5, 6, 6],
      [4, 4, 4, 5, 6, 6]],
     [[0, -2, 2], [0, -3, 3]]),
    ({"mode": "reflect", "pad_width": (0, 0, 0, 0, 1, 1, 2, 1)},
     [[6, 5, 4, 5, 6, 5], [3, 2, 1, 2, 3, 2], [6, 5, 4, 5, 6, 5], [3, 2, 1, 2, 3, 2]],
     [[2, 0, -2], [2, 0, -2]]),
])
def test_pad_matches_mxnet(attrs, out, grad):
    _, y, (dx,) = _run("Pad", attrs, [SMALL])
    # MXNet 1.9.1's outputs
    np.testing.assert_array_equal(y[0, 0], out)
    np.testing.assert_array_equal(dx[0, 0], grad)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_pad_5d_agrees_with_numpy_and_accumulates(mode):
    width = (0, 0, 0, 0, 1, 2, 0, 1, 2, 1)
    x = np.random.default_rng(2).standard_normal((2, 2, 3, 3, 4))
    bound = bind_op("Pad", {"mode": mode, "pad_width": width}, [x.shape], dtype="float64")
    assert bound.out_shapes == [(2, 2, 6, 4, 7)]   # MXNet 1.9.1's shape
    pairs = list(zip(width[::2], width[1::2]))
    np.testing.assert_array_equal(bound.forward([x])[0], np.pad(x, pairs, mode=mode))
    written = bound.backward()
    np.testing.assert_array_equal(bound.backward(req="add", grads=written)[0], 2 * written[0])


def test_pad_alias_shape_inference_and_json_round_trip():
    sym = mx.sym.pad(mx.sym.var("x"), mode="edge", pad_width=(0, 0, 0, 0, 1, 2, 3, 4))
    assert sym.list_arguments() == ["x"] and sym.list_outputs() == ["pad0_output"]
    node = json.loads(sym.tojson())["nodes"][-1]
    assert node["op"] == "Pad" and node["attrs"] == {"mode": "edge",
                                                     "pad_width": "(0, 0, 0, 0, 1, 2, 3, 4)"}
    _, outs, _ = sym.infer_shape(x=(1, 2, 3, 4))
    assert outs == [(1, 2, 6, 11)]
    loaded = mx.sym.load_json(sym.tojson())
    assert loaded.list_arguments() == ["x"] and loaded.list_outputs() == ["pad0_output"]
    assert loaded.infer_shape(x=(1, 2, 3, 4))[1] == outs


def test_upsampling_json_round_trip():
    x = mx.sym.var("x")
    up = mx.sym.UpSampling(x, scale=2, sample_type="bilinear", num_filter=2, name="up")
    near = mx.sym.UpSampling(up, mx.sym.var("y"), scale=2, sample_type="nearest",
                             multi_input_mode="sum", name="near")
    for sym in (up, near):
        loaded = mx.sym.load_json(sym.tojson())
        assert loaded.list_arguments() == sym.list_arguments()
        assert loaded.list_outputs() == sym.list_outputs()
    shapes = near.infer_shape(x=(1, 2, 3, 3), y=(1, 2, 3, 3))
    assert shapes[1] == [(1, 2, 12, 12)]
    assert mx.sym.load_json(near.tojson()).infer_shape(x=(1, 2, 3, 3), y=(1, 2, 3, 3)) == shapes


@pytest.mark.parametrize("attrs,shape,error,match", [
    ({"pad_width": (0, 0, 1, 0, 1, 1, 1, 1)}, (1, 2, 3, 4), ShapeError, "batch or channel"),
    ({"pad_width": (1, 0, 0, 0, 1, 1, 1, 1)}, (1, 2, 3, 4), ShapeError, "first four"),
    ({"pad_width": (0, 0, 1, 1, 1, 1)}, (1, 2, 3), ShapeError, "only 4-d and 5-d"),
    ({"pad_width": (0, 0, 0, 0, 1, 1)}, (1, 2, 3, 4), ShapeError, "needs 8"),
    ({"pad_width": (0, 0, 0, 0, 1, 2, 3, 4, 5, 6)}, (1, 2, 3, 4), ShapeError, "needs 8"),
    ({"mode": "reflect", "pad_width": (0, 0, 0, 0, 3, 3, 1, 1)}, (1, 2, 3, 4), ShapeError,
     "smaller than its size 3"),
    ({"mode": "reflect", "pad_width": (0, 0, 0, 0, 1, 1, 1, 1, 2, 2)}, (1, 2, 3, 4, 2),
     ShapeError, "mode='edge'"),
    ({"pad_width": (0, 0, 0, 0, -1, 0, 0, 0)}, (1, 2, 3, 4), AttributeValueError,
     "negative"),
    ({"mode": "wrap"}, (1, 2, 3, 4), AttributeValueError, "constant, edge, reflect"),
])
def test_pad_errors(attrs, shape, error, match):
    attrs = dict({"mode": "constant", "pad_width": (0, 0, 0, 0, 1, 1, 1, 1)}, **attrs)
    with pytest.raises(error, match=match) as info:
        bind_op("Pad", attrs, [shape])
    assert "Pad" in str(info.value)


def test_pad_requires_mode_and_pad_width():
    for attrs in ({"mode": "edge"}, {"pad_width": (0, 0, 0, 0, 1, 1, 1, 1)}):
        with pytest.raises(AttributeValueError, match="required attribute"):
            mx.sym.Pad(mx.sym.var("x"), **attrs).infer_shape(x=(1, 1, 2, 2))
