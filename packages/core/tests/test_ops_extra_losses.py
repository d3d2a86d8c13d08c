"""erf, erfinv, hard_sigmoid, smooth_l1 and softmax_cross_entropy against MXNet 1.9.1.

The constants were printed by MXNet 1.9.1 with mx.autograd (erf/erfinv in float64; the
others float32, exact at these inputs to the shown digits).
"""
import numpy as np

from gradloom.testing.harness import bind_op


def _run(op, attrs, values, ograd):
    bound = bind_op(op, attrs, [v.shape for v in values], dtype="float64")
    out = bound.forward(values, is_train=True)[0]
    return out, bound.backward([ograd])


def test_erf_matches_mxnet():
    x = np.array([-3, -1, -0.25, 0, 0.5, 2.5])
    out, (grad,) = _run("erf", {}, [x], np.ones(6))
    # MXNet 1.9.1 (its gradient uses a float32 2/sqrt(pi): 3e-8 relative)
    np.testing.assert_allclose(out, [-0.9999779095030014, -0.8427007929497149,
                                     -0.2763263901682369, 0.0, 0.5204998778130465,
                                     0.999593047982555], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, [1.3925304776343805e-04, 4.1510748495032396e-01,
                                      1.0600140975321624, 1.1283791331978021,
                                      8.7878255253588133e-01, 2.1782841649147346e-03],
                               rtol=1e-6)


def test_erfinv_matches_mxnet():
    y = np.array([-0.999, -0.5, 0, 0.1, 0.9, 0.999999])
    out, (grad,) = _run("erfinv", {}, [y], np.ones(6))
    # MXNet 1.9.1
    np.testing.assert_allclose(out, [-2.3267537655135246, -0.4769362762044699, 0.0,
                                     0.08885599049425778, 1.1630871536766738,
                                     3.458910737260051], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(grad, [198.93952374077986, 1.1125848523951820,
                                      0.88622695207595825, 0.89325175213942021,
                                      3.4280429144338935, 139146.31449194220], rtol=1e-6)
    edge, _ = _run("erfinv", {}, [np.array([-1.0, 1.0, 1.5])], np.ones(3))
    assert edge[0] == -np.inf and edge[1] == np.inf and np.isnan(edge[2])


def test_hard_sigmoid_matches_mxnet():
    x = np.array([-5, -2.5, -2.4, 0, 1, 2.5, 2.6, 5])
    out, (grad,) = _run("hard_sigmoid", {}, [x], np.ones(8))
    # MXNet 1.9.1: the gradient is 0 where alpha*x + beta is exactly 0 or 1
    np.testing.assert_allclose(out, [0, 0, 0.01999998, 0.5, 0.7, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(grad, [0, 0, 0.2, 0.2, 0.2, 0, 0, 0], atol=1e-7)


def test_smooth_l1_matches_mxnet():
    x = np.array([-2, -1, -0.5, 0, 0.25, 0.5, 1, 2])
    out, (grad,) = _run("smooth_l1", {"scalar": 2.0}, [x], np.ones(8))
    # MXNet 1.9.1: |x| = 1/sigma^2 (0.25) takes the linear branch
    np.testing.assert_allclose(out, [1.875, 0.875, 0.375, 0, 0.125, 0.375, 0.875, 1.875])
    np.testing.assert_allclose(grad, [-1, -1, -1, 0, 1, 1, 1, 1])
    out, (grad,) = _run("smooth_l1", {}, [x], np.ones(8))
    np.testing.assert_allclose(out, [1.5, 0.5, 0.125, 0, 0.03125, 0.125, 0.5, 1.5])
    np.testing.assert_allclose(grad, [-1, -1, -0.5, 0, 0.25, 0.5, 1, 1])


def test_softmax_cross_entropy_matches_mxnet():
    data = np.array([[1, 2, 3, 0.5], [0.1, -1, 2, 2]])
    out, (grad, glabel) = _run("softmax_cross_entropy", {}, [data, np.array([2.0, 0])],
                               np.array([2.0]))
    # MXNet 1.9.1
    np.testing.assert_allclose(out, [3.148938], rtol=1e-6)
    np.testing.assert_allclose(grad, [[0.17073779, 0.46411344, -0.7384089, 0.1035577],
                                      [-1.8639886, 0.04527423, 0.90935725, 0.90935725]],
                               atol=1e-6)
    assert not glabel.any()
    # labels are truncated like MXNet's int cast (1.7 -> 1, 0.2 -> 0)
    out, _ = _run("softmax_cross_entropy", {}, [data, np.array([1.7, 0.2])], np.ones(1))
    np.testing.assert_allclose(out, [4.148938], rtol=1e-6)
