"""``BaseRNNCell``: the cell protocol (one step, begin states, unroll, weight packing)."""
import numpy as np

from .. import symbol
from ..base import ParameterError, StateError
from .params import RNNParams

__all__ = ["BaseRNNCell", "normalize_sequence", "cells_state_info", "cells_begin_state"]


def normalize_sequence(length, inputs, layout, merge, in_layout=None):
    """``inputs`` as a list of ``length`` per-step symbols (``merge=False``), as one symbol
    with a time axis (``merge=True``), or as given (``merge=None``).

    Returns ``(inputs, time_axis)``. A single symbol is split along its ``T`` axis with
    ``SliceChannel(squeeze_axis=1)``; a list is merged with ``expand_dims`` + ``Concat``.
    """
    if inputs is None:
        raise ParameterError("unroll needs inputs: a symbol with a time axis or a list of "
                             "per-step symbols")
    axis = layout.find("T")
    if axis < 0:
        raise ParameterError(f"layout {layout!r} has no time axis 'T'; use 'NTC' or 'TNC'")
    in_axis = in_layout.find("T") if in_layout is not None else axis
    if isinstance(inputs, symbol.Symbol):
        if merge is False:
            if len(inputs.list_outputs()) != 1:
                raise ParameterError("unroll doesn't allow grouped symbol as input; pass a "
                                     "list of symbols or a single-output symbol")
            inputs = list(symbol.split(inputs, axis=in_axis, num_outputs=length,
                                       squeeze_axis=1))
    else:
        inputs = list(inputs)
        if length is not None and len(inputs) != length:
            raise ParameterError(f"unroll(length={length}) was given {len(inputs)} inputs; "
                                 f"give one symbol per time step")
        if merge is True:
            inputs = [symbol.expand_dims(i, axis=axis) for i in inputs]
            inputs = symbol.Concat(*inputs, dim=axis)
            in_axis = axis
    if isinstance(inputs, symbol.Symbol) and axis != in_axis:
        inputs = symbol.swapaxes(inputs, dim0=axis, dim1=in_axis)
    return inputs, axis


def cells_state_info(cells):
    return sum((c.state_info for c in cells), [])


def cells_begin_state(cells, **kwargs):
    return sum((c.begin_state(**kwargs) for c in cells), [])


def _zeros(**kwargs):
    return symbol.zeros(**kwargs)


class BaseRNNCell:
    """Abstract recurrent cell: ``cell(inputs, states) -> (output, new_states)`` for one step.

    ``prefix`` starts every parameter and node name; ``params`` (an :class:`RNNParams`)
    shares weights with other cells.
    """

    def __init__(self, prefix="", params=None):
        if params is None:
            params = RNNParams(prefix)
            self._own_params = True
        else:
            self._own_params = False
        self._prefix = prefix
        self._params = params
        self._modified = False
        self.reset()

    def reset(self):
        """Restart the step and begin-state counters (node names start again at ``t0``)."""
        self._init_counter = -1
        self._counter = -1
        for cell in getattr(self, "_cells", ()):
            cell.reset()

    def __call__(self, inputs, states):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    @property
    def params(self):
        """The cell's :class:`RNNParams` (after this, they are no longer private to it)."""
        self._own_params = False
        return self._params

    @property
    def prefix(self):
        return self._prefix

    @property
    def state_info(self):
        """One dict per state (``shape`` with 0 = batch, ``__layout__``)."""
        raise NotImplementedError(f"{type(self).__name__} must define state_info")

    @property
    def state_shape(self):
        return [info["shape"] for info in self.state_info]

    @property
    def _gate_names(self):
        return ()

    def begin_state(self, func=_zeros, **kwargs):
        """Symbols for the initial states, named ``<prefix>begin_state_<k>``.

        ``func`` builds each (default: zeros whose batch size is inferred from the graph;
        ``symbol.Variable`` makes them inputs).
        """
        if self._modified:
            raise StateError("After applying modifier cells (e.g. DropoutCell) the base cell "
                             "cannot be called directly. Call the modifier cell instead.")
        states = []
        for info in self.state_info:
            self._init_counter += 1
            args = dict(kwargs)
            if info is not None:
                args.update(info)
            states.append(func(name=f"{self._prefix}begin_state_{self._init_counter}",
                               **args))
        return states

    def unpack_weights(self, args):
        """Split fused ``i2h``/``h2h`` weights into one array per gate (``..._i2h_f_weight``)."""
        args = dict(args)
        if not self._gate_names:
            return args
        h = self._num_hidden
        for group in ("i2h", "h2h"):
            weight = args.pop(f"{self._prefix}{group}_weight")
            bias = args.pop(f"{self._prefix}{group}_bias")
            for j, gate in enumerate(self._gate_names):
                args[f"{self._prefix}{group}{gate}_weight"] = _slice_rows(weight, j * h,
                                                                          (j + 1) * h)
                args[f"{self._prefix}{group}{gate}_bias"] = _slice_rows(bias, j * h,
                                                                        (j + 1) * h)
        return args

    def pack_weights(self, args):
        """Inverse of :meth:`unpack_weights`."""
        args = dict(args)
        if not self._gate_names:
            return args
        for group in ("i2h", "h2h"):
            weights, biases = [], []
            for gate in self._gate_names:
                weights.append(args.pop(f"{self._prefix}{group}{gate}_weight"))
                biases.append(args.pop(f"{self._prefix}{group}{gate}_bias"))
            args[f"{self._prefix}{group}_weight"] = _concat_rows(weights)
            args[f"{self._prefix}{group}_bias"] = _concat_rows(biases)
        return args

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Apply the cell ``length`` times.

        ``inputs``: one symbol with a time axis (per ``layout``) or a list of per-step
        symbols. ``merge_outputs``: True -> one symbol with a time axis, False -> list,
        None -> whatever is cheapest. Returns ``(outputs, final_states)``.
        """
        self.reset()
        inputs, _ = normalize_sequence(length, inputs, layout, False)
        states = self.begin_state() if begin_state is None else begin_state
        outputs = []
        for i in range(length):
            output, states = self(inputs[i], states)
            outputs.append(output)
        outputs, _ = normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def _get_activation(self, inputs, activation, **kwargs):
        if isinstance(activation, str):
            return symbol.Activation(inputs, act_type=activation, **kwargs)
        return activation(inputs, **kwargs)


def _slice_rows(arr, start, stop):
    from ..ndarray import NDArray, array
    if isinstance(arr, NDArray):
        return array(arr.asnumpy()[start:stop], ctx=arr.context, dtype=arr.dtype)
    return np.array(arr[start:stop])


def _concat_rows(arrays):
    from ..ndarray import NDArray, array
    first = arrays[0]
    if isinstance(first, NDArray):
        host = np.concatenate([a.asnumpy() for a in arrays], axis=0)
        return array(host, ctx=first.context, dtype=first.dtype)
    return np.concatenate([np.asarray(a) for a in arrays], axis=0)
