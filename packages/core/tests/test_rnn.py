"""gradloom.rnn cells: graph structure and names as MXNet, numbers against numpy."""
import json

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ParameterError, StateError

RNG = np.random.default_rng(7)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _bind(sym, shapes, values=None, grad_req="null"):
    exe = sym.simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
    values = dict(values or {})
    for name, arr in exe.arg_dict.items():
        if name not in values:
            values[name] = RNG.uniform(-0.5, 0.5, arr.shape).astype(np.float32)
        arr[:] = values[name]
    return exe, values


def _lm(seq_len, vocab=20, embed=6, hidden=8):
    cell = mx.rnn.SequentialRNNCell()
    cell.add(mx.rnn.LSTMCell(hidden, prefix="lstm_l0_"))
    cell.add(mx.rnn.LSTMCell(hidden, prefix="lstm_l1_"))
    data = mx.sym.Variable("data")
    emb = mx.sym.Embedding(data, input_dim=vocab, output_dim=embed, name="embed")
    out, _ = cell.unroll(seq_len, inputs=emb, merge_outputs=True)
    pred = mx.sym.FullyConnected(mx.sym.Reshape(out, shape=(-1, hidden)), num_hidden=vocab,
                                 name="pred")
    label = mx.sym.Reshape(mx.sym.Variable("softmax_label"), shape=(-1,))
    return mx.sym.SoftmaxOutput(pred, label, name="softmax")


def test_lstm_lm_arguments_and_shapes_match_mxnet():
    sym = _lm(5)
    assert sym.list_arguments() == [
        "data", "embed_weight", "lstm_l0_i2h_weight", "lstm_l0_i2h_bias",
        "lstm_l0_h2h_weight", "lstm_l0_h2h_bias", "lstm_l1_i2h_weight", "lstm_l1_i2h_bias",
        "lstm_l1_h2h_weight", "lstm_l1_h2h_bias", "pred_weight", "pred_bias",
        "softmax_label"]
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(data=(4, 5), softmax_label=(4, 5))
    shapes = dict(zip(sym.list_arguments(), arg_shapes))
    assert shapes["lstm_l0_i2h_weight"] == (32, 6)
    assert shapes["lstm_l1_i2h_weight"] == (32, 8)
    assert shapes["lstm_l0_h2h_weight"] == (32, 8)
    assert out_shapes == [(20, 20)] and aux_shapes == []
    assert sym.list_outputs() == ["softmax_output"]
    init = sym.attr_dict()["lstm_l0_i2h_bias"]["__init__"]
    assert json.loads(init) == ["lstmbias", {"forget_bias": 1.0}]


def test_unroll_node_names_follow_mxnet():
    cell = mx.rnn.LSTMCell(4, prefix="lstm_l0_")
    with mx.name.NameManager():
        outs, states = cell.unroll(3, inputs=mx.sym.Variable("x"), merge_outputs=False)
    assert len(outs) == 3 and len(states) == 2
    names = set(outs[-1].get_internals().list_outputs())
    for expected in ("split0_output0", "lstm_l0_begin_state_0_output",
                     "lstm_l0_begin_state_1_output", "lstm_l0_t0_i2h_output",
                     "lstm_l0_t2_h2h_output", "lstm_l0_t1_slice_output3",
                     "lstm_l0_t1_i_output", "lstm_l0_t1_f_output", "lstm_l0_t1_c_output",
                     "lstm_l0_t1_o_output", "lstm_l0_t2_state_output",
                     "lstm_l0_t2_out_output"):
        assert expected in names, expected
    assert states[1].name == "lstm_l0_t2_state"
    begin = cell.begin_state()
    assert [b.name for b in begin] == ["lstm_l0_begin_state_2", "lstm_l0_begin_state_3"]
    assert begin[0].attr("__layout__") == "NC"
    assert cell.state_info == [{"shape": (0, 4), "__layout__": "NC"}] * 2


def _np_lstm(x, params, prefix, h0, c0):
    """x: (N, T, C) -> outputs (N, T, H); gates i, f, c, o."""
    wi, bi = params[prefix + "i2h_weight"], params[prefix + "i2h_bias"]
    wh, bh = params[prefix + "h2h_weight"], params[prefix + "h2h_bias"]
    h, c = h0, c0
    n_hidden = wh.shape[1]
    outs = []
    for t in range(x.shape[1]):
        gates = x[:, t] @ wi.T + bi + h @ wh.T + bh
        i, f, g, o = (gates[:, k * n_hidden:(k + 1) * n_hidden] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, axis=1), h, c


def test_two_layer_lstm_lm_forward_matches_numpy():
    n, t, vocab, embed, hidden = 3, 4, 20, 6, 8
    sym = _lm(t, vocab, embed, hidden)
    data = RNG.integers(0, vocab, (n, t)).astype(np.float32)
    exe, values = _bind(sym, {"data": (n, t), "softmax_label": (n, t)},
                        {"data": data, "softmax_label": np.zeros((n, t), np.float32)})
    exe.forward(is_train=False)
    x = values["embed_weight"][data.astype(int)]
    zeros = np.zeros((n, hidden), np.float32)
    h1, _, _ = _np_lstm(x, values, "lstm_l0_", zeros, zeros)
    h2, _, _ = _np_lstm(h1, values, "lstm_l1_", zeros, zeros)
    logits = h2.reshape(-1, hidden) @ values["pred_weight"].T + values["pred_bias"]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), expected, rtol=1e-4, atol=1e-6)


def test_lstm_gradient_matches_finite_differences():
    n, t, c, hidden = 2, 3, 3, 4
    cell = mx.rnn.LSTMCell(hidden, prefix="l_")
    out, _ = cell.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    loss = mx.sym.MakeLoss(mx.sym.sum(out * mx.sym.Variable("w")))
    rng = np.random.default_rng(3)
    w = rng.standard_normal((n, t, hidden))
    exe, values = _bind(loss, {"x": (n, t, c), "w": (n, t, hidden)}, {"w": w}, "write")
    exe.forward(is_train=True)
    exe.backward()
    analytic = exe.grad_dict["l_h2h_weight"].asnumpy().astype(np.float64)
    vals = {k: v.astype(np.float64) for k, v in values.items()}

    def f(wh):
        vals["l_h2h_weight"] = wh
        out, _, _ = _np_lstm(vals["x"], vals, "l_", np.zeros((n, hidden)),
                             np.zeros((n, hidden)))
        return float((out * w).sum())

    base = vals["l_h2h_weight"].copy()
    numeric = np.zeros_like(base)
    eps = 1e-6
    for idx in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric[idx] = (f(plus) - f(minus)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-3, atol=1e-4)


def test_gru_and_rnn_cells_match_numpy():
    n, t, c, hidden = 2, 3, 5, 4
    x = RNG.standard_normal((n, t, c)).astype(np.float32)
    gru = mx.rnn.GRUCell(hidden, prefix="g_")
    out, _ = gru.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    exe, v = _bind(out, {"x": (n, t, c)}, {"x": x})
    exe.forward()
    h = np.zeros((n, hidden), np.float32)
    expected = []
    for step in range(t):
        i2h = x[:, step] @ v["g_i2h_weight"].T + v["g_i2h_bias"]
        h2h = h @ v["g_h2h_weight"].T + v["g_h2h_bias"]
        r = _sigmoid(i2h[:, :hidden] + h2h[:, :hidden])
        z = _sigmoid(i2h[:, hidden:2 * hidden] + h2h[:, hidden:2 * hidden])
        cand = np.tanh(i2h[:, 2 * hidden:] + r * h2h[:, 2 * hidden:])
        h = (1 - z) * cand + z * h
        expected.append(h)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), np.stack(expected, 1), rtol=1e-5,
                               atol=1e-6)

    rnn = mx.rnn.RNNCell(hidden, activation="relu", prefix="r_")
    out, states = rnn.unroll(t, inputs=mx.sym.Variable("x"), layout="NTC",
                             merge_outputs=False)
    exe, v = _bind(mx.sym.Group(out), {"x": (n, t, c)}, {"x": x})
    exe.forward()
    h = np.zeros((n, hidden), np.float32)
    for step in range(t):
        h = np.maximum(x[:, step] @ v["r_i2h_weight"].T + v["r_i2h_bias"]
                       + h @ v["r_h2h_weight"].T + v["r_h2h_bias"], 0)
        np.testing.assert_allclose(exe.outputs[step].asnumpy(), h, rtol=1e-5, atol=1e-6)


def test_time_major_layout_gives_same_numbers():
    n, t, c, hidden = 2, 3, 4, 5
    x = RNG.standard_normal((n, t, c)).astype(np.float32)
    results = []
    for layout, data in (("NTC", x), ("TNC", x.transpose(1, 0, 2).copy())):
        cell = mx.rnn.LSTMCell(hidden, prefix="l_")
        out, _ = cell.unroll(t, inputs=mx.sym.Variable("x"), layout=layout,
                             merge_outputs=True)
        exe, _ = _bind(out, {"x": data.shape},
                       {"x": data, **{k: np.full(s, 0.1 * (i + 1), np.float32) for i, (k, s) in
                                      enumerate([("l_i2h_weight", (4 * hidden, c)),
                                                 ("l_i2h_bias", (4 * hidden,)),
                                                 ("l_h2h_weight", (4 * hidden, hidden)),
                                                 ("l_h2h_bias", (4 * hidden,))])}})
        exe.forward()
        res = exe.outputs[0].asnumpy()
        results.append(res if layout == "NTC" else res.transpose(1, 0, 2))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_pack_and_unpack_weights_round_trip():
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.LSTMCell(3, prefix="lstm_l0_"))
    stack.add(mx.rnn.GRUCell(3, prefix="gru_l1_"))
    args = {
        "lstm_l0_i2h_weight": mx.nd.array(RNG.standard_normal((12, 2))),
        "lstm_l0_i2h_bias": mx.nd.array(np.arange(12)),
        "lstm_l0_h2h_weight": mx.nd.array(RNG.standard_normal((12, 3))),
        "lstm_l0_h2h_bias": mx.nd.array(RNG.standard_normal(12)),
        "gru_l1_i2h_weight": mx.nd.array(RNG.standard_normal((9, 3))),
        "gru_l1_i2h_bias": mx.nd.array(RNG.standard_normal(9)),
        "gru_l1_h2h_weight": mx.nd.array(RNG.standard_normal((9, 3))),
        "gru_l1_h2h_bias": mx.nd.array(RNG.standard_normal(9)),
    }
    unpacked = stack.unpack_weights(args)
    assert "lstm_l0_i2h_f_bias" in unpacked and "gru_l1_h2h_z_weight" in unpacked
    assert "lstm_l0_i2h_weight" not in unpacked
    np.testing.assert_array_equal(unpacked["lstm_l0_i2h_f_bias"].asnumpy(), [3, 4, 5])
    assert unpacked["lstm_l0_h2h_o_weight"].shape == (3, 3)
    packed = stack.pack_weights(unpacked)
    assert set(packed) == set(args)
    for name, value in args.items():
        np.testing.assert_array_equal(packed[name].asnumpy(), value.asnumpy())


def test_shared_params_give_shared_weights():
    params = mx.rnn.RNNParams("shared_")
    a = mx.rnn.RNNCell(4, prefix="shared_", params=params)
    b = mx.rnn.RNNCell(4, prefix="shared_", params=params)
    out_a, _ = a.unroll(2, inputs=mx.sym.Variable("x"), merge_outputs=True)
    out_b, _ = b.unroll(2, inputs=out_a, merge_outputs=True)
    weights = [n for n in out_b.list_arguments() if n.endswith("weight")]
    assert weights == ["shared_i2h_weight", "shared_h2h_weight"]
    seq = mx.rnn.SequentialRNNCell(params=mx.rnn.RNNParams())
    child = mx.rnn.RNNCell(4, prefix="c_")
    child.params  # noqa: B018 - reading params makes them shared
    with pytest.raises(ParameterError, match="not both"):
        seq.add(child)


def test_bidirectional_cell_concatenates_forward_and_reversed_backward():
    n, t, c, hidden = 2, 4, 3, 2
    x = RNG.standard_normal((n, t, c)).astype(np.float32)
    bi = mx.rnn.BidirectionalCell(mx.rnn.LSTMCell(hidden, prefix="l_"),
                                  mx.rnn.LSTMCell(hidden, prefix="r_"))
    out, states = bi.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    assert len(states) == 4
    exe, v = _bind(out, {"x": (n, t, c)}, {"x": x})
    exe.forward()
    zeros = np.zeros((n, hidden), np.float32)
    left, _, _ = _np_lstm(x, v, "l_", zeros, zeros)
    right, _, _ = _np_lstm(x[:, ::-1], v, "r_", zeros, zeros)
    expected = np.concatenate([left, right[:, ::-1]], axis=2)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="cannot be stepped"):
        bi(mx.sym.Variable("y"), [])


def test_modifier_cells():
    n, t, c = 2, 3, 4
    x = RNG.standard_normal((n, t, c)).astype(np.float32)
    base = mx.rnn.RNNCell(c, prefix="r_")
    res = mx.rnn.ResidualCell(base)
    out, _ = res.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    plain = mx.rnn.RNNCell(c, prefix="r_")
    ref, _ = plain.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    exe, v = _bind(out, {"x": (n, t, c)}, {"x": x})
    exe.forward()
    ref_exe, _ = _bind(ref, {"x": (n, t, c)}, v)
    ref_exe.forward()
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), ref_exe.outputs[0].asnumpy() + x,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(StateError, match="modifier"):
        base.begin_state()

    # Dropout and zoneout are the identity at inference
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.ZoneoutCell(mx.rnn.RNNCell(c, prefix="z_"), zoneout_outputs=0.5,
                                 zoneout_states=0.5))
    stack.add(mx.rnn.DropoutCell(0.5))
    out, _ = stack.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    plain = mx.rnn.RNNCell(c, prefix="z_")
    ref, _ = plain.unroll(t, inputs=mx.sym.Variable("x"), merge_outputs=True)
    exe, v = _bind(out, {"x": (n, t, c)}, {"x": x})
    exe.forward(is_train=False)
    ref_exe, _ = _bind(ref, {"x": (n, t, c)}, v)
    ref_exe.forward(is_train=False)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), ref_exe.outputs[0].asnumpy(),
                               rtol=1e-6)
    # in training, zoneout keeps each unit's previous value or takes the new one
    exe.forward(is_train=True)
    assert np.all(np.isfinite(exe.outputs[0].asnumpy()))
    with pytest.raises(ParameterError):
        mx.rnn.DropoutCell(1.5)


def test_unroll_input_errors():
    cell = mx.rnn.LSTMCell(3)
    with pytest.raises(ParameterError, match="one symbol per time step"):
        cell.unroll(3, inputs=[mx.sym.Variable("a"), mx.sym.Variable("b")])
    with pytest.raises(ParameterError, match="time axis"):
        cell.unroll(3, inputs=mx.sym.Variable("a"), layout="NC")
