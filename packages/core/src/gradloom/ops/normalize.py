"""Per-sample normalisations: LayerNorm, InstanceNorm and L2Normalization.

Each kernel sees the data as a 3-D view ``(before, middle, after)`` and reduces over one of
its axes, so one piece of math serves every layout:

* LayerNorm: ``(prod(shape[:axis]), C, prod(shape[axis+1:]))``, statistics over axis 1;
* InstanceNorm: ``(N, C, prod(spatial))``, statistics over axis 2;
* L2Normalization: ``(N, 1, D)`` (instance), ``(N, C, S)`` over axis 1 (channel) or axis 2
  (spatial).

LayerNorm and InstanceNorm then scale and shift with ``gamma``/``beta`` along axis 1 of the
view. Their gradient is BatchNorm's formula with ``dy*gamma`` in place of ``dy`` (gamma varies
along LayerNorm's reduced axis, so it cannot be factored out as BatchNorm does).

Outputs as in MXNet 1.9.1: LayerNorm ``output, mean, std`` (``std = sqrt(var + eps)``, shaped
like the data with the normalised axis 1; mean and std visible only with
``output_mean_var``); InstanceNorm ``output`` plus hidden ``mean, var`` of shape ``(N, C)``;
L2Normalization ``output`` plus the hidden ``norm``. As in MXNet, the mean/std outputs of
LayerNorm get no gradient of their own: backward uses only the first output's gradient.

Deliberate difference: InstanceNorm on data with fewer than 3 dimensions is a ``ShapeError``
at shape inference; MXNet accepts 2-D data there and fails only in forward.
"""
from ..base import ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge, prod
from .opdef import OpDef, Param, choice, parse_bool, parse_float, parse_int


def _with_dim(shape, axis, size):
    """``shape`` with dimension ``axis`` replaced by ``size`` (0 = unknown)."""
    return tuple(shape[:axis]) + (size,) + tuple(shape[axis + 1:])


class MomentsNormKernel(OpKernel):
    """Normalise the view over ``self.red`` to zero mean and unit variance, then apply
    ``gamma``/``beta`` along view axis 1. The operator gives the view (``layout``) and says
    which statistic its third output holds (``std_output``)."""

    def setup(self):
        xp = self.xp
        self.view, self.red = self.op.layout(self.attrs, self.in_shapes[0])
        self.std_output = self.op.std_output
        self.stat = tuple(1 if i in self.red else d for i, d in enumerate(self.view))
        self.pshape = (1, self.view[1], 1)      # gamma and beta broadcast along axis 1
        self.paxes = (0, 2)                     # the axes their gradients sum over
        dtype = self.dtypes["in"][0]
        self.xhat = xp.empty(self.view, dtype=dtype)   # normalised input, kept for backward
        self.tmp = xp.empty(self.view, dtype=dtype)
        self.mean = xp.empty(self.stat, dtype=dtype)
        self.invstd = xp.empty(self.stat, dtype=dtype)
        self.mean_gx = xp.empty(self.stat, dtype=dtype)    # backward: mean(dy*gamma)
        self.mean_gxx = xp.empty(self.stat, dtype=dtype)   # backward: mean(dy*gamma*xhat)

    def forward(self, is_train, inputs, outputs, aux):
        xp, eps = self.xp, self.attrs.eps
        x = inputs[0].reshape(self.view)
        xp.mean(x, axis=self.red, keepdims=True, out=self.mean)
        xp.subtract(x, self.mean, out=self.xhat)
        xp.multiply(self.xhat, self.xhat, out=self.tmp)
        var = self.invstd   # computed in place: var, then sqrt(var + eps), then its inverse
        xp.mean(self.tmp, axis=self.red, keepdims=True, out=var)
        xp.copyto(outputs[1], self.mean.reshape(outputs[1].shape))
        if not self.std_output:
            xp.copyto(outputs[2], var.reshape(outputs[2].shape))
        var += eps
        xp.sqrt(var, out=var)
        if self.std_output:
            xp.copyto(outputs[2], var.reshape(outputs[2].shape))
        xp.reciprocal(var, out=self.invstd)
        self.xhat *= self.invstd
        y = outputs[0].reshape(self.view)
        xp.multiply(self.xhat, inputs[1].reshape(self.pshape), out=y)
        y += inputs[2].reshape(self.pshape)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp = self.xp
        g = out_grads[0].reshape(self.view)
        if self.wants(2, in_grads, req):
            dst = self.grad_dst(2, in_grads, req)
            xp.sum(g, axis=self.paxes, out=dst)
            self.grad_done(2, in_grads, req, dst)
        if self.wants(1, in_grads, req):
            dst = self.grad_dst(1, in_grads, req)
            xp.multiply(g, self.xhat, out=self.tmp)
            xp.sum(self.tmp, axis=self.paxes, out=dst)
            self.grad_done(1, in_grads, req, dst)
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            d = dst.reshape(self.view)
            gx = self.tmp   # the gradient with respect to xhat
            xp.multiply(g, inputs[1].reshape(self.pshape), out=gx)
            # dx = invstd * (gx - mean(gx) - xhat * mean(gx * xhat)), means over the red axes
            xp.mean(gx, axis=self.red, keepdims=True, out=self.mean_gx)
            xp.multiply(gx, self.xhat, out=d)
            xp.mean(d, axis=self.red, keepdims=True, out=self.mean_gxx)
            xp.multiply(self.xhat, self.mean_gxx, out=d)
            xp.subtract(gx, d, out=d)
            d -= self.mean_gx
            d *= self.invstd
            self.grad_done(0, in_grads, req, dst)


class L2NormalizationKernel(OpKernel):
    def setup(self):
        xp = self.xp
        self.view, self.red = self.op.layout(self.attrs, self.in_shapes[0])
        stat = tuple(1 if i in self.red else d for i, d in enumerate(self.view))
        dtype = self.dtypes["in"][0]
        self.tmp = xp.empty(self.view, dtype=dtype)
        self.norm = xp.empty(stat, dtype=dtype)
        self.dot = xp.empty(stat, dtype=dtype)

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        x = inputs[0].reshape(self.view)
        xp.multiply(x, x, out=self.tmp)
        xp.sum(self.tmp, axis=self.red, keepdims=True, out=self.norm)
        self.norm += self.attrs.eps
        xp.sqrt(self.norm, out=self.norm)
        xp.divide(x, self.norm, out=outputs[0].reshape(self.view))
        xp.copyto(outputs[1], self.norm.reshape(outputs[1].shape))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        xp = self.xp
        g = out_grads[0].reshape(self.view)
        y = outputs[0].reshape(self.view)
        dst = self.grad_dst(0, in_grads, req)
        d = dst.reshape(self.view)
        # y = x / norm  =>  dx = (dy - y * sum(dy * y)) / norm
        xp.multiply(g, y, out=self.tmp)
        xp.sum(self.tmp, axis=self.red, keepdims=True, out=self.dot)
        xp.multiply(y, self.dot, out=d)
        xp.subtract(g, d, out=d)
        d /= self.norm
        self.grad_done(0, in_grads, req, dst)


class _AffineNorm(OpDef):
    """Inputs ``data, gamma, beta``; outputs ``output, mean, std-or-var``."""
    kernel = MomentsNormKernel
    std_output = True   # third output: sqrt(var + eps) (LayerNorm) or var (InstanceNorm)

    def arguments(self, attrs):
        return ["data", "gamma", "beta"]

    def merge_params(self, in_shapes, out_shapes):
        """``(data, channel, stats)``: what the inputs and outputs agree on so far."""
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data = merge(in_shapes[0], out_shapes[0], self.name, "input 'data'")
        channel = merge(in_shapes[2], in_shapes[1], self.name, "input 'beta' (like gamma)")
        third = "std" if self.std_output else "var"
        stats = merge(out_shapes[2], out_shapes[1], self.name, f"the mean/{third} outputs")
        return data, channel, stats

    def fill_channel(self, data, channel, axis, what):
        """Data's ``axis`` and gamma/beta's size give each other (0 = unknown)."""
        if not data[axis] and not is_unknown(channel):
            data = _with_dim(data, axis, channel[0])
        if data[axis]:
            channel = merge(channel, (data[axis],), self.name, f"input 'gamma'/'beta' ({what})")
        return data, channel


class LayerNorm(_AffineNorm):
    name = "LayerNorm"
    params = {
        "axis": Param(parse_int, -1),
        "eps": Param(parse_float, 1e-5),
        "output_mean_var": Param(parse_bool, False),
    }

    def outputs(self, attrs):
        return ["output", "mean", "std"] if attrs.output_mean_var else ["output"]

    def num_hidden_outputs(self, attrs):
        return 0 if attrs.output_mean_var else 2

    def layout(self, attrs, shape):
        axis = attrs.axis % len(shape)
        return (prod(shape[:axis]), shape[axis], prod(shape[axis + 1:])), (1,)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        data, channel, stats = self.merge_params(in_shapes, out_shapes)
        known = data if not is_unknown(data) else stats
        if not is_unknown(known):
            ndim = len(known)
            if not -ndim <= attrs.axis < ndim:
                raise ShapeError(
                    f"{self.name}: axis={attrs.axis} is out of range for input 'data' of shape "
                    f"{known}; use an axis in [{-ndim}, {ndim - 1}]")
            axis = attrs.axis % ndim
            if is_unknown(data):   # mean/std have every dimension of the data but the axis
                data = _with_dim(stats, axis, 0)
            data, channel = self.fill_channel(
                data, channel, axis, f"the size of data {data} along axis={attrs.axis}")
            # mean and std: the data's shape with the normalised axis 1
            stats = merge(stats, _with_dim(data, axis, 1), self.name, "the mean/std outputs")
            data = merge(data, _with_dim(stats, axis, data[axis]), self.name, "input 'data'")
        return [data, channel, channel], [data, stats, stats]


class InstanceNorm(_AffineNorm):
    name = "InstanceNorm"
    params = {"eps": Param(parse_float, 1e-3)}
    std_output = False

    def num_hidden_outputs(self, attrs):
        return 2   # per-instance mean and variance, shape (N, C)

    def layout(self, attrs, shape):
        return (shape[0], shape[1], prod(shape[2:])), (2,)

    def infer_shape(self, attrs, in_shapes, out_shapes):
        data, channel, stats = self.merge_params(in_shapes, out_shapes)
        if not is_unknown(data):
            if len(data) < 3:
                raise ShapeError(
                    f"{self.name}: input 'data' has shape {data} but needs at least 3 "
                    f"dimensions (batch, channel, spatial...); reshape it, e.g. to "
                    f"{data + (1,) * (3 - len(data))}")
            data, channel = self.fill_channel(data, channel, 1,
                                              f"the channels of data {data}, axis 1")
            stats = merge(stats, data[:2], self.name, "the mean/var outputs")
            data = merge(data, stats + data[2:], self.name, "input 'data'")
        return [data, channel, channel], [data, stats, stats]


class L2Normalization(OpDef):
    name = "L2Normalization"
    kernel = L2NormalizationKernel
    params = {
        "eps": Param(parse_float, 1e-10),
        "mode": Param(choice("instance", "channel", "spatial"), "instance"),
    }

    def num_hidden_outputs(self, attrs):
        return 1   # the norm: (N,) instance, (N, *spatial) channel, (N, C) spatial

    def layout(self, attrs, shape):
        if attrs.mode == "instance":   # over everything but the batch axis
            return (shape[0], 1, prod(shape[1:])), (2,)
        view = (shape[0], shape[1], prod(shape[2:]))
        return view, ((1,) if attrs.mode == "channel" else (2,))

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data = merge(in_shapes[0], out_shapes[0], self.name, "input 'data'")
        norm = out_shapes[1]
        if not is_unknown(data):
            if attrs.mode != "instance" and len(data) < 3:
                raise ShapeError(
                    f"{self.name}: mode={attrs.mode!r} needs input 'data' with at least 3 "
                    f"dimensions (batch, channel, spatial...) but it has shape {data}; use "
                    f"mode='instance' or reshape the data")
            if attrs.mode == "instance":
                need = data[:1]
            elif attrs.mode == "channel":
                need = data[:1] + data[2:]
            else:
                need = data[:2]
            norm = merge(norm, need, self.name, "output norm")
        return [data], [data, norm]


OPS = [LayerNorm(), InstanceNorm(), L2Normalization()]
