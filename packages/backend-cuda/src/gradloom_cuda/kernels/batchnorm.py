"""BatchNorm in three passes over the data each way, with preallocated statistics.

The generic kernel's attributes and buffers are kept (``view`` = (before, C, after),
``xhat``, ``mean``, ``invstd``, ``scale``, ``global_stats``) and so are its rules (fix_gamma,
use_global_stats, moving statistics updated in the training forward, output_mean_var,
hidden outputs). What changes is the number of passes:

* forward (training): mean (cupy reduction into ``mean``), biased variance (one reduction
  reading x and the mean), then ONE elementwise pass writing ``xhat`` and ``y``;
* backward: ``sum(g)`` and ``sum(g * xhat)`` reductions, then ONE elementwise pass for dx.

Per-channel work (moving statistics, inverse std) is a single small elementwise kernel.
"""
from gradloom.ops.norm import BatchNormKernel

from ._cuda import (contiguous, declare_elementwise, declare_reduction, elementwise,
                    fast_dtype, reduction)

declare_reduction("bn_var", "T x, T mean, float64 inv_count", "T var",
                  "(x - mean) * (x - mean)", "a + b", "var = (T)(a * inv_count)", "0")
declare_reduction("bn_dot", "T g, T xhat", "T out", "g * xhat", "a + b", "out = a", "0")
# per channel: moving statistics and the inverse standard deviation from the batch variance
declare_elementwise("bn_stats", "T mean, T var, float64 momentum, float64 eps",
                    "T moving_mean, T moving_var, T invstd",
                    "moving_mean = (T)(momentum * moving_mean + (1.0 - momentum) * mean);"
                    "moving_var = (T)(momentum * moving_var + (1.0 - momentum) * var);"
                    "invstd = (T)(1.0 / sqrt((double)var + eps));")
declare_elementwise("bn_global_stats", "T moving_mean, T moving_var, float64 eps",
                    "T mean, T invstd",
                    "mean = moving_mean; invstd = (T)(1.0 / sqrt((double)moving_var + eps));")
declare_elementwise("bn_apply", "T x, T mean, T invstd, T gamma, T beta", "T xhat, T y",
                    "T h = (x - mean) * invstd; xhat = h; y = h * gamma + beta;")
_DX = "(g - xhat * dgamma * (T)inv_count - dbeta * (T)inv_count) * gamma * invstd"
for _mode, _assign in (("write", "="), ("add", "+=")):
    declare_elementwise(f"bn_dx_{_mode}",
                        "T g, T xhat, T dgamma, T dbeta, T gamma, T invstd, float64 inv_count",
                        "T dx", f"dx {_assign} {_DX};")
    declare_elementwise(f"bn_dx_global_{_mode}", "T g, T gamma, T invstd", "T dx",
                        f"dx {_assign} g * gamma * invstd;")


class BatchNormKernelGPU(BatchNormKernel):
    def setup(self):
        super().setup()
        self.fast = fast_dtype(self.dtypes["in"][:1] + self.dtypes["out"][:1])
        if not self.fast:
            return
        xp = self.xp
        c = self.view[1]
        dtype = self.dtypes["in"][0]
        self.tmp = None                        # the generic scratch is not needed here
        self.var = xp.empty(c, dtype=dtype)
        self.dbeta = xp.empty(c, dtype=dtype)
        self.dgamma = xp.empty(c, dtype=dtype)
        self.inv_count = 1.0 / self.count
        self._var = reduction("bn_var")
        self._dot = reduction("bn_dot")
        self._stats = elementwise("bn_stats")
        self._global = elementwise("bn_global_stats")
        self._apply = elementwise("bn_apply")
        self._dx = {m: elementwise(f"bn_dx_{m}") for m in ("write", "add")}
        self._dx_global = {m: elementwise(f"bn_dx_global_{m}") for m in ("write", "add")}

    def forward(self, is_train, inputs, outputs, aux):
        if not (self.fast and contiguous(inputs[0], outputs[0])):
            if self.tmp is None and self.fast:
                self.tmp = self.xp.empty(self.view, dtype=self.xhat.dtype)
            return super().forward(is_train, inputs, outputs, aux)
        xp, a = self.xp, self.attrs
        x = inputs[0].reshape(self.view)
        gamma, beta = inputs[1], inputs[2]
        moving_mean, moving_var = aux
        if a.fix_gamma:
            gamma.fill(1)   # the stored gamma stays exactly 1 through training
        self.global_stats = a.use_global_stats or not is_train
        cv = self.cview
        if self.global_stats:
            self._global(moving_mean, moving_var, a.eps, self.mean, self.invstd)
        else:
            xp.mean(x, axis=(0, 2), out=self.mean)
            self._var(x, self.mean.reshape(cv), self.inv_count, axis=(0, 2), out=self.var)
            self._stats(self.mean, self.var, a.momentum, a.eps, moving_mean, moving_var,
                        self.invstd)
            if len(outputs) > 2 and a.output_mean_var:
                xp.copyto(outputs[2], self.var)
        xp.copyto(self.scale, gamma)
        self._apply(x, self.mean.reshape(cv), self.invstd.reshape(cv), self.scale.reshape(cv),
                    beta.reshape(cv), self.xhat, outputs[0].reshape(self.view))
        self.write_stat_outputs(outputs, moving_var)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        ok = contiguous(out_grads[0]) and (in_grads[0] is None or contiguous(in_grads[0]))
        if not (self.fast and ok):
            if self.tmp is None and self.fast:
                self.tmp = self.xp.empty(self.view, dtype=self.xhat.dtype)
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        xp, a, cv = self.xp, self.attrs, self.cview
        g = out_grads[0].reshape(self.view)
        xp.sum(g, axis=(0, 2), out=self.dbeta)
        if self.wants(2, in_grads, req):
            self.store_grad(2, in_grads, req, self.dbeta)
        need_dgamma = self.wants(1, in_grads, req)
        if need_dgamma or (self.wants(0, in_grads, req) and not self.global_stats):
            self._dot(g, self.xhat, axis=(0, 2), out=self.dgamma)
        if need_dgamma:
            if a.fix_gamma:
                self.zero_grad(1, in_grads, req)
            else:
                self.store_grad(1, in_grads, req, self.dgamma)
        if self.wants(0, in_grads, req):
            dx = in_grads[0].reshape(self.view)
            if self.global_stats:
                self._dx_global[req[0]](g, self.scale.reshape(cv), self.invstd.reshape(cv), dx)
            else:
                self._dx[req[0]](g, self.xhat, self.dgamma.reshape(cv), self.dbeta.reshape(cv),
                                 self.scale.reshape(cv), self.invstd.reshape(cv),
                                 self.inv_count, dx)


KERNELS = {"BatchNorm": BatchNormKernelGPU}
