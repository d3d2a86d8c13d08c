"""Elementwise operators: unary math, scalar arithmetic, same-shape and broadcast binaries."""
from ..base import ShapeError
from ._common import OpKernel, SameShapeMixin, UnaryOp, as_shapes, is_known, is_unknown, merge
from ._math import BINARY, COMPARISONS, SCALAR, UNARY
from .opdef import OpDef, Param, parse_bool, parse_float, parse_int


# -- unary math -------------------------------------------------------------------------
class UnaryMathKernel(OpKernel):
    def setup(self):
        self.fwd, self.bwd = self.op.math

    def forward(self, is_train, inputs, outputs, aux):
        self.fwd(self.xp, inputs[0], outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            self.bwd(self.xp, inputs[0], outputs[0], out_grads[0], dst)
            self.grad_done(0, in_grads, req, dst)


class UnaryMathOp(UnaryOp):
    kernel = UnaryMathKernel
    params = {}

    def __init__(self, name, math, aliases=()):
        self.name, self.math, self.aliases = name, math, tuple(aliases)


UNARY_OPS = [
    UnaryMathOp(name, UNARY[name])
    for name in ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "square", "abs", "negative",
                 "reciprocal", "rsqrt", "cbrt", "sin", "cos", "tan", "log1p", "expm1", "log2",
                 "log10", "floor", "ceil", "trunc", "fix", "rint", "round", "sign")
]


# -- scalar arithmetic ------------------------------------------------------------------
class ScalarKernel(OpKernel):
    """Unary math with a constant argument: the scalar, or the attributes themselves."""

    def setup(self):
        self.fwd, self.bwd = self.op.math
        self.s = self.op.math_argument(self.attrs)

    def forward(self, is_train, inputs, outputs, aux):
        self.fwd(self.xp, inputs[0], self.s, outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            self.bwd(self.xp, inputs[0], outputs[0], out_grads[0], self.s, dst)
            self.grad_done(0, in_grads, req, dst)


class ScalarOp(UnaryOp):
    kernel = ScalarKernel
    params = {"scalar": Param(parse_float, 1.0), "is_int": Param(parse_bool, True)}

    @staticmethod
    def math_argument(attrs):
        return attrs.scalar

    def __init__(self, name, aliases=()):
        self.name, self.math, self.aliases = name, SCALAR[name], tuple(aliases)


SCALAR_OPS = [
    ScalarOp("_plus_scalar", ("_PlusScalar",)),
    ScalarOp("_minus_scalar", ("_MinusScalar",)),
    ScalarOp("_rminus_scalar", ("_RMinusScalar",)),
    ScalarOp("_mul_scalar", ("_MulScalar",)),
    ScalarOp("_div_scalar", ("_DivScalar",)),
    ScalarOp("_rdiv_scalar", ("_RDivScalar",)),
    ScalarOp("_power_scalar", ("_PowerScalar",)),
    ScalarOp("_rpower_scalar", ("_RPowerScalar",)),
    ScalarOp("_maximum_scalar", ("_MaximumScalar",)),
    ScalarOp("_minimum_scalar", ("_MinimumScalar",)),
    ScalarOp("_mod_scalar", ("_ModScalar",)),
    ScalarOp("_rmod_scalar", ("_RModScalar",)),
] + [ScalarOp(f"_{name}_scalar") for name in COMPARISONS]


# -- binary, same shape -----------------------------------------------------------------
class BinaryKernel(OpKernel):
    def setup(self):
        self.fwd, self.grad_a, self.grad_b = self.op.math

    def forward(self, is_train, inputs, outputs, aux):
        self.fwd(self.xp, inputs[0], inputs[1], outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        a, b = inputs
        for i, grad in enumerate((self.grad_a, self.grad_b)):
            if self.wants(i, in_grads, req):
                dst = self.grad_dst(i, in_grads, req)
                grad(self.xp, a, b, outputs[0], out_grads[0], dst)
                self.grad_done(i, in_grads, req, dst)


class BinaryOp(SameShapeMixin, OpDef):
    kernel = BinaryKernel
    params = {}

    def __init__(self, name, math, aliases=()):
        self.name, self.math, self.aliases = name, BINARY[math], tuple(aliases)

    def arguments(self, attrs):
        return ["lhs", "rhs"]


BINARY_OPS = [
    BinaryOp("elemwise_add", "add", ("_plus", "_Plus", "_add")),
    BinaryOp("elemwise_sub", "sub", ("_minus", "_Minus", "_sub")),
    BinaryOp("elemwise_mul", "mul", ("_mul", "_Mul")),
    BinaryOp("elemwise_div", "div", ("_div", "_Div")),
    BinaryOp("_maximum", "maximum", ("_Maximum", "maximum")),
    BinaryOp("_minimum", "minimum", ("_Minimum", "minimum")),
    BinaryOp("_power", "power", ("_Power", "power")),
    BinaryOp("_mod", "mod", ("_Mod",)),
] + [BinaryOp(f"_{name}", name) for name in COMPARISONS]


# -- binary with numpy broadcasting -----------------------------------------------------
def broadcast_shapes(op, a, b):
    nd = max(len(a), len(b))
    a = (1,) * (nd - len(a)) + tuple(a)
    b = (1,) * (nd - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ShapeError(f"{op}: operand shapes {a} and {b} cannot be broadcast together; "
                             f"each dimension must match or be 1")
    return tuple(out)


class BroadcastKernel(OpKernel):
    def setup(self):
        self.fwd, self.grad_a, self.grad_b = self.op.math
        out_shape = self.out_shapes[0]
        self.reduce = []
        for shape in self.in_shapes[:2]:
            padded = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
            axes = tuple(i for i, (d, o) in enumerate(zip(padded, out_shape)) if d != o)
            self.reduce.append((axes, shape))
        self.full = self.xp.empty(out_shape, dtype=self.dtypes["out"][0])

    def forward(self, is_train, inputs, outputs, aux):
        self.fwd(self.xp, inputs[0], inputs[1], outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp = self.xp
        a, b = inputs
        for i, grad in enumerate((self.grad_a, self.grad_b)):
            if not self.wants(i, in_grads, req):
                continue
            axes, shape = self.reduce[i]
            grad(xp, a, b, outputs[0], out_grads[0], self.full)
            if axes or len(shape) != self.full.ndim:
                summed = xp.sum(self.full, axis=axes, keepdims=True).reshape(shape)
            else:
                summed = self.full
            self.store_grad(i, in_grads, req, summed)


class BroadcastOp(OpDef):
    kernel = BroadcastKernel
    params = {}

    def __init__(self, name, math, aliases=()):
        self.name, self.math, self.aliases = name, BINARY[math], tuple(aliases)

    def arguments(self, attrs):
        return ["lhs", "rhs"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        a, b = in_shapes
        out = out_shapes[0]
        if is_known(a) and is_known(b):
            out = merge(out, broadcast_shapes(self.name, a, b), self.name, "output")
        elif not is_unknown(out):
            # an unknown operand with a known output and a known other operand of full rank
            # can only be inferred when the other operand is not broadcast itself
            if is_unknown(a) and is_known(b) and tuple(b) == tuple(out):
                a = None
            if is_unknown(b) and is_known(a) and tuple(a) == tuple(out):
                b = None
        return [a, b], [out]


BROADCAST_OPS = [
    BroadcastOp("broadcast_add", "add", ("broadcast_plus",)),
    BroadcastOp("broadcast_sub", "sub", ("broadcast_minus",)),
    BroadcastOp("broadcast_mul", "mul"),
    BroadcastOp("broadcast_div", "div"),
    BroadcastOp("broadcast_maximum", "maximum"),
    BroadcastOp("broadcast_minimum", "minimum"),
    BroadcastOp("broadcast_power", "power"),
    BroadcastOp("broadcast_mod", "mod"),
] + [BroadcastOp(f"broadcast_{name}", name) for name in COMPARISONS]


# -- n-ary sum and clip -----------------------------------------------------------------
class AddNKernel(OpKernel):
    def forward(self, is_train, inputs, outputs, aux):
        out = outputs[0]
        if len(inputs) == 1:
            self.xp.copyto(out, inputs[0])
            return
        self.xp.add(inputs[0], inputs[1], out=out)
        for x in inputs[2:]:
            out += x

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        for i in range(len(inputs)):
            if self.wants(i, in_grads, req):
                self.store_grad(i, in_grads, req, out_grads[0])


class AddN(SameShapeMixin, OpDef):
    name = "add_n"
    aliases = ("ElementWiseSum",)
    kernel = AddNKernel
    params = {"num_args": Param(parse_int)}

    def arguments(self, attrs):
        return [f"arg{i}" for i in range(attrs.num_args)]


class ClipKernel(OpKernel):
    def forward(self, is_train, inputs, outputs, aux):
        self.xp.clip(inputs[0], self.attrs.a_min, self.attrs.a_max, out=outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.wants(0, in_grads, req):
            x = inputs[0]
            inside = (x >= self.attrs.a_min) & (x <= self.attrs.a_max)
            dst = self.grad_dst(0, in_grads, req)
            self.xp.multiply(out_grads[0], inside, out=dst)
            self.grad_done(0, in_grads, req, dst)


class Clip(UnaryOp):
    name = "clip"
    kernel = ClipKernel
    params = {"a_min": Param(parse_float), "a_max": Param(parse_float)}



# -- erf, erfinv and unary math with attributes (hard_sigmoid, smooth_l1) ---------------
SPECIAL_OPS = [UnaryMathOp("erf", UNARY["erf"]), UnaryMathOp("erfinv", UNARY["erfinv"])]


class ParamUnaryOp(UnaryOp):
    """Unary math whose functions take the operator's attributes (``PARAM_UNARY``)."""

    kernel = ScalarKernel

    def __init__(self, name, params):
        from ._math import PARAM_UNARY
        self.name, self.math, self.params = name, PARAM_UNARY[name], params

    @staticmethod
    def math_argument(attrs):
        return attrs


PARAM_UNARY_OPS = [
    # MXNet's alpha default is the float32 0.2 (written 0.200000003 in its docs)
    ParamUnaryOp("hard_sigmoid", {"alpha": Param(parse_float, 0.2),
                                  "beta": Param(parse_float, 0.5)}),
    ParamUnaryOp("smooth_l1", {"scalar": Param(parse_float, 1.0)}),
]
OPS = (UNARY_OPS + SPECIAL_OPS + PARAM_UNARY_OPS + SCALAR_OPS + BINARY_OPS + BROADCAST_OPS
       + [AddN(), Clip()])
