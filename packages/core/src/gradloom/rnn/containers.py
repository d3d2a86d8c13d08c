"""Cells made of cells: ``SequentialRNNCell`` (stacked layers) and ``BidirectionalCell``."""
from .. import symbol
from ..base import ParameterError, StateError
from .base_cell import BaseRNNCell, cells_begin_state, cells_state_info, normalize_sequence

__all__ = ["SequentialRNNCell", "BidirectionalCell"]


def _adopt_params(container, cell):
    """Register ``cell``'s variables in ``container`` (and the container's in the cell
    when the container was given shared params)."""
    if container._override_cell_params:
        if not cell._own_params:
            raise ParameterError("Either specify params for the container cell or for its "
                                 "child cells, not both.")
        cell.params._params.update(container.params._params)
    container.params._params.update(cell.params._params)


class _CellContainer(BaseRNNCell):
    """A cell whose states and weights are those of its child cells, in order."""

    def __init__(self, params=None):
        super().__init__(prefix="", params=params)
        self._override_cell_params = params is not None
        self._cells = []

    def _adopt(self, cell):
        """Append a child cell and share parameters with it (see ``_adopt_params``)."""
        self._cells.append(cell)
        _adopt_params(self, cell)

    @property
    def state_info(self):
        return cells_state_info(self._cells)

    def begin_state(self, **kwargs):
        if self._modified:
            raise StateError("After applying modifier cells (e.g. DropoutCell) the base cell "
                             "cannot be called directly. Call the modifier cell instead.")
        return cells_begin_state(self._cells, **kwargs)

    def unpack_weights(self, args):
        for cell in self._cells:
            args = cell.unpack_weights(args)
        return args

    def pack_weights(self, args):
        for cell in self._cells:
            args = cell.pack_weights(args)
        return args


class SequentialRNNCell(_CellContainer):
    """Layers applied one after the other at each step (a stacked RNN)."""

    def add(self, cell):
        """Append a layer."""
        self._adopt(cell)

    def __call__(self, inputs, states):
        self._counter += 1
        next_states = []
        pos = 0
        for cell in self._cells:
            if isinstance(cell, BidirectionalCell):
                raise ParameterError("a BidirectionalCell cannot be stepped; call unroll() on "
                                     "the SequentialRNNCell instead")
            n = len(cell.state_info)
            inputs, state = cell(inputs, states[pos:pos + n])
            pos += n
            next_states.extend(state)
        return inputs, next_states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Unroll layer by layer (each layer over all steps), so a bidirectional layer
        can sit in the stack."""
        self.reset()
        num_cells = len(self._cells)
        if begin_state is None:
            begin_state = self.begin_state()
        pos = 0
        next_states = []
        for i, cell in enumerate(self._cells):
            n = len(cell.state_info)
            states = begin_state[pos:pos + n]
            pos += n
            inputs, states = cell.unroll(
                length, inputs=inputs, begin_state=states, layout=layout,
                merge_outputs=None if i < num_cells - 1 else merge_outputs)
            next_states.extend(states)
        return inputs, next_states


class BidirectionalCell(_CellContainer):
    """Runs ``l_cell`` forwards and ``r_cell`` backwards in time and concatenates their
    outputs per step (``<output_prefix>t<i>``, or ``<output_prefix>out`` when merged)."""

    def __init__(self, l_cell, r_cell, params=None, output_prefix="bi_"):
        super().__init__(params=params)
        self._output_prefix = output_prefix
        self._adopt(l_cell)
        self._adopt(r_cell)

    def __call__(self, inputs, states):
        raise ParameterError("a BidirectionalCell cannot be stepped (the backward direction "
                             "needs the whole sequence); call unroll()")

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        inputs, axis = normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = self.begin_state()
        l_cell, r_cell = self._cells
        n_left = len(l_cell.state_info)
        # both directions are unrolled as lists: reversing a list needs no reverse operator
        l_outputs, l_states = l_cell.unroll(length, inputs=inputs,
                                            begin_state=begin_state[:n_left], layout=layout,
                                            merge_outputs=False)
        r_outputs, r_states = r_cell.unroll(length, inputs=list(reversed(inputs)),
                                            begin_state=begin_state[n_left:], layout=layout,
                                            merge_outputs=False)
        r_outputs = list(reversed(r_outputs))
        outputs = [symbol.Concat(l_o, r_o, dim=1, name=f"{self._output_prefix}t{i}")
                   for i, (l_o, r_o) in enumerate(zip(l_outputs, r_outputs))]
        if merge_outputs:
            outputs, _ = normalize_sequence(length, outputs, layout, True)
        return outputs, list(l_states) + list(r_states)
