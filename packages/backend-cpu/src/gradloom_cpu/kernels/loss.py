"""SoftmaxOutput: softmax and its hard-label gradient with bind-time scratch only.

Core's kernel builds row maxima, sums, the one-hot target and the ignore mask as fresh
arrays each call. Here they are bind-time buffers, and the gradient is one subtraction
``prob - onehot`` where the one-hot mask is a comparison of the labels with the class
numbers (a label outside [0, k) matches no class, so it subtracts nothing, as in core).
Reductions call the ufuncs' ``reduce`` directly: ``np.sum``'s wrapper costs more than the
arithmetic at batch size 1. The fast backward covers one label per row (no
``multi_output`` positions) without label smoothing — what classifiers use; probability
labels, ``multi_output`` and ``smooth_alpha`` run core's code.
"""
import numpy as np

from gradloom.ops.loss import SoftmaxOutputKernel


class CpuSoftmaxOutputKernel(SoftmaxOutputKernel):
    def setup(self):
        super().setup()
        rows = self.view[0]
        dtype = self.dtypes["in"][0]
        reduced = (rows, 1) + tuple(self.view[2:])   # the class axis is the view's axis 1
        self.rowmax = np.empty(reduced, dtype=dtype)
        self.rowsum = np.empty(reduced, dtype=dtype)
        a = self.attrs
        # the backward's (label rows, classes, positions) grid, as core lays it out
        grid = tuple(getattr(self, "grad_view", None) or (self.view[0], self.view[1], 1))
        self.fast_grad = (not self.soft and self.positions == 1 and grid[2] == 1
                          and not a.smooth_alpha)
        if self.fast_grad:
            labels, classes = grid[0], grid[1]
            self.grid2 = (labels, classes)
            self.ilab1 = self.ilab.reshape(labels)
            self.ilab_col = self.ilab.reshape(labels, 1)
            self.class_row = np.arange(classes, dtype=np.intp).reshape(1, classes)
            self.onehot = np.empty(self.grid2, dtype=bool)
            self.keep = np.empty((labels, 1), dtype=bool)
            self.keep1 = self.keep.reshape(labels)
            self.dx_scratch = None
        self._views = None

    def forget_arrays(self):
        self._views = None

    def _2d(self, x, y):
        views = self._views
        if views is None or views[0] is not x or views[1] is not y:
            views = self._views = (x, y, x.reshape(self.view), y.reshape(self.view))
        return views[2], views[3]

    def forward(self, is_train, inputs, outputs, aux):
        out = outputs[0]
        if not out.flags.c_contiguous:
            return super().forward(is_train, inputs, outputs, aux)
        x, y = self._2d(inputs[0], out)
        np.maximum.reduce(x, axis=1, keepdims=True, out=self.rowmax)
        np.subtract(x, self.rowmax, out=y)
        np.exp(y, out=y)
        np.add.reduce(y, axis=1, keepdims=True, out=self.rowsum)
        np.divide(y, self.rowsum, out=y)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.fast_grad or not outputs[0].flags.c_contiguous:
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        a = self.attrs
        if req[0] == "write" and in_grads[0].flags.c_contiguous:
            dst = in_grads[0]
        else:
            if self.dx_scratch is None:
                self.dx_scratch = np.empty(in_grads[0].shape, dtype=in_grads[0].dtype)
            dst = self.dx_scratch
        g = dst.reshape(self.grid2)
        # truncation toward zero like int(); a label outside [0, k) matches no class
        np.copyto(self.ilab_col, inputs[1].reshape(self.ilab_col.shape), casting="unsafe")
        np.equal(self.class_row, self.ilab_col, out=self.onehot)
        np.subtract(outputs[0].reshape(self.grid2), self.onehot, out=g)
        scale = a.grad_scale
        if a.use_ignore or a.normalization == "valid":
            np.not_equal(self.ilab1, self.ignore, out=self.keep1)
            if a.use_ignore:
                np.multiply(g, self.keep, out=g)
        if a.normalization == "valid":  # counted even without use_ignore, like core
            scale /= max(int(np.count_nonzero(self.keep1)), 1)
        elif a.normalization == "batch":
            scale /= self.grid2[0]
        if scale != 1.0:
            np.multiply(g, scale, out=g)
        if a.out_grad:
            np.multiply(dst, out_grads[0], out=dst)
        if dst is not in_grads[0]:
            if req[0] == "write":
                np.copyto(in_grads[0], dst)
            else:
                np.add(in_grads[0], dst, out=in_grads[0])
