"""Conformance cases for ``Custom``: a Python custom operator run through the whole suite.

The op, ``y = x * w + sin(x) * scale + shift`` with a per-column weight ``w`` (1, C) and an
auxiliary per-column ``shift``, is written only with NDArray math, so it runs on every backend
and exercises broadcasting gradients, auxiliary inputs, a string keyword argument and req.
"""
import numpy as np

from ... import operator as op_api
from .cases import Case

OP_TYPE = "conformance_scaled_sin"


class _ScaledSin(op_api.CustomOp):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, is_train, req, in_data, out_data, aux):
        from ... import ndarray as nd
        x, w = in_data
        self.assign(out_data[0], req[0], x * w + nd.sin(x) * self.scale + aux[0])

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        from ... import ndarray as nd
        x, w = in_data
        g = out_grad[0]
        self.assign(in_grad[0], req[0], g * (w + nd.cos(x) * self.scale))
        self.assign(in_grad[1], req[1], (g * x).sum(axis=0, keepdims=True))


@op_api.register(OP_TYPE)
class _ScaledSinProp(op_api.CustomOpProp):
    def __init__(self, scale="1.0"):
        super().__init__(need_top_grad=True)
        self.scale = float(scale)   # keyword arguments arrive as strings, as in MXNet

    def list_arguments(self):
        return ["data", "weight"]

    def list_auxiliary_states(self):
        return ["shift"]

    def infer_shape(self, in_shape):
        column = [1, in_shape[0][1]]
        return [in_shape[0], column], [in_shape[0]], [column]

    def create_operator(self, ctx, in_shapes, in_dtypes):
        return _ScaledSin(self.scale)


def _ref(scale):
    def ref(x, aux, a, t):
        return [x[0] * x[1] + np.sin(x[0]) * scale + aux[0]]
    return ref


def _shift(rng, shapes):
    return [rng.uniform(-1.0, 1.0, shapes[2])]


def add_cases(add):
    add(Case("Custom", {"op_type": OP_TYPE, "scale": 0.5}, [(4, 3)], _ref(0.5), aux=_shift))
    add(Case("Custom", {"op_type": OP_TYPE}, [(2, 5)], _ref(1.0), aux=_shift,
             name="Custom-default-kwargs"))
