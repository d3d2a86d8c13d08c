"""Array operators: squeeze, zeros_like/ones_like, broadcasting, tile, repeat, stack, slice,
reverse and where.

Their forward passes only copy; gradients sum the copies back (broadcast, tile, repeat),
scatter into a zero gradient (slice, reverse) or are routed by a mask (where).
"""
from ..base import AttributeValueError, ShapeError
from ._common import (OpKernel, UnaryOp, as_shapes, check_axis, is_known, is_unknown, merge,
                      prod)
from .opdef import OpDef, Param, optional, parse_index_tuple, parse_int, parse_tuple
from .structural import ReshapeLike, SliceAxisKernel


def _axis(op, axis, ndim, name="axis"):
    """An axis attribute made non-negative (``AttributeValueError`` when out of range)."""
    return check_axis(op, axis, ndim, name, AttributeValueError)


def _positive(op, name, values):
    if any(v < 1 for v in values):
        raise AttributeValueError(f"{op}: {name}={tuple(values)} must be positive (an empty "
                                  f"result cannot be represented: 0 means an unknown size)")


# -- squeeze and constants shaped like the input -----------------------------------------
class Squeeze(ReshapeLike):
    name = "squeeze"
    params = {"axis": Param(optional(parse_tuple), None)}

    def forward_shape(self, attrs, shape):
        if attrs.axis is None:
            axes = [i for i, d in enumerate(shape) if d == 1]
        else:
            axes = [_axis(self.name, a, len(shape)) for a in attrs.axis]
            if len(set(axes)) != len(axes):
                raise AttributeValueError(f"squeeze: axis={attrs.axis} names an axis twice; "
                                          f"list each axis once")
            for a in axes:
                if shape[a] != 1:
                    raise ShapeError(f"squeeze: axis {a} of input 'data' {shape} has size "
                                     f"{shape[a]}; only size-1 axes can be squeezed, so drop "
                                     f"{a} from axis")
        out = tuple(d for i, d in enumerate(shape) if i not in axes)
        return out or (1,)   # squeezing every axis leaves (1,), as in MXNet 1.x


class FillLikeKernel(OpKernel):
    def forward(self, is_train, inputs, outputs, aux):
        outputs[0][...] = self.op.value

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(0, in_grads, req)   # the output does not depend on the values


class FillLike(UnaryOp):
    """``zeros_like``/``ones_like``: a constant with the input's shape and dtype."""
    kernel = FillLikeKernel
    params = {}

    def __init__(self, name, value):
        self.name, self.value = name, value


# -- broadcasting -----------------------------------------------------------------------
def broadcast_shape(op, what, shape, target, target_what):
    """``shape`` broadcast to ``target`` of the same rank: a size-1 dimension takes the
    target's size, any other must equal it; a 0 (unknown) takes whatever the other knows."""
    if len(shape) != len(target):
        raise ShapeError(f"{op}: {what} of shape {shape} cannot be broadcast to {target_what} "
                         f"{target}: the ranks differ ({len(shape)} vs {len(target)}); give "
                         f"both the same number of dimensions (reshape or expand_dims)")
    for d, t in zip(shape, target):
        if d > 1 and t not in (0, d):
            raise ShapeError(f"{op}: {what} of shape {shape} cannot be broadcast to "
                             f"{target_what} {target}: only size-1 dimensions can grow; "
                             f"make the {d} a 1 or the target {d}")
    return tuple(d if d > 1 else t for d, t in zip(shape, target))


class BroadcastToKernel(OpKernel):
    """Output = the first input repeated along its size-1 axes; its gradient sums the output
    gradient back over them. A second input (broadcast_like's rhs) only lends its shape."""

    def setup(self):
        shape, out = self.in_shapes[0], self.out_shapes[0]
        self.axes = tuple(i for i, (d, o) in enumerate(zip(shape, out)) if d != o)

    def forward(self, is_train, inputs, outputs, aux):
        self.xp.copyto(outputs[0], self.xp.broadcast_to(inputs[0], outputs[0].shape))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            if not self.axes:
                self.store_grad(0, in_grads, req, out_grads[0])
            else:
                dst = self.grad_dst(0, in_grads, req)
                self.xp.sum(out_grads[0], axis=self.axes, keepdims=True, out=dst)
                self.grad_done(0, in_grads, req, dst)
        for i in range(1, self.num_args):
            self.zero_grad(i, in_grads, req)


class BroadcastOne(UnaryOp):
    """One input broadcast to a shape computed from the attributes (forward inference)."""
    kernel = BroadcastToKernel

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            out = merge(out, self.target(attrs, data), self.name, "output")
        return [data], [out]


class BroadcastTo(BroadcastOne):
    name = "broadcast_to"
    params = {"shape": Param(parse_tuple, ())}

    def target(self, attrs, data):
        if any(t < 0 for t in attrs.shape):
            raise AttributeValueError(f"broadcast_to: shape={attrs.shape} has a negative size; "
                                      f"use 0 to keep the input's size")
        # a 0 in shape keeps the input's dimension
        target = tuple(t or d for t, d in zip(attrs.shape, data)) + attrs.shape[len(data):]
        return broadcast_shape(self.name, "input 'data'", data, target, "shape")


class BroadcastAxis(BroadcastOne):
    name = "broadcast_axis"
    aliases = ("broadcast_axes",)
    params = {"axis": Param(parse_tuple, ()), "size": Param(parse_tuple, ())}

    def target(self, attrs, data):
        if len(attrs.axis) != len(attrs.size):
            raise AttributeValueError(f"broadcast_axis: axis={attrs.axis} and size={attrs.size} "
                                      f"differ in length; give one size per axis")
        _positive(self.name, "size", attrs.size)
        axes = [_axis(self.name, a, len(data)) for a in attrs.axis]
        if len(set(axes)) != len(axes):
            raise AttributeValueError(f"broadcast_axis: axis={attrs.axis} names an axis twice; "
                                      f"list each axis once")
        out = list(data)
        for a, size in zip(axes, attrs.size):
            if data[a] > 1:
                raise ShapeError(f"broadcast_axis: axis {a} of input 'data' {data} has size "
                                 f"{data[a]}; only size-1 axes can be broadcast")
            out[a] = size
        return tuple(out)


class BroadcastLike(OpDef):
    name = "broadcast_like"
    kernel = BroadcastToKernel
    params = {"lhs_axes": Param(optional(parse_tuple), None),
              "rhs_axes": Param(optional(parse_tuple), None)}

    def arguments(self, attrs):
        return ["lhs", "rhs"]

    def infer_type(self, attrs, in_types, out_types):
        # the output has lhs's dtype; rhs only lends its shape, whatever its dtype
        dtype = in_types[0] or out_types[0]
        return [dtype, in_types[1]], [dtype]

    def target(self, attrs, lhs, rhs):
        if attrs.lhs_axes is None and attrs.rhs_axes is None:
            return broadcast_shape(self.name, "input 'lhs'", lhs, rhs, "input 'rhs' of shape")
        if attrs.lhs_axes is None or attrs.rhs_axes is None:
            raise AttributeValueError("broadcast_like: give both lhs_axes and rhs_axes, or "
                                      "neither to broadcast lhs to the whole shape of rhs")
        if len(attrs.lhs_axes) != len(attrs.rhs_axes) or not attrs.lhs_axes:
            raise AttributeValueError(f"broadcast_like: lhs_axes={attrs.lhs_axes} and "
                                      f"rhs_axes={attrs.rhs_axes} must pair up one to one and "
                                      f"not be empty")
        out = list(lhs)
        for a, b in zip(attrs.lhs_axes, attrs.rhs_axes):
            a = _axis(self.name, a, len(lhs), "lhs_axes entry")
            b = _axis(self.name, b, len(rhs), "rhs_axes entry")
            if lhs[a] > 1:
                raise ShapeError(f"broadcast_like: axis {a} of input 'lhs' {lhs} has size "
                                 f"{lhs[a]}; lhs_axes may only name size-1 axes")
            out[a] = rhs[b]
        return tuple(out)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        (lhs, rhs), out = in_shapes, out_shapes[0]
        if not is_unknown(lhs) and not is_unknown(rhs):
            out = merge(out, self.target(attrs, lhs, rhs), self.name, "output")
        return [lhs, rhs], [out]


# -- tile and repeat: copies along new interleaved axes ---------------------------------
class RepeatKernel(OpKernel):
    """The output viewed as ``split`` is the input viewed as ``kept`` (1s where ``split``
    has the copies) broadcast: forward copies, backward sums over the copy axes."""

    def setup(self):
        self.split, self.kept = self.op.views(self.attrs, self.in_shapes[0])
        self.axes = tuple(i for i, (s, k) in enumerate(zip(self.split, self.kept)) if s != k)

    def forward(self, is_train, inputs, outputs, aux):
        src = self.xp.broadcast_to(inputs[0].reshape(self.kept), self.split)
        self.xp.copyto(outputs[0].reshape(self.split), src)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            self.xp.sum(out_grads[0].reshape(self.split), axis=self.axes, keepdims=True,
                        out=dst.reshape(self.kept))
            self.grad_done(0, in_grads, req, dst)


class Tile(UnaryOp):
    name = "tile"
    kernel = RepeatKernel
    params = {"reps": Param(parse_tuple)}

    def _padded(self, attrs, shape):
        """``shape`` and ``reps`` left-padded with 1s to the same length (numpy's rule)."""
        _positive(self.name, "reps", attrs.reps)
        n = max(len(shape), len(attrs.reps))
        return ((1,) * (n - len(shape)) + tuple(shape),
                (1,) * (n - len(attrs.reps)) + tuple(attrs.reps))

    def views(self, attrs, shape):
        dims, reps = self._padded(attrs, shape)
        # (r0, d0, r1, d1, ...): output element (i*d0 + a, ...) is input element (a, ...)
        split = tuple(v for r, d in zip(reps, dims) for v in (r, d))
        kept = tuple(v for d in dims for v in (1, d))
        return split, kept

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            dims, reps = self._padded(attrs, data)
            out = merge(out, tuple(d * r for d, r in zip(dims, reps)), self.name, "output")
        return [data], [out]


class Repeat(UnaryOp):
    name = "repeat"
    kernel = RepeatKernel
    params = {"repeats": Param(parse_int), "axis": Param(parse_int, None)}

    def views(self, attrs, shape):
        if attrs.axis is None:   # repeat the elements of the flattened input
            before, after = (prod(shape),), ()
        else:
            axis = _axis(self.name, attrs.axis, len(shape))
            before, after = tuple(shape[:axis + 1]), tuple(shape[axis + 1:])
        return before + (attrs.repeats,) + after, before + (1,) + after

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        _positive(self.name, "repeats", (attrs.repeats,))
        if attrs.axis is None and is_known(data):
            out = merge(out, (prod(data) * attrs.repeats,), self.name, "output")
        elif attrs.axis is not None and not is_unknown(data):
            axis = _axis(self.name, attrs.axis, len(data))
            expected = tuple(d * attrs.repeats if i == axis else d for i, d in enumerate(data))
            out = merge(out, expected, self.name, "output")
        return [data], [out]


# -- stack ------------------------------------------------------------------------------
class StackKernel(OpKernel):
    def setup(self):
        axis = self.attrs.axis % len(self.out_shapes[0])
        self.slots = [(slice(None),) * axis + (i,) for i in range(self.num_args)]

    def forward(self, is_train, inputs, outputs, aux):
        for slot, x in zip(self.slots, inputs):
            self.xp.copyto(outputs[0][slot], x)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        for i, slot in enumerate(self.slots):
            if self.wants(i, in_grads, req):
                self.store_grad(i, in_grads, req, out_grads[0][slot])


class Stack(OpDef):
    name = "stack"
    kernel = StackKernel
    params = {"axis": Param(parse_int, 0), "num_args": Param(parse_int)}

    def arguments(self, attrs):
        if attrs.num_args < 1:
            raise AttributeValueError("stack: num_args must be at least 1")
        return [f"arg{i}" for i in range(attrs.num_args)]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        ins, outs = as_shapes(in_shapes), as_shapes(out_shapes)
        n, out = attrs.num_args, outs[0]
        common = None   # the shape every input has
        for i, s in enumerate(ins):
            common = merge(s, common, self.name, f"input 'arg{i}'")
        if common is None and is_unknown(out):
            return ins, outs
        ndim = len(common) if common is not None else len(out) - 1
        axis = _axis(self.name, attrs.axis, ndim + 1)
        if not is_unknown(out):
            if len(out) != ndim + 1:
                raise ShapeError(f"stack: output has shape {out} but stacking {ndim}-d inputs "
                                 f"gives {ndim + 1} dimensions; fix the input shapes")
            common = merge(out[:axis] + out[axis + 1:], common, self.name,
                           "output less the stacked axis")
        out = merge(out, common[:axis] + (n,) + common[axis:], self.name, "output")
        return [common] * n, [out]


# -- slice and reverse: a basic numpy index, gradient scattered back -------------------------
class Slice(UnaryOp):
    name = "slice"
    aliases = ("crop",)
    kernel = SliceAxisKernel
    params = {"begin": Param(parse_index_tuple), "end": Param(parse_index_tuple),
              "step": Param(parse_index_tuple, ())}

    def index(self, attrs, shape):
        """The numpy index of the region; bounds are clipped as Python slices are (MXNet
        1.9.1 gives the same elements for every non-empty selection)."""
        begin, end, step = attrs.begin, attrs.end, attrs.step or (None,) * len(attrs.begin)
        if len(end) != len(begin) or len(step) != len(begin):
            raise AttributeValueError(f"slice: begin={begin}, end={end} and step={attrs.step} "
                                      f"must have the same length (step may be empty)")
        if 0 in step:
            raise AttributeValueError(f"slice: step={attrs.step} contains 0; use None or a "
                                      f"nonzero step")
        if len(begin) > len(shape):
            raise ShapeError(f"slice: begin={begin} slices {len(begin)} axes but input 'data' "
                             f"{tuple(shape)} has {len(shape)}; shorten begin/end/step")
        return tuple(slice(b, e, s) for b, e, s in zip(begin, end, step))

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            index = self.index(attrs, data)
            dims = list(data)
            for axis, sl in enumerate(index):
                if not data[axis]:
                    continue   # an unknown dimension gives an unknown size
                dims[axis] = len(range(*sl.indices(data[axis])))
                if not dims[axis]:
                    raise ShapeError(f"slice: begin={attrs.begin}, end={attrs.end}, "
                                     f"step={attrs.step} select nothing from axis {axis} of "
                                     f"input 'data' {data}; fix begin/end/step")
            out = merge(out, tuple(dims), self.name, "output")
        return [data], [out]


class Reverse(UnaryOp):
    name = "reverse"
    aliases = ("flip",)
    kernel = SliceAxisKernel
    params = {"axis": Param(parse_tuple)}

    def index(self, attrs, shape):
        flipped = [False] * len(shape)
        for a in attrs.axis:
            # each mention reverses once: naming an axis twice restores it, as in MXNet 1.9.1
            a = _axis(self.name, a, len(shape))
            flipped[a] = not flipped[a]
        return tuple(slice(None, None, -1) if f else slice(None) for f in flipped)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = super().infer_shape(attrs, in_shapes, out_shapes)
        if not is_unknown(in_shapes[0]):
            self.index(attrs, in_shapes[0])   # reject an axis out of range before binding
        return in_shapes, out_shapes


# -- where ------------------------------------------------------------------------------
class WhereKernel(OpKernel):
    def setup(self):
        cond, shape = self.in_shapes[0], self.in_shapes[1]
        # a 1-D condition over a higher-rank x picks whole slices along the first axis
        self.cond_view = cond if len(cond) == len(shape) else cond + (1,) * (len(shape) - 1)
        self.take_x = self.xp.empty(shape, dtype=bool)
        self.take_y = self.xp.empty(shape, dtype=bool)

    def _masks(self, condition):
        cond = self.xp.broadcast_to(condition.reshape(self.cond_view), self.take_x.shape)
        self.xp.not_equal(cond, 0, out=self.take_x)
        self.xp.logical_not(self.take_x, out=self.take_y)
        return self.take_x, self.take_y

    def forward(self, is_train, inputs, outputs, aux):
        take_x, _ = self._masks(inputs[0])
        self.xp.copyto(outputs[0], inputs[2])
        self.xp.copyto(outputs[0], inputs[1], where=take_x)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(0, in_grads, req)   # the condition only selects
        masks = self._masks(inputs[0])
        for i, mask in ((1, masks[0]), (2, masks[1])):
            if self.wants(i, in_grads, req):
                dst = self.grad_dst(i, in_grads, req)
                dst[...] = 0
                self.xp.copyto(dst, out_grads[0], where=mask)
                self.grad_done(i, in_grads, req, dst)


class Where(OpDef):
    name = "where"
    kernel = WhereKernel
    params = {}

    def arguments(self, attrs):
        return ["condition", "x", "y"]

    def infer_type(self, attrs, in_types, out_types):
        # x, y and the output share a dtype; the condition keeps its own
        dtype = next((t for t in (in_types[1], in_types[2], out_types[0]) if t), None)
        return [in_types[0], dtype, dtype], [dtype]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        (cond, x, y), (out,) = as_shapes(in_shapes), as_shapes(out_shapes)
        shape = None
        for what, s in (("input 'x'", x), ("input 'y'", y), ("output", out)):
            shape = merge(s, shape, self.name, what)
        if not is_unknown(cond):
            if shape is None and len(cond) > 1:
                shape = tuple(cond)   # only a 1-D condition may differ from x's shape
            elif shape is not None and len(cond) == len(shape):
                cond = shape = merge(cond, shape, self.name, "input 'condition'")
            elif shape is not None and len(cond) == 1:
                first = merge(cond, shape[:1], self.name, "1-D input 'condition' (one value "
                              "per slice of x's first axis)")
                cond, shape = first, first + shape[1:]
            elif shape is not None:
                raise ShapeError(f"where: input 'condition' has shape {cond} but x has shape "
                                 f"{shape}; give the condition x's shape or make it 1-D with "
                                 f"{shape[0]} entries (one per slice of x's first axis)")
        return [cond, shape, shape], [shape]


OPS = [Squeeze(), FillLike("zeros_like", 0), FillLike("ones_like", 1), BroadcastTo(),
       BroadcastAxis(), BroadcastLike(), Tile(), Repeat(), Stack(), Slice(), Reverse(), Where()]
