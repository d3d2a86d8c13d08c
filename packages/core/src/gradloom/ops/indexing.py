"""Indexing operators: one_hot, argmax/argmin, pick, take, topk, sort, argsort.

Indices arrive in any dtype and are read as MXNet reads them: truncated toward zero (a
float index ``1.9`` is ``1``), then clipped or wrapped into range as each operator's ``mode``
says. Index inputs and index outputs have no gradient.

Gathers and their gradients work on flat offsets into the C-ordered data (``line_offsets``):
an operator that reads one element per position writes its gradient back with a plain fancy
assignment, since no two positions read the same element (no scatter-add needed).
"""
import numpy as np

from ..base import AttributeValueError, GradloomError, ShapeError
from ._common import (OpKernel, as_shapes, check_axis, is_known, is_unknown, merge, prod,
                      scatter_add_rows)
from .opdef import OpDef, Param, choice, parse_bool, parse_dtype, parse_float, parse_int

# dtypes MXNet accepts for the index outputs of topk and argsort
INDEX_DTYPES = ("float16", "float32", "float64", "int32", "int64", "uint8")


class IndexOutOfRangeError(GradloomError, IndexError):
    """An index lies outside the indexed axis where the operator's mode forbids it."""


def _index_dtype(value):
    name = parse_dtype(value)
    if name not in INDEX_DTYPES:
        raise ValueError(f"must be one of {', '.join(INDEX_DTYPES)}; got {value!r}")
    return name


def _positive_int(value):
    number = parse_int(value)
    if number is None or number < 1:
        raise ValueError("must be a positive integer (a 0 size would read as 'unknown')")
    return number


def line_offsets(xp, shape, axis):
    """Flat offsets of the first element of every line along ``axis`` of a C-ordered array
    of ``shape`` (shaped like it with that axis of size 1), and the axis stride: element ``i``
    of a line sits at ``offset + i * stride``."""
    stride = prod(shape[axis + 1:])
    outer = xp.arange(prod(shape[:axis]), dtype=np.intp).reshape(-1, 1) * (shape[axis] * stride)
    offsets = outer + xp.arange(stride, dtype=np.intp).reshape(1, -1)
    return offsets.reshape(shape[:axis] + (1,) + shape[axis + 1:]), stride


def flat_index(xp, index, stride, offsets, out):
    """``out = offsets + index * stride`` (``index`` broadcasts against ``out``)."""
    xp.multiply(index, stride, out=out)
    out += offsets
    return out


def gather(xp, data, flat, out):
    """``out = data.flat[flat]`` (``out`` shaped like ``flat``)."""
    xp.take(data.reshape(-1), flat, out=out.reshape(flat.shape))


def scatter_unique(grad, req, flat, values):
    """``grad.flat[flat] = values`` ('write', zeros elsewhere) or ``+=`` ('add').

    ``flat`` holds no offset twice, so fancy assignment is exact. Gradient buffers are
    contiguous, so ``reshape(-1)`` is a view that writes through."""
    view = grad.reshape(-1)
    values = values.reshape(-1)
    if req == "write":
        grad[...] = 0
        view[flat.reshape(-1)] = values
    else:
        view[flat.reshape(-1)] += values


def truncate(xp, index, out):
    """``index`` truncated toward zero into the float array ``out`` (MXNet's int cast)."""
    if index.dtype.kind == "f":
        xp.trunc(index, out=out)
    else:
        xp.copyto(out, index, casting="unsafe")
    return out


def read_indices(xp, index, work, out, size, mode):
    """MXNet's reading of ``index`` into the intp array ``out``: truncate toward zero, then
    clip to ``[0, size)`` or wrap modulo ``size``. ``work`` is float64 scratch of its shape."""
    truncate(xp, index, work)
    if mode == "wrap":
        xp.mod(work, size, out=work)   # the divisor's sign: -1 wraps to size - 1
    else:
        xp.clip(work, 0, size - 1, out=work)
    xp.copyto(out, work, casting="unsafe")
    return out


def data_and_index_types(in_types, out_types):
    """The output has the data's dtype; index inputs keep theirs (else the data's)."""
    dtype = in_types[0] or out_types[0]
    return [dtype] + [t or dtype for t in in_types[1:]], [dtype]


# -- one_hot ----------------------------------------------------------------------------
class OneHotKernel(OpKernel):
    def setup(self):
        xp = self.xp
        shape = self.in_shapes[0]
        self.work = xp.empty(shape + (1,), dtype=np.float64)
        self.classes = xp.arange(self.attrs.depth, dtype=np.float64)
        self.hot = xp.empty(self.out_shapes[0], dtype=bool)
        self.on_value = xp.asarray(self.attrs.on_value, dtype=self.dtypes["out"][0])

    def forward(self, is_train, inputs, outputs, aux):
        xp, out = self.xp, outputs[0]
        truncate(xp, inputs[0].reshape(self.work.shape), self.work)
        # indices outside [0, depth) match no class: the whole row is off_value
        xp.equal(self.work, self.classes, out=self.hot)
        out[...] = self.attrs.off_value
        xp.copyto(out, self.on_value, where=self.hot)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(0, in_grads, req)


class OneHot(OpDef):
    name = "one_hot"
    kernel = OneHotKernel
    params = {"depth": Param(_positive_int), "on_value": Param(parse_float, 1.0),
              "off_value": Param(parse_float, 0.0), "dtype": Param(parse_dtype, "float32")}

    def arguments(self, attrs):
        return ["indices"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        indices, out = in_shapes[0], out_shapes[0]
        if not is_unknown(indices):
            out = merge(out, tuple(indices) + (attrs.depth,), self.name, "output")
        if not is_unknown(out) and len(out) > 1:
            out = merge(out, (0,) * (len(out) - 1) + (attrs.depth,), self.name, "output")
            indices = merge(indices, out[:-1], self.name, "input 'indices'")
        return [indices], [out]

    def infer_type(self, attrs, in_types, out_types):
        return [in_types[0] or "float32"], [attrs.dtype]


# -- argmax / argmin --------------------------------------------------------------------
def arg_reduced_shape(op, attrs, shape):
    """Output shape of argmax/argmin (``axis=None``: the flattened input's index)."""
    if attrs.axis is None:
        return (1,) * len(shape) if attrs.keepdims else (1,)
    axis = check_axis(op, attrs.axis, len(shape))
    if attrs.keepdims:
        return shape[:axis] + (1,) + shape[axis + 1:]
    return (shape[:axis] + shape[axis + 1:]) or (1,)


class ArgReduceKernel(OpKernel):
    def setup(self):
        axis = self.attrs.axis
        shape = self.in_shapes[0]
        self.axis = None if axis is None else axis % len(shape)
        # numpy/cupy argmax write intp; the output keeps the data's dtype, as in MXNet
        index_shape = () if axis is None else shape[:self.axis] + shape[self.axis + 1:]
        self.index = self.xp.empty(index_shape, dtype=np.intp)
        self.find = self.xp.argmax if self.op.name == "argmax" else self.xp.argmin

    def forward(self, is_train, inputs, outputs, aux):
        self.find(inputs[0], axis=self.axis, out=self.index)
        self.xp.copyto(outputs[0], self.index.reshape(outputs[0].shape), casting="unsafe")

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(0, in_grads, req)   # an index is piecewise constant: gradient 0


class ArgReduce(OpDef):
    kernel = ArgReduceKernel
    params = {"axis": Param(parse_int, None), "keepdims": Param(parse_bool, False)}

    def __init__(self, name):
        self.name = name

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if not is_unknown(data):
            out = merge(out, arg_reduced_shape(self.name, attrs, data), self.name, "output")
        return [data], [out]


# -- pick -------------------------------------------------------------------------------
class PickKernel(OpKernel):
    def setup(self):
        xp = self.xp
        shape = self.in_shapes[0]
        self.axis = self.attrs.axis % len(shape)
        self.size = shape[self.axis]
        self.kept = shape[:self.axis] + (1,) + shape[self.axis + 1:]
        self.offsets, self.stride = line_offsets(xp, shape, self.axis)
        self.work = xp.empty(self.kept, dtype=np.float64)
        self.index = xp.empty(self.kept, dtype=np.intp)
        self.flat = xp.empty(self.kept, dtype=np.intp)

    def _flat(self, index):
        read_indices(self.xp, index.reshape(self.kept), self.work, self.index, self.size,
                     self.attrs.mode)
        return flat_index(self.xp, self.index, self.stride, self.offsets, self.flat)

    def forward(self, is_train, inputs, outputs, aux):
        gather(self.xp, inputs[0], self._flat(inputs[1]), outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(1, in_grads, req)
        if self.wants(0, in_grads, req):
            # recomputed rather than kept from forward: forward may have run on other inputs
            scatter_unique(in_grads[0], req[0], self._flat(inputs[1]), out_grads[0])


class Pick(OpDef):
    name = "pick"
    aliases = ("choose_element_0index",)
    kernel = PickKernel
    params = {"axis": Param(parse_int, -1), "keepdims": Param(parse_bool, False),
              "mode": Param(choice("clip", "wrap"), "clip")}

    def arguments(self, attrs):
        return ["data", "index"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, index = in_shapes
        out = out_shapes[0]
        if attrs.axis is None:
            raise AttributeValueError("pick: axis=None (picking from the flattened input) is "
                                      "not supported, as in MXNet 1.9.1; give an axis")
        if is_unknown(data):
            return [data, index], [out]
        axis = check_axis(self.name, attrs.axis, len(data))
        kept = data[:axis] + (1,) + data[axis + 1:]
        reduced = (data[:axis] + data[axis + 1:]) or (1,)
        out = merge(out, kept if attrs.keepdims else reduced, self.name, "output")
        # the index has the output's shape, with or without the picked axis
        if not is_unknown(index) and len(index) == len(kept) and len(kept) != len(reduced):
            index = merge(index, kept, self.name, "input 'index'")
        else:
            index = merge(index, reduced, self.name, "input 'index'")
        return [data, index], [out]

    def infer_type(self, attrs, in_types, out_types):
        return data_and_index_types(in_types, out_types)


# -- take -------------------------------------------------------------------------------
class TakeKernel(OpKernel):
    def setup(self):
        xp = self.xp
        data, indices = self.in_shapes
        self.axis = self.attrs.axis % len(data)
        self.size = data[self.axis]
        self.work = xp.empty(indices, dtype=np.float64)
        self.index = xp.empty(indices, dtype=np.intp)
        # gradient as (before, axis, after): rows of the axis are scatter-added
        before, after = prod(data[:self.axis]), prod(data[self.axis + 1:])
        self.grad3 = (before, self.size, after)
        self.ograd3 = (before, prod(indices), after)

    def _indices(self, indices):
        xp, mode = self.xp, self.attrs.mode
        if mode == "raise":
            # MXNet checks the raw value (2.5 is out of range for size 3); a device -> host
            # wait, paid only in this mode
            bad = xp.logical_or(indices < 0, indices > self.size - 1)
            if bool(bad.any()):
                value = float(indices[bad].reshape(-1)[0])
                raise IndexOutOfRangeError(
                    f"take: index {value:g} is outside 0..{self.size - 1} (axis {self.axis} of "
                    f"size {self.size}) and mode='raise'; fix the indices or use mode='clip' "
                    f"or 'wrap'")
            mode = "clip"   # everything is in range: only the truncation remains
        return read_indices(xp, indices, self.work, self.index, self.size, mode)

    def forward(self, is_train, inputs, outputs, aux):
        self.xp.take(inputs[0], self._indices(inputs[1]), axis=self.axis, out=outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        grad = in_grads[0]
        if req[0] == "write":
            grad[...] = 0
        # repeated indices accumulate: a scatter-add along the axis
        index = self._indices(inputs[1]).reshape(-1)
        scatter_add_rows(self.backend, grad.reshape(self.grad3), (slice(None), index),
                         out_grads[0].reshape(self.ograd3))


class Take(OpDef):
    name = "take"
    kernel = TakeKernel
    params = {"axis": Param(parse_int, 0), "mode": Param(choice("clip", "raise", "wrap"), "clip")}

    def arguments(self, attrs):
        return ["a", "indices"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, indices = in_shapes
        out = out_shapes[0]
        if is_unknown(data):
            return [data, indices], [out]
        axis = check_axis(self.name, attrs.axis, len(data))
        if is_unknown(indices):
            return [data, indices], [out]
        k = len(indices)
        out = merge(out, data[:axis] + tuple(indices) + data[axis + 1:], self.name, "output")
        # the output also fixes every input dimension except the indexed one
        data = merge(data, out[:axis] + (data[axis],) + out[axis + k:], self.name, "input 'a'")
        indices = merge(indices, out[axis:axis + k], self.name, "input 'indices'")
        return [data, indices], [out]

    def infer_type(self, attrs, in_types, out_types):
        return data_and_index_types(in_types, out_types)


# -- topk / sort / argsort --------------------------------------------------------------
class OrderingKernel(OpKernel):
    """Stable sort along one axis, then the first ``k`` positions of every line.

    Equal values keep their input order (for ascending and descending alike); MXNet's order
    of ties is that for small inputs and unspecified for larger ones."""

    def setup(self):
        xp = self.xp
        self.axis, self.k, self.ret_typ, self.ascend = self.op.settings(self.attrs)
        shape = self.in_shapes[0]
        if self.axis is None:       # flattened input
            shape, self.axis = (prod(shape),), 0
        else:
            self.axis %= len(shape)
        self.shape, self.size = shape, shape[self.axis]
        self.k = self.k if self.k >= 1 else self.size
        self.offsets, self.stride = line_offsets(xp, shape, self.axis)
        sel = shape[:self.axis] + (self.k,) + shape[self.axis + 1:]
        self.first_k = (slice(None),) * self.axis + (slice(0, self.k),)
        self.flat = xp.empty(sel, dtype=np.intp)
        self.index = xp.empty(sel, dtype=np.intp)
        # numpy's default sort is not stable; cupy's always is (and older cupy has no kind)
        self.sort_kw = {"kind": "stable"} if xp is np else {}

    def _order(self, x):
        xp, axis = self.xp, self.axis
        if self.ascend:
            return xp.argsort(x, axis=axis, **self.sort_kw)
        # descending and stable: sort the reversed lines ascending and reverse back, so equal
        # values keep their input order
        order = xp.flip(xp.argsort(xp.flip(x, axis), axis=axis, **self.sort_kw), axis)
        return (self.size - 1) - order

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        x = inputs[0].reshape(self.shape)
        selected = self._order(x)[self.first_k]
        flat = flat_index(xp, selected, self.stride, self.offsets, self.flat)
        if self.ret_typ == "mask":
            outputs[0][...] = 0
            outputs[0].reshape(-1)[flat.reshape(-1)] = 1
            return
        if self.ret_typ == "indices":
            xp.copyto(outputs[0], selected.reshape(outputs[0].shape), casting="unsafe")
            return
        gather(xp, x, flat, outputs[0])   # value, both: indices go to the second output
        xp.copyto(outputs[1], selected.reshape(outputs[1].shape), casting="unsafe")

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        if self.ret_typ in ("indices", "mask"):
            self.zero_grad(0, in_grads, req)
            return
        # the value gradient goes back to the positions the indices output names
        xp = self.xp
        xp.copyto(self.index, outputs[1].reshape(self.index.shape), casting="unsafe")
        flat = flat_index(xp, self.index, self.stride, self.offsets, self.flat)
        scatter_unique(in_grads[0], req[0], flat, out_grads[0])


class Ordering(OpDef):
    """Base of topk, sort and argsort: ``settings(attrs)`` gives (axis, k, ret_typ,
    is_ascend) with ``k < 1`` meaning the whole axis."""

    kernel = OrderingKernel
    ret_typ = "indices"   # sort and argsort return one kind; topk has a ret_typ attribute

    def settings(self, attrs):
        return (attrs.axis, attrs.get("k", 0), attrs.get("ret_typ", self.ret_typ),
                attrs.is_ascend)

    def outputs(self, attrs):
        ret_typ = self.settings(attrs)[2]
        if ret_typ == "both":
            return ["output0", "output1"]
        # with a hidden second output MXNet names the visible one output0
        return ["output0"] if ret_typ == "value" else ["output"]

    def num_hidden_outputs(self, attrs):
        # 'value' keeps its indices (for backward) as a hidden second output, as in MXNet
        return 1 if self.settings(attrs)[2] == "value" else 0

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data = in_shapes[0]
        outs = list(out_shapes)
        if not is_known(data):
            return [data], outs
        axis, k, ret_typ, _ = self.settings(attrs)
        shape = data if axis is not None else (prod(data),)
        axis = check_axis(self.name, 0 if axis is None else axis, len(shape))
        size = shape[axis]
        if k > size:
            raise ShapeError(f"{self.name}: k={k} exceeds the {size} elements along axis "
                             f"{axis} of {tuple(data)}; lower k (k < 1 sorts the whole axis)")
        selected = shape[:axis] + (k if k >= 1 else size,) + shape[axis + 1:]
        expected = [tuple(data) if ret_typ == "mask" else selected] * len(outs)
        outs = [merge(s, e, self.name, f"output {i}")
                for i, (s, e) in enumerate(zip(outs, expected))]
        return [data], outs

    def infer_type(self, attrs, in_types, out_types):
        ret_typ = self.settings(attrs)[2]
        dtype = in_types[0] or (out_types[0] if ret_typ in ("value", "both", "mask") else None)
        index = attrs.get("dtype") or "int64"   # sort's hidden indices: int64
        outs = {"value": [dtype, "int64"], "both": [dtype, index], "mask": [dtype],
                "indices": [index]}[ret_typ]
        return [dtype], outs


class TopK(Ordering):
    name = "topk"
    params = {"axis": Param(parse_int, -1), "k": Param(parse_int, 1),
              "ret_typ": Param(choice("both", "indices", "mask", "value"), "indices"),
              "is_ascend": Param(parse_bool, False),
              "dtype": Param(_index_dtype, "float32")}


class Sort(Ordering):
    name = "sort"
    ret_typ = "value"
    params = {"axis": Param(parse_int, -1), "is_ascend": Param(parse_bool, True)}


class ArgSort(Ordering):
    name = "argsort"
    params = {"axis": Param(parse_int, -1), "is_ascend": Param(parse_bool, True),
              "dtype": Param(_index_dtype, "float32")}


OPS = [OneHot(), ArgReduce("argmax"), ArgReduce("argmin"), Pick(), Take(), TopK(), Sort(),
       ArgSort()]
