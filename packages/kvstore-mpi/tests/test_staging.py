"""The device path of the stores, in one process: values that live on a non-host backend
are staged through the host with ``to_host``/``copy_from_host`` (and, for
``dist_device_sync``, one worker's device copies are summed on the device first).

The "device" here is a stand-in backend whose arrays are not numpy arrays, registered
through the ordinary plugin hook, so the store can only reach them through the Backend API.
"""
import numpy as np
import pytest

import gradloom
from gradloom.backend import Backend
from gradloom.context import Context
from gradloom.plugins import build_state, set_state
from gradloom_mpi.comm import SingleProcess
from gradloom_mpi.kvstore import MPIKVStore


class DevArray:
    """A device array: data reachable only through its backend (counts transfers)."""

    def __init__(self, data, device):
        self._data = np.array(data, copy=True)
        self.device = device

    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)


class _DevXP:
    """The few array-module functions the store uses on device arrays."""

    @staticmethod
    def array(a, copy=True):
        return DevArray(a._data, a.device)

    @staticmethod
    def add(a, b, out):
        assert a.device == b.device == out.device, "device math across devices"
        np.add(a._data, b._data, out=out._data)
        return out

    @staticmethod
    def multiply(a, b, out):
        np.multiply(a._data, b, out=out._data)
        return out


class DevBackend(Backend):
    device_type = "fakedev"
    package = "tests"

    def __init__(self):
        super().__init__()
        self.to_host_calls = 0
        self.copy_from_host_calls = 0

    @property
    def xp(self):
        return _DevXP

    def device_count(self):
        return 2

    def owns(self, array):
        return isinstance(array, DevArray)

    def device_of(self, array):
        return array.device

    def to_host(self, array):
        self.to_host_calls += 1
        return array._data.copy()

    def from_host(self, array, device_id=0):
        return DevArray(array, device_id)

    def copy_from_host(self, dst, array):
        self.copy_from_host_calls += 1
        dst._data[...] = array

    def copy_to_device(self, array, device_id):
        """Optional peer copy: the device-side sum uses it instead of a host round trip."""
        return DevArray(array._data, device_id)


class _Plugin:
    def __init__(self, backend):
        self.backend = backend

    @gradloom.hookimpl
    def gradloom_register_backends(self, register):
        register.add(self.backend)


@pytest.fixture
def dev():
    backend = DevBackend()
    previous = set_state(build_state(extra_plugins=[("fakedev-test", _Plugin(backend))]))
    try:
        yield backend
    finally:
        set_state(previous)


def nd(values, device):
    from gradloom.ndarray import NDArray
    return NDArray(DevArray(np.asarray(values, np.float32), device),
                   Context("fakedev", device))


@pytest.mark.parametrize("name,reduce_on", [("dist_sync", "host"),
                                            ("dist_device_sync", "device")])
def test_device_values_staged_through_host(dev, name, reduce_on):
    kv = MPIKVStore(name, SingleProcess(), reduce_on=reduce_on, fusion_threshold_bytes=16)
    kv.init(["w", "v"], [nd([0, 0, 0], 0), nd([5, 5], 1)])
    assert dev.to_host_calls == 2
    grads = [[nd([1, 2, 3], 0), nd([10, 20, 30], 1)], [nd([1, 1], 0), nd([2, 2], 1)]]
    dev.to_host_calls = 0
    kv.pushpull(["w", "v"], grads)
    # two devices summed for each key: on the host (4 transfers) or on device 0 with a
    # peer copy, then one transfer of the sum (2)
    assert dev.to_host_calls == (4 if reduce_on == "host" else 2)
    assert dev.copy_from_host_calls == 4            # the sum copied back to every device
    for per_device in grads[0]:
        np.testing.assert_array_equal(per_device.raw._data, [11, 22, 33])
    for per_device in grads[1]:
        np.testing.assert_array_equal(per_device.raw._data, [3, 3])
    host_out = np.zeros(3, np.float32)
    kv.pull("w", out=host_out)                      # and to plain host arrays
    np.testing.assert_array_equal(host_out, [11, 22, 33])


def test_allreduce_flat_on_device_buffer_one_worker_untouched(dev):
    kv = MPIKVStore("dist_sync", SingleProcess())
    buf = DevArray(np.arange(4, dtype=np.float32), 0)
    kv.allreduce_flat(buf)
    np.testing.assert_array_equal(buf._data, [0, 1, 2, 3])
    assert dev.to_host_calls == 0                   # one worker: nothing to move


def test_cpu_store_keys_checks():
    from gradloom.base import ParameterError, ShapeError, StateError
    kv = MPIKVStore("dist_sync", SingleProcess())
    assert kv.rank == 0 and kv.num_workers == 1 and kv.should_write_checkpoint
    with pytest.raises(StateError, match="kv.init"):
        kv.push("nope", np.zeros(2, np.float32))
    kv.init("a", np.zeros(2, np.float32))
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        kv.push("a", np.zeros(3, np.float32))
    with pytest.raises(ParameterError, match="int or str"):
        kv.init(1.5, np.zeros(2))
    with pytest.raises(ParameterError, match="str keys"):
        kv.init(3, np.zeros(2))
    with pytest.raises(ParameterError, match="out="):
        kv.pull("a")
    kv.close()
    with pytest.raises(StateError, match="closed"):
        kv.push("a", np.zeros(2, np.float32))


def test_push_replaces_and_updater_updates_stored_weight():
    kv = MPIKVStore("dist_sync", SingleProcess())
    kv.init("w", np.full(3, 1.0, np.float32))
    kv.push("w", [np.full(3, 1.0, np.float32), np.full(3, 2.0, np.float32)])
    out = np.zeros(3, np.float32)
    kv.pull("w", out=out)
    np.testing.assert_array_equal(out, 3.0)         # replaced by the sum, not accumulated
    # MXNet's check: SGD(lr=1, rescale_grad=1) on stored 1, push [1, 1] -> 1 - 2 = -1
    kv2 = MPIKVStore("dist_sync", SingleProcess())
    kv2.set_optimizer(gradloom.optimizer.create("sgd", learning_rate=1.0, rescale_grad=1.0))
    kv2.init("w", np.ones(3, np.float32))
    kv2.push("w", [np.ones(3, np.float32), np.ones(3, np.float32)])
    kv2.pull("w", out=out)
    np.testing.assert_array_equal(out, -1.0)


class MirrorComm(SingleProcess):
    """Rank 0 of two ranks whose peer holds the same values (a sum doubles them)."""

    size = 2

    def allreduce_sum(self, buffer, timeout_s=None, what="allreduce"):
        assert isinstance(buffer, np.ndarray) and buffer.flags.c_contiguous
        buffer *= 2
        return buffer


def test_allreduce_flat_stages_device_buffer_and_upcasts_half(dev):
    kv = MPIKVStore("dist_sync", MirrorComm())
    buf = DevArray(np.arange(4, dtype=np.float32), 0)
    kv.allreduce_flat(buf)
    np.testing.assert_array_equal(buf._data, [0, 2, 4, 6])
    assert (dev.to_host_calls, dev.copy_from_host_calls) == (1, 1)
    half = np.array([1.5, 2048, 3], np.float16)
    kv.allreduce_flat(half)                          # reduced in float32, cast back
    np.testing.assert_array_equal(half, np.array([3, 4096, 6], np.float16))
    avg = MPIKVStore("dist_sync", MirrorComm(), average=True)
    host = np.array([1.0, 3.0], np.float32)
    avg.allreduce_flat(host)
    np.testing.assert_array_equal(host, [1.0, 3.0])  # mean of two equal ranks
    ints = np.array([2, 4], np.int32)
    avg.allreduce_flat(ints)
    np.testing.assert_array_equal(ints, [2, 4])
    assert ints.dtype == np.int32
