"""``Backend.reduce_sum_into``: the generic version (host staging) that the CUDA backend
overrides, and its callers (Module gradient summation, ``device``/``local`` kvstores).

These run without a GPU: a second, host-memory "device" backend stands in for arrays that
the destination backend does not own, so the staging path is exercised for real.
"""
import numpy as np
import pytest

import gradloom as mx
from gradloom.backend import Backend


class Boxed(np.ndarray):
    """Arrays of the stand-in backend (a distinct type, as cupy arrays are)."""


class BoxBackend(Backend):
    device_type = "box"
    package = "tests"

    def __init__(self):
        super().__init__()
        self.host_copies = 0

    @property
    def xp(self):
        return np

    def device_count(self):
        return 1

    def owns(self, array):
        return isinstance(array, Boxed)

    def to_host(self, array):
        self.host_copies += 1
        return np.array(array.view(np.ndarray), copy=True)

    def from_host(self, array, device_id=0):
        return np.array(array, copy=True).view(Boxed)


def _values(n=3, shape=(4, 5), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def test_sum_into_a_member_adds_the_others(cpu):
    a, b, c = _values()
    expected = a + b + c
    cpu.reduce_sum_into(a, [a, b, c])
    np.testing.assert_allclose(a, expected, rtol=1e-6)


def test_sum_into_a_separate_array_overwrites_it(cpu):
    a, b = _values(2)
    dst = np.full_like(a, 99.0)
    cpu.reduce_sum_into(dst, [a, b])
    np.testing.assert_allclose(dst, a + b, rtol=1e-6)
    cpu.reduce_sum_into(dst, [b])          # one term: a copy
    np.testing.assert_array_equal(dst, b)
    cpu.reduce_sum_into(dst, [])           # no terms: zeros
    assert not dst.any()


def test_arrays_of_another_backend_are_staged_through_the_host(cpu):
    box = BoxBackend()
    a, b, c = _values()
    boxed_b = box.from_host(b)
    dst = a.copy()
    cpu.reduce_sum_into(dst, [dst, boxed_b, c], [cpu, box, cpu])
    np.testing.assert_allclose(dst, a + b + c, rtol=1e-6)
    assert box.host_copies == 1
    # and the other way round: the stand-in backend sums host arrays into its own
    home = box.from_host(a)
    box.reduce_sum_into(home, [home, b, c], [box, cpu, cpu])
    np.testing.assert_allclose(home.view(np.ndarray), a + b + c, rtol=1e-6)
    fresh = box.from_host(np.zeros_like(a))
    box.reduce_sum_into(fresh, [b, c], [cpu, cpu])
    np.testing.assert_allclose(fresh.view(np.ndarray), b + c, rtol=1e-6)


def test_module_gradient_summation_goes_through_the_backend(monkeypatch):
    from gradloom.module.params import FlatBuffers
    calls = []
    original = Backend.reduce_sum_into

    def spy(self, dst, srcs, src_backends=None):
        calls.append((len(srcs), [type(b).__name__ for b in src_backends or []]))
        return original(self, dst, srcs, src_backends)

    monkeypatch.setattr(Backend, "reduce_sum_into", spy)
    bufs = FlatBuffers("float32", [("w", (2, 3), True), ("b", (3,), True)],
                       [mx.cpu(0), mx.cpu(1), mx.cpu(2)], True)
    parts = _values(3, (9,), seed=4)
    for grad, part in zip(bufs.grads, parts):
        grad[...] = part
    bufs.sum_grads_into(0, [0, 1, 2])
    np.testing.assert_allclose(bufs.grads[0], parts[0] + parts[1] + parts[2], rtol=1e-6)
    assert calls == [(3, ["CpuBackend"] * 3)]
    bufs.sum_grads_into(1, [0, 2])     # the root itself inactive: overwritten by the sum
    np.testing.assert_allclose(bufs.grads[1], bufs.grads[0] + parts[2], rtol=1e-6)


@pytest.mark.parametrize("name", ["device", "local"])
def test_kvstore_push_sums_through_the_backend(name):
    kv = mx.kv.create(name)
    a, b, c = _values()
    kv.init("w", mx.nd.array(np.zeros_like(a)))
    kv.push("w", [mx.nd.array(a, ctx=mx.cpu(0)), mx.nd.array(b, ctx=mx.cpu(1)),
                  mx.nd.array(c, ctx=mx.cpu(2))])
    out = mx.nd.zeros(a.shape)
    kv.pull("w", out=out)
    np.testing.assert_allclose(out.asnumpy(), a + b + c, rtol=1e-6)
