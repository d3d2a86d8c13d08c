"""The CPU backend's kernels compute what core's generic kernels compute.

Every registered kernel is run next to the operator's generic kernel on the same inputs:
forward outputs and every input gradient (req write, add, null, mixed), several attribute
combinations, contiguous and non-contiguous inputs, both convolution layouts, and the
batch-last storage the executor may choose between kernels. Whole graphs are checked
against the generic kernels too, and a bound MLP step must not allocate.
"""
import tracemalloc

import numpy as np
import pytest

import gradloom as mx
from gradloom.plugins import load_plugins
from gradloom.testing.harness import bind_op
from gradloom_cpu.kernels import KERNELS
from gradloom_cpu.kernels.conv import BATCH_LAST, BATCH_MIDDLE, CpuConvolutionKernel

RTOL, ATOL = 2e-5, 2e-6


def assert_close(actual, desired, err_msg=""):
    """float32 tolerance, absolute part scaled by the values' magnitude (sums of many terms
    rounded in another order differ by a few ulps of the largest term)."""
    desired = np.asarray(desired)
    scale = float(np.nanmax(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=RTOL, atol=ATOL * (1 + scale),
                               err_msg=err_msg)

# (op, attrs, data shapes, label kind) -- labels: None, "class" (class ids) or "prob"
CASES = [
    ("FullyConnected", {"num_hidden": 7}, [(6, 3, 4)], None),
    ("FullyConnected", {"num_hidden": 5, "no_bias": True}, [(4, 9)], None),
    ("FullyConnected", {"num_hidden": 4, "flatten": False}, [(2, 3, 5)], None),
    ("Activation", {"act_type": "relu"}, [(4, 5, 3)], None),
    ("Activation", {"act_type": "tanh"}, [(4, 5, 3)], None),
    ("Activation", {"act_type": "sigmoid"}, [(3, 7)], None),
    ("Activation", {"act_type": "softrelu"}, [(3, 7)], None),
    ("Activation", {"act_type": "softsign"}, [(3, 7)], None),
    ("relu", {}, [(5, 6)], None),
    ("SoftmaxOutput", {}, [(6, 5)], "class"),
    ("SoftmaxOutput", {"normalization": "batch", "grad_scale": 0.5}, [(6, 5)], "class"),
    ("SoftmaxOutput", {"normalization": "valid", "use_ignore": True, "ignore_label": 2},
     [(8, 5)], "class"),
    ("SoftmaxOutput", {"normalization": "valid"}, [(8, 5)], "class"),
    ("SoftmaxOutput", {"normalization": "batch", "use_ignore": True, "ignore_label": 1,
                       "grad_scale": 2}, [(8, 5)], "class"),
    ("SoftmaxOutput", {"out_grad": True}, [(4, 3)], "class"),
    ("SoftmaxOutput", {"preserve_shape": True}, [(3, 4, 5)], "class"),
    ("SoftmaxOutput", {"multi_output": True}, [(2, 4, 3, 3)], "class"),
    ("SoftmaxOutput", {"smooth_alpha": 0.1}, [(5, 4)], "class"),
    ("SoftmaxOutput", {}, [(5, 4)], "prob"),
    ("SoftmaxOutput", {}, [(4, 6, 2)], "class"),
    ("Convolution", {"kernel": (3, 3), "num_filter": 4}, [(3, 2, 7, 6)], None),
    ("Convolution", {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "num_filter": 5},
     [(2, 3, 9, 9)], None),
    ("Convolution", {"kernel": (3, 3), "dilate": (2, 2), "pad": (2, 2), "num_group": 2,
                     "num_filter": 6, "no_bias": True}, [(2, 4, 7, 8)], None),
    ("Convolution", {"kernel": (3,), "num_filter": 3}, [(2, 2, 9)], None),
    ("Convolution", {"kernel": (2, 2, 2), "num_filter": 2, "pad": (1, 0, 1)},
     [(2, 2, 3, 4, 3)], None),
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2)}, [(2, 3, 8, 6)], None),
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2)}, [(2, 3, 9, 7)], None),
    ("Pooling", {"kernel": (2, 2), "stride": (3, 3)}, [(2, 2, 8, 8)], None),
    ("Pooling", {"kernel": (3, 3), "stride": (2, 2)}, [(2, 2, 9, 9)], None),
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2), "pool_type": "avg"}, [(2, 2, 6, 6)],
     None),
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2), "pad": (1, 1)}, [(1, 2, 6, 6)], None),
    ("Pooling", {"global_pool": True, "kernel": (3, 3)}, [(2, 3, 4, 4)], None),
]


def _ids(case):
    op, attrs, shapes, label = case
    text = ",".join(f"{k}={v}" for k, v in attrs.items())
    return f"{op}[{text}]{shapes[0]}" + (f"-{label}" if label else "")


def _inputs(bound, label, rng):
    values = []
    for i, shape in enumerate(bound.in_shapes[:bound.num_args]):
        if i == 1 and label == "class":
            k = bound.in_shapes[0][1] if bound.attrs.get("multi_output") else \
                bound.in_shapes[0][-1]
            # class ids, a truncated float, and labels outside [0, k) that must be skipped
            lab = rng.integers(0, k, shape).astype(np.float32)
            flat = lab.reshape(-1)
            flat[0] = 1.7
            if flat.size > 3:
                flat[1], flat[2] = -3, k + 4
            if bound.attrs.get("use_ignore"):
                flat[-1] = bound.attrs.ignore_label
            values.append(lab)
        elif i == 1 and label == "prob":
            p = rng.random(shape).astype(np.float32)
            values.append(p / p.sum(axis=-1, keepdims=True))
        else:
            values.append(rng.standard_normal(shape).astype(np.float32))
    return values


def _non_contiguous(value):
    """The same values in a strided view (every other element of a larger array)."""
    big = np.empty(value.shape[:-1] + (2 * value.shape[-1],), dtype=value.dtype)
    big[..., ::2] = value
    view = big[..., ::2]
    assert not view.flags.c_contiguous
    return view


def _pair(op, attrs, shapes):
    opdef = load_plugins().ops.get(op)
    generic = bind_op(op, attrs, shapes, kernel=opdef.kernel)
    fast = bind_op(op, attrs, shapes)
    assert type(fast.kernel) is KERNELS[opdef.name]
    return generic, fast


def _check_pair(generic, fast, inputs, rng, arrays=None):
    ref = generic.forward(inputs)
    got = fast.forward(inputs, arrays=arrays)
    for r, g in zip(ref, got):
        assert_close(g, r)
    n = generic.num_args
    out_grads = [rng.standard_normal(s).astype(np.float32)
                 for s in generic.out_shapes[:generic.num_visible]]
    start = [rng.standard_normal(s).astype(np.float32) for s in generic.in_shapes[:n]]
    reqs = [["write"] * n, ["add"] * n, ["null"] + ["write"] * (n - 1),
            ["add"] + ["null"] * (n - 1), ["write"] * (n - 1) + ["null"]]
    if n > 2:   # a weight and a bias: each without the other, and write beside add
        reqs += [["null", "null"] + ["add"] * (n - 2), ["null", "write"] + ["add"] * (n - 2)]
    for req in reqs:
        # twice: kernels keep scratch between calls, the second call must not see stale data
        for _ in range(2):
            want = generic.backward(out_grads, req=req, grads=start)
            have = fast.backward(out_grads, req=req, grads=start, arrays=arrays)
            for i, (w, h) in enumerate(zip(want, have)):
                if w is None:
                    assert h is None
                else:
                    assert_close(h, w, err_msg=f"input {i}, req {req}")


def test_every_registered_kernel_is_covered():
    covered = {case[0] for case in CASES}
    assert set(KERNELS) <= covered
    registry = load_plugins().kernels
    for name, cls in KERNELS.items():
        assert registry.lookup(name, "cpu") is cls


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_generic_kernel(case):
    op, attrs, shapes, label = case
    rng = np.random.default_rng(7)
    generic, fast = _pair(op, attrs, shapes)
    inputs = _inputs(generic, label, rng)
    _check_pair(generic, fast, inputs, rng)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_generic_kernel_on_strided_inputs(case):
    op, attrs, shapes, label = case
    rng = np.random.default_rng(11)
    generic, fast = _pair(op, attrs, shapes)
    inputs = _inputs(generic, label, rng)
    fast.set_inputs(inputs)
    strided = [_non_contiguous(v) for v in inputs]
    _check_pair(generic, fast, inputs, rng, arrays=strided)


def _forced_layout(layout):
    return type("ForcedConvolution", (CpuConvolutionKernel,), {"layout": layout})


@pytest.mark.parametrize("layout", [BATCH_MIDDLE, BATCH_LAST])
@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "Convolution"], ids=_ids)
def test_convolution_layouts_match_generic(case, layout):
    op, attrs, shapes, _ = case
    rng = np.random.default_rng(5)
    opdef = load_plugins().ops.get(op)
    generic = bind_op(op, attrs, shapes, kernel=opdef.kernel)
    fast = bind_op(op, attrs, shapes, kernel=_forced_layout(layout))
    assert fast.kernel.batch_last == (layout == BATCH_LAST)
    _check_pair(generic, fast, _inputs(generic, None, rng), rng)


def test_layout_choice_follows_output_width():
    lenet1 = bind_op("Convolution", {"kernel": (5, 5), "num_filter": 20}, [(128, 1, 28, 28)])
    lenet2 = bind_op("Convolution", {"kernel": (5, 5), "num_filter": 50}, [(128, 20, 12, 12)])
    single = bind_op("Convolution", {"kernel": (5, 5), "num_filter": 50}, [(1, 20, 12, 12)])
    assert not lenet1.kernel.batch_last and lenet2.kernel.batch_last
    assert not single.kernel.batch_last


# -- batch-last storage between kernels ----------------------------------------------------
def _bl(ndim):
    return tuple(range(1, ndim)) + (0,)


def _inv(perm):
    return tuple(int(i) for i in np.argsort(perm))


LAYOUT_CASES = [(op, attrs, [(16,) + shapes[0][1:]], label)
                for op, attrs, shapes, label in CASES if op == "Convolution"] + [
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2)}, [(16, 2, 8, 6)], None),
    ("Pooling", {"kernel": (2, 2), "stride": (2, 2)}, [(16, 2, 9, 7)], None),
    ("Pooling", {"kernel": (2, 2), "stride": (3, 3)}, [(16, 2, 8, 8)], None),
]


@pytest.mark.parametrize("in_bl,out_bl", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("case", LAYOUT_CASES, ids=_ids)
def test_batch_last_storage_matches_generic(case, in_bl, out_bl):
    """A kernel told its data/output are stored (C, *S, N) computes the same values."""
    op, attrs, shapes, _ = case
    rng = np.random.default_rng(9)
    opdef = load_plugins().ops.get(op)
    generic = bind_op(op, attrs, shapes, kernel=opdef.kernel)
    fast = bind_op(op, attrs, shapes)
    nd_in, nd_out = len(generic.in_shapes[0]), len(generic.out_shapes[0])
    perm_in, perm_out = _bl(nd_in), _bl(nd_out)
    assert perm_in in fast.kernel.layout_options()
    fast.kernel.set_layouts(perm_in if in_bl else None, perm_out if out_bl else None)

    def store(a, perm, flag):
        return np.ascontiguousarray(a.transpose(perm)) if flag else a

    def load(a, perm, flag):
        return a.transpose(_inv(perm)) if flag else a

    inputs = _inputs(generic, None, rng)
    args = [store(inputs[0], perm_in, in_bl)] + inputs[1:]
    out = np.zeros(store(np.empty(generic.out_shapes[0]), perm_out, out_bl).shape, np.float32)
    fast.kernel.forward(True, args, [out], [])
    ref = generic.forward(inputs)[0]
    assert_close(load(out, perm_out, out_bl), ref)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    for req in ("write", "add"):
        start = [rng.standard_normal(s).astype(np.float32) for s in generic.in_shapes]
        want = generic.backward([g], req=req, grads=start)
        grads = [store(start[0], perm_in, in_bl).copy()] + [s.copy() for s in start[1:]]
        fast.kernel.backward([store(g, perm_out, out_bl)], args, [out], [], grads,
                             [req] * len(grads))
        assert_close(load(grads[0], perm_in, in_bl), want[0])
        for h, w in zip(grads[1:], want[1:]):
            assert_close(h, w)


def test_max_pool_ties_go_to_the_first_offset():
    generic, fast = _pair("Pooling", {"kernel": (2, 2), "stride": (2, 2)}, [(1, 1, 4, 4)])
    x = np.array([[1, 1, 2, 0], [1, 1, 3, 3], [0, 0, np.nan, 1], [0, 0, 1, 1]],
                 np.float32).reshape(1, 1, 4, 4)
    g = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(fast.forward([x])[0], generic.forward([x])[0])
    want = generic.backward([g])[0]
    np.testing.assert_array_equal(fast.backward([g])[0], want)
    assert want[0, 0, 0, 0] == 1 and want[0, 0, :2, :2].sum() == 1   # first of four ties


# -- whole graphs ----------------------------------------------------------------------------
def _lenet_like():
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv1")
    net = mx.sym.Activation(net, act_type="tanh")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Convolution(net, kernel=(3, 3), num_filter=6, pad=(1, 1), name="conv2")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2))
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc1")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _run_graph(sym, shapes, values, req):
    exe = sym.simple_bind(mx.cpu(), grad_req=req, **shapes)
    for name, value in values.items():
        exe.arg_dict[name][:] = value
    exe.forward(is_train=True)
    exe.backward()
    outs = [o.asnumpy() for o in exe.outputs]
    grads = {n: g.asnumpy() for n, g in exe.grad_dict.items() if g is not None}
    return exe, outs, grads


@pytest.fixture
def generic_kernels(monkeypatch):
    """Make executors bind core's generic kernels only, while the fixture is active."""
    registry = load_plugins().kernels

    def enable(on):
        if on:
            monkeypatch.setattr(registry, "lookup", lambda op, device: None)
        else:
            monkeypatch.undo()
    return enable


@pytest.mark.parametrize("batch", [16, 3])
def test_lenet_like_graph_matches_generic_kernels(generic_kernels, batch):
    sym = _lenet_like()
    rng = np.random.default_rng(1)
    shapes = {"data": (batch, 2, 14, 14)}
    arg_shapes, _, _ = sym.infer_shape(**shapes)
    values = {n: rng.standard_normal(s).astype(np.float32) * 0.3
              for n, s in zip(sym.list_arguments(), arg_shapes)}
    values["softmax_label"] = rng.integers(0, 10, batch).astype(np.float32)
    req = {n: "null" if n == "softmax_label" else "write" for n in sym.list_arguments()}
    fast_exe, fast_out, fast_grads = _run_graph(sym, shapes, values, req)
    if batch >= 16:   # the convolutions' and poolings' values stay batch-last in between
        assert len(getattr(fast_exe, "_layouts", {})) >= 4
    generic_kernels(True)
    slow_exe, slow_out, slow_grads = _run_graph(sym, shapes, values, req)
    generic_kernels(False)
    assert not getattr(slow_exe, "_layouts", {})
    for a, b in zip(fast_out, slow_out):
        assert_close(a, b)
    assert fast_grads.keys() == slow_grads.keys()
    for name in fast_grads:
        assert_close(fast_grads[name], slow_grads[name], err_msg=name)


def test_bound_mlp_step_allocates_no_large_arrays():
    """Fresh arrays page-fault (up to a third of an MLP step): a step must not create any.

    numpy's iterator keeps a fixed 8192-element buffer for broadcasting and mixed-type
    loops; that is bounded and far below one activation (256 KiB here).
    """
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=1024, name="fc1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=1024, name="fc2")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc3")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    batch = 64
    exe = net.simple_bind(mx.cpu(), data=(batch, 100), grad_req="write")
    rng = np.random.default_rng(0)
    for name, arr in exe.arg_dict.items():
        arr[:] = rng.standard_normal(arr.shape).astype(np.float32) * 0.1
    exe.arg_dict["softmax_label"][:] = rng.integers(0, 10, batch).astype(np.float32)
    for _ in range(2):        # first calls may create lazily sized scratch
        exe.forward(is_train=True)
        exe.backward()
    activation_bytes = batch * 1024 * 4
    tracemalloc.start()
    try:
        for _ in range(3):
            exe.forward(is_train=True)
            exe.backward()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < activation_bytes // 4, f"a step allocated {peak} bytes"


@pytest.fixture
def split_everything(monkeypatch):
    """Make the kernels cut even tiny arrays and products over three threads."""
    from gradloom_cpu.kernels import _blas, _parallel
    monkeypatch.setattr(_parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(_blas, "MIN_MACS", 0)
    monkeypatch.setattr(_blas, "MIN_OUTPUT", 0)
    monkeypatch.setattr(_parallel, "SPLITTER", _parallel.ThreadSplitter(threads=3))


SPLIT_CASES = [c for c in CASES
               if c[0] in ("FullyConnected", "Activation", "relu", "Convolution", "Pooling")]


@pytest.mark.parametrize("case", SPLIT_CASES, ids=_ids)
def test_threaded_split_matches_generic(case, split_everything):
    from gradloom_cpu.kernels._blas import blas_section
    op, attrs, shapes, label = case
    rng = np.random.default_rng(13)
    generic, fast = _pair(op, attrs, shapes)
    with blas_section:   # as in an executor step: products are cut too
        _check_pair(generic, fast, _inputs(generic, label, rng), rng)


@pytest.mark.parametrize("in_bl,out_bl", [(True, True), (True, False), (False, True)])
def test_threaded_split_in_batch_last_storage(split_everything, in_bl, out_bl):
    for case in LAYOUT_CASES:
        test_batch_last_storage_matches_generic(case, in_bl, out_bl)


def test_split_products_restore_the_blas_thread_count(split_everything):
    from gradloom_cpu.kernels import _blas
    functions = _blas._Blas.get()
    before = functions[1]() if functions else None
    a, b = np.ones((8, 5), np.float32), np.ones((5, 6), np.float32)
    out = np.zeros((8, 6), np.float32)
    with _blas.blas_section:
        with _blas.blas_section:     # nested sections: the outer one restores
            if functions and before > 1:
                assert functions[1]() == 1
            _blas.matmul(a, b, out, "rows")
            np.testing.assert_array_equal(out, 5)
            out[...] = 0
            _blas.matmul(a, b, out, "cols")
            np.testing.assert_array_equal(out, 5)
        if functions and before > 1:
            assert functions[1]() == 1
    if functions:
        assert functions[1]() == before


def test_small_outputs_over_long_reductions_are_cut_along_the_reduction(monkeypatch):
    """A weight gradient like LeNet's first layer (26x20 over many positions): each thread
    multiplies a share of the positions into its partial result; their sum is the product."""
    import types

    from gradloom_cpu.kernels import _blas, _parallel
    monkeypatch.setattr(_blas, "blas_section", types.SimpleNamespace(saved=2))  # in a step
    monkeypatch.setattr(_parallel, "SPLITTER", _parallel.ThreadSplitter(threads=3))
    rng = np.random.default_rng(5)
    a = rng.standard_normal((26, 40000)).astype(np.float32)
    b = rng.standard_normal((20, 40000)).astype(np.float32).T
    out = np.empty((26, 20), np.float32)
    partials = np.full((3, 26, 20), np.nan, np.float32)
    _blas.matmul(a, b, out, "rows", partials)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(partials.sum(axis=0), out, rtol=1e-6, atol=1e-4)
    assert not np.isnan(partials).any()          # every thread's share was used
    # without partial buffers the product stays one call, with the same result
    whole = np.empty_like(out)
    _blas.matmul(a, b, whole, "rows")
    np.testing.assert_allclose(whole, out, rtol=1e-4, atol=1e-3)


def test_each_graph_runs_its_steps_in_the_section_its_kernels_need():
    from gradloom_cpu.kernels import _blas, _parallel
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, kernel=(5, 5), num_filter=32, name="conv")
    exe = net.simple_bind(mx.cpu(), data=(64, 8, 16, 16))
    assert exe._section is _blas.blas_section
    small = mx.sym.Convolution(data, kernel=(3, 3), num_filter=2).simple_bind(
        mx.cpu(), data=(1, 1, 5, 5))
    assert small._section is None
    # all GEMM: BLAS keeps its own threads, element-wise work stays on the caller
    mlp = mx.sym.FullyConnected(data, num_hidden=1024, name="fc")
    mlp = mx.sym.Activation(mlp, act_type="relu").simple_bind(mx.cpu(), data=(256, 784))
    assert isinstance(mlp._section, _parallel.SerialSection)
    exe.forward(is_train=True)
    exe.backward(np.ones(exe.outputs[0].shape, np.float32))
    assert _blas.blas_section.depth == 0 and not _blas.blas_section.saved
    mlp.arg_dict["data"][:] = np.linspace(-1, 1, 256 * 784).reshape(256, 784)
    mlp.arg_dict["fc_weight"][:] = np.random.default_rng(0).normal(
        0, 0.05, (1024, 784))
    out = mlp.forward(is_train=True)[0].asnumpy()
    mlp.backward(np.ones(out.shape, np.float32))
    weight = mlp.arg_dict["fc_weight"].asnumpy()
    x = mlp.arg_dict["data"].asnumpy()
    np.testing.assert_allclose(out, np.maximum(x @ weight.T, 0), rtol=1e-5, atol=1e-5)
    assert (out > 0).mean() > 0.3
    # the splitter's lock was given back: jobs split again outside the step
    assert not mlp._section.held and _parallel.SPLITTER._busy.acquire(blocking=False)
    _parallel.SPLITTER._busy.release()


def test_thread_splitter_runs_every_part_and_raises_errors():
    from gradloom_cpu.kernels._parallel import ThreadSplitter, bounds
    assert bounds(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert bounds(2, 8) == [(0, 1), (1, 2)]
    splitter = ThreadSplitter(threads=3)
    out = np.zeros(64)
    parts = [(out[a:b], i) for i, (a, b) in enumerate(bounds(64, 7))]
    splitter.run(lambda view, i: view.fill(i + 1), parts)
    assert (out > 0).all() and out[-1] == 7

    def boom(view, i):
        if i == 5:
            raise ValueError("part 5")
    with pytest.raises(ValueError, match="part 5"):
        splitter.run(boom, parts)
    splitter.run(lambda view, i: view.fill(-1), parts)   # still usable afterwards
    assert (out == -1).all()


def _entry_names(exe):
    plan = exe._plan
    names = {}
    for i, node in enumerate(plan.order):
        for k in range(node.num_outputs):
            names[plan.row_ptr[i] + k] = node.name
    return {names[e] for e in exe._layouts}


def test_layouts_stop_at_graph_outputs_and_foreign_readers():
    data = mx.sym.Variable("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv")
    act = mx.sym.Activation(conv, act_type="tanh", name="act")
    pool = mx.sym.Pooling(act, kernel=(2, 2), stride=(2, 2), name="pool")
    flat = mx.sym.Flatten(pool, name="flat")
    exe = flat.simple_bind(mx.cpu(), data=(32, 3, 10, 10))
    # conv -> tanh -> pool stay batch-last; the pooling output feeds Flatten: standard
    assert _entry_names(exe) == {"conv", "act"}
    # the activation is also a graph output: users see it, so nothing before it moves
    both = mx.sym.Group([flat, act])
    assert _entry_names(both.simple_bind(mx.cpu(), data=(32, 3, 10, 10))) == set()


def test_monitor_sees_standard_layout_values(generic_kernels):
    sym = _lenet_like()
    shapes = {"data": (16, 2, 14, 14)}
    rng = np.random.default_rng(2)
    arg_shapes, _, _ = sym.infer_shape(**shapes)
    values = {n: rng.standard_normal(s).astype(np.float32) * 0.3
              for n, s in zip(sym.list_arguments(), arg_shapes)}

    def run():
        exe = sym.simple_bind(mx.cpu(), **shapes)
        for name, value in values.items():
            exe.arg_dict[name][:] = value
        seen = {}
        exe.set_monitor_callback(lambda name, arr: seen.__setitem__(name, arr.asnumpy()),
                                 monitor_all=True)
        exe.forward(is_train=True)
        exe.backward()
        return exe, seen

    fast_exe, fast = run()
    assert fast_exe._layouts
    generic_kernels(True)
    _, slow = run()
    generic_kernels(False)
    assert fast.keys() == slow.keys()
    for name in slow:
        assert fast[name].shape == slow[name].shape, name
        assert_close(fast[name], slow[name], err_msg=name)



# -- activation + max pooling run swapped -----------------------------------------------
def _act_pool_net(act_type, pool_kernel=(2, 2)):
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv")
    net = mx.sym.Activation(net, act_type=act_type, name="act")
    net = mx.sym.Pooling(net, pool_type="max", kernel=pool_kernel, stride=pool_kernel,
                         name="pool")
    return mx.sym.FullyConnected(mx.sym.Flatten(net), num_hidden=3, name="fc")


def _run_steps(exe, x, head_grad, req_add):
    exe.arg_dict["data"][:] = x
    exe.forward(is_train=True)
    out = exe.outputs[0].asnumpy().copy()
    for _ in range(2 if req_add else 1):
        exe.backward([mx.nd.array(head_grad)])
    return out, {n: g.asnumpy().copy() for n, g in exe.grad_dict.items() if g is not None}


@pytest.mark.parametrize("batch", [3, 16])            # standard and batch-last storage
@pytest.mark.parametrize("act_type", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("req", ["write", "add"])
def test_activation_then_max_pool_runs_swapped_with_the_same_results(batch, act_type, req):
    net = _act_pool_net(act_type)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 2, 9, 9)).astype(np.float32) * 3   # some saturate
    x[0, 0, :2, :2] = 40.0             # a window where tanh/sigmoid tie at exactly 1.0
    results = []
    for swap in (True, False):
        exe = net.simple_bind(mx.cpu(), data=x.shape, grad_req=req)
        for name, arr in exe.arg_dict.items():
            if name != "data":
                arr[:] = np.random.default_rng(2).standard_normal(arr.shape) * 0.3
        assert bool(exe._swaps) and len(exe._fwd_active) == len(exe._fwd) - 1
        if not swap:
            exe._swaps = []
            exe._build_plans()
            assert len(exe._fwd_active) == len(exe._fwd)
        head_grad = np.random.default_rng(3).standard_normal(exe.outputs[0].shape)
        results.append(_run_steps(exe, x, head_grad, req == "add"))
    (out_s, grads_s), (out_p, grads_p) = results
    np.testing.assert_allclose(out_s, out_p, rtol=1e-6, atol=1e-7)
    assert set(grads_s) == set(grads_p) and "data" in grads_s
    for name in grads_p:
        np.testing.assert_allclose(grads_s[name], grads_p[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_activation_and_pooling_stay_apart_when_their_value_is_wanted():
    net = _act_pool_net("tanh")
    # softsign is not among the swapped activations
    assert not _act_pool_net("softsign").simple_bind(mx.cpu(), data=(2, 2, 9, 9))._swaps
    # the activation's output is a graph output
    act = net.get_internals()["act_output"]
    both = mx.sym.Group([net, act]).simple_bind(mx.cpu(), data=(2, 2, 9, 9))
    assert not both._swaps
    # a monitor sees every node's own output: the swapped calls are set aside meanwhile
    exe = net.simple_bind(mx.cpu(), data=(2, 2, 9, 9))
    assert exe._swaps
    seen = []
    exe.set_monitor_callback(lambda name, arr: seen.append(name), monitor_all=False)
    exe.forward(is_train=False)
    assert any(name.startswith("act") for name in seen)
    assert len(exe._fwd_active) == len(exe._fwd)
