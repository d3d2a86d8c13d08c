"""The optimizer-state file: NDArray container + JSON header, keyed by parameter name."""
import json
import os
import struct

import numpy as np
import pytest

import gradloom as mx
from gradloom import checkpoint
from gradloom.base import FormatError, ParameterError
from gradloom.ndarray.serialization import load_frombuffer


def _read(fname):
    with open(fname, "rb") as f:
        return f.read()


def _states():
    rng = np.random.default_rng(0)
    return {
        "fc1_weight": (rng.standard_normal((4, 3)).astype(np.float32),
                       rng.standard_normal((4, 3)).astype(np.float32)),
        "fc1_bias": (np.arange(4, dtype=np.float64),),
        "bn/gamma": (np.ones(2, np.float16),),      # a '/' inside a name round-trips
        "plain": (),                                 # plain SGD has no state arrays
    }


def test_round_trip_keeps_arrays_dtypes_and_meta(tmp_path):
    fname = str(tmp_path / "m-0003.states")
    meta = {"optimizer": {"class": "adam", "hyper_params": {"learning_rate": 0.1}},
            "num_update": 7, "update_counts": {"fc1_weight": 7}, "epoch": 3,
            "extra": {"note": "ünïcode", "list": [1, 2]}}
    checkpoint.save_optimizer_states(fname, _states(), meta)
    states, got = checkpoint.load_optimizer_states(fname)
    assert set(states) == set(_states())
    for name, slots in _states().items():
        assert len(states[name]) == len(slots)
        for a, b in zip(states[name], slots):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    for key, value in meta.items():
        assert got[key] == value
    assert got["format"] == checkpoint.FORMAT_NAME and got["version"] == 1
    assert not [f for f in os.listdir(tmp_path) if f != "m-0003.states"]   # no temp left


def test_file_is_an_ndarray_container_not_a_pickle(tmp_path):
    fname = str(tmp_path / "x.states")
    checkpoint.save_optimizer_states(fname, _states(), {"num_update": 1})
    raw = _read(fname)
    assert struct.unpack("<QQ", raw[:16]) == (0x112, 0)
    assert raw[:1] != b"\x80"
    entries = mx.nd.load(fname)                 # any NDArray reader can open it
    assert "state/fc1_weight/1" in entries and "__meta__" in entries
    header = json.loads(entries["__meta__"].asnumpy().tobytes().decode("utf-8"))
    assert header["slots"] == {"fc1_weight": 2, "fc1_bias": 1, "bn/gamma": 1, "plain": 0}


def test_bytes_round_trip():
    blob = checkpoint.dumps_optimizer_states(_states(), {"epoch": 1})
    states, meta = checkpoint.loads_optimizer_states(blob)
    np.testing.assert_array_equal(states["fc1_bias"][0], np.arange(4))
    assert meta["epoch"] == 1


@pytest.mark.parametrize("cut", [5, 30, -1, -20])
def test_truncated_file_raises_format_error_naming_it(tmp_path, cut):
    fname = str(tmp_path / "t.states")
    checkpoint.save_optimizer_states(fname, _states(), {})
    data = _read(fname)
    with open(fname, "wb") as f:
        f.write(data[:cut])
    with pytest.raises(FormatError) as err:
        checkpoint.load_optimizer_states(fname)
    assert "t.states" in str(err.value)


def test_corrupt_meta_and_wrong_kinds_raise_format_error(tmp_path):
    params = str(tmp_path / "m-0001.params")
    mx.nd.save(params, {"arg:w": mx.nd.ones((2, 2)), "aux:m": mx.nd.zeros(2)})
    with pytest.raises(FormatError, match="parameter file"):
        checkpoint.load_optimizer_states(params)

    listed = str(tmp_path / "l.nd")
    mx.nd.save(listed, [mx.nd.ones(2)])
    with pytest.raises(FormatError, match="l.nd"):
        checkpoint.load_optimizer_states(listed)

    bad_meta = str(tmp_path / "b.states")
    mx.nd.save(bad_meta, {"__meta__": mx.nd.array(np.frombuffer(b"{not json", np.uint8))})
    with pytest.raises(FormatError, match="b.states"):
        checkpoint.load_optimizer_states(bad_meta)

    # an entry removed behind the header's back
    missing = str(tmp_path / "c.states")
    entries = load_frombuffer(checkpoint.dumps_optimizer_states(_states(), {}))
    del entries["state/fc1_weight/1"]
    mx.nd.save(missing, entries)
    with pytest.raises(FormatError, match="state/fc1_weight/1"):
        checkpoint.load_optimizer_states(missing)

    pickled = str(tmp_path / "mxnet.states")
    with open(pickled, "wb") as f:
        f.write(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94(K\x00")  # no STOP
    with pytest.raises(FormatError, match="pickle"):
        checkpoint.load_optimizer_states(pickled)

    with pytest.raises(FormatError, match="does not exist"):
        checkpoint.load_optimizer_states(str(tmp_path / "nope.states"))


def test_newer_version_is_refused(tmp_path):
    fname = str(tmp_path / "v.states")
    checkpoint.save_optimizer_states(fname, {}, {"version": 99})
    with pytest.raises(FormatError, match="version 99"):
        checkpoint.load_optimizer_states(fname)


def test_failed_save_keeps_previous_file(tmp_path):
    fname = str(tmp_path / "k.states")
    checkpoint.save_optimizer_states(fname, _states(), {"epoch": 1})
    before = _read(fname)
    with pytest.raises(ParameterError):
        checkpoint.save_optimizer_states(fname, _states(), {"bad": object()})
    with pytest.raises(ParameterError):
        checkpoint.save_optimizer_states(fname, {0: (np.ones(2),)}, {})
    assert _read(fname) == before


def _train(updater, weights, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for idx, w in weights.items():
            updater(idx, mx.nd.array(rng.standard_normal(w.shape).astype(np.float32)), w)


def test_resume_by_name_across_device_counts(tmp_path):
    # written by a 2-device run (indices i*2+k), read by a 1-device run (indices i)
    idx2name_2dev = {0: "fc_weight", 1: "fc_weight", 2: "fc_bias", 3: "fc_bias"}
    opt = mx.opt.create("sgd", learning_rate=0.1, momentum=0.9, wd=0.01,
                        param_idx2name=idx2name_2dev)
    upd = mx.opt.get_updater(opt)
    w0 = {"fc_weight": np.ones((3, 2), np.float32), "fc_bias": np.zeros(3, np.float32)}
    dev = {i: mx.nd.array(w0[n]) for i, n in idx2name_2dev.items()}
    rng = np.random.default_rng(1)
    for _ in range(3):
        for name, i in (("fc_weight", 0), ("fc_bias", 2)):
            g = mx.nd.array(rng.standard_normal(w0[name].shape).astype(np.float32))
            upd(i, g, dev[i])
            upd(i + 1, g, dev[i + 1])
    fname = str(tmp_path / "r.states")
    checkpoint.save_optimizer_states(
        fname, checkpoint.updater_states_by_name(upd, idx2name_2dev),
        checkpoint.optimizer_meta(opt, idx2name_2dev, epoch=2))

    states, meta = checkpoint.load_optimizer_states(fname)
    assert meta["update_counts"] == {"fc_weight": 3, "fc_bias": 3} and meta["epoch"] == 2
    assert meta["optimizer"]["class"] == "sgd"
    assert meta["optimizer"]["hyper_params"]["momentum"] == 0.9
    idx2name_1dev = {0: "fc_weight", 1: "fc_bias"}
    opt1 = mx.opt.create("sgd", learning_rate=0.1, momentum=0.9, wd=0.01,
                         param_idx2name=idx2name_1dev)
    upd1 = mx.opt.get_updater(opt1)
    checkpoint.load_into_updater(upd1, states, idx2name_1dev, meta)
    assert opt1.num_update == 3 and opt1._index_update_count == {0: 3, 1: 3}
    one = {0: mx.nd.array(dev[0].asnumpy()), 1: mx.nd.array(dev[2].asnumpy())}
    g = {0: rng.standard_normal((3, 2)).astype(np.float32),
         1: rng.standard_normal(3).astype(np.float32)}
    for i in (0, 1):
        upd1(i, mx.nd.array(g[i]), one[i])
        upd(2 * i, mx.nd.array(g[i]), dev[2 * i])
        np.testing.assert_allclose(one[i].asnumpy(), dev[2 * i].asnumpy(), rtol=1e-6)
    assert isinstance(upd1.states[0], mx.nd.NDArray)


def test_load_into_updater_checks_slot_count():
    upd = mx.opt.get_updater(mx.opt.create("sgd", momentum=0.9))
    states = {"w_weight": (np.zeros(2), np.zeros(2))}      # Adam-shaped
    with pytest.raises(ParameterError, match="w_weight"):
        checkpoint.load_into_updater(upd, states, {0: "w_weight"})


def test_updater_states_by_name_requires_names():
    upd = mx.opt.get_updater(mx.opt.create("adagrad"))
    upd(5, mx.nd.ones(2), mx.nd.ones(2))
    with pytest.raises(ParameterError, match="5"):
        checkpoint.updater_states_by_name(upd, {0: "a"})
    st = checkpoint.updater_states_by_name(upd, {5: "a_weight"})
    np.testing.assert_allclose(st["a_weight"][0], [1.0, 1.0])


def test_optimizer_from_meta_rebuilds_class_hyper_params_and_counters():
    idx2name = {0: "fc_weight", 1: "fc_bias"}
    opt = mx.opt.create("rmsprop", learning_rate=0.05, centered=True, wd=0.01,
                        param_idx2name=idx2name)
    upd = mx.opt.get_updater(opt)
    for _ in range(3):
        upd(0, mx.nd.ones((2, 2)), mx.nd.ones((2, 2)))
    meta = checkpoint.optimizer_meta(opt, epoch=1)
    blob = checkpoint.dumps_optimizer_states(
        checkpoint.updater_states_by_name(upd, idx2name), meta)
    _, meta = checkpoint.loads_optimizer_states(blob)
    again = checkpoint.optimizer_from_meta(meta, param_idx2name=idx2name)
    assert type(again) is mx.opt.RMSProp and again.centered and again.lr == 0.05
    assert again.wd == 0.01 and again.num_update == 3
    assert again._index_update_count == {0: 3}
    sched = mx.lr_scheduler.FactorScheduler(step=2, base_lr=0.5)
    assert checkpoint.optimizer_from_meta(meta, lr_scheduler=sched).learning_rate == 0.5
    with pytest.raises(FormatError):
        checkpoint.optimizer_from_meta({"num_update": 1})
