"""MXNet's pickled ``.states`` files import without unpickling and resume as MXNet resumed.

The fixtures in ``data/mxnet-states`` were written by MXNet 1.9.1
(``scripts/make_mxnet_state_fixtures.py``): a checkpoint after 3 steps, and the parameters
MXNet itself reached after loading it into a fresh Module and taking one more step.
"""
import os
import pickle
import warnings

import numpy as np
import pytest

import gradloom as mx
from gradloom import checkpoint
from gradloom.base import FormatError, ParameterError
from gradloom.mxnet_states import states_by_name

DATA = os.path.join(os.path.dirname(__file__), "data", "mxnet-states")
CASES = {
    # case: (devices, kvstore, optimizer, optimizer params) as the MXNet run used them
    "sgd-1dev": (1, None, "sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
    "sgd-2dev": (2, "local", "sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
    "adam-kvstore": (2, "local", "adam", {"learning_rate": 0.01}),
}
SHAPES = {"data_shapes": [("data", (8, 6))], "label_shapes": [("softmax_label", (8,))]}


def _resume(case, load_states=True):
    """Module.load the MXNet checkpoint, take MXNet's 4th step; (params, MXNet's params)."""
    devices, kvstore, optimizer, params = CASES[case]
    expected = np.load(os.path.join(DATA, f"{case}-next.npz"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mod = mx.mod.Module.load(os.path.join(DATA, case), 1, load_optimizer_states=load_states,
                                 context=[mx.cpu(i) for i in range(devices)])
    mod.bind(**SHAPES)
    mod.init_optimizer(kvstore=kvstore, optimizer=optimizer, optimizer_params=params)
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(expected["data"])],
                                         [mx.nd.array(expected["label"])]))
    mod.update()
    args, _ = mod.get_params()
    return {k: v.asnumpy() for k, v in args.items()}, expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_resuming_from_mxnet_states_takes_mxnets_next_step(case):
    got, expected = _resume(case)
    for name, value in got.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # the states matter: without them the step lands elsewhere
    fresh, _ = _resume(case, load_states=False)
    assert max(np.abs(fresh[n] - expected[n]).max() for n in fresh) > 1e-3


def test_keys_become_parameter_names_for_every_layout():
    names = ["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"]
    for case in CASES:
        with pytest.warns(UserWarning, match="no update counts"):
            states, meta = checkpoint.load_optimizer_states(
                os.path.join(DATA, f"{case}-0001.states"))
        assert meta is None
        by_name = states_by_name(states, names, names, case)
        assert sorted(by_name) == sorted(names)
        slots = 2 if case.startswith("adam") else 1
        assert all(len(v) == slots for v in by_name.values())
        assert by_name["fc1_weight"][0].shape == (5, 6)
        assert by_name["fc2_bias"][0].shape == (3,)
    # two devices: index * 2 + device; device 0's state is taken
    states = {0: ("w0",), 1: ("w1",), 2: ("b0",), 3: ("b1",)}
    assert states_by_name(states, ["w", "b"], ["w", "b"], "f") == \
        {"w": ("w0",), "b": ("b0",)}
    # a fixed parameter had no state: the indices skip it
    states = {0: ("w0",), 1: ("w1",), 4: ("v0",), 5: ("v1",)}
    assert states_by_name(states, ["w", "b", "v"], ["w", "v"], "f") == \
        {"w": ("w0",), "v": ("v0",)}


def test_explicit_load_into_a_module_and_updater_set_states():
    devices, kvstore, optimizer, params = CASES["sgd-1dev"]
    fname = os.path.join(DATA, "sgd-1dev-0001.states")
    mod = mx.mod.Module.load(os.path.join(DATA, "sgd-1dev"), 1)
    mod.bind(**SHAPES)
    mod.init_optimizer(optimizer=optimizer, optimizer_params=params)
    with pytest.warns(UserWarning, match="written by MXNet"):
        mod.load_optimizer_states(fname)
    with open(fname, "rb") as f:
        raw = f.read()
    updater = mx.optimizer.get_updater(mx.optimizer.create("sgd", momentum=0.9))
    with pytest.warns(UserWarning):
        updater.set_states(raw)
    assert sorted(updater.states) == [0, 1, 2, 3]   # MXNet's own index keys
    assert updater.states[0].shape == (5, 6)


def test_hostile_and_foreign_pickles_are_refused_without_running_anything(tmp_path):
    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    hostile = tmp_path / "hostile.states"
    hostile.write_bytes(pickle.dumps({0: Hostile()}))
    with pytest.raises(FormatError, match="system"):
        checkpoint.load_optimizer_states(str(hostile))
    assert not marker.exists()

    # MXNet's dump_optimizer=True: a pickled optimizer object after the states
    with_optimizer = tmp_path / "with-optimizer.states"
    with_optimizer.write_bytes(b"\x80\x02(}cmxnet.optimizer.optimizer\nSGD\n)Rt.")
    with pytest.raises(FormatError, match="dump_optimizer=True"):
        checkpoint.load_optimizer_states(str(with_optimizer))

    with open(os.path.join(DATA, "sgd-1dev-0001.states"), "rb") as f:
        raw = f.read()
    truncated = tmp_path / "truncated.states"
    truncated.write_bytes(raw[:300])
    with pytest.raises(FormatError, match="truncated.states"):
        checkpoint.load_optimizer_states(str(truncated))
    # a record inside the pickle damaged: the array parser names the problem
    damaged = tmp_path / "damaged.states"
    at = raw.index(b"\xc9\xfa\x93\xf9")
    damaged.write_bytes(raw[:at] + b"\x00\x00\x00\x00" + raw[at + 4:])
    with pytest.raises(FormatError, match="damaged.states"):
        checkpoint.load_optimizer_states(str(damaged))


def _other_module(no_bias):
    """A module whose parameters are not those of the fixtures' network."""
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="a", no_bias=no_bias)
    net = mx.sym.FullyConnected(net, num_hidden=3, name="b")
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(net, name="softmax"))
    mod.bind(**SHAPES)
    mod.init_params()
    mod.init_optimizer(optimizer="sgd", optimizer_params={"momentum": 0.9})
    return mod


@pytest.mark.parametrize("no_bias, case, match", [
    (True, "sgd-1dev", "index keys"),    # 4 keys for 3 parameters: no device count fits
    (False, "sgd-1dev", "shape"),        # 4 keys for 4 parameters of other shapes
])
def test_states_of_another_network_leave_the_module_unchanged(no_bias, case, match):
    mod = _other_module(no_bias)
    mod.forward_backward(mx.io.DataBatch([mx.nd.ones((8, 6))], [mx.nd.zeros((8,))]))
    mod.update()   # states are no longer zeros
    kept = mod._updater.states_by_name()
    with pytest.warns(UserWarning), pytest.raises(ParameterError, match=match):
        mod.load_optimizer_states(os.path.join(DATA, f"{case}-0001.states"))
    after = mod._updater.states_by_name()
    assert sorted(after) == sorted(kept)
    for name in kept:
        for a, b in zip(after[name], kept[name]):
            np.testing.assert_array_equal(a, b)
