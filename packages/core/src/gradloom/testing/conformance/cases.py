"""The operator cases of the conformance suite: inputs, numpy references, gradient mode.

Every operator core registers has at least one case here (``test_every_operator_has_a_case``
enforces it). Inputs are drawn away from kinks (|x| >= 0.2) and without ties so numerical
gradients are well defined.
"""
import dataclasses
import math

import numpy as np

from . import reference as R


@dataclasses.dataclass
class Case:
    op: str
    attrs: dict
    shapes: list
    ref: object                      # (inputs, aux, attrs, is_train) -> visible outputs
    kinds: tuple = ()                # per input: "signed", "positive", "index:N", "label:K",
    #                                  "prob", "distinct"
    grad: object = "numeric"         # "numeric", "mask" or (inputs, outs, ograds, attrs) -> grads
    grad_nodes: tuple = None         # inputs checked numerically (default: every float input)
    in_types: tuple = ()
    aux: object = None               # rng, shapes -> aux values
    is_train: bool = True
    name: str = ""

    @property
    def id(self):
        return self.name or self.op


def sample(rng, shape, kind="signed"):
    if kind == "signed":
        return rng.uniform(0.2, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "positive":
        return rng.uniform(0.5, 1.5, shape)
    if kind == "distinct":
        size = math.prod(shape)
        return (rng.permutation(size).reshape(shape) - size / 2) / size * 2
    if kind.startswith("index:"):
        return rng.integers(-1, int(kind[6:]) + 1, shape).astype(np.float64)
    if kind.startswith("label:"):
        return rng.integers(0, int(kind[6:]), shape).astype(np.float64)
    if kind == "prob":
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=-1, keepdims=True)
    raise ValueError(kind)


def _unary(fn):
    return lambda x, aux, a, t: [fn(x[0])]


def _binary(fn):
    return lambda x, aux, a, t: [fn(x[0], x[1])]


def _loss_grad(fn):
    """Gradient of a loss head: data gradient from ``fn`` and a zero label gradient."""
    return lambda x, outs, g, a: [fn(x, outs, g, a), np.zeros_like(x[1])]


SCALAR_REFS = {
    "_plus_scalar": lambda x, s: x + s, "_minus_scalar": lambda x, s: x - s,
    "_rminus_scalar": lambda x, s: s - x, "_mul_scalar": lambda x, s: x * s,
    "_div_scalar": lambda x, s: x / s, "_rdiv_scalar": lambda x, s: s / x,
    "_power_scalar": lambda x, s: x ** s, "_rpower_scalar": lambda x, s: s ** x,
    "_maximum_scalar": np.maximum, "_minimum_scalar": np.minimum,
}
UNARY_REFS = {
    "relu": R.ACTIVATIONS["relu"], "sigmoid": R.sigmoid, "tanh": np.tanh, "exp": np.exp,
    "log": np.log, "sqrt": np.sqrt, "square": np.square, "abs": np.abs,
    "negative": np.negative, "reciprocal": np.reciprocal, "rsqrt": lambda x: 1 / np.sqrt(x),
    "cbrt": np.cbrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "log1p": np.log1p,
    "expm1": np.expm1, "log2": np.log2, "log10": np.log10,
}
# piecewise constant: MXNet's gradient is 0 (a finite difference may straddle a jump)
STEP_REFS = {
    "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "fix": np.trunc,
    "sign": np.sign, "rint": lambda x: np.ceil(x - 0.5),
    "round": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
}
BINARY_REFS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
               "maximum": np.maximum, "minimum": np.minimum, "power": np.power}
POSITIVE = {"log", "sqrt", "_rdiv_scalar", "_power_scalar", "power", "rsqrt", "log2",
            "log10"}


COMPARISON_REFS = {"equal": np.equal, "not_equal": np.not_equal, "greater": np.greater,
                   "greater_equal": np.greater_equal, "lesser": np.less,
                   "lesser_equal": np.less_equal}


def _comparison_cases(add):
    """Comparisons on small integers (so equality happens): 1.0 where true, zero gradient
    (integer "label" inputs are checked for a zero gradient)."""
    for name, fn in COMPARISON_REFS.items():
        add(Case(f"_{name}_scalar", {"scalar": 1.0}, [(3, 4)],
                 _unary(lambda x, fn=fn: fn(x, 1.0).astype(np.float64)), kinds=("label:3",)))
        add(Case(f"_{name}", {}, [(3, 4), (3, 4)],
                 _binary(lambda a, b, fn=fn: fn(a, b).astype(np.float64)),
                 kinds=("label:3", "label:3")))
        add(Case(f"broadcast_{name}", {}, [(2, 3, 4), (1, 3, 1)],
                 _binary(lambda a, b, fn=fn: fn(a, b).astype(np.float64)),
                 kinds=("label:3", "label:3")))


def _sum_to(grad, shape):
    """A broadcast operand's gradient: ``grad`` summed over the axes it was broadcast on."""
    axes = tuple(i for i, (d, o) in enumerate(zip(shape, grad.shape)) if d != o)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def _mod_grads(x, outs, g, a):
    """MXNet's mod gradients: 1 for the dividend, -floor(a/b) for the divisor."""
    full = np.broadcast_to(-np.floor(x[0] / x[1]), g[0].shape) * g[0]
    return [_sum_to(g[0], x[0].shape), _sum_to(full, x[1].shape)]


def _mod_cases(add):
    # defined gradients: a finite difference straddling a jump of mod would be meaningless
    add(Case("_mod_scalar", {"scalar": 0.7}, [(3, 4)], _unary(lambda x: np.mod(x, 0.7)),
             grad=lambda x, outs, g, a: [g[0]]))
    add(Case("_rmod_scalar", {"scalar": 2.0}, [(3, 4)], _unary(lambda x: np.mod(2.0, x)),
             kinds=("positive",), grad=lambda x, outs, g, a: [-np.floor(2.0 / x[0]) * g[0]]))
    add(Case("_mod", {}, [(3, 4), (3, 4)], _binary(np.mod), kinds=("signed", "positive"),
             grad=_mod_grads))
    add(Case("broadcast_mod", {}, [(2, 3, 4), (1, 3, 1)], _binary(np.mod),
             kinds=("signed", "positive"), grad=_mod_grads))


def _zero_grads(x, outs, g, a):
    return [np.zeros_like(v) for v in x]


def _regression(kind):
    def ref(x, aux, a, t):
        return [R.sigmoid(x[0]) if kind == "logistic" else x[0]]

    def grad(x, outs, g, a):
        label = x[1].reshape(outs[0].shape)
        m = x[1].size // x[1].shape[0]
        diff = outs[0] - label
        return a.grad_scale / m * (np.sign(diff) if kind == "mae" else diff)
    return ref, _loss_grad(grad)


def _softmax_output_ref(x, aux, a, t):
    n = x[0].shape[0]
    if a.multi_output:
        return [R.softmax(x[0], axis=1)]
    if a.preserve_shape:
        return [R.softmax(x[0], axis=-1)]
    return [R.softmax(x[0].reshape(n, -1), axis=1).reshape(x[0].shape)]


def _softmax_output_grad(x, outs, g, a):
    grad = R.softmax_output_grad(outs[0], x[1], a)
    return grad * g[0] if a.out_grad else grad


def _make_loss_grad(x, outs, g, a):
    if "normalization" not in a:
        return [np.ones_like(x[0])]
    if a.normalization == "batch":
        return [np.full_like(x[0], a.grad_scale / x[0].shape[0])]
    if a.normalization == "valid":
        return [np.full_like(x[0], a.grad_scale / max(int((x[0] > a.valid_thresh).sum()), 1))]
    return [np.full_like(x[0], a.grad_scale)]


def _reduce(fn):
    def ref(x, aux, a, t):
        nd = x[0].ndim
        axes = tuple(sorted({i % nd for i in a.axis})) if a.axis else tuple(range(nd))
        if a.exclude:
            axes = tuple(i for i in range(nd) if i not in axes)
        out = fn(x[0], axis=axes, keepdims=a.keepdims)
        return [np.reshape(out, (1,)) if np.ndim(out) == 0 else out]
    return ref


def _bn_aux(rng, shapes):
    return [rng.uniform(-0.5, 0.5, shapes[3]), rng.uniform(0.5, 1.5, shapes[4])]


def _bn_ref(x, aux, a, t):
    return [R.batch_norm(x[0], x[1], x[2], aux[0], aux[1], a, t)]


def _split_ref(x, aux, a, t):
    parts = np.split(x[0], a.num_outputs, axis=a.axis)
    return [p.squeeze(axis=a.axis) if a.squeeze_axis else p for p in parts]


def _slice_axis_ref(x, aux, a, t):
    index = [slice(None)] * x[0].ndim
    index[a.axis] = slice(a.begin, a.end)
    return [x[0][tuple(index)]]


def _embedding_ref(x, aux, a, t):
    idx = np.clip(np.trunc(x[0]), 0, a.input_dim - 1).astype(int)
    return [x[1][idx]]


def _dot_ref(x, aux, a, t):
    lhs = x[0].T if a.transpose_a else x[0]
    rhs = x[1].T if a.transpose_b else x[1]
    return [np.tensordot(lhs, rhs, axes=1)]


def _batch_dot_ref(x, aux, a, t):
    lhs = x[0].swapaxes(1, 2) if a.transpose_a else x[0]
    rhs = x[1].swapaxes(1, 2) if a.transpose_b else x[1]
    return [lhs @ rhs]


def _fc_ref(x, aux, a, t):
    data = x[0].reshape(x[0].shape[0], -1) if a.flatten else x[0]
    out = data @ x[1].T
    return [out + x[2] if len(x) > 2 else out]


def _conv_ref(x, aux, a, t):
    return [R.convolution(x[0], x[1], x[2] if len(x) > 2 else None, a)]


def _softmax_act_ref(x, aux, a, t):
    if a.mode == "channel":
        return [R.softmax(x[0], axis=1)]
    return [R.softmax(x[0].reshape(x[0].shape[0], -1), axis=1).reshape(x[0].shape)]


def _rrelu_inference_ref(x, aux, a, t):
    return [np.where(x[0] > 0, x[0], x[0] * (a.lower_bound + a.upper_bound) / 2)]


def _log_softmax(x, axis):
    return np.log(R.softmax(x, axis))


def build_cases():
    cases = []
    add = cases.append
    # -- structural
    add(Case("Flatten", {}, [(2, 3, 4)], _unary(lambda x: x.reshape(2, -1))))
    add(Case("Reshape", {"shape": (-4, 1, 2, -2)}, [(2, 3, 4)],
             _unary(lambda x: x.reshape(1, 2, 3, 4))))
    add(Case("Reshape", {"shape": (-1, 0), "reverse": True}, [(5, 2, 3)],
             _unary(lambda x: x.reshape(10, 3)), name="Reshape-reverse"))
    add(Case("expand_dims", {"axis": 1}, [(2, 3)], _unary(lambda x: x[:, None])))
    add(Case("SwapAxis", {"dim1": 0, "dim2": 2}, [(2, 3, 4)],
             _unary(lambda x: x.swapaxes(0, 2))))
    add(Case("transpose", {"axes": (1, 2, 0)}, [(2, 3, 4)],
             _unary(lambda x: x.transpose(1, 2, 0))))
    add(Case("SliceChannel", {"num_outputs": 2}, [(2, 4, 3)], _split_ref))
    add(Case("SliceChannel", {"num_outputs": 3, "squeeze_axis": True}, [(2, 3, 5)], _split_ref,
             name="SliceChannel-squeeze"))
    add(Case("Concat", {"num_args": 3, "dim": 1}, [(2, 3), (2, 1), (2, 2)],
             lambda x, aux, a, t: [np.concatenate(x, axis=1)]))
    add(Case("slice_axis", {"axis": 1, "begin": 1, "end": 3}, [(2, 4, 2)], _slice_axis_ref))
    add(Case("_zeros", {"shape": (2, 3)}, [], lambda x, aux, a, t: [np.zeros((2, 3))]))
    add(Case("_ones", {"shape": (2, 3)}, [], lambda x, aux, a, t: [np.ones((2, 3))]))
    add(Case("BlockGrad", {}, [(2, 3)], _unary(lambda x: x),
             grad=lambda x, outs, g, a: [np.zeros_like(x[0])]))
    add(Case("_copy", {}, [(2, 3)], _unary(lambda x: x)))
    add(Case("Cast", {"dtype": "float64"}, [(2, 3)], _unary(lambda x: x)))
    # -- elementwise
    for name, fn in UNARY_REFS.items():
        add(Case(name, {}, [(3, 4)], _unary(fn),
                 kinds=("positive",) if name in POSITIVE else ()))
    for name, fn in STEP_REFS.items():
        add(Case(name, {}, [(3, 4)], _unary(fn), grad=_zero_grads))
    for name, fn in SCALAR_REFS.items():
        s = 1.5 if name != "_maximum_scalar" else 0.3
        add(Case(name, {"scalar": s}, [(3, 4)], _unary(lambda x, fn=fn, s=s: fn(x, s)),
                 kinds=("positive",) if name in POSITIVE else ()))
    for name, math_name in (("elemwise_add", "add"), ("elemwise_sub", "sub"),
                            ("elemwise_mul", "mul"), ("elemwise_div", "div"),
                            ("_maximum", "maximum"), ("_minimum", "minimum"),
                            ("_power", "power")):
        kinds = ("positive", "positive") if math_name in POSITIVE | {"div"} else ()
        add(Case(name, {}, [(3, 4), (3, 4)], _binary(BINARY_REFS[math_name]), kinds=kinds))
    for math_name, fn in BINARY_REFS.items():
        name = f"broadcast_{math_name}"
        kinds = ("positive", "positive") if math_name in POSITIVE | {"div"} else ()
        add(Case(name, {}, [(2, 3, 4), (1, 3, 1)], _binary(fn), kinds=kinds))
    _comparison_cases(add)
    _mod_cases(add)
    add(Case("add_n", {"num_args": 3}, [(2, 3)] * 3, lambda x, aux, a, t: [x[0] + x[1] + x[2]]))
    add(Case("clip", {"a_min": -0.5, "a_max": 0.5}, [(4, 5)],
             _unary(lambda x: np.clip(x, -0.5, 0.5))))
    # -- activations
    for act, fn in R.ACTIVATIONS.items():
        add(Case("Activation", {"act_type": act}, [(3, 4)], _unary(fn), name=f"Activation-{act}"))
    for act in ("leaky", "prelu", "elu", "selu", "gelu"):
        shapes = [(2, 3, 4)] + ([(3,)] if act == "prelu" else [])
        add(Case("LeakyReLU", {"act_type": act}, shapes,
                 lambda x, aux, a, t: [R.leaky_relu(x[0], x[1] if len(x) > 1 else None, a)],
                 name=f"LeakyReLU-{act}"))
    add(Case("LeakyReLU", {"act_type": "rrelu"}, [(2, 3)],
             _rrelu_inference_ref,
             is_train=False, name="LeakyReLU-rrelu"))
    add(Case("softmax", {"axis": 1}, [(2, 3, 4)], _unary(lambda x: R.softmax(x, 1))))
    add(Case("softmax", {"temperature": 2.0}, [(2, 5)], _unary(lambda x: R.softmax(x / 2, -1)),
             name="softmax-temperature"))
    add(Case("log_softmax", {}, [(2, 5)], _unary(lambda x: _log_softmax(x, -1))))
    add(Case("SoftmaxActivation", {}, [(2, 3, 2)], _softmax_act_ref))
    add(Case("SoftmaxActivation", {"mode": "channel"}, [(2, 3, 2)], _softmax_act_ref,
             name="SoftmaxActivation-channel"))
    # -- reductions
    add(Case("sum", {}, [(2, 3, 4)], _reduce(np.sum)))
    add(Case("sum", {"axis": (1,), "exclude": True}, [(2, 3, 4)], _reduce(np.sum),
             name="sum-exclude"))
    add(Case("mean", {"axis": (0, 2), "keepdims": True}, [(2, 3, 4)], _reduce(np.mean)))
    add(Case("max", {"axis": (1,)}, [(2, 3, 4)], _reduce(np.max), kinds=("distinct",)))
    add(Case("min", {"axis": (2,)}, [(2, 3, 4)], _reduce(np.min), kinds=("distinct",)))
    # -- dense
    add(Case("FullyConnected", {"num_hidden": 3}, [(2, 3, 2)], _fc_ref))
    add(Case("FullyConnected", {"num_hidden": 3, "flatten": False, "no_bias": True},
             [(2, 3, 2)], _fc_ref, name="FullyConnected-noflatten"))
    add(Case("Embedding", {"input_dim": 5, "output_dim": 3, "dtype": "float64"}, [(2, 3)],
             _embedding_ref,
             kinds=("index:5",), grad_nodes=(1,)))
    add(Case("dot", {}, [(2, 3), (3, 4)], _dot_ref))
    add(Case("dot", {"transpose_a": True, "transpose_b": True}, [(3, 2), (4, 3)], _dot_ref,
             name="dot-transposed"))
    add(Case("batch_dot", {"transpose_b": True}, [(2, 3, 4), (2, 5, 4)], _batch_dot_ref))
    # -- spatial
    add(Case("Convolution", {"kernel": (3, 3), "num_filter": 4, "stride": (2, 2),
                             "pad": (1, 1)}, [(2, 2, 5, 5)], _conv_ref))
    add(Case("Convolution", {"kernel": (2, 2), "num_filter": 4, "num_group": 2,
                             "dilate": (2, 1), "no_bias": True}, [(1, 4, 5, 4)], _conv_ref,
             name="Convolution-grouped-dilated"))
    add(Case("Convolution", {"kernel": (3,), "num_filter": 2, "pad": (1,)}, [(2, 3, 6)],
             _conv_ref, name="Convolution-1d"))
    for attrs, tag in (({"kernel": (2, 2), "stride": (2, 2)}, "max"),
                       ({"kernel": (3, 3), "stride": (2, 2), "pool_type": "avg", "pad": (1, 1)},
                        "avg"),
                       ({"kernel": (3, 3), "stride": (2, 2), "pool_type": "avg", "pad": (1, 1),
                         "count_include_pad": False}, "avg-nopad"),
                       ({"kernel": (2, 2), "stride": (1, 1), "pool_type": "sum"}, "sum"),
                       ({"kernel": (3, 3), "stride": (2, 2), "pooling_convention": "full"},
                        "max-full"),
                       ({"global_pool": True, "pool_type": "avg"}, "global-avg"),
                       ({"kernel": (2, 2), "stride": (2, 2), "pool_type": "lp", "p_value": 2},
                        "lp")):
        add(Case("Pooling", attrs, [(2, 2, 5, 5)],
                 lambda x, aux, a, t: [R.pooling(x[0], a)], kinds=("distinct",),
                 name=f"Pooling-{tag}"))
    # -- normalisation and dropout
    add(Case("BatchNorm", {"fix_gamma": False}, [(4, 3, 2, 2)], _bn_ref, aux=_bn_aux))
    add(Case("BatchNorm", {"fix_gamma": True, "axis": -1}, [(5, 3)], _bn_ref, aux=_bn_aux,
             name="BatchNorm-fixgamma-lastaxis"))
    add(Case("BatchNorm", {"fix_gamma": False, "use_global_stats": True}, [(4, 3)], _bn_ref,
             aux=_bn_aux, name="BatchNorm-global"))
    add(Case("BatchNorm", {"fix_gamma": False}, [(4, 3)], _bn_ref, aux=_bn_aux, is_train=False,
             name="BatchNorm-inference"))
    add(Case("Dropout", {"p": 0.4}, [(20, 10)], None, grad="mask"))
    add(Case("Dropout", {"p": 0.4, "axes": (0,)}, [(20, 10)], None, grad="mask",
             name="Dropout-axes"))
    # -- loss heads
    add(Case("SoftmaxOutput", {}, [(4, 3)], _softmax_output_ref, kinds=("signed", "label:3"),
             grad=_loss_grad(_softmax_output_grad)))
    add(Case("SoftmaxOutput", {"use_ignore": True, "normalization": "valid", "grad_scale": 2},
             [(6, 4)], _softmax_output_ref, kinds=("signed", "index:4"),
             grad=_loss_grad(_softmax_output_grad), name="SoftmaxOutput-ignore-valid"))
    add(Case("SoftmaxOutput", {"multi_output": True, "normalization": "batch"}, [(2, 3, 4)],
             _softmax_output_ref, kinds=("signed", "label:3"),
             grad=_loss_grad(_softmax_output_grad), name="SoftmaxOutput-multi"))
    add(Case("SoftmaxOutput", {"preserve_shape": True, "smooth_alpha": 0.1}, [(2, 3, 4)],
             _softmax_output_ref, kinds=("signed", "label:4"),
             grad=_loss_grad(_softmax_output_grad), name="SoftmaxOutput-preserve-smooth"))
    add(Case("SoftmaxOutput", {"out_grad": True}, [(3, 4), (3, 4)], _softmax_output_ref,
             kinds=("signed", "prob"), grad=_loss_grad(_softmax_output_grad),
             name="SoftmaxOutput-soft-outgrad"))
    for name, kind in (("LinearRegressionOutput", "linear"),
                       ("LogisticRegressionOutput", "logistic"),
                       ("MAERegressionOutput", "mae")):
        ref, grad = _regression(kind)
        add(Case(name, {"grad_scale": 2}, [(3, 4)], ref, grad=grad))
    add(Case("make_loss", {}, [(2, 3)], _unary(lambda x: x), grad=_make_loss_grad))
    add(Case("MakeLoss", {"normalization": "valid", "valid_thresh": 0.1}, [(2, 3)],
             _unary(lambda x: x), grad=_make_loss_grad))
    # operator families with cases of their own module
    from . import (cases_arrays, cases_custom, cases_indexing, cases_normalize, cases_rnn,
                   cases_sampling, cases_spatial)
    for family in (cases_arrays, cases_indexing, cases_normalize, cases_rnn, cases_spatial,
                   cases_sampling, cases_custom):
        family.add_cases(add)
    _extra_elementwise_cases(add)
    return cases


# -- erf, erfinv, hard_sigmoid, smooth_l1, softmax_cross_entropy ------------------------
def _erfinv_ref(y):
    """Inverse of math.erf by bisection (independent of the kernel's series and Halley)."""
    def one(v):
        lo, hi = -6.0, 6.0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.erf(mid) < v else (lo, mid)
        return (lo + hi) / 2
    return np.vectorize(one)(y)


def _smooth_l1_ref(x, a):
    s2 = a.scalar ** 2
    return np.where(np.abs(x) < 1 / s2, 0.5 * s2 * x * x, np.abs(x) - 0.5 / s2)


def _softmax_cross_entropy_ref(x, aux, a, t):
    p = R.softmax(x[0], axis=1)
    return [np.array([-np.log(p[np.arange(len(p)), x[1].astype(int)]).sum()])]


def _extra_elementwise_cases(add):
    add(Case("erf", {}, [(3, 4)], _unary(np.vectorize(math.erf))))
    add(Case("erfinv", {}, [(3, 4)], _unary(_erfinv_ref), kinds=("prob",)))
    add(Case("hard_sigmoid", {}, [(3, 4)],
             lambda x, aux, a, t: [np.clip(0.2 * x[0] + 0.5, 0, 1)]))
    # kinks at x = -0.5 and 0.5: the signed samples include clipped values on both sides
    add(Case("hard_sigmoid", {"alpha": 1.0, "beta": 0.5}, [(4, 5)],
             lambda x, aux, a, t: [np.clip(x[0] + 0.5, 0, 1)], name="hard_sigmoid-clipped"))
    # 1/sigma^2 = 0.44: both branches; the derivative is continuous at the joint
    add(Case("smooth_l1", {"scalar": 1.5}, [(4, 5)],
             lambda x, aux, a, t: [_smooth_l1_ref(x[0], a)]))
    add(Case("softmax_cross_entropy", {}, [(4, 3), (4,)], _softmax_cross_entropy_ref,
             kinds=("signed", "label:3")))


CASES = build_cases()
