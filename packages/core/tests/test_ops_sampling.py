"""GridGenerator, BilinearSampler and SpatialTransformer against MXNet 1.9.1's numbers.

The constants were printed by MXNet 1.9.1 (simple_bind on cpu, float32, backward with the
given output gradient); gradloom runs in float64, hence the 1e-5 tolerances.
"""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import AttributeValueError, ShapeError
from gradloom.testing.harness import bind_op


def _run(op, attrs, values, ograd):
    bound = bind_op(op, attrs, [v.shape for v in values], dtype="float64")
    out = bound.forward(values, is_train=True)[0]
    return out, bound.backward([ograd])


def test_bilinear_sampler_matches_mxnet_with_zero_padding():
    data = np.array([[[[1.0, 2, 3], [4, 5, 6]]]])
    # the last two points lie (partly) outside: x=1.2 and x=-1.1 with y=1.0 (bottom row)
    grid = np.array([[[[-0.5, 0.3, 1.2, -1.1]], [[0.2, -0.9, 0.5, 1.0]]]])
    out, (gdata, ggrid) = _run("BilinearSampler", {}, [data, grid],
                               np.array([[[[1.0, 2, 3, 4]]]]))
    # MXNet 1.9.1
    np.testing.assert_allclose(out, [[[[3.3000002, 2.45, 4.2, 3.6]]]], atol=1e-5)
    np.testing.assert_allclose(gdata, [[[[0.19999999, 1.53, 1.1699998],
                                         [3.8999999, 0.37000003, 1.8299999]]]], atol=1e-5)
    np.testing.assert_allclose(ggrid, [[[[1.0, 2.0, -15.75, 16.0]],
                                        [[1.5, 3.0, 3.6, -7.2]]]], atol=1e-5)


def test_spatial_transformer_matches_mxnet():
    data = np.arange(12.0).reshape(1, 1, 3, 4) / 4
    loc = np.array([[0.8, 0.1, 0.05, -0.2, 0.9, 0.1]])
    out, (gdata, gloc) = _run("SpatialTransformer",
                              {"transform_type": "affine", "sampler_type": "bilinear",
                               "target_shape": (2, 2)}, [data, loc], np.ones((1, 1, 2, 2)))
    # MXNet 1.9.1
    np.testing.assert_allclose(out, [[[[0.45625, 0.65625], [1.7049999, 2.53125]]]], atol=1e-5)
    np.testing.assert_allclose(gdata, [[[[0.465, 0.13499998, 0.375, 0.625],
                                         [0.31000003, 0.09, 0.01499997, 0.18500008],
                                         [0.37999994, 0.42000002, 0.05999984, 0.7400001]]]],
                               atol=1e-5)
    np.testing.assert_allclose(gloc, [[0.07500002, -0.07500002, 1.425, 3.13125, -3.13125,
                                       0.8687501]], atol=1e-5)


def test_grid_generator_affine_and_warp_match_mxnet():
    loc = np.array([[0.8, 0.1, 0.05, -0.2, 0.9, 0.1]])
    out, (grad,) = _run("GridGenerator", {"transform_type": "affine", "target_shape": (2, 3)},
                        [loc], np.ones((1, 2, 2, 3)))
    # MXNet 1.9.1
    np.testing.assert_allclose(out, [[[[-0.85, -0.05, 0.75], [-0.65, 0.15, 0.95000005]],
                                      [[-0.59999996, -0.79999995, -1.0], [1.2, 1.0, 0.8]]]],
                               atol=1e-6)
    np.testing.assert_allclose(grad, [[0, 0, 6, 0, 0, 6]], atol=1e-6)
    flow = np.array([[[[0.5, -1], [0, 2]], [[1, 0], [-0.5, 0.25]]]])
    out, (grad,) = _run("GridGenerator", {"transform_type": "warp"}, [flow],
                        np.ones((1, 2, 2, 2)))
    np.testing.assert_allclose(out, [[[[0, -1], [-1, 5]], [[1, -1], [0, 1.5]]]], atol=1e-6)
    np.testing.assert_allclose(grad, np.full((1, 2, 2, 2), 2.0), atol=1e-6)


def test_shapes_like_mxnet():
    data, grid, loc = mx.sym.var("data"), mx.sym.var("grid"), mx.sym.var("loc")
    gg = mx.sym.GridGenerator(data, transform_type="affine", target_shape=(3, 4))
    assert gg.infer_shape(data=(2, 6))[1] == [(2, 2, 3, 4)]
    bs = mx.sym.BilinearSampler(data, grid)
    assert bs.infer_shape(data=(2, 3, 4, 5), grid=(2, 2, 6, 7))[1] == [(2, 3, 6, 7)]
    st = mx.sym.SpatialTransformer(data, loc, transform_type="affine", sampler_type="bilinear",
                                   target_shape=(3, 4))
    args, outs, _ = st.infer_shape(data=(2, 3, 5, 6))
    assert args == [(2, 3, 5, 6), (2, 6)] and outs == [(2, 3, 3, 4)]
    with pytest.raises(ShapeError, match="loc"):
        st.infer_shape(data=(2, 3, 5, 6), loc=(2, 4))
    with pytest.raises(AttributeValueError, match="target_shape"):
        mx.sym.SpatialTransformer(data, loc, transform_type="affine",
                                  sampler_type="bilinear").infer_shape(data=(2, 3, 5, 6))


def test_json_round_trip_keeps_mxnet_output_counts():
    data, loc = mx.sym.var("data"), mx.sym.var("loc")
    st = mx.sym.SpatialTransformer(data, loc, transform_type="affine", sampler_type="bilinear",
                                   target_shape=(3, 4))
    bs = mx.sym.BilinearSampler(st, mx.sym.GridGenerator(loc, transform_type="affine",
                                                         target_shape=(3, 4)))
    text = bs.tojson()
    # MXNet 1.9.1 writes 3 outputs for SpatialTransformer, 2 for the other two
    assert json.loads(text)["node_row_ptr"] == [0, 1, 2, 5, 7, 9]
    again = mx.sym.load_json(text)
    assert again.tojson() == text
    assert again.infer_shape(data=(2, 3, 5, 6), loc=(2, 6))[1] == [(2, 3, 3, 4)]
