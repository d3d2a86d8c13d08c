"""Elementwise math written once, as ``out=`` functions over ``xp``.

Each table maps a name to ``(forward, backward)``. Forward functions write ``out``;
backward functions write the input gradient into ``out`` from the input ``x``, the output
``y`` and the output gradient ``g``. Operators (``Activation``, ``relu``, ``_mul_scalar``,
``elemwise_mul``, ``broadcast_mul``...) pick their math from here so it lives in one place.
"""


# -- unary: f(x) ------------------------------------------------------------------------
def _relu(xp, x, out):
    xp.maximum(x, 0, out=out)


def _relu_grad(xp, x, y, g, out):
    xp.multiply(g, x > 0, out=out)


def _sigmoid(xp, x, out):
    # 0.5 * (1 + tanh(x / 2)): no overflow for large |x|, unlike 1 / (1 + exp(-x))
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5


def _sigmoid_grad(xp, x, y, g, out):
    xp.subtract(1, y, out=out)
    out *= y
    out *= g


def _tanh(xp, x, out):
    xp.tanh(x, out=out)


def _tanh_grad(xp, x, y, g, out):
    xp.multiply(y, y, out=out)
    xp.subtract(1, out, out=out)
    out *= g


def _softrelu(xp, x, out):
    xp.logaddexp(x, 0, out=out)  # log(1 + e^x) without overflow


def _softrelu_grad(xp, x, y, g, out):
    # d/dx log(1+e^x) = sigmoid(x) = 1 - e^-y
    xp.negative(y, out=out)
    xp.expm1(out, out=out)
    xp.negative(out, out=out)
    out *= g


def _softsign(xp, x, out):
    xp.abs(x, out=out)
    out += 1
    xp.divide(x, out, out=out)


def _softsign_grad(xp, x, y, g, out):
    xp.abs(x, out=out)
    out += 1
    xp.multiply(out, out, out=out)
    xp.divide(g, out, out=out)


def _exp_grad(xp, x, y, g, out):
    xp.multiply(g, y, out=out)


def _log_grad(xp, x, y, g, out):
    xp.divide(g, x, out=out)


def _sqrt_grad(xp, x, y, g, out):
    xp.multiply(y, 2, out=out)
    xp.divide(g, out, out=out)


def _square_grad(xp, x, y, g, out):
    xp.multiply(x, 2, out=out)
    out *= g


def _abs_grad(xp, x, y, g, out):
    xp.sign(x, out=out)
    out *= g


def _negative_grad(xp, x, y, g, out):
    xp.negative(g, out=out)


def _ufunc(name):
    """Forward of a unary function that is one ufunc of ``xp``."""
    return lambda xp, x, out: getattr(xp, name)(x, out=out)


def _grad_from(fn):
    """Backward ``out = g * fn(xp, x, y, out)``: ``fn`` writes the derivative into ``out``."""
    def grad(xp, x, y, g, out):
        fn(xp, x, y, out)
        out *= g
    return grad


def _zero_unary_grad(xp, x, y, g, out):
    out.fill(0)   # piecewise constant (floor, sign...): MXNet's gradient is 0


def _log_base_grad(base):
    import math
    scale = math.log(base)
    return lambda xp, x, y, g, out: xp.divide(g, xp.multiply(x, scale, out=out), out=out)


def _reciprocal_grad(xp, x, y, out):       # d(1/x) = -y^2
    xp.multiply(y, y, out=out)
    xp.negative(out, out=out)


def _rsqrt(xp, x, out):
    xp.sqrt(x, out=out)
    xp.reciprocal(out, out=out)


def _rsqrt_grad(xp, x, y, out):            # d(x^-1/2) = -y^3 / 2
    xp.multiply(y, y, out=out)
    out *= y
    out *= -0.5


def _cbrt_grad(xp, x, y, out):             # d(x^1/3) = 1 / (3 y^2)
    xp.multiply(y, y, out=out)
    out *= 3
    xp.reciprocal(out, out=out)


def _sin_grad(xp, x, y, out):
    xp.cos(x, out=out)


def _cos_grad(xp, x, y, out):
    xp.sin(x, out=out)
    xp.negative(out, out=out)


def _tan_grad(xp, x, y, out):              # 1 + tan^2
    xp.multiply(y, y, out=out)
    out += 1


def _log1p_grad(xp, x, y, out):
    xp.add(x, 1, out=out)
    xp.reciprocal(out, out=out)


def _expm1_grad(xp, x, y, out):
    xp.add(y, 1, out=out)


def _fix(xp, x, out):
    xp.trunc(x, out=out)    # MXNet's fix: round towards zero


def _round(xp, x, out):
    # MXNet's round: halves away from zero (numpy's rint rounds them to even)
    xp.abs(x, out=out)
    out += 0.5
    xp.floor(out, out=out)
    xp.copysign(out, x, out=out)


def _rint(xp, x, out):
    # MXNet's rint: the nearer integer, halves to the lower one (not numpy's half-to-even)
    xp.subtract(x, 0.5, out=out)
    xp.ceil(out, out=out)


UNARY = {
    "relu": (_relu, _relu_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "tanh": (_tanh, _tanh_grad),
    "softrelu": (_softrelu, _softrelu_grad),
    "softsign": (_softsign, _softsign_grad),
    "exp": (lambda xp, x, out: xp.exp(x, out=out), _exp_grad),
    "log": (lambda xp, x, out: xp.log(x, out=out), _log_grad),
    "sqrt": (lambda xp, x, out: xp.sqrt(x, out=out), _sqrt_grad),
    "square": (lambda xp, x, out: xp.multiply(x, x, out=out), _square_grad),
    "abs": (lambda xp, x, out: xp.abs(x, out=out), _abs_grad),
    "negative": (lambda xp, x, out: xp.negative(x, out=out), _negative_grad),
    "reciprocal": (_ufunc("reciprocal"), _grad_from(_reciprocal_grad)),
    "rsqrt": (_rsqrt, _grad_from(_rsqrt_grad)),
    "cbrt": (_ufunc("cbrt"), _grad_from(_cbrt_grad)),
    "sin": (_ufunc("sin"), _grad_from(_sin_grad)),
    "cos": (_ufunc("cos"), _grad_from(_cos_grad)),
    "tan": (_ufunc("tan"), _grad_from(_tan_grad)),
    "log1p": (_ufunc("log1p"), _grad_from(_log1p_grad)),
    "expm1": (_ufunc("expm1"), _grad_from(_expm1_grad)),
    "log2": (_ufunc("log2"), _log_base_grad(2)),
    "log10": (_ufunc("log10"), _log_base_grad(10)),
    "floor": (_ufunc("floor"), _zero_unary_grad),
    "ceil": (_ufunc("ceil"), _zero_unary_grad),
    "trunc": (_ufunc("trunc"), _zero_unary_grad),
    "fix": (_fix, _zero_unary_grad),
    "rint": (_rint, _zero_unary_grad),
    "round": (_round, _zero_unary_grad),
    "sign": (_ufunc("sign"), _zero_unary_grad),
}


# -- scalar: f(x, s) --------------------------------------------------------------------
def _copy_grad(xp, x, y, g, s, out):
    xp.copyto(out, g)


def _neg_grad(xp, x, y, g, s, out):
    xp.negative(g, out=out)


def _rdiv_grad(xp, x, y, g, s, out):
    # d(s/x)/dx = -s/x^2 = -y/x
    xp.divide(y, x, out=out)
    xp.negative(out, out=out)
    out *= g


def _power_grad(xp, x, y, g, s, out):
    xp.power(x, s - 1, out=out)
    out *= s
    out *= g


def _rpower_grad(xp, x, y, g, s, out):
    import math
    xp.multiply(y, math.log(s), out=out)
    out *= g


def _zero_grad(xp, x, y, g, s, out):
    out.fill(0)


def mxnet_mod(xp, a, b, out):
    """MXNet's mod: the sign of the divisor (Python's %), and 0 where the divisor is 0."""
    nonzero = b != 0
    xp.mod(a, xp.where(nonzero, b, 1), out=out)
    out *= nonzero


def _mod_scalar(xp, x, s, out):
    if s == 0:
        out.fill(0)
    else:
        xp.mod(x, s, out=out)


def _rmod_grad(xp, x, y, g, s, out):
    # d(s mod x)/dx = -floor(s/x), 0 where x is 0 (the output is 0 there)
    _floor_quotient(xp, s, x, out)
    xp.negative(out, out=out)
    out *= g


def _floor_quotient(xp, a, b, out):
    """``floor(a/b)`` into ``out``, 0 where ``b`` is 0."""
    nonzero = b != 0
    xp.divide(a, xp.where(nonzero, b, 1), out=out)
    xp.floor(out, out=out)
    out *= nonzero


def _comparison(ufunc):
    """Forward of a comparison: 1.0 where it holds, else 0.0 (MXNet returns the input dtype)."""
    return lambda xp, x, s, out: getattr(xp, ufunc)(x, s, out=out)


COMPARISONS = {"equal": "equal", "not_equal": "not_equal", "greater": "greater",
               "greater_equal": "greater_equal", "lesser": "less", "lesser_equal": "less_equal"}

SCALAR = {
    "_plus_scalar": (lambda xp, x, s, out: xp.add(x, s, out=out), _copy_grad),
    "_minus_scalar": (lambda xp, x, s, out: xp.subtract(x, s, out=out), _copy_grad),
    "_rminus_scalar": (lambda xp, x, s, out: xp.subtract(s, x, out=out), _neg_grad),
    "_mul_scalar": (lambda xp, x, s, out: xp.multiply(x, s, out=out),
                    lambda xp, x, y, g, s, out: xp.multiply(g, s, out=out)),
    "_div_scalar": (lambda xp, x, s, out: xp.divide(x, s, out=out),
                    lambda xp, x, y, g, s, out: xp.divide(g, s, out=out)),
    "_rdiv_scalar": (lambda xp, x, s, out: xp.divide(s, x, out=out), _rdiv_grad),
    "_power_scalar": (lambda xp, x, s, out: xp.power(x, s, out=out), _power_grad),
    "_rpower_scalar": (lambda xp, x, s, out: xp.power(s, x, out=out), _rpower_grad),
    "_maximum_scalar": (lambda xp, x, s, out: xp.maximum(x, s, out=out),
                        lambda xp, x, y, g, s, out: xp.multiply(g, x >= s, out=out)),
    "_minimum_scalar": (lambda xp, x, s, out: xp.minimum(x, s, out=out),
                        lambda xp, x, y, g, s, out: xp.multiply(g, x <= s, out=out)),
    "_mod_scalar": (_mod_scalar, _copy_grad),
    "_rmod_scalar": (lambda xp, x, s, out: mxnet_mod(xp, s, x, out), _rmod_grad),
    **{f"_{name}_scalar": (_comparison(ufunc), _zero_grad) for name, ufunc in COMPARISONS.items()},
}


# -- binary: f(a, b); gradients for a and b (shapes equal to the output) ----------------
def _div_grad_b(xp, a, b, y, g, out):
    # d(a/b)/db = -a/b^2 = -y/b
    xp.divide(y, b, out=out)
    xp.negative(out, out=out)
    out *= g


def _power_grad_a(xp, a, b, y, g, out):
    xp.subtract(b, 1, out=out)
    xp.power(a, out, out=out)
    out *= b
    out *= g


def _power_grad_b(xp, a, b, y, g, out):
    xp.log(a, out=out)
    out *= y
    out *= g


def _mod_grad_b(xp, a, b, y, g, out):
    _floor_quotient(xp, a, b, out)
    xp.negative(out, out=out)
    out *= g


def _zero_grad2(xp, a, b, y, g, out):
    out.fill(0)


BINARY = {
    "add": (lambda xp, a, b, out: xp.add(a, b, out=out),
            lambda xp, a, b, y, g, out: xp.copyto(out, g),
            lambda xp, a, b, y, g, out: xp.copyto(out, g)),
    "sub": (lambda xp, a, b, out: xp.subtract(a, b, out=out),
            lambda xp, a, b, y, g, out: xp.copyto(out, g),
            lambda xp, a, b, y, g, out: xp.negative(g, out=out)),
    "mul": (lambda xp, a, b, out: xp.multiply(a, b, out=out),
            lambda xp, a, b, y, g, out: xp.multiply(g, b, out=out),
            lambda xp, a, b, y, g, out: xp.multiply(g, a, out=out)),
    "div": (lambda xp, a, b, out: xp.divide(a, b, out=out),
            lambda xp, a, b, y, g, out: xp.divide(g, b, out=out),
            _div_grad_b),
    "maximum": (lambda xp, a, b, out: xp.maximum(a, b, out=out),
                lambda xp, a, b, y, g, out: xp.multiply(g, a >= b, out=out),
                lambda xp, a, b, y, g, out: xp.multiply(g, a < b, out=out)),
    "minimum": (lambda xp, a, b, out: xp.minimum(a, b, out=out),
                lambda xp, a, b, y, g, out: xp.multiply(g, a <= b, out=out),
                lambda xp, a, b, y, g, out: xp.multiply(g, a > b, out=out)),
    "power": (lambda xp, a, b, out: xp.power(a, b, out=out), _power_grad_a, _power_grad_b),
    # MXNet's gradient of mod for the dividend is 1 everywhere, also where the divisor is 0
    "mod": (mxnet_mod, lambda xp, a, b, y, g, out: xp.copyto(out, g), _mod_grad_b),
    **{name: (_comparison(ufunc), _zero_grad2, _zero_grad2) for name, ufunc in COMPARISONS.items()},
}


# -- erf and erfinv: numpy has neither, so both are computed from series ----------------
import math  # noqa: E402  (this section was appended; the math above needs no imports)

_ERF_TERMS = 100     # enough for float64 accuracy (2e-15) on the whole clipped range
_TWO_OVER_SQRT_PI = 1.1283791670955126


def _erf(xp, x, out):
    # erf(x) = 2/sqrt(pi) e^(-x^2) sum_n x (2x^2)^n / (2n+1)!!: every term has the sign of
    # x, so nothing cancels. |x| is clipped at 6, where erf is 1 to float64 precision.
    t = xp.clip(x, -6.0, 6.0)
    sq = t * t
    term = t.copy()
    total = t.copy()
    for n in range(_ERF_TERMS):
        term *= sq * (2.0 / (2 * n + 3))
        total += term
    xp.negative(sq, out=out)
    xp.exp(out, out=out)
    out *= total
    out *= _TWO_OVER_SQRT_PI


def _erf_grad(xp, x, y, out):              # 2/sqrt(pi) e^(-x^2)
    xp.multiply(x, x, out=out)
    xp.negative(out, out=out)
    xp.exp(out, out=out)
    out *= _TWO_OVER_SQRT_PI


def _erfinv(xp, y, out):
    # Winitzki's closed form (error ~2e-3) refined by Halley steps on erf(x) = y, each of
    # which triples the correct digits; +-1 give +-inf and |y| > 1 nan, as in MXNet.
    a = 0.147
    with _quiet(xp):
        ln = xp.log1p(-y * y)
        first = 2 / (math.pi * a) + ln / 2
        x = xp.sign(y) * xp.sqrt(xp.sqrt(first * first - ln / a) - first)
        inner = xp.abs(y) < 1
        x = xp.where(inner, x, 0.0)
        fx = xp.empty_like(x)
        for _ in range(3):
            _erf(xp, x, fx)
            u = (fx - y) / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
            x = x - u / (1 + x * u)
        edge = xp.where(xp.abs(y) == 1, xp.sign(y) * math.inf, math.nan)
        xp.copyto(out, xp.where(inner, x, edge))


def _erfinv_grad(xp, x, y, out):           # sqrt(pi)/2 e^(y^2)
    xp.multiply(y, y, out=out)
    xp.exp(out, out=out)
    out /= _TWO_OVER_SQRT_PI


def _quiet(xp):
    """Silence numpy's warnings for the log/sqrt of out-of-domain inputs (nan is the result)."""
    import contextlib
    import numpy
    return numpy.errstate(all="ignore") if xp is numpy else contextlib.nullcontext()


UNARY["erf"] = (_erf, _grad_from(_erf_grad))
UNARY["erfinv"] = (_erfinv, _grad_from(_erfinv_grad))


# -- unary with attributes: f(x, attrs) -------------------------------------------------
def _hard_sigmoid(xp, x, a, out):
    xp.multiply(x, a.alpha, out=out)
    out += a.beta
    xp.clip(out, 0, 1, out=out)


def _hard_sigmoid_grad(xp, x, y, g, a, out):
    # alpha strictly inside (0, 1); MXNet gives 0 where alpha*x + beta is exactly 0 or 1
    xp.multiply(g, (y > 0) & (y < 1), out=out)
    out *= a.alpha


def _smooth_l1(xp, x, a, out):
    # MXNet: 0.5 (sigma x)^2 where |x| < 1/sigma^2, else |x| - 0.5/sigma^2
    s2 = a.scalar * a.scalar
    quad = 0.5 * s2 * x * x
    xp.abs(x, out=out)
    xp.copyto(out, xp.where(out < 1 / s2, quad, out - 0.5 / s2))


def _smooth_l1_grad(xp, x, y, g, a, out):
    s2 = a.scalar * a.scalar
    xp.copyto(out, xp.where(xp.abs(x) < 1 / s2, s2 * x, xp.sign(x)))
    out *= g


PARAM_UNARY = {
    "hard_sigmoid": (_hard_sigmoid, _hard_sigmoid_grad),
    "smooth_l1": (_smooth_l1, _smooth_l1_grad),
}
