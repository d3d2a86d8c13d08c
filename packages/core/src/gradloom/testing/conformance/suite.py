"""The conformance tests. Import them into a test module: ``from ...suite import *``.

For every operator case and backend: forward against a numpy reference, backward against
numerical gradients (or the loss head's defined gradient), strided (non-contiguous) inputs,
``grad_req='add'`` accumulation, ``grad_req='null'``, and agreement with the cpu backend.
"""
import numpy as np
import pytest

from ..checks import assert_almost_equal, numeric_grad
from ..harness import bind_op
from .cases import CASES, sample

__all__ = ["test_forward", "test_backward", "test_noncontiguous_inputs", "test_grad_req_add",
           "test_grad_req_null", "test_matches_cpu", "test_every_operator_has_a_case"]

CASE_PARAMS = [pytest.param(case, id=case.id) for case in CASES]


def _inputs(case, bound, seed=0):
    rng = np.random.default_rng(seed)
    kinds = list(case.kinds) + ["signed"] * (bound.num_args - len(case.kinds))
    values = [sample(rng, s, k) for s, k in zip(bound.in_shapes[:bound.num_args], kinds)]
    aux = case.aux(rng, bound.in_shapes) if case.aux else None
    return values, aux


def _bind(case, backend, dtype):
    return bind_op(case.op, case.attrs, case.shapes, backend, dtype=dtype,
                   in_types=[dtype] * len(case.shapes) or None)


def _out_grads(bound, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in bound.out_shapes[:bound.num_visible]]


def _run(bound, case, values, aux, ograds, arrays=None, req="write", grads=None):
    if case.grad == "mask" or case.attrs.get("act_type") == "rrelu":
        bound.backend.seed(1234)   # stochastic operators: the same draw every run
    outs = bound.forward(values, aux=aux, is_train=case.is_train, arrays=arrays)
    return outs, bound.backward(ograds, req=req, grads=grads, arrays=arrays)


def _differentiable(case, bound):
    if case.grad_nodes is not None:
        return list(case.grad_nodes)
    kinds = list(case.kinds) + ["signed"] * bound.num_args
    return [i for i in range(bound.num_args) if not kinds[i].startswith(("index", "label"))]


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_forward(backend, case):
    bound = _bind(case, backend, "float32")
    values, aux = _inputs(case, bound)
    values = [v.astype(np.float32) for v in values]
    outs = bound.forward(values, aux=aux, is_train=case.is_train)
    if case.grad == "mask":   # Dropout: output = x * mask, mask in {0, 1/(1-p)}
        out, mask = outs
        scale = 1 / (1 - case.attrs["p"])
        assert set(np.unique(mask)) <= {0.0, np.float32(scale)}
        assert 0 < (mask == 0).sum() < mask.size
        assert_almost_equal(out, values[0] * mask, 1e-6, 1e-6)
        for axis in case.attrs.get("axes", ()):
            assert (mask == mask.take([0], axis=axis)).all()
        return
    inputs64 = [v.astype(np.float64) for v in values]
    expected = case.ref(inputs64, aux, bound.attrs, case.is_train)
    assert len(expected) == bound.num_visible
    for k, (o, e) in enumerate(zip(outs, expected)):
        assert o.shape == np.shape(e), f"{case.id}: output {k} shape {o.shape} vs {np.shape(e)}"
        assert_almost_equal(o, e, 1e-4, 1e-5, (f"{case.id} output {k}", "numpy reference"))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_backward(backend, case):
    bound = _bind(case, backend, "float64")
    if bound.num_args == 0:
        assert bound.backward([np.ones(bound.out_shapes[0])]) == []
        return
    values, aux = _inputs(case, bound)
    ograds = _out_grads(bound)
    outs, grads = _run(bound, case, values, aux, ograds)
    if case.grad == "mask":
        assert_almost_equal(grads[0], ograds[0] * outs[1], 1e-12, 1e-12)
        return
    if callable(case.grad):
        expected = case.grad(values, outs, ograds, bound.attrs)
        for i, (g, e) in enumerate(zip(grads, expected)):
            assert_almost_equal(g, e, 1e-7, 1e-9, (f"{case.id} d/d{bound.arg_names[i]}",
                                                   "defined gradient"))
        return
    for i in range(bound.num_args):
        if i not in _differentiable(case, bound):
            assert not np.asarray(grads[i]).any(), f"{case.id}: input {i} must get zero gradient"
            continue

        def loss(xi, i=i):
            trial = list(values)
            trial[i] = xi
            res = bound.forward(trial, aux=aux, is_train=case.is_train)
            return sum(float((o * w).sum()) for o, w in zip(res, ograds))
        expected = numeric_grad(loss, values[i])
        assert_almost_equal(grads[i], expected, 1e-4, 1e-6,
                            (f"{case.id} d/d{bound.arg_names[i]}", "numerical gradient"))


def _float64_with_inputs(case, backend):
    """``(bound, values, aux, out_grads)`` for ``case`` in float64; an operator without
    inputs is skipped (no input to view as strided or to accumulate a gradient into)."""
    bound = _bind(case, backend, "float64")
    if bound.num_args == 0:
        pytest.skip(f"{case.op} has no inputs")
    values, aux = _inputs(case, bound)
    return bound, values, aux, _out_grads(bound)


def _strided(backend, value):
    """A device view with the values of ``value`` whose last axis has stride 2."""
    value = np.asarray(value)
    if value.ndim == 0:
        return backend.from_host(value)
    big = np.zeros(value.shape[:-1] + (2 * value.shape[-1],), dtype=value.dtype)
    big[..., ::2] = value
    return backend.from_host(big)[..., ::2]


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_noncontiguous_inputs(backend, case):
    bound, values, aux, ograds = _float64_with_inputs(case, backend)
    outs, grads = _run(bound, case, values, aux, ograds)
    views = [_strided(backend, v) for v in values]
    assert not any(v.flags.c_contiguous for v in views if v.size > 1)
    s_outs, s_grads = _run(bound, case, values, aux, ograds, arrays=views)
    for k, (a, b) in enumerate(zip(s_outs, outs)):
        assert_almost_equal(a, b, 1e-12, 1e-12, (f"strided output {k}", "contiguous"))
    for k, (a, b) in enumerate(zip(s_grads, grads)):
        assert_almost_equal(a, b, 1e-12, 1e-12, (f"strided gradient {k}", "contiguous"))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_grad_req_add(backend, case):
    bound, values, aux, ograds = _float64_with_inputs(case, backend)
    _, written = _run(bound, case, values, aux, ograds)
    rng = np.random.default_rng(7)
    start = [rng.standard_normal(s) for s in bound.in_shapes[:bound.num_args]]
    _, added = _run(bound, case, values, aux, ograds, req="add", grads=start)
    for i, (a, s, w) in enumerate(zip(added, start, written)):
        assert_almost_equal(a, s + w, 1e-10, 1e-10, (f"'add' gradient {i}", "start + 'write'"))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_grad_req_null(backend, case):
    bound, values, aux, ograds = _float64_with_inputs(case, backend)
    _, written = _run(bound, case, values, aux, ograds)
    sentinel = [np.full(s, 42.0) for s in bound.in_shapes[:bound.num_args]]
    _, got = _run(bound, case, values, aux, ograds, req="null", grads=sentinel)
    assert all(g is None for g in got)
    for i, dev in enumerate(bound.grads):
        assert (backend.to_host(dev) == 42.0).all(), f"{case.id}: 'null' gradient {i} written"
    # only the first input 'null': the others still get their 'write' values
    reqs = ["null"] + ["write"] * (bound.num_args - 1)
    _, got = _run(bound, case, values, aux, ograds, req=reqs, grads=sentinel)
    assert (backend.to_host(bound.grads[0]) == 42.0).all()
    for i in range(1, bound.num_args):
        assert_almost_equal(got[i], written[i], 1e-12, 1e-12, (f"gradient {i}", "all 'write'"))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_matches_cpu(backend, case):
    if backend.device_type == "cpu":
        pytest.skip("the cpu backend is the baseline")
    from ...plugins import load_plugins
    cpu = load_plugins().backends.get("cpu")
    results = []
    for target in (cpu, backend):
        bound = _bind(case, target, "float32")
        values, aux = _inputs(case, bound)
        results.append(_run(bound, case, values, aux, _out_grads(bound)))
    (c_outs, c_grads), (outs, grads) = results
    if case.grad == "mask":   # different generators: compare only the deterministic parts
        c_outs, outs = [], []
        c_grads, grads = [], []
    for k, (a, b) in enumerate(zip(outs + grads, c_outs + c_grads)):
        if a is not None:
            assert_almost_equal(a, b, 1e-4, 1e-5, (f"{backend.device_type} result {k}", "cpu"))


def test_every_operator_has_a_case():
    from ...ops import all_ops
    covered = {case.op for case in CASES}
    missing = sorted(op.name for op in all_ops() if op.name not in covered)
    assert not missing, f"operators without a conformance case: {missing}"
