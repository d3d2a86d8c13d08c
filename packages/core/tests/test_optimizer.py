"""Optimizers against plain numpy transcriptions of MXNet's update rules (inventory 9.3)."""
import itertools
import math
import tracemalloc

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ConfigError, UnknownNameError


# ----------------------------------------------------------------------------------------
# reference rules: one update, float64, written in MXNet's own form
# ----------------------------------------------------------------------------------------
def _clip(x, c):
    return np.clip(x, -c, c) if c else x


def ref_sgd(w, g, s, lr, wd, r, c, t, momentum=0.0):
    gg = _clip(r * g, c)
    if momentum:
        (m,) = s
        m = momentum * m - lr * wd * w - lr * gg
        return w + m, (m,)
    return (1 - lr * wd) * w - lr * gg, ()


def ref_nag(w, g, s, lr, wd, r, c, t, momentum=0.0):
    gg = _clip(r * g, c) + wd * w
    if not momentum:
        return w - lr * gg, ()
    (m,) = s
    m = momentum * m
    w = w - m + (momentum + 1) * (m - lr * gg)
    m = m - lr * gg
    return w, (m,)


def ref_adam(w, g, s, lr, wd, r, c, t, beta1=0.9, beta2=0.999, epsilon=1e-8):
    m, v = s
    gg = _clip(r * g + wd * w, c)
    m = beta1 * m + (1 - beta1) * gg
    v = beta2 * v + (1 - beta2) * gg ** 2
    lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v)


def ref_nadam(w, g, s, lr, wd, r, c, t, beta1=0.9, beta2=0.999, epsilon=1e-8,
              schedule_decay=0.004):
    m, v = s
    gg = _clip(r * g + wd * w, c)

    def mu(k):
        return beta1 * (1 - 0.5 * 0.96 ** (k * schedule_decay))
    schedule = math.prod(mu(k) for k in range(1, t + 1))
    m = beta1 * m + (1 - beta1) * gg
    v = beta2 * v + (1 - beta2) * gg ** 2
    g_hat = gg / (1 - schedule)
    m_hat = m / (1 - schedule * mu(t + 1))
    v_hat = v / (1 - beta2 ** t)
    step = ((1 - mu(t)) * g_hat + mu(t + 1) * m_hat) / (np.sqrt(v_hat) + epsilon)
    return w - lr * step, (m, v)


def ref_test(w, g, s, lr, wd, r, c, t):
    w = w + r * g
    return w, (w,)


def ref_adamw(w, g, s, lr, wd, r, c, t, beta1=0.9, beta2=0.999, epsilon=1e-8):
    m, v = s
    gg = _clip(r * g, c)
    m = beta1 * m + (1 - beta1) * gg
    v = beta2 * v + (1 - beta2) * gg ** 2
    lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - lr * wd * w - lr_t * m / (np.sqrt(v) + epsilon), (m, v)


def ref_rmsprop(w, g, s, lr, wd, r, c, t, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                centered=False, clip_weights=None):
    gg = _clip(r * g + wd * w, c)
    if centered:
        n, gbar, delta = s
        n = (1 - gamma1) * gg ** 2 + gamma1 * n
        gbar = (1 - gamma1) * gg + gamma1 * gbar
        delta = gamma2 * delta - lr * gg / np.sqrt(n - gbar ** 2 + epsilon)
        w = w + delta
        s = (n, gbar, delta)
    else:
        (n,) = s
        n = (1 - gamma1) * gg ** 2 + gamma1 * n
        w = w - lr * gg / np.sqrt(n + epsilon)
        s = (n,)
    if clip_weights:
        w = np.clip(w, -clip_weights, clip_weights)
    return w, s


def ref_adagrad(w, g, s, lr, wd, r, c, t, eps=1e-7):
    (h,) = s
    gg = _clip(r * g, c)
    h = h + gg ** 2
    return w - lr * (gg / np.sqrt(h + eps) + wd * w), (h,)


def ref_adadelta(w, g, s, lr, wd, r, c, t, rho=0.9, epsilon=1e-5):
    acc_g, acc_d = s
    gg = _clip(r * g, c)
    acc_g = rho * acc_g + (1 - rho) * gg ** 2
    d = np.sqrt(acc_d + epsilon) / np.sqrt(acc_g + epsilon) * gg
    acc_d = rho * acc_d + (1 - rho) * d ** 2
    return w - (d + wd * w), (acc_g, acc_d)


def ref_signum(w, g, s, lr, wd, r, c, t, momentum=0.9, wd_lh=0.0):
    if momentum:
        (m,) = s
        m = momentum * m - (1 - momentum) * wd * w - (1 - momentum) * _clip(r * g, c)
        return (1 - lr * wd_lh) * w + lr * np.sign(m), (m,)
    return (1 - lr * wd) * w - lr * np.sign(g), ()


def ref_ftrl(w, g, s, lr, wd, r, c, t, lamda1=0.01, beta=1):
    z, n = s
    gg = _clip(r * g, c)
    z = z + gg - (np.sqrt(n + gg ** 2) - np.sqrt(n)) * w / lr
    n = n + gg ** 2
    w = (np.sign(z) * lamda1 - z) / ((beta + np.sqrt(n)) / lr + wd) * (np.abs(z) > lamda1)
    return w, (z, n)


def ref_adamax(w, g, s, lr, wd, r, c, t, beta1=0.9, beta2=0.999):
    m, u = s
    gg = _clip(r * g + wd * w, c)
    m = beta1 * m + (1 - beta1) * gg
    u = np.maximum(beta2 * u, np.abs(gg))
    return w - lr / (1 - beta1 ** t) * m / u, (m, u)


def ref_ftml(w, g, s, lr, wd, r, c, t, beta1=0.6, beta2=0.999, epsilon=1e-8):
    d, v, z = s
    gg = _clip(r * g + wd * w, c)
    v = beta2 * v + (1 - beta2) * gg ** 2
    d_t = (1 - beta1 ** t) / lr * (np.sqrt(v / (1 - beta2 ** t)) + epsilon)
    z = beta1 * z + (1 - beta1) * gg - (d_t - beta1 * d) * w
    return -z / d_t, (d_t, v, z)


def ref_dcasgd(w, g, s, lr, wd, r, c, t, momentum=0.0, lamda=0.04):
    gg = _clip(r * g, c)
    prev = s[-1]
    step = -lr * (gg + wd * w + lamda * gg * gg * (w - prev))
    if momentum:
        m = momentum * s[0] + step
        return w + m, (m, w)
    return w + step, (w,)


# optimizers whose last state slot starts as a copy of the weight
PREV_WEIGHT_SLOT = {"dcasgd"}

# (registered name, reference, optimizer kwargs, number of state slots)
CASES = [
    ("sgd", ref_sgd, {}, 0),
    ("sgd", ref_sgd, {"momentum": 0.9}, 1),
    ("ccsgd", ref_sgd, {"momentum": 0.5}, 1),
    ("nag", ref_nag, {}, 0),
    ("nag", ref_nag, {"momentum": 0.9}, 1),
    ("adam", ref_adam, {}, 2),
    ("adam", ref_adam, {"beta1": 0.8, "beta2": 0.9, "epsilon": 1e-6}, 2),
    ("adamw", ref_adamw, {}, 2),
    ("nadam", ref_nadam, {}, 2),
    ("nadam", ref_nadam, {"beta1": 0.8, "schedule_decay": 0.1}, 2),
    ("test", ref_test, {}, 1),
    ("rmsprop", ref_rmsprop, {}, 1),
    ("rmsprop", ref_rmsprop, {"centered": True, "gamma2": 0.8}, 3),
    ("rmsprop", ref_rmsprop, {"centered": True, "clip_weights": 0.01}, 3),
    ("adagrad", ref_adagrad, {}, 1),
    ("adadelta", ref_adadelta, {}, 2),
    ("signum", ref_signum, {}, 1),
    ("signum", ref_signum, {"momentum": 0.0}, 0),
    ("signum", ref_signum, {"wd_lh": 0.02}, 1),
    ("ftrl", ref_ftrl, {}, 2),
    ("ftrl", ref_ftrl, {"lamda1": 0.001, "beta": 0.5}, 2),
    ("adamax", ref_adamax, {}, 2),
    ("ftml", ref_ftml, {}, 3),
    ("ftml", ref_ftml, {"beta1": 0.7, "beta2": 0.9}, 3),
    ("dcasgd", ref_dcasgd, {}, 1),
    ("dcasgd", ref_dcasgd, {"momentum": 0.9, "lamda": 0.1}, 2),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}{v}' for k, v in kw.items()) or 'default'}"
            for name, _, kw, _ in CASES]

SETTINGS = list(itertools.product([1.0, 0.14], [None, 0.4], [0.0, 0.05]))  # r, clip, wd

TOL = {np.float64: dict(rtol=1e-7, atol=1e-9), np.float32: dict(rtol=1e-4, atol=2e-5)}


def _run_reference(name, ref, kw, nslots, w0, grads, lr, wd, r, c):
    w = w0.astype(np.float64)
    s = [np.zeros_like(w) for _ in range(nslots)]
    if name in PREV_WEIGHT_SLOT:
        s[-1] = w.copy()
    for t, g in enumerate(grads, start=1):
        w, s = ref(w, g.astype(np.float64), s, lr, wd, r, c, t, **kw)
    return w, s


@pytest.mark.parametrize("name,ref,kw,nslots", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_rule_matches_reference(name, ref, kw, nslots, dtype):
    rng = np.random.default_rng(7)
    w0 = rng.uniform(-1, 1, (3, 4, 5)).astype(dtype)
    grads = [rng.uniform(-1, 1, (3, 4, 5)).astype(dtype) for _ in range(4)]
    lr = 0.1 if name == "ftrl" else 0.01
    for r, c, wd in SETTINGS:
        opt = mx.optimizer.create(name, learning_rate=lr, rescale_grad=r, clip_gradient=c,
                                  wd=wd, **kw)
        updater = mx.optimizer.get_updater(opt)
        weight = mx.nd.array(w0, dtype=dtype)
        for g in grads:
            grad = mx.nd.array(g, dtype=dtype)
            updater(0, grad, weight)
            np.testing.assert_array_equal(grad.asnumpy(), g)   # caller's grad untouched
        want_w, want_s = _run_reference(name, ref, kw, nslots, w0, grads, lr, wd, r, c)
        got_s = opt.unpack_state(updater.states[0])
        assert len(got_s) == nslots
        np.testing.assert_allclose(weight.asnumpy(), want_w, **TOL[dtype],
                                   err_msg=f"{name} {kw} r={r} clip={c} wd={wd}")
        for got, want in zip(got_s, want_s):
            np.testing.assert_allclose(got.asnumpy(), want, **TOL[dtype])
        assert opt.num_update == len(grads)


def test_sgld_steps_half_the_gradient_plus_seeded_gaussian_noise():
    rng = np.random.default_rng(2)
    w0 = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    grads = [rng.uniform(-1, 1, (4, 5)).astype(np.float32) for _ in range(3)]
    lr, wd, r = 0.04, 0.1, 0.5
    opt = mx.optimizer.create("sgld", learning_rate=lr, wd=wd, rescale_grad=r)
    assert not opt.step_is_elementwise            # one draw for the whole buffer
    updater = mx.optimizer.get_updater(opt)
    weight = mx.nd.array(w0)
    mx.random.seed(5)
    for g in grads:
        updater(0, mx.nd.array(g), weight)
    mx.random.seed(5)
    want = w0.astype(np.float64)
    for g in grads:
        noise = mx.random.host_rng().standard_normal(w0.shape, dtype=np.float32)
        want = want - lr / 2 * (r * g + wd * want) + math.sqrt(lr) * noise
    np.testing.assert_allclose(weight.asnumpy(), want, rtol=1e-5, atol=1e-6)
    # the noise is there: another seed moves the weights elsewhere
    other = mx.nd.array(w0)
    mx.random.seed(6)
    mx.optimizer.get_updater(mx.optimizer.create("sgld", learning_rate=lr))(
        0, mx.nd.array(grads[0]), other)
    assert np.abs(other.asnumpy() - w0).max() > 0.05


def test_state_objects_follow_mxnet_shapes():
    w = mx.nd.zeros((2, 3))
    assert mx.opt.create("sgd").create_state(0, w) is None
    assert isinstance(mx.opt.create("sgd", momentum=0.9).create_state(0, w), mx.nd.NDArray)
    assert isinstance(mx.opt.create("adagrad").create_state(0, w), mx.nd.NDArray)
    adam = mx.opt.create("adam").create_state(0, w)
    assert isinstance(adam, tuple) and len(adam) == 2
    rms = mx.opt.create("rmsprop").create_state(0, w)
    assert isinstance(rms, tuple) and len(rms) == 1
    assert len(mx.opt.create("rmsprop", centered=True).create_state(0, w)) == 3


@pytest.mark.parametrize("name,ref,kw,nslots", CASES, ids=CASE_IDS)
def test_flat_step_with_per_element_lr_wd_matches_per_parameter_updates(name, ref, kw,
                                                                        nslots):
    # Two parameters in one flat buffer with different multipliers, updated by one step()
    # call, must equal two separate NDArray updates with scalar lr/wd.
    rng = np.random.default_rng(3)
    sizes = (6, 10)
    lr_mults, wd_mults = (1.0, 0.5), (1.0, 0.0)
    base_lr, base_wd = (0.1 if name == "ftrl" else 0.02), 0.03
    w0 = rng.uniform(-1, 1, sum(sizes))
    grads = [rng.uniform(-1, 1, sum(sizes)) for _ in range(3)]
    opt_kw = dict(learning_rate=base_lr, wd=base_wd, rescale_grad=0.5, clip_gradient=0.4,
                  **kw)

    flat_opt = mx.opt.create(name, **opt_kw)
    weight = w0.copy()
    state = flat_opt.create_flat_state(np, weight)
    assert len(state) == nslots + 1 and len(flat_opt.state_slots(state)) == nslots
    lr_arr = np.concatenate([np.full(n, base_lr * m) for n, m in zip(sizes, lr_mults)])
    wd_arr = np.concatenate([np.full(n, base_wd * m) for n, m in zip(sizes, wd_mults)])
    for g in grads:
        lr, t = flat_opt.begin_step([0, 1])
        assert lr == base_lr
        flat_opt.step(np, weight, g.copy(), state, lr_arr, wd_arr, t)

    ref_opt = mx.opt.create(name, param_idx2name={0: "a_weight", 1: "b_weight"}, **opt_kw)
    ref_opt.set_lr_mult({"a_weight": lr_mults[0], "b_weight": lr_mults[1]})
    ref_opt.set_wd_mult({"a_weight": wd_mults[0], "b_weight": wd_mults[1]})
    parts = np.split(w0.copy(), [sizes[0]])
    states = [ref_opt.create_state(i, p) for i, p in enumerate(parts)]
    for g in grads:
        for i, gp in enumerate(np.split(g, [sizes[0]])):
            ref_opt.update(i, parts[i], gp, states[i])
    np.testing.assert_allclose(weight, np.concatenate(parts), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,ref,kw,nslots", CASES, ids=CASE_IDS)
def test_block_by_block_step_equals_one_whole_step(name, ref, kw, nslots):
    # The CPU backend runs element-wise rules in cache-sized blocks over several threads;
    # every weight and state element must come out bit-identical to one call over all.
    if not mx.opt.create(name, **kw).step_is_elementwise:
        pytest.fail(f"built-in {name} must be marked step_is_elementwise")
    backend = mx.cpu().backend
    n = 300_001                      # several blocks and a ragged last one
    rng = np.random.default_rng(11)
    w0 = rng.uniform(-1, 1, n).astype(np.float32)
    grads = [rng.uniform(-1, 1, n).astype(np.float32) for _ in range(3)]
    lr_arr = np.where(np.arange(n) < n // 3, 0.02, 0.01).astype(np.float32)
    results = []
    for blocked in (False, True):
        opt = mx.opt.create(name, learning_rate=0.02, wd=0.01, rescale_grad=0.5,
                            clip_gradient=0.4, **kw)
        weight = w0.copy()
        state = opt.create_flat_state(np, weight)
        for t, g in enumerate(grads, start=1):
            args = (weight, g.copy(), lr_arr, 0.01, t) + state
            if blocked:
                backend.elementwise(
                    lambda w, gr, lr, wd, tt, *st: opt.step(np, w, gr, st, lr, wd, tt), args)
            else:
                opt.step(np, weight, args[1], state, lr_arr, 0.01, t)
        results.append((weight,) + opt.state_slots(state))
    for whole, blocks in zip(*results):
        np.testing.assert_array_equal(blocks, whole)


def test_a_rule_that_looks_across_elements_gets_the_whole_buffer():
    class UnitNormSGD(mx.optimizer.Optimizer):
        """Steps along the gradient scaled to unit norm (a norm over all elements)."""

        def step(self, xp, weight, grad, state, lr, wd, t):
            self.calls.append(weight.size)
            weight -= lr * grad / xp.linalg.norm(grad)

    data = mx.sym.Variable("data")
    net = mx.sym.LinearRegressionOutput(
        mx.sym.FullyConnected(data, num_hidden=400, name="fc"), name="out")
    mod = mx.mod.Module(net, label_names=["out_label"], context=mx.cpu())
    mod.bind([("data", (4, 400))], [("out_label", (4, 400))])
    mod.init_params(mx.init.Constant(0.0))
    opt = UnitNormSGD(learning_rate=1.0, rescale_grad=0.25)   # 1/batch
    opt.calls = []
    mod.init_optimizer(optimizer=opt)
    mod.forward_backward(mx.io.DataBatch([mx.nd.ones((4, 400))], [mx.nd.ones((4, 400))]))
    mod.update()
    assert opt.calls == [400 * 400 + 400]           # one call over the whole flat buffer
    args, _ = mod.get_params()
    step = np.concatenate([args["fc_weight"].asnumpy().ravel(), args["fc_bias"].asnumpy()])
    np.testing.assert_allclose(np.linalg.norm(step), 1.0, rtol=1e-4)


def test_sgd_step_allocates_nothing_and_keeps_state_arrays():
    n = 200_000
    rng = np.random.default_rng(0)
    opt = mx.opt.create("sgd", learning_rate=0.1, momentum=0.9, wd=1e-4, rescale_grad=0.5,
                        clip_gradient=1.0)
    weight = rng.standard_normal(n).astype(np.float32)
    grad = rng.standard_normal(n).astype(np.float32)
    lr = np.full(n, 0.1, np.float32)
    wd = np.full(n, 1e-4, np.float32)
    state = opt.create_flat_state(np, weight)
    ids = [id(a) for a in state]
    opt.step(np, weight, grad, state, lr, wd, 1)      # warm up any lazy numpy machinery
    tracemalloc.start()
    try:
        for t in range(2, 12):
            opt.step(np, weight, grad, state, lr, wd, t)
            opt.step(np, weight, grad, state, 0.1, 1e-4, t)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one float32 temporary would be 800 kB; allow only small bookkeeping objects
    assert peak < 64 * 1024, f"step allocated {peak} bytes"
    assert [id(a) for a in state] == ids


def test_ndarray_update_reuses_scratch_buffers():
    opt = mx.opt.create("sgd", learning_rate=0.1, momentum=0.9)
    w = mx.nd.ones((50, 50))
    g = mx.nd.ones((50, 50))
    st = opt.create_state(0, w)
    opt.update(0, w, g, st)
    cached = {k: tuple(id(a) for a in v) for k, v in opt._scratch.items()}
    for _ in range(3):
        opt.update(0, w, g, st)
    assert {k: tuple(id(a) for a in v) for k, v in opt._scratch.items()} == cached


def test_clip_gradient_zero_or_none_disables_clipping():
    w0 = np.array([1.0, -1.0])
    g = np.array([10.0, -10.0])
    for clip in (None, 0, 0.0):
        opt = mx.opt.create("sgd", learning_rate=0.1, clip_gradient=clip)
        w = w0.copy()
        opt.update(0, w, g, None)
        np.testing.assert_allclose(w, w0 - 0.1 * g)
    opt = mx.opt.create("sgd", learning_rate=0.1, clip_gradient=2.0)
    w = w0.copy()
    opt.update(0, w, g, None)
    np.testing.assert_allclose(w, w0 - 0.1 * np.array([2.0, -2.0]))


def test_adadelta_ignores_learning_rate():
    rng = np.random.default_rng(1)
    w0, g = rng.uniform(-1, 1, 8), rng.uniform(-1, 1, 8)
    out = []
    for lr in (0.01, 5.0):
        opt = mx.opt.create("adadelta", learning_rate=lr)
        w = w0.copy()
        opt.update(0, w, g, opt.create_state(0, w))
        out.append(w)
    np.testing.assert_array_equal(out[0], out[1])


# ----------------------------------------------------------------------------------------
# base class behaviour
# ----------------------------------------------------------------------------------------
class _FakeSymbol:
    """attr_dict()/list_arguments() of MXNet's test_lr_wd_mult network (verified output)."""

    def attr_dict(self):
        return {"fc1_weight": {"__lr_mult__": "0"}, "fc1_bias": {"__lr_mult__": "1.0"},
                "fc1": {"__lr_mult__": "0", "num_hidden": "10"},
                "fc2_weight": {"__wd_mult__": "0.5"}, "fc2_bias": {"__wd_mult__": "0.5"},
                "fc2": {"__wd_mult__": "0.5", "num_hidden": "10"}}

    def list_arguments(self):
        return ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"]


def test_lr_wd_mult_from_symbol_attributes():
    idx2name = {0: "fc1_weight", 1: "fc1_bias", 2: "fc2_weight", 3: "fc2_bias"}
    opt = mx.opt.create("sgd", sym=_FakeSymbol(), param_idx2name=idx2name, learning_rate=1.0,
                        wd=0.1)
    assert opt.lr_mult == {"fc1_bias": 1.0, "fc1_weight": 0.0}
    assert opt.wd_mult == {"fc2_bias": 0.5, "fc2_weight": 0.5, "fc1_bias": 0.0}
    assert opt._get_lrs([0, 1, 2, 3]) == [0.0, 1.0, 1.0, 1.0]
    assert opt._get_wds([0, 1, 2, 3]) == pytest.approx([0.1, 0.0, 0.05, 0.05])
    # a string index (kvstore updates) looks the multiplier up directly
    assert opt._get_lr("fc1_weight") == 0.0
    assert opt._get_wd("fc1_bias") == 0.0
    # a frozen (lr_mult 0) weight does not move
    w = np.ones(3)
    opt.update(0, w, np.ones(3), None)
    np.testing.assert_array_equal(w, np.ones(3))


def test_biases_get_no_weight_decay_by_default():
    opt = mx.opt.create("sgd", param_idx2name={0: "fc_weight", 1: "fc_bias",
                                               2: "bn_gamma", 3: "bn_beta"})
    assert opt.wd_mult == {"fc_bias": 0.0, "bn_beta": 0.0}
    # without idx2name (object built outside a Module) every index gets full decay
    assert mx.opt.SGD(wd=0.1)._get_wd(1) == 0.1


def test_param_dict_multipliers_win():
    class P:
        lr_mult, wd_mult = 0.25, 2.0
    opt = mx.opt.create("sgd", learning_rate=0.4, wd=0.1, param_dict={0: P()})
    assert opt._get_lr(0) == pytest.approx(0.1)
    assert opt._get_wd(0) == pytest.approx(0.2)


def test_learning_rate_api():
    o = mx.opt.Optimizer(learning_rate=0.01)
    o.set_learning_rate(0.2)
    assert o.learning_rate == 0.2
    sched = mx.lr_scheduler.FactorScheduler(step=1)
    with pytest.warns(UserWarning):
        o = mx.opt.Optimizer(lr_scheduler=sched, learning_rate=0.3)
    assert o.learning_rate == 0.3
    o.lr_scheduler.base_lr = 0.4
    assert o.learning_rate == 0.4
    o = mx.opt.Optimizer(lr_scheduler=mx.lr_scheduler.FactorScheduler(step=1, base_lr=1024))
    assert o.learning_rate == 1024
    with pytest.raises(UserWarning):
        o.set_learning_rate(0.5)
    assert mx.opt.Optimizer().learning_rate == 0.01
    defaults = {"sgd": 0.01, "signum": 0.01, "adam": 0.001, "adamw": 0.001,
                "rmsprop": 0.001, "adamax": 0.002, "ftrl": 0.1, "adagrad": 0.01}
    for name, lr in defaults.items():
        assert mx.opt.create(name).learning_rate == lr
        # a scheduler alone keeps its own base_lr (MXNet replaced it by the default)
        sched = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.5)
        assert mx.opt.create(name, lr_scheduler=sched).learning_rate == 0.5


def test_optimizer_lr_overrides_poly_scheduler_base():
    sched = mx.lr_scheduler.PolyScheduler(100, base_lr=0.01, pwr=1)
    with pytest.warns(UserWarning):
        opt = mx.opt.create("sgd", learning_rate=1.0, lr_scheduler=sched)
    opt.num_update = 50
    assert opt.learning_rate == pytest.approx(0.5)


def test_update_counts_and_scheduler():
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    opt = mx.opt.create("sgd", lr_scheduler=sched, begin_num_update=0)
    w, g = np.zeros(2), np.ones(2)
    lrs = []
    for _ in range(5):
        before = w.copy()
        opt.update(0, w, g, None)
        lrs.append(float((before - w)[0]))
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25])
    assert opt._index_update_count == {0: 5} and opt.num_update == 5
    opt2 = mx.opt.create("sgd", begin_num_update=10)
    opt2._update_count([0, 1])
    assert opt2._index_update_count == {0: 11, 1: 11} and opt2.num_update == 11


def test_create_and_register():
    assert isinstance(mx.optimizer.create("SGD"), mx.optimizer.SGD)
    assert isinstance(mx.optimizer.create("ccSGD"), mx.optimizer.SGD)
    assert isinstance(mx.opt.create("RmsProp", centered=True), mx.opt.RMSProp)
    opt = mx.opt.SGD()
    assert mx.opt.create(opt) is opt
    with pytest.raises(UnknownNameError) as err:
        mx.optimizer.create("nosuchopt")
    assert "nosuchopt" in str(err.value) and "adam" in str(err.value)
    with pytest.raises(ValueError):      # what MXNet raised, so MXNet scripts still catch it
        mx.optimizer.create("nosuchopt")

    @mx.optimizer.register
    class HalfStep(mx.optimizer.Optimizer):
        def update(self, index, weight, grad, state):
            weight[:] -= 0.5 * grad

    try:
        w = np.ones(2)
        mx.opt.get_updater(mx.opt.create("halfstep"))(0, np.ones(2), w)
        np.testing.assert_array_equal(w, [0.5, 0.5])
        assert not HalfStep().has_step and mx.opt.SGD().has_step
    finally:
        del mx.optimizer.Optimizer.opt_registry["halfstep"]
    with pytest.raises(ConfigError):
        mx.opt.get_updater("sgd")


def test_updater_get_set_states_round_trip_is_not_pickle():
    opt = mx.opt.create("adam", learning_rate=0.1)
    upd = mx.opt.get_updater(opt)
    rng = np.random.default_rng(5)
    weights = {0: mx.nd.array(rng.uniform(size=(3, 2))), "fc_bias": mx.nd.array(np.ones(4))}
    for _ in range(2):
        for k, w in weights.items():
            upd(k, mx.nd.array(rng.uniform(size=w.shape)), w)
    blob = upd.get_states()
    assert isinstance(blob, bytes) and blob[:8] == (0x112).to_bytes(8, "little")
    opt2 = mx.opt.create("adam", learning_rate=0.1)
    upd2 = mx.opt.get_updater(opt2)
    upd2.set_states(blob)
    assert set(upd2.states) == {0, "fc_bias"}
    assert opt2._index_update_count == {0: 2, "fc_bias": 2} and opt2.num_update == 2
    # continuing from the loaded states equals continuing the original
    g = mx.nd.array(rng.uniform(size=(3, 2)))
    w1, w2 = weights[0].copy(), weights[0].copy()
    upd(0, g, w1)
    upd2(0, g, w2)
    assert isinstance(upd2.states[0][0], mx.nd.NDArray)
    np.testing.assert_allclose(w1.asnumpy(), w2.asnumpy(), rtol=1e-6)


def test_flat_multipliers():
    opt = mx.opt.create("sgd", param_idx2name={0: "a_weight", 1: "a_bias", 2: "b_weight"})
    lr_mult, wd_mult = opt.flat_multipliers([0, 1, 2], [2, 1, 3])
    assert lr_mult == 1.0
    np.testing.assert_array_equal(wd_mult, [1, 1, 0, 1, 1, 1])
    assert wd_mult.dtype == np.float32
    opt.set_lr_mult({"b_weight": 0.5})
    lr_mult, _ = opt.flat_multipliers([0, 1, 2], [2, 1, 3], dtype=np.float64)
    np.testing.assert_array_equal(lr_mult, [1, 1, 1, 0.5, 0.5, 0.5])
