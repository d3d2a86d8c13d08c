"""BatchNorm with moving statistics as auxiliary states.

Difference from MXNet's CPU operator (deliberate, see operators.md 6.1): the moving
statistics are updated in the training forward (``is_train and not use_global_stats``),
as cuDNN and every other framework do, not during backward. So a training-mode forward
without backward (``score`` with ``is_train=True``) does update them.
"""
from ._common import OpKernel, as_shapes, is_unknown, merge, prod
from .opdef import OpDef, Param, optional, parse_bool, parse_float, parse_int


class BatchNormKernel(OpKernel):
    def setup(self):
        xp, a = self.xp, self.attrs
        shape = self.in_shapes[0]
        axis = a.axis % len(shape)
        c = shape[axis]
        # every layout is handled as (before, C, after); mean over axes 0 and 2
        self.view = (prod(shape[:axis]), c, prod(shape[axis + 1:]))
        self.cview = (1, c, 1)
        self.count = self.view[0] * self.view[2]
        dtype = self.dtypes["in"][0]
        self.xhat = xp.empty(self.view, dtype=dtype)      # normalised input, kept for backward
        self.mean = xp.empty(c, dtype=dtype)
        self.invstd = xp.empty(c, dtype=dtype)
        self.scale = xp.empty(c, dtype=dtype)
        self.tmp = xp.empty(self.view, dtype=dtype)
        self.global_stats = False

    def forward(self, is_train, inputs, outputs, aux):
        xp, a = self.xp, self.attrs
        x = inputs[0].reshape(self.view)
        gamma, beta = inputs[1], inputs[2]
        moving_mean, moving_var = aux
        if a.fix_gamma:
            gamma[...] = 1   # the stored gamma stays exactly 1 through training
        self.global_stats = a.use_global_stats or not is_train
        if self.global_stats:
            xp.copyto(self.mean, moving_mean)
            xp.add(moving_var, a.eps, out=self.invstd)
        else:
            xp.mean(x, axis=(0, 2), out=self.mean)
            xp.subtract(x, self.mean.reshape(self.cview), out=self.tmp)
            xp.multiply(self.tmp, self.tmp, out=self.xhat)
            var = self.xhat.mean(axis=(0, 2))          # biased batch variance
            m = a.momentum
            moving_mean *= m
            moving_mean += (1 - m) * self.mean
            moving_var *= m
            moving_var += (1 - m) * var
            if len(outputs) > 2 and a.output_mean_var:
                xp.copyto(outputs[2], var)
            xp.add(var, a.eps, out=self.invstd)
        xp.sqrt(self.invstd, out=self.invstd)
        xp.reciprocal(self.invstd, out=self.invstd)
        xp.subtract(x, self.mean.reshape(self.cview), out=self.xhat)
        self.xhat *= self.invstd.reshape(self.cview)
        xp.copyto(self.scale, gamma)
        y = outputs[0].reshape(self.view)
        xp.multiply(self.xhat, self.scale.reshape(self.cview), out=y)
        y += beta.reshape(self.cview)
        self.write_stat_outputs(outputs, moving_var)

    def write_stat_outputs(self, outputs, moving_var):
        """The mean and variance outputs, after a forward filled ``mean`` and ``invstd``.

        A training forward with ``output_mean_var`` wrote the batch variance already.
        Without ``output_mean_var`` the third output is hidden and carries the inverse std
        to backward.
        """
        if len(outputs) > 1:
            self.xp.copyto(outputs[1], self.mean)
            if not self.attrs.output_mean_var:
                self.xp.copyto(outputs[2], self.invstd)
            elif self.global_stats:
                self.xp.copyto(outputs[2], moving_var)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        xp, a = self.xp, self.attrs
        g = out_grads[0].reshape(self.view)
        dbeta = g.sum(axis=(0, 2))
        if self.wants(2, in_grads, req):
            self.store_grad(2, in_grads, req, dbeta)
        need_dgamma = self.wants(1, in_grads, req)
        if need_dgamma or (self.wants(0, in_grads, req) and not self.global_stats):
            xp.multiply(g, self.xhat, out=self.tmp)
            dgamma = self.tmp.sum(axis=(0, 2))
        if need_dgamma:
            if a.fix_gamma:
                self.zero_grad(1, in_grads, req)
            else:
                self.store_grad(1, in_grads, req, dgamma)
        if self.wants(0, in_grads, req):
            dst = self.grad_dst(0, in_grads, req)
            d = dst.reshape(self.view)
            k = (self.scale * self.invstd).reshape(self.cview)
            if self.global_stats:
                xp.multiply(g, k, out=d)
            else:
                # dx = gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat))
                xp.multiply(self.xhat, (dgamma / self.count).reshape(self.cview), out=d)
                xp.subtract(g, d, out=d)
                d -= (dbeta / self.count).reshape(self.cview)
                d *= k
            self.grad_done(0, in_grads, req, dst)



class BatchNorm(OpDef):
    name = "BatchNorm"
    kernel = BatchNormKernel
    params = {
        "eps": Param(parse_float, 1e-3),
        "momentum": Param(parse_float, 0.9),
        "fix_gamma": Param(parse_bool, True),
        "use_global_stats": Param(parse_bool, False),
        "output_mean_var": Param(parse_bool, False),
        "axis": Param(parse_int, 1),
        "cudnn_off": Param(parse_bool, False),
        "min_calib_range": Param(optional(parse_float), None),
        "max_calib_range": Param(optional(parse_float), None),
    }

    def arguments(self, attrs):
        return ["data", "gamma", "beta"]

    def aux_states(self, attrs):
        return ["moving_mean", "moving_var"]

    def outputs(self, attrs):
        return ["output", "mean", "var"] if attrs.output_mean_var else ["output"]

    def num_hidden_outputs(self, attrs):
        return 0 if attrs.output_mean_var else 2   # batch mean and inverse std

    def variable_attrs(self, attrs, input_name):
        if input_name == "moving_mean":
            return {"__init__": '["zero", {}]'}
        if input_name == "moving_var":
            return {"__init__": '["one", {}]'}
        return {}

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data = merge(in_shapes[0], out_shapes[0], self.name, "input 'data'")
        channel = None
        names = ["gamma", "beta", "moving_mean", "moving_var"]
        for name, s in zip(names, in_shapes[1:]):
            channel = merge(s, channel, self.name, f"input {name!r}")
        for s in out_shapes[1:]:
            channel = merge(s, channel, self.name, "output mean/var")
        if not is_unknown(data):
            axis = attrs.axis % len(data)
            if data[axis]:
                channel = merge(channel, (data[axis],), self.name, "per-channel inputs")
        return [data] + [channel] * 4, [data] + [channel] * (len(out_shapes) - 1)


OPS = [BatchNorm()]
