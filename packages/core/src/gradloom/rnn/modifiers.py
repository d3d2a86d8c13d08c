"""Cells that change another cell: ``DropoutCell``, ``ResidualCell``, ``ZoneoutCell``."""
import numbers

from .. import symbol
from ..base import ParameterError, StateError
from .base_cell import BaseRNNCell, normalize_sequence

__all__ = ["ModifierCell", "DropoutCell", "ResidualCell", "ZoneoutCell"]


class DropoutCell(BaseRNNCell):
    """Dropout on the step input (no state); put it between layers of a stack."""

    def __init__(self, dropout, prefix="dropout_", params=None):
        super().__init__(prefix, params)
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout < 1:
            raise ParameterError(f"DropoutCell(dropout={dropout!r}): give a probability in "
                                 f"[0, 1)")
        self.dropout = dropout

    @property
    def state_info(self):
        return []

    def __call__(self, inputs, states):
        if self.dropout > 0:
            inputs = symbol.Dropout(data=inputs, p=self.dropout)
        return inputs, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        inputs, _ = normalize_sequence(length, inputs, layout, merge_outputs)
        if isinstance(inputs, symbol.Symbol):
            # one dropout over the whole sequence instead of one per step
            return self(inputs, [])
        return super().unroll(length, inputs, begin_state=begin_state, layout=layout,
                              merge_outputs=merge_outputs)


class ModifierCell(BaseRNNCell):
    """Wraps ``base_cell``; the base cell can then only be used through the wrapper."""

    def __init__(self, base_cell):
        super().__init__()
        base_cell._modified = True
        self.base_cell = base_cell

    @property
    def params(self):
        self._own_params = False
        return self.base_cell.params

    @property
    def state_info(self):
        return self.base_cell.state_info

    def begin_state(self, func=None, **kwargs):
        if self._modified:
            raise StateError("After applying modifier cells (e.g. DropoutCell) the base cell "
                             "cannot be called directly. Call the modifier cell instead.")
        self.base_cell._modified = False
        try:
            if func is None:
                begin = self.base_cell.begin_state(**kwargs)
            else:
                begin = self.base_cell.begin_state(func=func, **kwargs)
        finally:
            self.base_cell._modified = True
        return begin

    def unpack_weights(self, args):
        return self.base_cell.unpack_weights(args)

    def pack_weights(self, args):
        return self.base_cell.pack_weights(args)

    def reset(self):
        super().reset()
        base = getattr(self, "base_cell", None)
        if base is not None:
            base.reset()


def _binary_mask(p, like):
    """1 with probability ``1 - p``, else 0, shaped like ``like`` (training mode only;
    Dropout is the identity at inference, so the mask is all ones there)."""
    ones = (like * 0.0) + 1.0
    return symbol.clip(symbol.Dropout(ones, p=p), a_min=0.0, a_max=1.0)


def _choose(mask, new, old):
    return mask * new + (1.0 - mask) * old


class ZoneoutCell(ModifierCell):
    """Zoneout (Krueger et al. 2016): each unit keeps its previous output/state with
    probability ``zoneout_outputs``/``zoneout_states`` during training."""

    def __init__(self, base_cell, zoneout_outputs=0.0, zoneout_states=0.0):
        from .containers import BidirectionalCell
        if isinstance(base_cell, BidirectionalCell):
            raise ParameterError("BidirectionalCell doesn't support zoneout since it doesn't "
                                 "support step. Please add ZoneoutCell to the cells "
                                 "underneath instead.")
        super().__init__(base_cell)
        self.zoneout_outputs = zoneout_outputs
        self.zoneout_states = zoneout_states
        self.prev_output = None

    def reset(self):
        super().reset()
        self.prev_output = None

    def __call__(self, inputs, states):
        next_output, next_states = self.base_cell(inputs, states)
        p_out, p_state = self.zoneout_outputs, self.zoneout_states
        prev_output = self.prev_output if self.prev_output is not None else next_output * 0.0
        output = (_choose(_binary_mask(p_out, next_output), next_output, prev_output)
                  if p_out != 0.0 else next_output)
        if p_state != 0.0:
            next_states = [_choose(_binary_mask(p_state, new), new, old)
                           for new, old in zip(next_states, states)]
        self.prev_output = output
        return output, next_states


class ResidualCell(ModifierCell):
    """Adds the step input to the base cell's output (input and output sizes must match)."""

    def __call__(self, inputs, states):
        output, states = self.base_cell(inputs, states)
        output = symbol.elemwise_add(output, inputs, name=f"{output.name}_plus_residual")
        return output, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        self.base_cell._modified = False
        try:
            outputs, states = self.base_cell.unroll(length, inputs=inputs,
                                                    begin_state=begin_state, layout=layout,
                                                    merge_outputs=merge_outputs)
        finally:
            self.base_cell._modified = True
        if merge_outputs is None:
            merge_outputs = isinstance(outputs, symbol.Symbol)
        inputs, _ = normalize_sequence(length, inputs, layout, merge_outputs)
        if merge_outputs:
            outputs = symbol.elemwise_add(outputs, inputs,
                                          name=f"{outputs.name}_plus_residual")
        else:
            outputs = [symbol.elemwise_add(o, i, name=f"{o.name}_plus_residual")
                       for o, i in zip(outputs, inputs)]
        return outputs, states
