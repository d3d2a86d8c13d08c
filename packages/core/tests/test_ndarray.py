"""NDArray: wrapping, creation, copies, indexing, arithmetic, display, random."""
import copy
import pickle

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import DTypeError, GradloomError, ShapeError
from gradloom.ndarray import NDArray


def test_wraps_without_copy():
    raw = np.zeros((2, 3), dtype=np.float32)
    arr = NDArray(raw)
    assert arr.raw is raw and arr.context == mx.cpu(0)
    arr[:] = 5
    assert raw.sum() == 30
    raw[0, 0] = -1
    assert arr.asnumpy()[0, 0] == -1


def test_asnumpy_is_a_copy():
    arr = mx.nd.ones((2,))
    host = arr.asnumpy()
    host[:] = 7
    assert arr.asnumpy().tolist() == [1, 1]


def test_properties():
    arr = mx.nd.zeros((2, 3, 4), ctx=mx.cpu(1), dtype="float16")
    assert arr.shape == (2, 3, 4) and arr.size == 24 and arr.ndim == 3
    assert arr.dtype == np.float16 and arr.dtype is np.float16
    assert arr.context == mx.cpu(1) and arr.ctx == mx.cpu(1)
    assert arr.stype == "default"
    assert len(arr) == 2


def test_array_dtype_rules():
    assert mx.nd.array([1, 2, 3]).dtype == np.float32                 # lists -> float32
    assert mx.nd.array(np.arange(3, dtype=np.int64)).dtype == np.float32   # as MXNet
    assert mx.nd.array([1, 2], dtype="int32").dtype == np.int32
    src = mx.nd.array([1, 2], dtype="float64")
    copied = mx.nd.array(src)
    assert copied.dtype == np.float64 and copied.raw is not src.raw
    assert mx.nd.array(3.0).shape == ()
    with pytest.raises(DTypeError):
        mx.nd.array([[1, 2], [3]])


def test_creation_functions():
    np.testing.assert_array_equal(mx.nd.ones((2, 2)).asnumpy(), np.ones((2, 2)))
    np.testing.assert_array_equal(mx.nd.zeros(3).asnumpy(), np.zeros(3))
    assert mx.nd.empty((4, 1)).shape == (4, 1)
    np.testing.assert_array_equal(mx.nd.full((2,), 2.5).asnumpy(), [2.5, 2.5])
    assert mx.nd.zeros((2,), dtype="int8").dtype == np.int8
    np.testing.assert_allclose(mx.nd.arange(3).asnumpy(), [0, 1, 2])
    np.testing.assert_allclose(mx.nd.arange(1, 2, 0.25).asnumpy(), [1, 1.25, 1.5, 1.75])
    np.testing.assert_allclose(mx.nd.arange(0, 2, repeat=2).asnumpy(), [0, 0, 1, 1])
    assert mx.nd.arange(5).dtype == np.float32
    assert mx.nd.arange(5, dtype="int32").dtype == np.int32
    like = mx.nd.zeros_like(mx.nd.ones((2, 3), dtype="float64"))
    assert like.shape == (2, 3) and like.dtype == np.float64 and like.asnumpy().sum() == 0


def test_default_context_follows_with_block():
    with mx.cpu(3):
        assert mx.nd.zeros((1,)).context == mx.cpu(3)
    assert mx.nd.zeros((1,)).context == mx.cpu(0)


def test_copy_copyto_as_in_context():
    a = mx.nd.array([[1, 2], [3, 4]])
    b = a.copy()
    b[:] = 0
    assert a.asnumpy().sum() == 10
    target = mx.nd.zeros((2, 2), dtype="float64")
    same = a.copyto(target)
    assert same is target and target.dtype == np.float64
    np.testing.assert_array_equal(target.asnumpy(), [[1, 2], [3, 4]])
    moved = a.copyto(mx.cpu(1))
    assert moved.context == mx.cpu(1) and moved.raw is not a.raw
    assert a.as_in_context(mx.cpu(0)) is a
    other = a.as_in_context(mx.cpu(2))
    assert other.context == mx.cpu(2) and np.array_equal(other.asnumpy(), a.asnumpy())
    with pytest.raises(ShapeError):
        a.copyto(mx.nd.zeros((3,)))
    with pytest.raises(DTypeError):
        a.copyto(42)


def test_setitem_in_place():
    arr = mx.nd.zeros((3, 2))
    raw = arr.raw
    arr[:] = mx.nd.ones((3, 2))
    arr[1] = np.array([5, 6])
    arr[2, 1] = 9
    arr[0:1] = 2
    assert arr.raw is raw
    np.testing.assert_array_equal(raw, [[2, 2], [5, 6], [1, 9]])
    arr[:] = np.arange(6, dtype=np.float64).reshape(3, 2)
    assert arr.dtype == np.float32 and raw[2, 1] == 5
    with pytest.raises(ShapeError):
        arr[:] = np.ones((4, 4))
    with pytest.raises(DTypeError):
        arr[:] = "text"


def test_getitem():
    arr = mx.nd.array(np.arange(12).reshape(3, 4))
    view = arr[1:3]
    assert view.shape == (2, 4)
    view[:] = 0                       # basic slices are views, as in MXNet
    assert arr.asnumpy()[1:].sum() == 0
    assert arr[0].shape == (4,)
    assert arr[0, 1].shape == (1,) and arr[0, 1].asscalar() == 1
    picked = arr[mx.nd.array([2, 0])]
    assert picked.shape == (2, 4) and picked.asnumpy()[1].tolist() == [0, 1, 2, 3]
    assert [row.shape for row in arr] == [(4,)] * 3


def test_arithmetic_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 2, size=(3, 4)).astype(np.float32)
    y = rng.uniform(1, 2, size=(3, 4)).astype(np.float32)
    a, b = mx.nd.array(x), mx.nd.array(y)
    cases = [(a + b, x + y), (a - b, x - y), (a * b, x * y), (a / b, x / y), (a ** 2, x ** 2),
             (-a, -x), (a + 1, x + 1), (1 + a, 1 + x), (3 - a, 3 - x), (2 / a, 2 / x),
             (2 ** a, 2 ** x), (a % 0.5, x % 0.5), (abs(-a), x),
             (a + mx.nd.array(y[0]), x + y[0])]
    for got, want in cases:
        assert isinstance(got, NDArray) and got.dtype == np.float32
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)


def test_scalar_ops_keep_dtype():
    ints = mx.nd.array([3, 4], dtype="int32")
    assert (ints / 2).dtype == np.int32 and (ints / 2).asnumpy().tolist() == [1, 2]
    assert (ints * 1.5).dtype == np.int32
    halves = mx.nd.array([1, 2], dtype="float16")
    assert (halves + 0.5).dtype == np.float16


def test_inplace_ops_keep_buffer():
    arr = mx.nd.ones((2, 2))
    raw = arr.raw
    arr += 1
    arr *= mx.nd.full((2, 2), 3)
    arr -= 0.5
    arr /= 2
    arr **= 2
    assert arr.raw is raw
    np.testing.assert_allclose(raw, np.full((2, 2), ((2 * 3 - 0.5) / 2) ** 2))


def test_numpy_on_the_left_defers_to_ndarray():
    out = np.ones(2, dtype=np.float32) + mx.nd.array([1, 2])
    assert isinstance(out, NDArray) and out.asnumpy().tolist() == [2, 3]


def test_comparisons_return_zero_one_in_dtype():
    a = mx.nd.array([1, 2, 3])
    b = mx.nd.array([3, 2, 1])
    for got, want in [(a == b, [0, 1, 0]), (a != b, [1, 0, 1]), (a < b, [1, 0, 0]),
                      (a <= b, [1, 1, 0]), (a > 2, [0, 0, 1]), (a >= 2, [0, 1, 1])]:
        assert got.dtype == np.float32 and got.asnumpy().tolist() == want
    assert (a == None) is False                       # noqa: E711
    assert len({a, b}) == 2                           # hashable by identity


def test_reshape_codes():
    arr = mx.nd.array(np.arange(24).reshape(2, 3, 4))
    assert arr.reshape((6, 4)).shape == (6, 4)
    assert arr.reshape(4, -1).shape == (4, 6)
    assert arr.reshape((0, -1)).shape == (2, 12)
    assert arr.reshape((-2,)).shape == (2, 3, 4)
    assert arr.reshape((-3, 4)).shape == (6, 4)
    assert arr.reshape((0, -4, 1, 3, 4)).shape == (2, 1, 3, 4)
    assert arr.reshape((-4, 1, -1, 0, 0)).shape == (1, 2, 3, 4)
    assert arr.reshape(shape=(-1,)).shape == (24,)
    assert mx.nd.zeros((10, 5, 4)).reshape((-1, 0), reverse=True).shape == (50, 4)
    assert mx.nd.zeros((6, 3)).reshape((-4, 2, -1, 3), reverse=True).shape == (2, 3, 3)
    view = arr.reshape(24)
    view[:] = 0
    assert arr.asnumpy().sum() == 0
    with pytest.raises(ShapeError):
        arr.reshape(5, 5)


def test_astype_and_transpose():
    arr = mx.nd.array([[1.7, 2.2]])
    assert arr.astype("int32").asnumpy().tolist() == [[1, 2]]
    assert arr.astype(np.float32, copy=False) is arr
    assert arr.T.shape == (2, 1)
    np.testing.assert_array_equal(arr.T.asnumpy(), arr.asnumpy().T)


def test_reductions_and_unaries():
    x = np.array([[1, -2, 3], [4, 5, -6]], dtype=np.float32)
    a = mx.nd.array(x)
    np.testing.assert_allclose(a.sum().asnumpy(), [x.sum()])
    np.testing.assert_allclose(a.sum(axis=1).asnumpy(), x.sum(axis=1))
    np.testing.assert_allclose(a.mean(axis=0, keepdims=True).asnumpy(),
                               x.mean(axis=0, keepdims=True))
    np.testing.assert_allclose(a.max(axis=1, exclude=True).asnumpy(), x.max(axis=0))
    np.testing.assert_array_equal(a.argmax(axis=1).asnumpy(), [2, 1])
    assert a.argmax(axis=1).dtype == np.float32
    np.testing.assert_allclose(a.norm().asnumpy(), [np.linalg.norm(x)], rtol=1e-6)
    np.testing.assert_allclose(mx.nd.abs(a).asnumpy(), np.abs(x))
    np.testing.assert_allclose(mx.nd.clip(a, -1, 1).asnumpy(), np.clip(x, -1, 1))
    np.testing.assert_allclose(mx.nd.maximum(a, 0).asnumpy(), np.maximum(x, 0))
    np.testing.assert_allclose(mx.nd.minimum(1, a).asnumpy(), np.minimum(1, x))
    sm = mx.nd.softmax(a).asnumpy()
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(mx.nd.one_hot(mx.nd.array([1, 0, 3]), 3).asnumpy(),
                                  [[0, 1, 0], [1, 0, 0], [0, 0, 0]])


def test_concat_dot_stack():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.arange(12, dtype=np.float32).reshape(3, 4)
    a, b = mx.nd.array(x), mx.nd.array(y)
    np.testing.assert_array_equal(mx.nd.concat(a, a).asnumpy(), np.concatenate([x, x], 1))
    np.testing.assert_array_equal(mx.nd.concat(a, a, dim=0).asnumpy(),
                                  np.concatenate([x, x], 0))
    np.testing.assert_array_equal(mx.nd.concatenate([a, a]).asnumpy(),
                                  np.concatenate([x, x], 0))
    np.testing.assert_allclose(mx.nd.dot(a, b).asnumpy(), x @ y)
    np.testing.assert_allclose(mx.nd.dot(b, a, transpose_a=True, transpose_b=True).asnumpy(),
                               y.T @ x.T)
    t = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_allclose(mx.nd.dot(mx.nd.array(t), mx.nd.array(y.T)).asnumpy(),
                               np.tensordot(t, y.T, axes=1))
    assert mx.nd.stack(a, a).shape == (2, 2, 3)
    with pytest.raises(ShapeError):
        mx.nd.dot(a, a)
    with pytest.raises(ShapeError):
        mx.nd.concat(a, b, dim=0)
    mx.nd.waitall()
    a.wait_to_read()


def test_scalar_conversions():
    one = mx.nd.array([2.5])
    assert one.asscalar() == 2.5 and isinstance(one.asscalar(), np.float32)
    assert float(one) == 2.5 and int(one) == 2 and bool(one)
    with pytest.raises(ShapeError):
        mx.nd.ones((2,)).asscalar()
    with pytest.raises(ShapeError):
        bool(mx.nd.ones((2,)))
    assert np.asarray(mx.nd.ones((2,))).tolist() == [1, 1]


def test_repr_matches_mxnet_layout():
    arr = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    assert repr(arr) == "\n[[1. 2. 3.]\n [4. 5. 6.]]\n<NDArray 2x3 @cpu(0)>"
    assert repr(mx.nd.array([7], dtype="int32", ctx=mx.cpu(1))) == "\n[7]\n<NDArray 1 @cpu(1)>"


def test_deepcopy_works_pickle_refuses():
    arr = mx.nd.ones((2,))
    dup = copy.deepcopy(arr)
    dup[:] = 0
    assert arr.asnumpy().tolist() == [1, 1]
    with pytest.raises(GradloomError, match="nd.save"):
        pickle.dumps(arr)


def test_random_seed_reproducible_and_distribution():
    mx.random.seed(42)
    u1 = mx.random.uniform(-1, 1, shape=(2000,))
    n1 = mx.nd.random.normal(3, 2, shape=(4000,))
    mx.random.seed(42)
    u2 = mx.nd.random.uniform(-1, 1, shape=(2000,))
    n2 = mx.random.normal(3, 2, shape=(4000,))
    np.testing.assert_array_equal(u1.asnumpy(), u2.asnumpy())
    np.testing.assert_array_equal(n1.asnumpy(), n2.asnumpy())
    assert u1.dtype == np.float32 and u1.shape == (2000,)
    assert -1 <= u1.asnumpy().min() and u1.asnumpy().max() < 1
    assert abs(n1.asnumpy().mean() - 3) < 0.2 and abs(n1.asnumpy().std() - 2) < 0.2
    # different devices draw different streams
    mx.random.seed(7)
    c0 = mx.random.uniform(shape=(5,), ctx=mx.cpu(0)).asnumpy()
    c1 = mx.random.uniform(shape=(5,), ctx=mx.cpu(1)).asnumpy()
    assert not np.array_equal(c0, c1)
    out = mx.nd.zeros((3, 3))
    raw = out.raw
    mx.random.uniform(5, 6, out=out)
    assert out.raw is raw and raw.min() >= 5
    ints = mx.nd.random.randint(0, 4, shape=(100,))
    assert ints.dtype == np.int32 and set(ints.asnumpy().tolist()) <= {0, 1, 2, 3}
    with pytest.raises(DTypeError):
        mx.random.seed("abc")


def test_save_load_through_nd_namespace(tmp_path):
    data = {"arg:a": mx.nd.ones((2, 3)), "aux:b": mx.nd.zeros((4,), dtype="int64")}
    mx.nd.save(str(tmp_path / "x.params"), data)
    back = mx.nd.load(str(tmp_path / "x.params"))
    assert list(back) == ["arg:a", "aux:b"]
    assert back["aux:b"].dtype == np.int64
    np.testing.assert_array_equal(back["arg:a"].asnumpy(), np.ones((2, 3)))


def test_shuffle_permutes_rows():
    mx.random.seed(3)
    data = mx.nd.array(np.arange(20).reshape(10, 2))
    out = mx.nd.random.shuffle(data)
    assert out.shape == (10, 2) and out.raw is not data.raw
    rows = sorted(map(tuple, out.asnumpy().tolist()))
    assert rows == sorted(map(tuple, data.asnumpy().tolist()))
    assert not np.array_equal(out.asnumpy(), data.asnumpy())


def test_mod_follows_mxnet_and_broadcast_names_exist():
    a = mx.nd.array([-3.5, 3.5, -3.5, 3.5, 2.0])
    b = mx.nd.array([2, 2, -2, -2, 0])
    # MXNet 1.9.1's answers: the divisor's sign, and 0 (not NaN) for a zero divisor
    np.testing.assert_array_equal((a % b).asnumpy(), [0.5, 1.5, -1.5, -0.5, 0])
    np.testing.assert_array_equal((a % 0).asnumpy(), np.zeros(5))
    np.testing.assert_array_equal((7 % a).asnumpy(), [0, 0, 0, 0, 1])
    x, y = mx.nd.array([[1, 2, 3]]), mx.nd.array([[2], [1]])
    for name, expected in [("broadcast_add", [[3, 4, 5], [2, 3, 4]]),
                           ("broadcast_greater", [[0, 0, 1], [0, 1, 1]]),
                           ("broadcast_equal", [[0, 1, 0], [1, 0, 0]]),
                           ("broadcast_mod", [[1, 0, 1], [0, 0, 0]])]:
        np.testing.assert_array_equal(getattr(mx.nd, name)(x, y).asnumpy(), expected,
                                      err_msg=name)
    np.testing.assert_array_equal(mx.nd.elemwise_mul(x, x).asnumpy(), [[1, 4, 9]])
