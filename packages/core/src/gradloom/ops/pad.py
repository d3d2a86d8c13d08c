"""Pad: constant, edge or reflect padding of the spatial axes of 4-D and 5-D data.

``pad_width`` holds a (before, after) pair per axis; as in MXNet the batch and channel pairs
must be 0. Forward copies the data into the output's interior and then fills the borders
one padded axis at a time, each border copied from the positions it repeats ('edge': the
outermost row, once per border row; 'reflect': the rows next to the edge, mirrored) over
the whole extent of the other axes, so corners come out as ``numpy.pad`` makes them.
Backward transposes those copies in reverse order (each border's gradient is added onto
its source positions), after which the interior holds the data gradient.
"""
from ..base import AttributeValueError, ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge
from .opdef import OpDef, Param, choice, parse_float, parse_tuple


def _mirrored(first, last):
    """Positions ``first, first-1, ..., last`` (a reversed slice; ``last`` may be 0)."""
    return slice(first, last - 1 if last else None, -1)


def border_copies(mode, before, after, size):
    """``(border, source)`` index pairs along one axis whose interior starts at ``before``."""
    end = before + size
    if mode == "edge":
        return ([(slice(i, i + 1), slice(before, before + 1)) for i in range(before)] +
                [(slice(i, i + 1), slice(end - 1, end)) for i in range(end, end + after)])
    copies = []   # reflect: the edge row itself is not repeated
    if before:
        copies.append((slice(0, before), _mirrored(2 * before, before + 1)))
    if after:
        copies.append((slice(end, end + after), _mirrored(end - 2, end - 1 - after)))
    return copies


class PadKernel(OpKernel):
    def setup(self):
        a = self.attrs
        shape = self.in_shapes[0]
        pairs = list(zip(a.pad_width[::2], a.pad_width[1::2]))
        self.inner = tuple(slice(b, b + n) for (b, _), n in zip(pairs, shape))
        self.copies = []   # (border index, source index) in the order forward makes them
        if a.mode != "constant":
            for axis, ((b, e), n) in enumerate(zip(pairs, shape)):
                for border, source in border_copies(a.mode, b, e, n):
                    self.copies.append((self._along(axis, border), self._along(axis, source)))
            self.work = self.xp.empty(self.out_shapes[0], dtype=self.dtypes["in"][0])

    def _along(self, axis, index):
        full = [slice(None)] * len(self.in_shapes[0])
        full[axis] = index
        return tuple(full)

    def forward(self, is_train, inputs, outputs, aux):
        y = outputs[0]
        if self.attrs.mode == "constant":
            y.fill(self.attrs.constant_value)
        self.xp.copyto(y[self.inner], inputs[0])
        for border, source in self.copies:
            self.xp.copyto(y[border], y[source])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        g = out_grads[0]
        if self.copies:
            # a border's gradient stays off the interior along every other axis, so
            # what the later (earlier-undone) copies leave in the borders never counts
            g = self.work
            self.xp.copyto(g, out_grads[0])
            for border, source in reversed(self.copies):
                g[source] += g[border]
        self.store_grad(0, in_grads, req, g[self.inner])


class Pad(OpDef):
    name = "Pad"
    aliases = ("pad",)
    kernel = PadKernel
    params = {
        "mode": Param(choice("constant", "edge", "reflect")),
        "pad_width": Param(parse_tuple),
        "constant_value": Param(parse_float, 0.0),
    }

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        width = tuple(attrs.pad_width)
        if any(w < 0 for w in width):
            raise AttributeValueError(f"Pad: pad_width={width} must not be negative")
        data, out = in_shapes[0], out_shapes[0]
        known = data if not is_unknown(data) else out
        if is_unknown(known):
            return [data], [out]
        self._check(attrs, known, "input 'data'" if known is data else "output")
        grow = [b + e for b, e in zip(width[::2], width[1::2])]
        if not is_unknown(data):
            self._check_sizes(attrs, data)
            out = merge(out, tuple(d and d + g for d, g in zip(data, grow)), self.name,
                        "output")
        if not is_unknown(out):
            inner = tuple(d - g if d > g else 0 for d, g in zip(out, grow))
            data = merge(data, inner, self.name, "input 'data'")
        return [data], [out]

    def _check(self, attrs, shape, what):
        width = tuple(attrs.pad_width)
        if len(shape) not in (4, 5):
            raise ShapeError(f"Pad: {what} has shape {tuple(shape)}; only 4-d and 5-d data "
                             f"(N, C, spatial...) can be padded")
        if len(width) != 2 * len(shape):
            raise ShapeError(f"Pad: pad_width={width} has {len(width)} values but {what} "
                             f"{tuple(shape)} needs {2 * len(shape)} (before, after per axis)")
        if any(width[:4]):
            raise ShapeError(f"Pad: pad_width={width} pads the batch or channel axis; only "
                             f"spatial axes can be padded, so its first four values must be 0")

    def _check_sizes(self, attrs, data):
        if attrs.mode != "reflect":
            return
        width = tuple(attrs.pad_width)
        for axis, size in enumerate(data[2:], 2):
            if size and max(width[2 * axis:2 * axis + 2]) >= size:
                raise ShapeError(f"Pad: reflect padding {width[2 * axis:2 * axis + 2]} of "
                                 f"axis {axis} of input 'data' {tuple(data)} must be smaller "
                                 f"than its size {size}; pad less or use mode='edge'")


OPS = [Pad()]
