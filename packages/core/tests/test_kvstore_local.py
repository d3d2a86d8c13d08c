"""The single-process kvstores 'local' and 'device' (numbers from MXNet's test_kvstore)."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import DTypeError, ParameterError, StateError, UnknownNameError

SHAPE = (4, 4)
KEYS = [5, 7, 11]
STR_KEYS = ["b", "c", "d"]


def _value(arr):
    return arr.asnumpy()


@pytest.fixture(params=["local", "device"])
def kv(request):
    return mx.kv.create(request.param)


def test_create_types_and_properties():
    for name in ("local", "device", "local_allreduce_cpu", "LOCAL"):
        kv = mx.kv.create(name)
        assert kv.type == name.lower()
        assert kv.rank == 0
        assert kv.num_workers == 1


def test_create_unknown_name_lists_registered():
    with pytest.raises(UnknownNameError) as err:
        mx.kv.create("no_such_store")
    assert "local" in str(err.value) and "device" in str(err.value)


def test_create_rejects_non_string():
    with pytest.raises(DTypeError):
        mx.kv.create(3)


def test_init_push_pull_single_key(kv):
    kv.init(3, mx.nd.zeros(SHAPE))
    kv.push(3, mx.nd.ones(SHAPE))
    out = mx.nd.empty(SHAPE)
    kv.pull(3, out=out)
    np.testing.assert_array_equal(_value(out), np.ones(SHAPE))
    kv.init(4, mx.nd.ones(SHAPE) * 4)
    kv.pull(4, out=out)
    np.testing.assert_array_equal(_value(out), 4 * np.ones(SHAPE))


def test_push_list_sums_and_never_pushed_key_pulls_init(kv):
    kv.init(3, mx.nd.zeros(SHAPE))
    kv.init(9, mx.nd.zeros(SHAPE))
    kv.push(3, [mx.nd.ones(SHAPE)] * 4)
    out = mx.nd.empty(SHAPE)
    kv.pull(3, out=out)
    np.testing.assert_array_equal(_value(out), 4 * np.ones(SHAPE))
    kv.pull(9, out=out)
    np.testing.assert_array_equal(_value(out), np.zeros(SHAPE))


def test_key_lists_str_keys(kv):
    kv.init(STR_KEYS, [mx.nd.zeros(SHAPE)] * 3)
    kv.push(STR_KEYS, [mx.nd.ones(SHAPE) * 4] * 3)
    outs = [mx.nd.empty(SHAPE) for _ in STR_KEYS]
    kv.pull(STR_KEYS, out=outs)
    for out in outs:
        np.testing.assert_array_equal(_value(out), 4 * np.ones(SHAPE))


def test_aggregation_over_four_devices(kv):
    devs = [mx.cpu(i) for i in range(4)]
    kv.init(3, mx.nd.zeros(SHAPE))
    kv.push(3, [mx.nd.ones(SHAPE, ctx=d) for d in devs])
    outs = [mx.nd.empty(SHAPE, ctx=d) for d in devs]
    kv.pull(3, out=outs)
    for out in outs:
        np.testing.assert_array_equal(_value(out), 4 * np.ones(SHAPE))
    kv.init(KEYS, [mx.nd.zeros(SHAPE)] * 3)
    kv.push(KEYS, [[mx.nd.ones(SHAPE, ctx=d) * 2.0 for d in devs]] * 3)
    outs = [[mx.nd.empty(SHAPE, ctx=d) for d in devs] for _ in KEYS]
    kv.pull(KEYS, out=outs)
    for per_key in outs:
        for out in per_key:
            np.testing.assert_array_equal(_value(out), 8 * np.ones(SHAPE))


def test_updater_accumulates(kv):
    def updater(key, recv, local):
        local += recv
    kv._set_updater(updater)
    devs = [mx.cpu(i) for i in range(4)]
    kv.init(3, mx.nd.zeros(SHAPE))
    kv.push(3, [mx.nd.ones(SHAPE, ctx=d) for d in devs])
    out = mx.nd.empty(SHAPE)
    kv.pull(3, out=out)
    np.testing.assert_array_equal(_value(out), 4 * np.ones(SHAPE))
    for _ in range(3):
        kv.push(3, [mx.nd.ones(SHAPE, ctx=d) for d in devs])
    kv.pull(3, out=out)
    np.testing.assert_array_equal(_value(out), 16 * np.ones(SHAPE))


def test_push_without_updater_replaces():
    kv = mx.kv.create("local")
    kv.init("w", mx.nd.zeros((1,)))
    kv.push("w", [mx.nd.array([1.0]), mx.nd.array([2.0])])
    out = mx.nd.empty((1,))
    kv.pull("w", out=out)
    assert out.asnumpy()[0] == 3.0
    kv.push("w", mx.nd.array([1.0]))
    kv.pull("w", out=out)
    assert out.asnumpy()[0] == 1.0


def test_pushpull_and_broadcast(kv):
    kv.init("w", mx.nd.ones((2,)) * 5)
    vals = [mx.nd.ones((2,)), mx.nd.ones((2,))]
    kv.pushpull("w", vals)
    for v in vals:
        np.testing.assert_array_equal(v.asnumpy(), [2.0, 2.0])
    outs = [mx.nd.zeros((2,)), mx.nd.zeros((2,))]
    kv.broadcast("b", mx.nd.array([7.0, 8.0]), out=outs)
    for o in outs:
        np.testing.assert_array_equal(o.asnumpy(), [7.0, 8.0])


def test_set_optimizer_runs_sgd_on_store(kv):
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=1.0, rescale_grad=1.0))
    kv.init("w", mx.nd.ones((1,)))
    kv.push("w", [mx.nd.ones((1,)), mx.nd.ones((1,))])
    out = mx.nd.empty((1,))
    kv.pull("w", out=out)
    assert out.asnumpy()[0] == -1.0


def test_mixing_key_types_and_uninitialised_keys_raise(kv):
    kv.init(1, mx.nd.zeros(SHAPE))
    with pytest.raises(ParameterError, match="int keys"):
        kv.init("a", mx.nd.zeros(SHAPE))
    with pytest.raises(ParameterError):
        kv.push("a", mx.nd.zeros(SHAPE))
    with pytest.raises(StateError, match="init"):
        kv.push(2, mx.nd.ones(SHAPE))
    with pytest.raises(StateError):
        kv.pull(2, out=mx.nd.empty(SHAPE))


def test_optimizer_states_round_trip(tmp_path):
    kv = mx.kv.create("local")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    kv.init("w", mx.nd.ones((3,)))
    kv.push("w", mx.nd.ones((3,)))
    fname = str(tmp_path / "kv.states")
    kv.save_optimizer_states(fname)
    other = mx.kv.create("local")
    other.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    other.load_optimizer_states(fname)
    np.testing.assert_allclose(np.asarray(other._updater.states["w"].asnumpy()
                                          if hasattr(other._updater.states["w"], "asnumpy")
                                          else other._updater.states["w"]),
                               np.full((3,), -0.1), rtol=1e-6)


def test_allreduce_flat_is_identity_for_one_process():
    kv = mx.kv.create("local")
    buf = np.arange(6, dtype=np.float32)
    kv.allreduce_flat(buf)
    kv.broadcast_flat(buf)
    np.testing.assert_array_equal(buf, np.arange(6, dtype=np.float32))


def test_a_single_process_store_trains_on_all_batches_and_keeps_metrics():
    kv = mx.kv.create("local")
    it = mx.io.NDArrayIter(np.arange(12, dtype=np.float32).reshape(6, 2), batch_size=2)
    assert kv.shard(it) is it
    metric = mx.metric.create("acc")
    metric.update([mx.nd.array([1, 0])], [mx.nd.array([[0.2, 0.8], [0.9, 0.1]])])
    assert kv.reduce_metric(metric) is metric
    assert metric.get() == ("accuracy", 1.0) and metric.num_inst == 2


@pytest.fixture
def own_plugin_state():
    """A plugin state of this test's own, so a store it registers does not outlive it."""
    from gradloom.plugins import build_state, set_state
    previous = set_state(build_state())
    yield
    set_state(previous)


def test_mxnet_capability_names_and_registering_a_store_class(own_plugin_state):
    kv = mx.kv.create("local")
    assert kv.is_capable(mx.kv.KVStoreBase.OPTIMIZER) and kv.is_capable("optimizer")
    assert mx.kv.create("device").is_capable("optimizer")
    assert not kv.is_capable("distributed-training-of-the-future")

    @mx.kv.KVStoreBase.register
    class EchoStore(mx.kv.KVStoreBase):
        """Keeps the last value pushed per key."""

        def init(self, key, value):
            self.values = {key: value}

        def push(self, key, value, priority=0):
            self.values[key] = value

        def pull(self, key, out=None, priority=0, ignore_sparse=True):
            out[:] = self.values[key]

    store = mx.kv.create("EchoStore")
    assert isinstance(store, EchoStore) and store.type == "echostore"
    store.init("w", mx.nd.zeros((2,)))
    store.push("w", mx.nd.ones((2,)) * 3)
    out = mx.nd.zeros((2,))
    store.pull("w", out=out)
    np.testing.assert_array_equal(out.asnumpy(), [3, 3])
