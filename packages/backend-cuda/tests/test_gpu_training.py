"""Training on the GPU gives the cpu backend's numbers (needs a usable GPU).

* the CUDA executor with bias/activation fusion matches the cpu executor (outputs and
  gradients), and a monitor turns fusion off without changing any number;
* ``Module.fit`` on gpu(0), and on the mixed list [cpu(0), gpu(0)], ends with the parameters
  of the same training on cpu(0) (1e-4); with two GPUs also on [gpu(0), gpu(1)];
* ``Backend.reduce_sum_into`` and the ``device`` kvstore sum across devices and backends.
"""
import numpy as np
import pytest

import gradloom as mx

pytestmark = pytest.mark.gpu


def _gpu_count():
    from gradloom.plugins import load_plugins
    return load_plugins().backends.get("gpu").device_count()


def _mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=32, name="fc1"),
                          act_type="relu", name="relu1")
    h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=16, name="fc2"),
                          act_type="tanh", name="tanh2")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=10, name="fc3"),
                                name="softmax")


def _convnet():
    data = mx.sym.Variable("data")
    c = mx.sym.Convolution(data, kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv1")
    c = mx.sym.BatchNorm(c, fix_gamma=False, name="bn1")
    c = mx.sym.Activation(c, act_type="relu", name="relu1")
    c = mx.sym.Pooling(c, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    c = mx.sym.Convolution(c, kernel=(3, 3), num_filter=8, name="conv2")
    c = mx.sym.Activation(c, act_type="sigmoid", name="sig2")
    c = mx.sym.Pooling(c, kernel=(2, 2), stride=(1, 1), pool_type="avg", name="pool2")
    f = mx.sym.FullyConnected(mx.sym.Flatten(c), num_hidden=10, name="fc")
    return mx.sym.SoftmaxOutput(f, name="softmax")


def _bind_pair(sym, shapes, seed=0):
    rng = np.random.default_rng(seed)
    exes = [sym.simple_bind(ctx, **shapes) for ctx in (mx.cpu(0), mx.gpu(0))]
    for name, arr in exes[0].arg_dict.items():
        if name.endswith("label"):
            value = rng.integers(0, 10, arr.shape).astype(np.float32)
        else:
            value = (rng.standard_normal(arr.shape) * 0.3).astype(np.float32)
        for ex in exes:
            ex.arg_dict[name][:] = value
    for name, arr in exes[0].aux_dict.items():
        value = np.ones(arr.shape, np.float32) if name.endswith("var") else \
            np.zeros(arr.shape, np.float32)
        for ex in exes:
            ex.aux_dict[name][:] = value
    return exes


def _check_step(cpu_ex, gpu_ex, tag):
    for ex in (cpu_ex, gpu_ex):
        ex.forward(is_train=True)
        ex.backward()
    np.testing.assert_allclose(gpu_ex.outputs[0].asnumpy(), cpu_ex.outputs[0].asnumpy(),
                               rtol=1e-4, atol=1e-5, err_msg=f"{tag}: output")
    for name, g in cpu_ex.grad_dict.items():
        if g is None or name.endswith("label"):
            continue
        np.testing.assert_allclose(gpu_ex.grad_dict[name].asnumpy(), g.asnumpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=f"{tag}: gradient of {name}")


@pytest.mark.parametrize("builder,shapes,fused", [
    (_mlp, {"data": (32, 20)}, 2),
    (_convnet, {"data": (8, 3, 12, 12)}, 1)])
def test_fused_executor_matches_cpu_and_monitor_disables_fusion(gpu, builder, shapes, fused):
    cpu_ex, gpu_ex = _bind_pair(builder(), shapes)
    assert len(gpu_ex._fusion_pairs) == fused
    assert all(gpu_ex._kernels[i].defer_bias for i, _, _ in gpu_ex._fusion_pairs)
    _check_step(cpu_ex, gpu_ex, "fused")
    seen = []
    gpu_ex.set_monitor_callback(lambda name, arr: seen.append(name))
    cpu_ex.set_monitor_callback(lambda name, arr: None)
    assert not any(gpu_ex._kernels[i].defer_bias for i, _, _ in gpu_ex._fusion_pairs)
    _check_step(cpu_ex, gpu_ex, "monitored")
    assert seen


def _data(n=64, shape=(3, 8, 8), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + shape).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.float32)
    return x, y


def _fit(sym, context, x, y, batch_size=16, epochs=2, kvstore="device"):
    mx.random.seed(7)
    mod = mx.mod.Module(sym, context=context)
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=batch_size), num_epoch=epochs,
            kvstore=kvstore, initializer=mx.init.Xavier(),
            optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9,
                                                "wd": 1e-4})
    args, aux = mod.get_params()
    return {k: v.asnumpy().copy() for k, v in list(args.items()) + list(aux.items())}


def _assert_same_params(got, want, tag):
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4,
                                   err_msg=f"{tag}: {name}")


def test_fit_on_gpu_matches_cpu(gpu):
    x, y = _data()
    want = _fit(_convnet(), [mx.cpu(0)], x, y)
    _assert_same_params(_fit(_convnet(), [mx.gpu(0)], x, y), want, "gpu(0)")


@pytest.mark.parametrize("kvstore", ["device", "local", None])
def test_fit_on_cpu_and_gpu_together_matches_cpu(gpu, kvstore):
    x, y = _data(shape=(20,))
    want = _fit(_mlp(), [mx.cpu(0)], x, y, kvstore=kvstore)
    got = _fit(_mlp(), [mx.cpu(0), mx.gpu(0)], x, y, kvstore=kvstore)
    _assert_same_params(got, want, f"[cpu(0), gpu(0)] kvstore={kvstore}")


def test_fit_on_two_gpus_matches_cpu(gpu):
    if _gpu_count() < 2:
        pytest.skip(f"needs two GPUs, {_gpu_count()} found")
    x, y = _data(shape=(20,))
    want = _fit(_mlp(), [mx.cpu(0)], x, y)
    _assert_same_params(_fit(_mlp(), [mx.gpu(0), mx.gpu(1)], x, y), want, "two GPUs")


def test_reduce_sum_into_on_one_gpu(gpu, cpu):
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((5, 7)).astype(np.float32) for _ in range(3)]
    dev = [gpu.from_host(p, 0) for p in parts]
    gpu.reduce_sum_into(dev[0], dev)                        # into a member
    np.testing.assert_allclose(gpu.to_host(dev[0]), sum(parts), rtol=1e-6)
    dst = gpu.zeros((5, 7), np.float32, 0)
    gpu.reduce_sum_into(dst, [gpu.from_host(parts[1]), parts[2]], [gpu, cpu])  # host source
    np.testing.assert_allclose(gpu.to_host(dst), parts[1] + parts[2], rtol=1e-6)
    host_dst = parts[0].copy()                             # the host summing a GPU array
    cpu.reduce_sum_into(host_dst, [host_dst, gpu.from_host(parts[1])], [cpu, gpu])
    np.testing.assert_allclose(host_dst, parts[0] + parts[1], rtol=1e-6)


def test_reduce_sum_into_across_gpus(gpu):
    count = _gpu_count()
    if count < 2:
        pytest.skip(f"needs two GPUs, {count} found")
    from gradloom_cuda import reduction
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((1000,)).astype(np.float32) for _ in range(count)]
    dev = [gpu.from_host(p, k) for k, p in enumerate(parts)]
    gpu.reduce_sum_into(dev[0], dev)            # NCCL when available, else peer copies
    np.testing.assert_allclose(gpu.to_host(dev[0]), sum(parts), rtol=1e-5)
    dst = gpu.zeros((1000,), np.float32, 1)     # not a member: peer copies
    gpu.reduce_sum_into(dst, dev[1:] + [dev[0]])
    np.testing.assert_allclose(gpu.to_host(dst), sum(parts[1:]) + gpu.to_host(dev[0]),
                               rtol=1e-5)
    print("NCCL used:", reduction.nccl_module() is not None)


def test_device_kvstore_sums_gpu_values(gpu):
    kv = mx.kv.create("device")
    rng = np.random.default_rng(2)
    parts = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    ctxs = [mx.gpu(k % _gpu_count()) for k in range(2)] + [mx.cpu(0)]
    kv.init(3, mx.nd.zeros((4, 3), ctx=mx.gpu(0)))
    kv.push(3, [mx.nd.array(p, ctx=c) for p, c in zip(parts, ctxs)])
    outs = [mx.nd.zeros((4, 3), ctx=mx.gpu(0)), mx.nd.zeros((4, 3), ctx=mx.cpu(0))]
    kv.pull(3, out=outs)
    for out in outs:
        np.testing.assert_allclose(out.asnumpy(), sum(parts), rtol=1e-6)
