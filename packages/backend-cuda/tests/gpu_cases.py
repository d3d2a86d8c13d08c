"""Attribute variants reaching every branch of each registered GPU kernel.

``GPU_CASES`` holds ``pytest.param(op, attrs, input shapes, input kinds, aux maker,
expected fast path)``; the GPU tests run them on the device, the host tests run the same
kernel classes on the host-compiled CUDA sources.
"""
import numpy as np
import pytest

from gradloom.testing import assert_almost_equal, bind_op
from gradloom.testing.conformance.cases import sample
from gradloom.testing.harness import resolve_op

# (op, attrs, input shapes, input kinds, aux maker, expected fast path)
GPU_CASES = []


def _case(op, attrs, shapes, kinds=(), aux=None, fast=True, name=None):
    GPU_CASES.append(pytest.param(op, attrs, shapes, kinds, aux, fast,
                                  id=name or f"{op}-{len(GPU_CASES)}"))


for _act in ("relu", "sigmoid", "tanh", "softrelu"):
    _case("Activation", {"act_type": _act}, [(64, 33)], name=f"Activation-{_act}")
    _case("Activation", {"act_type": _act}, [(3, 4, 5, 6)], name=f"Activation-{_act}-4d")
_case("Activation", {"act_type": "softsign"}, [(6, 7)], fast=False, name="Activation-softsign")
for _op in ("relu", "sigmoid", "tanh"):
    _case(_op, {}, [(9, 10)], name=f"unary-{_op}")
_case("FullyConnected", {"num_hidden": 17}, [(8, 3, 5)], name="FC")
_case("FullyConnected", {"num_hidden": 7, "no_bias": True}, [(16, 9)], name="FC-nobias")

_SM = [
    ({}, [(16, 10), (16,)], "plain"),
    ({"normalization": "batch"}, [(16, 10), (16,)], "batch"),
    ({"normalization": "valid", "use_ignore": True, "ignore_label": 2}, [(16, 10), (16,)],
     "valid-ignore"),
    ({"normalization": "valid"}, [(16, 10), (16,)], "valid-no-ignore"),
    ({"use_ignore": True, "ignore_label": -1}, [(16, 10), (16,)], "ignore-minus-one"),
    ({"multi_output": True}, [(4, 5, 3, 2), (4, 6)], "multi-output"),
    ({"multi_output": True, "normalization": "valid", "use_ignore": True, "ignore_label": 0},
     [(4, 5, 3), (4, 3)], "multi-output-valid"),
    ({"preserve_shape": True}, [(3, 4, 5), (3, 4)], "preserve-shape"),
    # softmax over all 15 values of a row, gradient per last axis (MXNet's rows = labels)
    ({"normalization": "batch"}, [(4, 3, 5), (4, 3)], "label-per-last-axis"),
    ({"smooth_alpha": 0.1}, [(16, 10), (16,)], "smooth"),
    ({"grad_scale": 2.5}, [(16, 10), (16,)], "grad-scale"),
    ({"out_grad": True}, [(8, 6), (8,)], "out-grad"),
    ({}, [(256, 1000), (256,)], "wide"),
]
for _attrs, _shapes, _tag in _SM:
    k = _shapes[0][1] if _attrs.get("multi_output") else _shapes[0][-1]
    _case("SoftmaxOutput", _attrs, _shapes, ("signed", f"index:{k}"),
          name=f"SoftmaxOutput-{_tag}")
_case("SoftmaxOutput", {}, [(8, 6), (8, 6)], ("signed", "prob"), name="SoftmaxOutput-soft")


def _bn_aux(rng, shapes):
    return [rng.uniform(-0.5, 0.5, shapes[3]), rng.uniform(0.5, 1.5, shapes[4])]


for _attrs, _shape, _tag in (({"fix_gamma": False}, (8, 5, 4, 3), "train"),
                             ({"fix_gamma": True}, (8, 5, 4, 3), "fix-gamma"),
                             ({"fix_gamma": False, "use_global_stats": True}, (8, 5, 6),
                              "global-stats"),
                             ({"fix_gamma": False, "output_mean_var": True}, (6, 4, 5),
                              "output-mean-var"),
                             ({"fix_gamma": False, "axis": -1}, (7, 6), "last-axis"),
                             ({"fix_gamma": False, "eps": 1e-5, "momentum": 0.5},
                              (32, 16, 7, 7), "large")):
    _case("BatchNorm", _attrs, [_shape], aux=_bn_aux, name=f"BatchNorm-{_tag}")

for _attrs, _shape, _tag in (
        ({"kernel": (3, 3), "num_filter": 8, "pad": (1, 1)}, (4, 3, 9, 9), "same"),
        ({"kernel": (3, 3), "num_filter": 4, "stride": (2, 2), "pad": (1, 1)}, (2, 2, 7, 8),
         "stride"),
        ({"kernel": (3, 2), "num_filter": 6, "dilate": (2, 1), "stride": (1, 2)},
         (3, 4, 9, 8), "dilate"),
        ({"kernel": (3, 3), "num_filter": 6, "num_group": 2, "no_bias": True}, (2, 4, 6, 6),
         "grouped"),
        ({"kernel": (5, 5), "num_filter": 20}, (16, 1, 28, 28), "lenet1"),
        ({"kernel": (5, 5), "num_filter": 50}, (16, 20, 12, 12), "lenet2")):
    _case("Convolution", _attrs, [_shape], name=f"Convolution-{_tag}")
_case("Convolution", {"kernel": (3,), "num_filter": 2, "pad": (1,)}, [(2, 3, 6)], fast=False,
      name="Convolution-1d")

for _attrs, _tag in (({"kernel": (2, 2), "stride": (2, 2)}, "max"),
                     ({"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1)}, "max-pad"),
                     ({"kernel": (3, 3), "stride": (1, 1)}, "max-overlap"),
                     ({"kernel": (3, 3), "stride": (2, 2), "pooling_convention": "full"},
                      "max-full"),
                     ({"kernel": (3, 3), "stride": (2, 2), "pool_type": "avg", "pad": (1, 1)},
                      "avg"),
                     ({"kernel": (3, 3), "stride": (2, 2), "pool_type": "avg", "pad": (1, 1),
                       "count_include_pad": False}, "avg-nopad"),
                     ({"kernel": (3, 3), "stride": (2, 2), "pool_type": "avg",
                       "pooling_convention": "full"}, "avg-full"),
                     ({"kernel": (2, 2), "stride": (1, 1), "pool_type": "sum"}, "sum"),
                     ({"global_pool": True, "pool_type": "avg"}, "global-avg"),
                     ({"global_pool": True, "pool_type": "max"}, "global-max")):
    _case("Pooling", _attrs, [(3, 4, 9, 7)], ("distinct",), name=f"Pooling-{_tag}")
_case("Pooling", {"kernel": (2, 2), "stride": (2, 2), "pool_type": "lp", "p_value": 2},
      [(2, 2, 6, 6)], ("distinct",), fast=False, name="Pooling-lp")


def _values(bound, kinds, aux_maker, dtype, seed=0):
    rng = np.random.default_rng(seed)
    kinds = list(kinds) + ["signed"] * (bound.num_args - len(kinds))
    values = [sample(rng, s, k).astype(dtype)
              for s, k in zip(bound.in_shapes[:bound.num_args], kinds)]
    aux = aux_maker(rng, bound.in_shapes) if aux_maker else None
    start = [rng.standard_normal(s).astype(dtype) for s in bound.in_shapes[:bound.num_args]]
    ograds = [rng.standard_normal(s).astype(dtype)
              for s in bound.out_shapes[:bound.num_visible]]
    return values, aux, ograds, start


def run_op(op, attrs, shapes, kinds, aux_maker, backend, is_train=True, generic=False,
           kernel=None, dtype="float32"):
    """Bind ``op`` on ``backend`` (its registered kernel, the generic one, or ``kernel``)
    and return (bound, visible outputs, aux after forward, 'write' grads, 'add' grads)."""
    if generic:
        kernel = resolve_op(op).kernel
    bound = bind_op(op, attrs, shapes, backend, dtype=dtype, kernel=kernel,
                    in_types=[dtype] * len(shapes))
    values, aux, ograds, start = _values(bound, kinds, aux_maker, dtype)
    outs = bound.forward(values, aux=aux, is_train=is_train)
    aux_after = bound.aux_values()
    written = bound.backward(ograds)
    added = bound.backward(ograds, req="add", grads=start)
    return bound, outs[:bound.num_visible], aux_after, written, added


def compare(tag, got_result, want_result, rtol=1e-4, atol=1e-5, names=("gpu", "cpu")):
    _, outs, aux, written, added = got_result
    _, w_outs, w_aux, w_written, w_added = want_result
    for kind, got, want in (("output", outs, w_outs), ("aux", aux, w_aux),
                            ("gradient", written, w_written),
                            ("'add' gradient", added, w_added)):
        assert len(got) == len(want)
        for k, (a, b) in enumerate(zip(got, want)):
            if a is None and b is None:
                continue
            assert_almost_equal(a, b, rtol, atol, (f"{tag} {names[0]} {kind} {k}", names[1]))
