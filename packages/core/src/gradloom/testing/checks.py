"""Numerical checks for operators: comparisons, numerical gradients, cross-backend runs."""
import numpy as np

from .harness import bind_op


def assert_almost_equal(actual, expected, rtol=1e-5, atol=1e-7, names=("actual", "expected")):
    """Like ``numpy.testing.assert_allclose`` but also reports where the worst error is."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{names[0]} has shape {a.shape} but {names[1]} has {b.shape}")
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) - (atol + rtol * np.abs(b))
    err = np.where(np.isnan(a) != np.isnan(b), np.inf, np.nan_to_num(err, nan=0.0))
    if a.size and (err > 0).any():
        where = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), a.shape))
        worst = float(np.max(np.abs(np.nan_to_num(a - b, nan=np.inf))))
        raise AssertionError(
            f"{names[0]} and {names[1]} differ (rtol={rtol}, atol={atol}): worst at {where}: "
            f"{float(a[where])!r} vs {float(b[where])!r}; max abs error {worst:.3g}")


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at ``x`` (float64, host)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = f(x)
        flat[j] = orig - eps
        minus = f(x)
        flat[j] = orig
        gflat[j] = (plus - minus) / (2 * eps)
    return grad


def _projections(bound, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in bound.out_shapes[:bound.num_visible]]


def check_kernel_gradient(op_name, attrs, inputs, backend=None, aux=None, grad_nodes=None,
                          eps=1e-6, rtol=1e-4, atol=1e-6, is_train=True, seed=0, kernel=None):
    """Compare the kernel's backward with central differences of ``sum(w * outputs)``.

    Runs in float64 on ``backend``; ``grad_nodes`` lists the argument indices to check
    (default: all); ``kernel`` tests a specific kernel class instead of the resolved one.
    Returns the analytic gradients.
    """
    bound = bind_op(op_name, attrs, [np.shape(x) for x in inputs], backend, dtype="float64",
                    in_types=["float64"] * len(inputs), kernel=kernel)
    weights = _projections(bound, seed)
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    bound.forward(inputs, aux=aux, is_train=is_train)
    analytic = bound.backward(weights)
    nodes = range(len(inputs)) if grad_nodes is None else grad_nodes
    for i in nodes:
        def loss(xi, i=i):
            values = list(inputs)
            values[i] = xi
            outs = bound.forward(values, aux=aux, is_train=is_train)
            return sum(float((o * w).sum()) for o, w in zip(outs, weights))
        expected = numeric_grad(loss, inputs[i], eps)
        bound.set_inputs(inputs, aux)
        assert_almost_equal(analytic[i], expected, rtol, atol,
                            (f"{op_name} analytic d/d{bound.arg_names[i]}", "numerical"))
    return analytic


def check_kernel_forward(op_name, attrs, inputs, reference, backend=None, aux=None,
                         is_train=False, rtol=1e-5, atol=1e-6, dtype="float32", in_types=None,
                         kernel=None):
    """Compare the kernel's visible outputs with ``reference(*inputs)`` (array or list)."""
    bound = bind_op(op_name, attrs, [np.shape(x) for x in inputs], backend, dtype=dtype,
                    in_types=in_types, kernel=kernel)
    outs = bound.forward(inputs, aux=aux, is_train=is_train)[:bound.num_visible]
    expected = reference(*inputs) if callable(reference) else reference
    if not isinstance(expected, (list, tuple)):
        expected = [expected]
    for k, (o, e) in enumerate(zip(outs, expected)):
        assert_almost_equal(o, e, rtol, atol, (f"{op_name} output {k}", "reference"))
    return outs


def check_consistency(op_name, attrs, inputs, backends=None, aux=None, is_train=True,
                      rtol=1e-4, atol=1e-5, dtype="float32", seed=0):
    """Run forward and backward on several backends and compare them with the first one.

    ``backends`` defaults to every registered, available backend. Returns the number of
    backends compared.
    """
    from ..plugins import load_plugins
    if backends is None:
        backends = [b for _, b in load_plugins().backends.items() if b.is_available()]
    results = []
    for backend in backends:
        bound = bind_op(op_name, attrs, [np.shape(x) for x in inputs], backend, dtype=dtype)
        outs = bound.forward(inputs, aux=aux, is_train=is_train)
        grads = bound.backward(_projections(bound, seed))
        results.append((backend.device_type, outs[:bound.num_visible], grads))
    base_name, base_outs, base_grads = results[0]
    for name, outs, grads in results[1:]:
        for k, (o, b) in enumerate(zip(outs, base_outs)):
            assert_almost_equal(o, b, rtol, atol, (f"{name} output {k}", base_name))
        for k, (g, b) in enumerate(zip(grads, base_grads)):
            assert_almost_equal(g, b, rtol, atol, (f"{name} gradient {k}", base_name))
    return len(results)
