"""Variable-length sequences: SequenceMask, SequenceLast, SequenceReverse.

Data is laid out ``(time, batch, ...)`` (``axis=0``) or ``(batch, time, ...)`` (``axis=1``);
with ``use_sequence_length`` a second input ``sequence_length`` of shape ``(batch,)`` gives
each sequence's length, read as MXNet reads it (truncated toward zero). Lengths get no
gradient. Where MXNet 1.9.1 reads outside the data (SequenceLast with a length below 1 or
above the time steps, SequenceReverse with a negative length or one above them) gradloom
clips the length into range instead.
"""
import numpy as np

from ..base import ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge
from .indexing import (data_and_index_types, flat_index, gather, line_offsets, scatter_unique,
                       truncate)
from .opdef import OpDef, Param, parse_bool, parse_float, parse_int


def _axis_in(*allowed):
    def parse(value):
        axis = parse_int(value)
        if axis not in allowed:
            raise ValueError(f"the sequence axis must be {' or '.join(map(str, allowed))} "
                             f"(MXNet 1.9.1 supports no other); got {value!r}")
        return axis
    return parse


class SequenceOp(OpDef):
    """Shared inputs, shape and type rules. ``drops_time`` ops remove the time axis."""

    drops_time = False

    def arguments(self, attrs):
        return ["data", "sequence_length"] if attrs.use_sequence_length else ["data"]

    def output_shape(self, attrs, data):
        if self.drops_time:
            return data[:attrs.axis] + data[attrs.axis + 1:]
        return tuple(data)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        with_lengths = attrs.use_sequence_length
        lengths = in_shapes[1] if with_lengths else None
        axis = attrs.axis
        if is_unknown(data) and not is_unknown(out):
            data = out[:axis] + (0,) + out[axis:] if self.drops_time else out
        if is_unknown(data):
            return in_shapes, [out]
        if len(data) < 2:
            raise ShapeError(f"{self.name}: input 'data' has shape {tuple(data)}; it needs at "
                             f"least 2 dimensions, (time, batch, ...) or (batch, time, ...)")
        batch = 1 - axis
        if with_lengths and not is_unknown(lengths) and not data[batch]:
            data = data[:batch] + (lengths[0],) + data[batch + 1:]   # checked below
        out = merge(out, self.output_shape(attrs, data), self.name, "output")
        if self.drops_time:
            data = merge(data, out[:axis] + (data[axis],) + out[axis:], self.name,
                         "input 'data'")
        else:
            data = merge(data, out, self.name, "input 'data'")
        if not with_lengths:
            return [data], [out]
        lengths = merge(lengths, (data[batch],), self.name, "input 'sequence_length'")
        return [data, lengths], [out]

    def infer_type(self, attrs, in_types, out_types):
        return data_and_index_types(in_types, out_types)


class SequenceKernel(OpKernel):
    """Layout helpers: ``self.steps`` (time index) and ``self.lengths`` (float64 scratch)
    shaped to broadcast as a ``(time, batch)`` / ``(batch, time)`` grid, padded with
    trailing 1s to the data's rank."""

    def setup(self):
        xp = self.xp
        shape = self.in_shapes[0]
        self.axis = self.attrs.axis
        self.time = shape[self.axis]
        pad = (1,) * (len(shape) - 2)
        grid_t = (self.time, 1) if self.axis == 0 else (1, self.time)
        self.steps = xp.arange(self.time, dtype=np.float64).reshape(grid_t + pad)
        self.lengths = xp.empty(shape[1 - self.axis], dtype=np.float64)
        self.lengths_b = self.lengths.reshape(((1, -1) if self.axis == 0 else (-1, 1)) + pad)

    def read_lengths(self, lengths):
        """Truncated toward zero into ``self.lengths``."""
        truncate(self.xp, lengths, self.lengths)
        return self.lengths_b


# -- SequenceMask -----------------------------------------------------------------------
class SequenceMaskKernel(SequenceKernel):
    def setup(self):
        super().setup()
        grid = np.broadcast_shapes(self.steps.shape, self.lengths_b.shape)
        self.keep = self.xp.empty(grid, dtype=bool)

    def _keep(self, lengths):
        # a step is kept when it lies before the sequence's (truncated) length
        return self.xp.less(self.steps, self.read_lengths(lengths), out=self.keep)

    def forward(self, is_train, inputs, outputs, aux):
        xp, out = self.xp, outputs[0]
        if not self.attrs.use_sequence_length:
            xp.copyto(out, inputs[0])
            return
        out[...] = self.attrs.value
        xp.copyto(out, inputs[0], where=self._keep(inputs[1]))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.attrs.use_sequence_length:
            self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        if not self.attrs.use_sequence_length:
            self.store_grad(0, in_grads, req, out_grads[0])
            return
        dst = self.grad_dst(0, in_grads, req)
        self.xp.multiply(out_grads[0], self._keep(inputs[1]), out=dst)
        self.grad_done(0, in_grads, req, dst)


class SequenceMask(SequenceOp):
    name = "SequenceMask"
    kernel = SequenceMaskKernel
    params = {"use_sequence_length": Param(parse_bool, False), "value": Param(parse_float, 0.0),
              "axis": Param(_axis_in(0, 1), 0)}


# -- SequenceLast -----------------------------------------------------------------------
class SequenceLastKernel(SequenceKernel):
    def setup(self):
        super().setup()
        xp, shape = self.xp, self.in_shapes[0]
        self.offsets, self.stride = line_offsets(xp, shape, self.axis)
        self.index = xp.empty(self.lengths_b.shape, dtype=np.intp)
        self.flat = xp.empty(self.offsets.shape, dtype=np.intp)
        if not self.attrs.use_sequence_length:     # always the last step
            self.index[...] = self.time - 1
            flat_index(xp, self.index, self.stride, self.offsets, self.flat)

    def _flat(self, inputs):
        if not self.attrs.use_sequence_length:
            return self.flat
        xp = self.xp
        last = self.read_lengths(inputs[1])
        last -= 1
        xp.clip(last, 0, self.time - 1, out=last)   # length 0 (or too long): an existing step
        xp.copyto(self.index, last, casting="unsafe")
        return flat_index(xp, self.index, self.stride, self.offsets, self.flat)

    def forward(self, is_train, inputs, outputs, aux):
        gather(self.xp, inputs[0], self._flat(inputs), outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.attrs.use_sequence_length:
            self.zero_grad(1, in_grads, req)
        if self.wants(0, in_grads, req):
            scatter_unique(in_grads[0], req[0], self._flat(inputs), out_grads[0])


class SequenceLast(SequenceOp):
    name = "SequenceLast"
    kernel = SequenceLastKernel
    drops_time = True
    params = {"use_sequence_length": Param(parse_bool, False),
              "axis": Param(_axis_in(0, 1), 0)}


# -- SequenceReverse --------------------------------------------------------------------
class SequenceReverseKernel(SequenceKernel):
    """Step ``t < L`` of a sequence of length ``L`` comes from step ``L - 1 - t``; later
    steps stay. The mapping is its own inverse, so the gradient is the same gather."""

    def setup(self):
        super().setup()
        xp, shape = self.xp, self.in_shapes[0]
        self.offsets, self.stride = line_offsets(xp, shape, 0)
        grid = np.broadcast_shapes(self.steps.shape, self.lengths_b.shape)
        self.source = xp.empty(grid, dtype=np.float64)
        self.reversed = xp.empty(grid, dtype=np.float64)
        self.next_steps = self.steps + 1
        self.inside = xp.empty(grid, dtype=bool)
        self.index = xp.empty(grid, dtype=np.intp)
        self.flat = xp.empty(shape, dtype=np.intp)
        if not self.attrs.use_sequence_length:      # the whole sequence reversed
            self.lengths[...] = self.time
            self._flat_from(self.lengths_b)

    def _flat_from(self, lengths):
        xp = self.xp
        xp.clip(lengths, 0, self.time, out=lengths)
        xp.less(self.steps, lengths, out=self.inside)
        xp.copyto(self.source, self.steps)
        xp.subtract(lengths, self.next_steps, out=self.reversed)     # L - 1 - t
        xp.copyto(self.source, self.reversed, where=self.inside)
        xp.copyto(self.index, self.source, casting="unsafe")
        return flat_index(xp, self.index, self.stride, self.offsets, self.flat)

    def _flat(self, inputs):
        if not self.attrs.use_sequence_length:
            return self.flat
        return self._flat_from(self.read_lengths(inputs[1]))

    def forward(self, is_train, inputs, outputs, aux):
        gather(self.xp, inputs[0], self._flat(inputs), outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.attrs.use_sequence_length:
            self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        dst = self.grad_dst(0, in_grads, req)
        gather(self.xp, out_grads[0], self._flat(inputs), dst)
        self.grad_done(0, in_grads, req, dst)


class SequenceReverse(SequenceOp):
    name = "SequenceReverse"
    kernel = SequenceReverseKernel
    params = {"use_sequence_length": Param(parse_bool, False), "axis": Param(_axis_in(0), 0)}


OPS = [SequenceMask(), SequenceLast(), SequenceReverse()]
