"""The step cells: ``RNNCell`` (Elman), ``LSTMCell`` and ``GRUCell``.

Each step is two FullyConnected layers (input-to-hidden and hidden-to-hidden, their weights
shared over time steps) followed by the gate arithmetic. Node names are
``<prefix>t<step>_<what>`` as in MXNet, so graphs and checkpoints look the same.
"""
from .. import symbol
from .base_cell import BaseRNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]


def _hidden_state(num_hidden):
    return {"shape": (0, num_hidden), "__layout__": "NC"}


class _ProjectedCell(BaseRNNCell):
    """A step cell whose gates read ``W_i x + b_i`` and ``W_h h + b_h``: two FullyConnected
    layers of ``num_gates * num_hidden`` units whose four parameters are shared by all steps.
    """

    num_gates = 1

    def __init__(self, num_hidden, prefix, params, i2h_bias_init=None):
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._iW = self.params.get("i2h_weight")
        bias_kwargs = {} if i2h_bias_init is None else {"init": i2h_bias_init}
        self._iB = self.params.get("i2h_bias", **bias_kwargs)
        self._hW = self.params.get("h2h_weight")
        self._hB = self.params.get("h2h_bias")

    def _project(self, inputs, hidden, sep=""):
        """Start a step: ``(node name prefix, i2h, h2h)``.

        Nodes are named ``<prefix>t<step>_<sep>i2h``; MXNet's GRUCell puts an extra
        underscore there (``sep="_"``), kept so graphs and checkpoints match.
        """
        self._counter += 1
        name = f"{self._prefix}t{self._counter}_"
        units = self._num_hidden * self.num_gates
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=units, name=f"{name}{sep}i2h")
        h2h = symbol.FullyConnected(data=hidden, weight=self._hW, bias=self._hB,
                                    num_hidden=units, name=f"{name}{sep}h2h")
        return name, i2h, h2h


class RNNCell(_ProjectedCell):
    """``h' = activation(W_i x + b_i + W_h h + b_h)``."""

    def __init__(self, num_hidden, activation="tanh", prefix="rnn_", params=None):
        super().__init__(num_hidden, prefix, params)
        self._activation = activation

    @property
    def state_info(self):
        return [_hidden_state(self._num_hidden)]

    @property
    def _gate_names(self):
        return ("",)

    def __call__(self, inputs, states):
        name, i2h, h2h = self._project(inputs, states[0])
        output = self._get_activation(i2h + h2h, self._activation, name=f"{name}out")
        return output, [output]


class LSTMCell(_ProjectedCell):
    """Long short-term memory; gates in the order i, f, c (candidate), o.

    ``forget_bias`` is added to the forget-gate quarter of ``i2h_bias`` through its
    ``LSTMBias`` initializer (the bias variable carries it as ``__init__``).
    """

    num_gates = 4

    def __init__(self, num_hidden, prefix="lstm_", params=None, forget_bias=1.0):
        from ..initializer import LSTMBias
        super().__init__(num_hidden, prefix, params,
                         i2h_bias_init=LSTMBias(forget_bias=forget_bias))

    @property
    def state_info(self):
        return [_hidden_state(self._num_hidden), _hidden_state(self._num_hidden)]

    @property
    def _gate_names(self):
        return ("_i", "_f", "_c", "_o")

    def __call__(self, inputs, states):
        name, i2h, h2h = self._project(inputs, states[0])
        gates = i2h + h2h
        sliced = symbol.SliceChannel(gates, num_outputs=4, name=f"{name}slice")
        in_gate = symbol.Activation(sliced[0], act_type="sigmoid", name=f"{name}i")
        forget_gate = symbol.Activation(sliced[1], act_type="sigmoid", name=f"{name}f")
        in_transform = symbol.Activation(sliced[2], act_type="tanh", name=f"{name}c")
        out_gate = symbol.Activation(sliced[3], act_type="sigmoid", name=f"{name}o")
        next_c = symbol.elemwise_add(forget_gate * states[1], in_gate * in_transform,
                                     name=f"{name}state")
        next_h = symbol.elemwise_mul(out_gate, symbol.Activation(next_c, act_type="tanh"),
                                     name=f"{name}out")
        return next_h, [next_h, next_c]


class GRUCell(_ProjectedCell):
    """Gated recurrent unit (Cho et al. 2014); gates in the order r, z, candidate."""

    num_gates = 3

    def __init__(self, num_hidden, prefix="gru_", params=None):
        super().__init__(num_hidden, prefix, params)

    @property
    def state_info(self):
        return [_hidden_state(self._num_hidden)]

    @property
    def _gate_names(self):
        return ("_r", "_z", "_o")

    def __call__(self, inputs, states):
        prev_h = states[0]
        name, i2h, h2h = self._project(inputs, prev_h, sep="_")
        i2h_r, i2h_z, i2h = symbol.SliceChannel(i2h, num_outputs=3, name=f"{name}_i2h_slice")
        h2h_r, h2h_z, h2h = symbol.SliceChannel(h2h, num_outputs=3, name=f"{name}_h2h_slice")
        reset_gate = symbol.Activation(i2h_r + h2h_r, act_type="sigmoid",
                                       name=f"{name}_r_act")
        update_gate = symbol.Activation(i2h_z + h2h_z, act_type="sigmoid",
                                        name=f"{name}_z_act")
        candidate = symbol.Activation(i2h + reset_gate * h2h, act_type="tanh",
                                      name=f"{name}_h_act")
        next_h = symbol.elemwise_add((1.0 - update_gate) * candidate, update_gate * prev_h,
                                     name=f"{name}out")
        return next_h, [next_h]
