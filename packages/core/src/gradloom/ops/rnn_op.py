"""The fused recurrent operator ``RNN`` (MXNet 1.9.1): rnn_relu, rnn_tanh, lstm and gru,
stacked and optionally bidirectional, with back-propagation through time.

Layout as MXNet's: ``data`` is time-major ``(T, N, I)``; ``parameters`` is one flat vector
holding, for every layer and direction in turn, the i2h weight ``(G*H, in)`` then the h2h
weight ``(G*H, H)``, followed by all biases in the same order (i2h bias, h2h bias). Gate
order: LSTM i, f, g, o; GRU r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

Deliberate differences from MXNet: dropout between layers (``p``) draws from the backend's
generator, so its masks differ from MXNet's; ``projection_size``, the LSTM state clip and
``use_sequence_length`` are rejected with ``AttributeValueError``; with an unknown input
size the parameter count stays unknown (MXNet computes it with input size 0).
"""
import numpy as np

from ..base import AttributeValueError, ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge
from ._math import _relu, _relu_grad, _sigmoid, _sigmoid_grad, _tanh, _tanh_grad
from .opdef import OpDef, Param, choice, optional, parse_bool, parse_float, parse_int

GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def layer_inputs(attrs, input_size):
    """Input width of each layer: the data's, then both directions' hidden states."""
    dirs = 2 if attrs.bidirectional else 1
    return [input_size] + [dirs * attrs.state_size] * (attrs.num_layers - 1)


def param_size(attrs, input_size):
    """Length of the flat parameter vector (MXNet's ``GetRnnParamSize``)."""
    g, h = GATES[attrs.mode], attrs.state_size
    dirs = 2 if attrs.bidirectional else 1
    return sum(dirs * g * h * (n + h + 2) for n in layer_inputs(attrs, input_size))


def param_layout(attrs, input_size):
    """``[(layer, dir, (wx, wh, bx, bh))]``: each piece as ``(offset, shape)`` in the vector."""
    g, h = GATES[attrs.mode], attrs.state_size
    dirs = 2 if attrs.bidirectional else 1
    pieces, offset = [], 0
    for layer, n in enumerate(layer_inputs(attrs, input_size)):
        for d in range(dirs):
            wx, offset = (offset, (g * h, n)), offset + g * h * n
            wh, offset = (offset, (g * h, h)), offset + g * h * h
            pieces.append([layer, d, wx, wh])
    for piece in pieces:       # biases come after every weight
        bx, offset = (offset, (g * h,)), offset + g * h
        bh, offset = (offset, (g * h,)), offset + g * h
        piece += [bx, bh]
    return [(p[0], p[1], tuple(p[2:])) for p in pieces]


class RNNKernel(OpKernel):
    def setup(self):
        xp, a = self.xp, self.attrs
        self.T, self.N, self.I = self.in_shapes[0]
        self.H, self.L = a.state_size, a.num_layers
        self.D = 2 if a.bidirectional else 1
        self.G = GATES[a.mode]
        dtype = self.dtypes["in"][0]
        T, N, H, GH = self.T, self.N, self.H, self.G * self.H
        widths = layer_inputs(a, self.I)
        # parameters are copied into one contiguous vector so the weight views are fixed
        size = param_size(a, self.I)
        self.params = xp.empty(size, dtype=dtype)
        self.dparams = xp.empty(size, dtype=dtype)

        def views(vec):
            return {(l, d): [vec[o:o + int(np.prod(s))].reshape(s) for o, s in pieces]
                    for l, d, pieces in param_layout(a, self.I)}
        self.w, self.dw = views(self.params), views(self.dparams)

        def seq(width=H):
            return xp.empty((T, N, width), dtype=dtype)
        # kept for backward, per (layer, direction): activated gates, the state each step
        # started from, the state it produced; LSTM adds cells, GRU the h2h n-gate term
        keys = [(l, d) for l in range(self.L) for d in range(self.D)]
        self.gates = {k: seq(GH) for k in keys}
        self.hprev = {k: seq() for k in keys}
        self.hs = {k: seq() for k in keys}
        self.cprev = {k: seq() for k in keys} if a.mode == "lstm" else {}
        self.cs = {k: seq() for k in keys} if a.mode == "lstm" else {}
        self.tanhc = {k: seq() for k in keys} if a.mode == "lstm" else {}
        self.hwn = {k: seq() for k in keys} if a.mode == "gru" else {}
        self.ys = [seq(self.D * H) for _ in range(self.L)]          # layer outputs
        # dropout between layers: mask and the dropped output the next layer reads
        self.p = a.p
        self.dropped = [seq(self.D * H) for _ in range(self.L - 1)] if a.p > 0 else []
        self.masks = [seq(self.D * H) for _ in range(self.L - 1)] if a.p > 0 else []
        self.uniform = xp.empty((T, N, self.D * H), dtype=np.float32) if a.p > 0 else None
        self.keep = xp.empty((T, N, self.D * H), dtype=bool) if a.p > 0 else None
        self.scale = 1.0 / (1.0 - a.p) if a.p < 1 else 0.0
        self.dropout_used = False
        # per-step and backward workspace
        self.hw = xp.empty((N, GH), dtype=dtype)
        self.tmp = xp.empty((N, H), dtype=dtype)
        self.dh = xp.empty((N, H), dtype=dtype)
        self.dc = xp.empty((N, H), dtype=dtype)
        self.dh_next = xp.empty((N, H), dtype=dtype)
        self.dc_next = xp.empty((N, H), dtype=dtype)
        self.dxw = seq(GH)                                   # pre-activation gradients
        self.dhw = seq(GH) if a.mode == "gru" else self.dxw   # h2h ones differ for GRU
        self.dx = [seq(n) for n in widths]                    # gradient of each layer input
        self.dx_other = [seq(n) for n in widths] if self.D == 2 else None
        self.dstate = xp.empty((self.L * self.D, N, H), dtype=dtype)
        self.dcell = xp.empty((self.L * self.D, N, H), dtype=dtype)

    def steps(self, d):
        """Time steps in processing order: forwards, or backwards for direction 1."""
        return range(self.T) if d == 0 else range(self.T - 1, -1, -1)

    # -- forward ------------------------------------------------------------------------
    def forward(self, is_train, inputs, outputs, aux):
        xp, H, D = self.xp, self.H, self.D
        xp.copyto(self.params, inputs[1])
        state = inputs[2]
        cell = inputs[3] if self.attrs.mode == "lstm" else None
        x = inputs[0]
        self.dropout_used = is_train and self.p > 0
        for l in range(self.L):
            for d in range(D):
                k = l * D + d
                self.layer_forward(l, d, x, state[k], None if cell is None else cell[k])
                self.ys[l][:, :, d * H:(d + 1) * H] = self.hs[l, d]
            x = self.ys[l]
            if self.dropout_used and l < self.L - 1:
                x = self.drop(l)
        xp.copyto(outputs[0], self.ys[-1])
        if len(outputs) > 1:
            for l in range(self.L):
                for d in range(D):
                    last = self.steps(d)[-1]
                    xp.copyto(outputs[1][l * D + d], self.hs[l, d][last])
                    if len(outputs) > 2:
                        xp.copyto(outputs[2][l * D + d], self.cs[l, d][last])

    def drop(self, l):
        """Inverted dropout of layer ``l``'s output (what layer ``l + 1`` reads)."""
        xp = self.xp
        self.backend.rng(self.device_id).random(self.uniform.shape, dtype=np.float32,
                                                out=self.uniform)
        xp.less(self.uniform, 1.0 - self.p, out=self.keep)
        xp.multiply(self.keep, self.scale, out=self.masks[l])
        xp.multiply(self.ys[l], self.masks[l], out=self.dropped[l])
        return self.dropped[l]

    def layer_forward(self, l, d, x, h0, c0):
        xp, mode = self.xp, self.attrs.mode
        wx, wh, bx, bh = self.w[l, d]
        gates, hprev, hs = self.gates[l, d], self.hprev[l, d], self.hs[l, d]
        # the i2h products of every step at once; the recurrence adds the h2h ones per step
        T, N = self.T, self.N
        flat = gates.reshape(T * N, -1)
        xp.matmul(x.reshape(T * N, -1), wx.T, out=flat)
        flat += bx
        order = list(self.steps(d))
        xp.copyto(hprev[order[0]], h0)
        if mode == "lstm":
            xp.copyto(self.cprev[l, d][order[0]], c0)
        for n, t in enumerate(order):
            xp.matmul(hprev[t], wh.T, out=self.hw)
            self.hw += bh
            g = gates[t]
            if mode == "gru":
                self.gru_step(g, hprev[t], self.hwn[l, d][t], hs[t])
            else:
                g += self.hw
                if mode == "lstm":
                    self.lstm_step(g, self.cprev[l, d][t], self.cs[l, d][t],
                                   self.tanhc[l, d][t], hs[t])
                elif mode == "rnn_tanh":
                    _tanh(xp, g, out=hs[t])
                else:
                    _relu(xp, g, out=hs[t])
            if n + 1 < len(order):
                nxt = order[n + 1]
                xp.copyto(hprev[nxt], hs[t])
                if mode == "lstm":
                    xp.copyto(self.cprev[l, d][nxt], self.cs[l, d][t])

    def lstm_step(self, g, c_prev, c, tanh_c, h):
        xp, H = self.xp, self.H
        _sigmoid(xp, g[:, :2 * H], out=g[:, :2 * H])           # i, f
        _tanh(xp, g[:, 2 * H:3 * H], out=g[:, 2 * H:3 * H])    # g (candidate cell)
        _sigmoid(xp, g[:, 3 * H:], out=g[:, 3 * H:])           # o
        xp.multiply(g[:, H:2 * H], c_prev, out=c)
        xp.multiply(g[:, :H], g[:, 2 * H:3 * H], out=self.tmp)
        c += self.tmp
        _tanh(xp, c, out=tanh_c)
        xp.multiply(g[:, 3 * H:], tanh_c, out=h)

    def gru_step(self, g, h_prev, hwn, h):
        xp, H, hw = self.xp, self.H, self.hw
        g[:, :2 * H] += hw[:, :2 * H]
        _sigmoid(xp, g[:, :2 * H], out=g[:, :2 * H])           # r, z
        xp.copyto(hwn, hw[:, 2 * H:])                          # W_hn h + b_hn, for backward
        xp.multiply(g[:, :H], hwn, out=self.tmp)               # the reset gate scales it
        g[:, 2 * H:] += self.tmp
        _tanh(xp, g[:, 2 * H:], out=g[:, 2 * H:])              # n
        # h = (1 - z) * n + z * h_prev = n + z * (h_prev - n)
        xp.subtract(h_prev, g[:, 2 * H:], out=h)
        h *= g[:, H:2 * H]
        h += g[:, 2 * H:]

    # -- backward -----------------------------------------------------------------------
    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp, H, D, mode = self.xp, self.H, self.D, self.attrs.mode
        dhy = out_grads[1] if len(out_grads) > 1 else None
        dcy = out_grads[2] if len(out_grads) > 2 else None
        dy = out_grads[0]
        for l in range(self.L - 1, -1, -1):
            x = inputs[0] if l == 0 else (self.dropped[l - 1] if self.dropout_used
                                          else self.ys[l - 1])
            for d in range(D):
                k = l * D + d
                self.layer_backward(l, d, x, dy[:, :, d * H:(d + 1) * H],
                                    None if dhy is None else dhy[k],
                                    None if dcy is None else dcy[k])
                self.dstate[k] = self.dh_next
                if mode == "lstm":
                    self.dcell[k] = self.dc_next
                # gradient of this layer's input, summed over both directions
                target = self.dx[l] if d == 0 else self.dx_other[l]
                xp.matmul(self.dxw.reshape(self.T * self.N, -1), self.w[l, d][0],
                          out=target.reshape(self.T * self.N, -1))
                if d == 1:
                    self.dx[l] += target
            dy = self.dx[l]
            if l > 0 and self.dropout_used:
                dy *= self.masks[l - 1]
        grads = [self.dx[0], self.dparams, self.dstate, self.dcell]
        for i in range(self.num_args):
            if self.wants(i, in_grads, req):
                self.store_grad(i, in_grads, req, grads[i])

    def layer_backward(self, l, d, x, dy, dhy, dcy):
        """Back-propagation through time of one layer and direction: leaves the gradients
        of the pre-activations in ``dxw``/``dhw``, of the weights and biases in ``dparams``
        and of the initial state in ``dh_next``/``dc_next``."""
        xp, mode = self.xp, self.attrs.mode
        wh = self.w[l, d][1]
        dwx, dwh, dbx, dbh = self.dw[l, d]
        gates, hprev, hs = self.gates[l, d], self.hprev[l, d], self.hs[l, d]
        for buf, start in ((self.dh_next, dhy), (self.dc_next, dcy)):
            if start is None:
                buf[...] = 0
            else:
                xp.copyto(buf, start)
        for t in reversed(list(self.steps(d))):
            xp.add(dy[t], self.dh_next, out=self.dh)
            if mode == "lstm":
                self.lstm_step_grad(gates[t], self.cprev[l, d][t], self.tanhc[l, d][t],
                                    self.dxw[t])
            elif mode == "gru":
                self.gru_step_grad(gates[t], hprev[t], self.hwn[l, d][t], self.dxw[t],
                                   self.dhw[t])
            elif mode == "rnn_tanh":
                _tanh_grad(xp, None, hs[t], self.dh, out=self.dxw[t])
            else:
                _relu_grad(xp, hs[t], hs[t], self.dh, out=self.dxw[t])
            dh_direct = self.tmp if mode == "gru" else None   # z * dh, set by gru_step_grad
            xp.matmul(self.dhw[t], wh, out=self.dh_next)
            if dh_direct is not None:
                self.dh_next += dh_direct
        # weight gradients of all steps at once
        rows = self.T * self.N
        dxw, dhw = self.dxw.reshape(rows, -1), self.dhw.reshape(rows, -1)
        xp.matmul(dxw.T, x.reshape(rows, -1), out=dwx)
        xp.matmul(dhw.T, hprev.reshape(rows, -1), out=dwh)
        xp.sum(dxw, axis=0, out=dbx)
        xp.sum(dhw, axis=0, out=dbh)

    def lstm_step_grad(self, g, c_prev, tanh_c, dpre):
        """Pre-activation gradients of one LSTM step from ``dh`` and the carried ``dc``."""
        xp, H, tmp = self.xp, self.H, self.tmp
        i, f, gg, o = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        xp.multiply(self.dh, tanh_c, out=tmp)
        _sigmoid_grad(xp, None, o, tmp, out=dpre[:, 3 * H:])
        _tanh_grad(xp, None, tanh_c, self.dh, out=tmp)      # dh * o * (1 - tanh(c)^2)
        tmp *= o
        xp.add(self.dc_next, tmp, out=self.dc)
        xp.multiply(self.dc, gg, out=tmp)
        _sigmoid_grad(xp, None, i, tmp, out=dpre[:, :H])
        xp.multiply(self.dc, i, out=tmp)
        _tanh_grad(xp, None, gg, tmp, out=dpre[:, 2 * H:3 * H])
        xp.multiply(self.dc, c_prev, out=tmp)
        _sigmoid_grad(xp, None, f, tmp, out=dpre[:, H:2 * H])
        xp.multiply(self.dc, f, out=self.dc_next)

    def gru_step_grad(self, g, h_prev, hwn, dxw, dhw):
        """Pre-activation gradients of one GRU step; leaves ``z * dh`` (the gradient that
        reaches ``h_prev`` directly) in ``tmp``."""
        xp, H, tmp, dh = self.xp, self.H, self.tmp, self.dh
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        xp.subtract(1, z, out=tmp)
        tmp *= dh
        _tanh_grad(xp, None, n, tmp, out=dxw[:, 2 * H:])
        xp.subtract(h_prev, n, out=tmp)
        tmp *= dh
        _sigmoid_grad(xp, None, z, tmp, out=dxw[:, H:2 * H])
        xp.multiply(dxw[:, 2 * H:], hwn, out=tmp)
        _sigmoid_grad(xp, None, r, tmp, out=dxw[:, :H])
        xp.copyto(dhw[:, :2 * H], dxw[:, :2 * H])
        xp.multiply(dxw[:, 2 * H:], r, out=dhw[:, 2 * H:])
        xp.multiply(z, dh, out=tmp)


class RNN(OpDef):
    name = "RNN"
    kernel = RNNKernel
    params = {
        "state_size": Param(parse_int),
        "num_layers": Param(parse_int),
        "bidirectional": Param(parse_bool, False),
        "mode": Param(choice("rnn_relu", "rnn_tanh", "lstm", "gru")),
        "p": Param(parse_float, 0.0),
        "state_outputs": Param(parse_bool, False),
        "projection_size": Param(optional(parse_int), None),
        "lstm_state_clip_min": Param(optional(parse_float), None),
        "lstm_state_clip_max": Param(optional(parse_float), None),
        "lstm_state_clip_nan": Param(parse_bool, False),
        "use_sequence_length": Param(parse_bool, False),
    }

    def parse_attrs(self, raw, node_name="?"):
        attrs = super().parse_attrs(raw, node_name)
        where = f"RNN {node_name!r}"
        for key in ("state_size", "num_layers"):
            if attrs[key] < 1:
                raise AttributeValueError(f"{where}: {key}={attrs[key]} must be at least 1")
        if not 0 <= attrs.p <= 1:
            raise AttributeValueError(f"{where}: p={attrs.p} must be in [0, 1]")
        unsupported = [key for key in ("projection_size", "lstm_state_clip_min",
                                       "lstm_state_clip_max") if attrs[key] is not None]
        if attrs.use_sequence_length:
            unsupported.append("use_sequence_length")
        if unsupported:
            raise AttributeValueError(
                f"{where}: {', '.join(unsupported)} is not supported by gradloom's RNN; "
                f"leave it at its default (pad sequences and mask the output instead of "
                f"use_sequence_length)")
        return attrs

    def arguments(self, attrs):
        names = ["data", "parameters", "state"]
        return names + ["state_cell"] if attrs.mode == "lstm" else names

    def outputs(self, attrs):
        if not attrs.state_outputs:
            return ["output"]
        states = ["state_output", "statecell_output"] if attrs.mode == "lstm" else ["state_output"]
        return ["output"] + states

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        dirs = 2 if attrs.bidirectional else 1
        h, states = attrs.state_size, attrs.num_layers * dirs
        data, params = in_shapes[0], in_shapes[1]
        out = out_shapes[0]
        if not is_unknown(data) and len(data) != 3:
            raise ShapeError(f"RNN: input 'data' has shape {data} but a 3-d (sequence length, "
                             f"batch, input size) array is required; reshape or transpose it "
                             f"to time-major TNC")
        out = merge(out, (0, 0, dirs * h), self.name, "output")
        if not is_unknown(data):
            out = merge(out, (data[0], data[1], dirs * h), self.name, "output")
            data = merge(data, (out[0], out[1], 0), self.name, "input 'data'")
        else:
            data = (out[0], out[1], 0)
        params = merge(params, (0,), self.name, "input 'parameters'")
        if data[2]:
            need = param_size(attrs, data[2])
            if params[0] and params[0] != need:
                raise ShapeError(
                    f"RNN: input 'parameters' has shape {params} but ({need},) is required "
                    f"for mode={attrs.mode}, state_size={h}, num_layers={attrs.num_layers}, "
                    f"bidirectional={attrs.bidirectional} and input size {data[2]}; change "
                    f"the parameter vector or the attributes")
            params = (need,)
        elif params[0]:
            data = self._input_size_from(attrs, data, params[0])
        # every state, given or produced, is (layers * directions, batch, state_size)
        state = (states, data[1], h)
        names = self.arguments(attrs)[2:]
        for name, s in zip(names, in_shapes[2:]):
            state = merge(s, state, self.name, f"input {name!r}")
        for s in out_shapes[1:]:
            state = merge(s, state, self.name, "state output")
        if state[1] and not data[1]:
            data = (data[0], state[1], data[2])
            out = (out[0], state[1], out[2])
        # nothing learnt: leave what was unknown as it came (MXNet's ``()``)
        if all(d == 0 for d in data):
            data = in_shapes[0]
        if params == (0,):
            params = in_shapes[1]
        if all(d == 0 for d in out[:2]) and is_unknown(out_shapes[0]):
            out = out_shapes[0]
        return ([data, params] + [state] * len(names),
                [out] + [state] * (len(out_shapes) - 1))

    def _input_size_from(self, attrs, data, count):
        """The data's input size from the parameter count (the count is linear in it)."""
        g, h = GATES[attrs.mode], attrs.state_size
        dirs = 2 if attrs.bidirectional else 1
        rest = param_size(attrs, 0)
        size, left = divmod(count - rest, dirs * g * h)
        if left or size < 1:
            raise ShapeError(f"RNN: input 'parameters' has shape ({count},), which no input "
                             f"size gives for mode={attrs.mode}, state_size={h}, "
                             f"num_layers={attrs.num_layers}, "
                             f"bidirectional={attrs.bidirectional}; check the attributes")
        return (data[0], data[1], size)


OPS = [RNN()]
