"""Conformance cases of the fused ``RNN`` operator (ops/rnn_op.py): every mode, one and two
layers, one and two directions, with and without the state outputs.

The reference unpacks MXNet's flat parameter vector itself and runs one sample and one time
step at a time with the textbook formulas, independently of the kernel's batched matrices.
"""
import numpy as np

from . import reference as R
from .cases import Case


def _unpack(flat, a, input_size):
    """``{(layer, direction): (wx, wh, bx, bh)}`` from MXNet's layout: all weights (i2h then
    h2h per layer and direction), then all biases in the same order."""
    gates = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}[a.mode]
    h, dirs = a.state_size, 2 if a.bidirectional else 1
    keys = [(layer, d) for layer in range(a.num_layers) for d in range(dirs)]
    pos = 0

    def take(*shape):
        nonlocal pos
        size = int(np.prod(shape))
        pos += size
        return flat[pos - size:pos].reshape(shape)
    weights = {}
    for layer, d in keys:
        width = input_size if layer == 0 else dirs * h
        weights[layer, d] = [take(gates * h, width), take(gates * h, h)]
    for key in keys:
        weights[key] += [take(gates * h), take(gates * h)]
    assert pos == flat.size
    return weights


def _cell(mode, x, h, c, wx, wh, bx, bh):
    """One step for one sample: ``(h, c)`` after reading ``x``."""
    if mode in ("rnn_relu", "rnn_tanh"):
        pre = wx @ x + bx + wh @ h + bh
        return (np.maximum(pre, 0) if mode == "rnn_relu" else np.tanh(pre)), c
    if mode == "lstm":
        i, f, g, o = np.split(wx @ x + bx + wh @ h + bh, 4)
        c = R.sigmoid(f) * c + R.sigmoid(i) * np.tanh(g)
        return R.sigmoid(o) * np.tanh(c), c
    xr, xz, xn = np.split(wx @ x + bx, 3)
    hr, hz, hn = np.split(wh @ h + bh, 3)
    r, z = R.sigmoid(xr + hr), R.sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h, c


def _rnn_ref(x, aux, a, t):
    data, flat, state = x[0], x[1], x[2]
    cell = x[3] if a.mode == "lstm" else np.zeros_like(state)
    steps, batch, _ = data.shape
    dirs = 2 if a.bidirectional else 1
    weights = _unpack(flat, a, data.shape[2])
    h_out, c_out = np.zeros_like(state), np.zeros_like(state)
    seq = data
    for layer in range(a.num_layers):
        out = np.zeros((steps, batch, dirs * a.state_size))
        for d in range(dirs):
            k = layer * dirs + d
            for b in range(batch):
                h, c = state[k, b], cell[k, b]
                for s in (range(steps) if d == 0 else reversed(range(steps))):
                    h, c = _cell(a.mode, seq[s, b], h, c, *weights[layer, d])
                    out[s, b, d * a.state_size:(d + 1) * a.state_size] = h
                h_out[k, b], c_out[k, b] = h, c
        seq = out
    if not a.state_outputs:
        return [seq]
    return [seq, h_out, c_out] if a.mode == "lstm" else [seq, h_out]


def add_cases(add):
    for mode in ("rnn_relu", "rnn_tanh", "lstm", "gru"):
        for layers, bi, states in ((1, False, False), (1, True, True), (2, False, True),
                                   (2, True, False)):
            attrs = {"mode": mode, "state_size": 2, "num_layers": layers, "bidirectional": bi,
                     "state_outputs": states}
            tag = f"{layers}l-{'bi' if bi else 'uni'}{'-states' if states else ''}"
            add(Case("RNN", attrs, [(3, 2, 3)], _rnn_ref, name=f"RNN-{mode}-{tag}"))
    # p > 0 outside training: no dropout
    add(Case("RNN", {"mode": "gru", "state_size": 3, "num_layers": 2, "p": 0.5}, [(2, 2, 2)],
             _rnn_ref, is_train=False, name="RNN-gru-dropout-inference"))
