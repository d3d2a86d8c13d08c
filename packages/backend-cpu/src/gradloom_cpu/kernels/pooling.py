"""Max pooling with disjoint windows (LeNet's 2x2/2): the backward routes in three passes.

Core's ``PoolingKernel`` routes the gradient with five passes per kernel offset plus a
zero fill of the whole input gradient, because windows may overlap. When the windows are
disjoint and need no padding, every input position receives at most one gradient value, so
each offset's slice of the gradient is written once (no fill, no accumulation): compare the
slice with the maximum, take the not-yet-routed gradient there, and remove it from what is
left (the first offset holding the maximum wins, as in the generic kernel). Every other
pooling configuration runs the generic code.
"""
import numpy as np

from gradloom.ops.pooling import PoolingKernel, pool_geometry


class CpuPoolingKernel(PoolingKernel):
    def setup(self):
        super().setup()
        kernel, stride, _, out_sp = pool_geometry(self.attrs, self.in_shapes[0][2:])
        disjoint = all(s >= k for s, k in zip(stride, kernel))
        self.fast = self.kind == "max" and not self.padded and disjoint and len(self.slices) > 1
        if not self.fast:
            return
        spatial = self.in_shapes[0][2:]
        # positions no window reads (stride > kernel, or a remainder row) get zero gradient
        self.covers_all = all((o - 1) * s + k == n and s == k
                              for o, s, k, n in zip(out_sp, stride, kernel, spatial))
        out_shape = self.out_shapes[0]
        dtype = self.dtypes["in"][0]
        self.left = np.empty(out_shape, dtype=dtype)     # gradient not yet routed
        self.dx_scratch = None                            # for req 'add', made on first use

    def forward(self, is_train, inputs, outputs, aux):
        if not self.fast:
            return super().forward(is_train, inputs, outputs, aux)
        x, y = inputs[0], outputs[0]
        slices = self.slices
        np.maximum(x[slices[0]], x[slices[1]], out=y)
        for index in slices[2:]:
            np.maximum(y, x[index], out=y)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.fast:
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        x, y = inputs[0], outputs[0]
        if req[0] == "write":
            dst = in_grads[0]
        else:
            if self.dx_scratch is None:
                self.dx_scratch = np.empty(in_grads[0].shape, dtype=in_grads[0].dtype)
            dst = self.dx_scratch
        if not self.covers_all:
            dst.fill(0)
        left, hit = self.left, self.hit
        np.copyto(left, out_grads[0])
        last = len(self.slices) - 1
        for k, index in enumerate(self.slices):
            np.equal(x[index], y, out=hit)
            part = dst[index]
            np.multiply(left, hit, out=part)
            if k < last:
                np.subtract(left, part, out=left)
        if req[0] == "add":
            np.add(in_grads[0], dst, out=in_grads[0])
