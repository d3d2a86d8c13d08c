"""Structural operators: reshaping, splitting, joining, constants, identity and casts.

None of them does arithmetic; their gradients reshape, split, join or block.
"""
import numpy as np

from ..base import AttributeValueError, ShapeError
from ._common import OpKernel, UnaryOp, as_shapes, is_known, is_unknown, merge, prod
from .opdef import OpDef, Param, parse_bool, parse_dtype, parse_int, parse_str, parse_tuple


def _fill_unknown(shape, size):
    """Fill a single 0 dimension of ``shape`` so that it holds ``size`` elements."""
    if is_unknown(shape):
        return shape
    missing = [i for i, d in enumerate(shape) if not d]
    if len(missing) != 1:
        return tuple(shape)
    known = prod(d for d in shape if d)
    if known == 0 or size % known:
        return tuple(shape)
    out = list(shape)
    out[missing[0]] = size // known
    return tuple(out)


# -- kernels shared by the reshaping family --------------------------------------------
class CopyKernel(OpKernel):
    """Output = input with another shape; gradient = output gradient with the input shape."""

    def forward(self, is_train, inputs, outputs, aux):
        self.xp.copyto(outputs[0], inputs[0].reshape(self.out_shapes[0]))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            g = out_grads[0].reshape(self.in_shapes[0])
            self.store_grad(0, in_grads, req, g)


class ReshapeLike(UnaryOp):
    """Base for ops whose output holds the input's elements in another shape."""

    kernel = CopyKernel

    def forward_shape(self, attrs, shape):
        raise NotImplementedError

    def backward_shape(self, attrs, out_shape, in_shape):
        """Input shape from a known output shape (default: fill one unknown by size)."""
        return _fill_unknown(in_shape, prod(out_shape))

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if is_known(data):
            out = merge(out, self.forward_shape(attrs, tuple(data)), self.name, "output")
        elif is_known(out):
            data = self.backward_shape(attrs, tuple(out), data)
            if is_known(data):
                out = merge(out, self.forward_shape(attrs, tuple(data)), self.name, "output")
        return [data], [out]


class Flatten(ReshapeLike):
    name = "Flatten"
    aliases = ("flatten",)
    params = {}

    def forward_shape(self, attrs, shape):
        return (shape[0], prod(shape[1:])) if len(shape) > 1 else (shape[0], 1)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        data = as_shapes(in_shapes)[0]
        if not is_unknown(data) and not data[0] and is_known(data[1:]):
            # unknown batch: the feature size is still known (partial inference)
            out = merge(as_shapes(out_shapes)[0], (0, prod(data[1:])), self.name, "output")
            if out[0]:
                data = (out[0],) + data[1:]
            return [data], [out]
        return super().infer_shape(attrs, in_shapes, out_shapes)

    def backward_shape(self, attrs, out_shape, in_shape):
        if is_unknown(in_shape):
            return in_shape
        fixed = list(in_shape)
        fixed[0] = fixed[0] or out_shape[0]
        return _fill_unknown(tuple(fixed), prod(out_shape))


def reshape_target(op, shape, spec, reverse=False):
    """Apply MXNet's Reshape special codes (0, -1, -2, -3, -4) to the input ``shape``."""
    dims = list(shape)[::-1] if reverse else list(shape)
    codes = list(spec)
    if reverse:
        # keep each "-4, a, b" group in order when matching from the right
        groups, i = [], 0
        while i < len(codes):
            if codes[i] == -4:
                groups.append(codes[i:i + 3])
                i += 3
            else:
                groups.append([codes[i]])
                i += 1
        codes = [c for grp in reversed(groups)
                 for c in ([-4, grp[2], grp[1]] if grp[0] == -4 else grp)]
    out, src, infer_at, i = [], 0, None, 0

    def bad(msg):
        return ShapeError(f"{op}: cannot reshape {tuple(shape)} with shape={tuple(spec)}: "
                          f"{msg}; fix the shape attribute")

    while i < len(codes):
        code = codes[i]
        if code == 0:
            if src >= len(dims):
                raise bad("0 refers past the last input dimension")
            out.append(dims[src])
            src += 1
        elif code == -1:
            if infer_at is not None:
                raise bad("more than one -1")
            infer_at = len(out)
            out.append(1)
            src += 1
        elif code == -2:
            out.extend(dims[src:])
            src = len(dims)
        elif code == -3:
            if src + 1 >= len(dims):
                raise bad("-3 needs two input dimensions")
            out.append(dims[src] * dims[src + 1])
            src += 2
        elif code == -4:
            if i + 2 >= len(codes) or src >= len(dims):
                raise bad("-4 must be followed by two numbers and refer to an input dimension")
            d0, d1 = codes[i + 1], codes[i + 2]
            if d0 == -1 and d1 == -1:
                raise bad("-4 with both parts -1")
            if d0 == -1:
                d0 = dims[src] // d1
            elif d1 == -1:
                d1 = dims[src] // d0
            if d0 * d1 != dims[src]:
                raise bad(f"-4 splits {dims[src]} into {d0} x {d1}")
            out.extend([d0, d1])
            src += 1
            i += 2
        elif code > 0:
            out.append(code)
            src += 1
        else:
            raise bad(f"unknown special value {code}")
        i += 1
    total = prod(shape)
    if infer_at is not None:
        rest = prod(out[:infer_at] + out[infer_at + 1:])
        if rest == 0 or total % rest:
            raise bad(f"{total} elements cannot fill the known dimensions")
        out[infer_at] = total // rest
    if reverse:
        out = out[::-1]
    if prod(out) != total:
        raise bad(f"the result {tuple(out)} holds {prod(out)} elements, not {total}")
    return tuple(out)


class Reshape(ReshapeLike):
    name = "Reshape"
    aliases = ("reshape",)
    params = {"shape": Param(parse_tuple, ()), "reverse": Param(parse_bool, False),
              "target_shape": Param(parse_tuple, ()), "keep_highest": Param(parse_bool, False)}

    def forward_shape(self, attrs, shape):
        if attrs.shape:
            return reshape_target(self.name, shape, attrs.shape, attrs.reverse)
        if attrs.target_shape:  # deprecated form: 0 = infer, keep_highest keeps dim 0
            target = list(attrs.target_shape)
            if attrs.keep_highest:
                target = [shape[0]] + target
            spec = [-1 if d == 0 else d for d in target]
            return reshape_target(self.name, shape, spec)
        raise AttributeValueError(f"{self.name}: neither shape nor target_shape is given; "
                                  f"pass shape=(...)")


class ExpandDims(ReshapeLike):
    name = "expand_dims"
    params = {"axis": Param(parse_int)}

    def _axis(self, attrs, ndim):
        axis = attrs.axis
        if not -ndim - 1 <= axis <= ndim:
            raise AttributeValueError(f"expand_dims: axis {axis} is out of range for "
                                      f"{ndim}-d input; use -{ndim + 1}..{ndim}")
        return axis % (ndim + 1)

    def forward_shape(self, attrs, shape):
        axis = self._axis(attrs, len(shape))
        return shape[:axis] + (1,) + shape[axis:]

    def backward_shape(self, attrs, out_shape, in_shape):
        axis = self._axis(attrs, len(out_shape) - 1)
        return merge(in_shape, out_shape[:axis] + out_shape[axis + 1:], self.name,
                     "input 'data'")


# -- axis permutations ------------------------------------------------------------------
class TransposeKernel(OpKernel):
    def setup(self):
        self.perm = self.op.permutation(self.attrs, len(self.in_shapes[0]))
        self.inverse = tuple(int(i) for i in np.argsort(self.perm))

    def forward(self, is_train, inputs, outputs, aux):
        self.xp.copyto(outputs[0], inputs[0].transpose(self.perm))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            g = out_grads[0].transpose(self.inverse)
            self.store_grad(0, in_grads, req, g)


class Permute(UnaryOp):
    kernel = TransposeKernel

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            perm = self.permutation(attrs, len(data))
            out = merge(out, tuple(data[p] for p in perm), self.name, "output")
        if not is_unknown(out):
            perm = self.permutation(attrs, len(out))
            back = [0] * len(out)
            for i, p in enumerate(perm):
                back[p] = out[i]
            data = merge(data, tuple(back), self.name, "input 'data'")
        return [data], [out]


class SwapAxis(Permute):
    name = "SwapAxis"
    aliases = ("swapaxes",)
    params = {"dim1": Param(parse_int, 0), "dim2": Param(parse_int, 0)}

    def permutation(self, attrs, ndim):
        perm = list(range(ndim))
        a, b = attrs.dim1 % ndim, attrs.dim2 % ndim
        perm[a], perm[b] = perm[b], perm[a]
        return tuple(perm)


class Transpose(Permute):
    name = "transpose"
    params = {"axes": Param(parse_tuple, ())}

    def permutation(self, attrs, ndim):
        if not attrs.axes:
            return tuple(range(ndim))[::-1]
        if sorted(a % ndim for a in attrs.axes) != list(range(ndim)):
            raise AttributeValueError(f"transpose: axes={attrs.axes} is not a permutation of "
                                      f"the {ndim} input axes")
        return tuple(a % ndim for a in attrs.axes)


# -- split and join ---------------------------------------------------------------------
class SliceChannelKernel(OpKernel):
    def setup(self):
        shape = self.in_shapes[0]
        self.axis = self.attrs.axis % len(shape)
        n = self.attrs.num_outputs
        part = shape[self.axis] // n
        self.slices = []
        for i in range(n):
            index = [slice(None)] * len(shape)
            index[self.axis] = slice(i * part, (i + 1) * part)
            self.slices.append(tuple(index))
        self.part_shape = shape[:self.axis] + (part,) + shape[self.axis + 1:]

    def forward(self, is_train, inputs, outputs, aux):
        for index, out in zip(self.slices, outputs):
            self.xp.copyto(out, inputs[0][index].reshape(out.shape))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        dst = in_grads[0]
        for index, g in zip(self.slices, out_grads):
            g = g.reshape(self.part_shape)
            if req[0] == "write":
                self.xp.copyto(dst[index], g)
            else:
                dst[index] += g


class SliceChannel(OpDef):
    name = "SliceChannel"
    aliases = ("split",)
    kernel = SliceChannelKernel
    params = {"num_outputs": Param(parse_int), "axis": Param(parse_int, 1),
              "squeeze_axis": Param(parse_bool, False)}

    def outputs(self, attrs):
        return [f"output{i}" for i in range(attrs.num_outputs)]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, n = in_shapes[0], attrs.num_outputs
        if n < 1:
            raise AttributeValueError("SliceChannel: num_outputs must be at least 1")
        part = None
        for s in out_shapes:
            part = merge(s, part, self.name, "output")
        if not is_unknown(data):
            axis = attrs.axis % len(data)
            size = data[axis]
            if size and size % n:
                raise ShapeError(f"SliceChannel: axis {axis} of {tuple(data)} has size {size}, "
                                 f"which num_outputs={n} does not divide; change num_outputs")
            if attrs.squeeze_axis and size and size != n:
                raise ShapeError(f"SliceChannel: squeeze_axis=True needs parts of size 1 but "
                                 f"{size}/{n} = {size // n}; set num_outputs={size}")
            each = data[:axis] + ((size // n,) if not attrs.squeeze_axis else ()) + data[axis + 1:]
            part = merge(part, each, self.name, "output")
        if not is_unknown(part):
            if attrs.squeeze_axis:
                axis = attrs.axis % (len(part) + 1)
                full = part[:axis] + (n,) + part[axis:]
            else:
                axis = attrs.axis % len(part)
                full = part[:axis] + (part[axis] * n,) + part[axis + 1:]
            data = merge(data, full, self.name, "input 'data'")
        return [data], [part] * n


class ConcatKernel(OpKernel):
    def setup(self):
        ndim = len(self.out_shapes[0])
        self.axis = self.attrs.dim % ndim
        self.slices, start = [], 0
        for shape in self.in_shapes:
            index = [slice(None)] * ndim
            index[self.axis] = slice(start, start + shape[self.axis])
            self.slices.append(tuple(index))
            start += shape[self.axis]

    def forward(self, is_train, inputs, outputs, aux):
        for index, x in zip(self.slices, inputs):
            self.xp.copyto(outputs[0][index], x)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        for i, index in enumerate(self.slices):
            if self.wants(i, in_grads, req):
                self.store_grad(i, in_grads, req, out_grads[0][index])


class Concat(OpDef):
    name = "Concat"
    aliases = ("concat",)
    kernel = ConcatKernel
    params = {"num_args": Param(parse_int), "dim": Param(parse_int, 1)}

    def arguments(self, attrs):
        return [f"arg{i}" for i in range(attrs.num_args)]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        ins, out = list(in_shapes), out_shapes[0]
        ndim = next((len(s) for s in ins + [out] if not is_unknown(s)), None)
        if ndim is None:
            return ins, [out]
        axis = attrs.dim % ndim
        # every dimension except the concat axis is shared by all inputs and the output
        common = None
        for i, s in enumerate(ins + [out]):
            if not is_unknown(s):
                masked = tuple(0 if k == axis else d for k, d in enumerate(s))
                what = f"input 'arg{i}'" if i < len(ins) else "output"
                common = merge(masked, common, self.name, what)
        sizes = [s[axis] if not is_unknown(s) else 0 for s in ins]
        total = out[axis] if not is_unknown(out) else 0
        unknown = [i for i, d in enumerate(sizes) if not d]
        if not unknown:
            total = merge((total,), (sum(sizes),), self.name, "output along dim")[0]
        elif len(unknown) == 1 and total:
            sizes[unknown[0]] = total - sum(sizes)
            if sizes[unknown[0]] <= 0:
                raise ShapeError(f"Concat: output size {total} along dim {axis} is smaller than "
                                 f"the inputs' sizes {sizes}; fix the input shapes")

        def with_axis(size):
            return tuple(size if k == axis else d for k, d in enumerate(common))
        ins = [merge(s, with_axis(d), self.name, f"input 'arg{i}'")
               for i, (s, d) in enumerate(zip(ins, sizes))]
        out = merge(out, with_axis(total), self.name, "output")
        return ins, [out]


class SliceAxisKernel(OpKernel):
    def setup(self):
        shape = self.in_shapes[0]
        self.index = self.op.index(self.attrs, shape)

    def forward(self, is_train, inputs, outputs, aux):
        self.xp.copyto(outputs[0], inputs[0][self.index])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            if req[0] == "write":
                in_grads[0][...] = 0
            in_grads[0][self.index] += out_grads[0]


class SliceAxis(UnaryOp):
    name = "slice_axis"
    kernel = SliceAxisKernel
    params = {"axis": Param(parse_int), "begin": Param(parse_int),
              "end": Param(parse_int, None)}

    def index(self, attrs, shape):
        axis = attrs.axis % len(shape)
        start, stop, _ = slice(attrs.begin, attrs.end).indices(shape[axis])
        if stop <= start:
            raise ShapeError(f"slice_axis: begin={attrs.begin}, end={attrs.end} select nothing "
                             f"from axis {axis} of size {shape[axis]}; fix begin/end")
        index = [slice(None)] * len(shape)
        index[axis] = slice(start, stop)
        return tuple(index)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if is_known(data):
            index = self.index(attrs, data)
            axis = attrs.axis % len(data)
            sl = index[axis]
            expected = tuple(sl.stop - sl.start if k == axis else d for k, d in enumerate(data))
            out = merge(out, expected, self.name, "output")
        return [data], [out]


# -- constants --------------------------------------------------------------------------
class ConstantKernel(OpKernel):
    def forward(self, is_train, inputs, outputs, aux):
        outputs[0][...] = self.op.value

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        pass  # no inputs


class Constant(OpDef):
    kernel = ConstantKernel
    params = {"shape": Param(parse_tuple, ()), "ctx": Param(parse_str, ""),
              "dtype": Param(parse_dtype, "float32")}

    def __init__(self, name, value):
        self.name, self.value = name, value

    def arguments(self, attrs):
        return []

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        declared = tuple(attrs.shape) if attrs.shape else None
        return [], [merge(out_shapes[0], declared, self.name, "output")]

    def infer_type(self, attrs, in_types, out_types):
        return [], [attrs.dtype or "float32"]


# -- identity, gradient blocking and casts ----------------------------------------------
class IdentityKernel(OpKernel):
    def forward(self, is_train, inputs, outputs, aux):
        self.xp.copyto(outputs[0], inputs[0], casting="unsafe")

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        if self.op.blocks_gradient:
            self.zero_grad(0, in_grads, req)
        elif req[0] == "write":
            self.xp.copyto(in_grads[0], out_grads[0], casting="unsafe")
        else:
            in_grads[0] += out_grads[0].astype(in_grads[0].dtype, copy=False)


class Identity(UnaryOp):
    kernel = IdentityKernel
    params = {}

    def __init__(self, name, aliases=(), blocks_gradient=False):
        self.name, self.aliases, self.blocks_gradient = name, tuple(aliases), blocks_gradient


class Cast(Identity):
    params = {"dtype": Param(parse_dtype)}

    def __init__(self):
        super().__init__("Cast", ("cast",))

    def infer_type(self, attrs, in_types, out_types):
        return [in_types[0]], [attrs.dtype]


OPS = [Flatten(), Reshape(), ExpandDims(), SwapAxis(), Transpose(), SliceChannel(), Concat(),
       SliceAxis(), Constant("_zeros", 0), Constant("_ones", 1),
       Identity("BlockGrad", ("stop_gradient",), blocks_gradient=True),
       Identity("_copy", ("identity",)), Cast()]
