"""Max pooling with disjoint windows (LeNet's 2x2/2): the gradient routed in few passes.

Core's ``PoolingKernel`` routes the gradient with five passes per kernel offset plus a
zero fill of the whole input gradient, because windows may overlap. When the windows are
disjoint and need no padding, every input position receives at most one gradient value:

* windows that tile the input exactly (stride == kernel, sizes divisible): the input viewed
  as ``(..., O1, K1, O2, K2, ...)`` is compared with the broadcast maximum, and the mask
  times the broadcast gradient is the input gradient: two passes. That is exact when each
  window holds its maximum once, which a count of the mask proves (NaN windows hold it zero
  times, so they are checked too); otherwise the per-offset routing below runs.
* other disjoint windows: per kernel offset, compare the slice with the maximum, take the
  not-yet-routed gradient there and remove it from what is left (the first offset holding
  the maximum wins, as in the generic kernel): three passes per offset, no fill or add.

The data and the output may each be stored batch-last, (C, *S, N), by the executor
(``layout_options``/``set_layouts``): numpy's inner loops then run along N contiguous
floats instead of a stride-2 row, 2-3x faster. Every other pooling configuration runs the
generic code in NC* layout.
"""
import numpy as np

from gradloom.ops.pooling import PoolingKernel, pool_geometry

from ._parallel import run_sliced
from .conv import MIN_BATCH_LAST


def _batch_last_perm(ndim):
    return tuple(range(1, ndim)) + (0,)


class CpuPoolingKernel(PoolingKernel):
    in_batch_last = out_batch_last = False

    def layout_options(self):
        """Batch-last storage, for the fast path with batches long enough to pay."""
        if self.fast and self.in_shapes[0][0] >= MIN_BATCH_LAST:
            return (_batch_last_perm(len(self.in_shapes[0])),)
        return ()

    def set_layouts(self, in_perm, out_perm):
        self.in_batch_last = in_perm is not None
        self.out_batch_last = out_perm is not None
        self.setup()

    def setup(self):
        super().setup()
        data = self.in_shapes[0]
        kernel, stride, _, out_sp = pool_geometry(self.attrs, data[2:])
        disjoint = all(s >= k for s, k in zip(stride, kernel))
        self.fast = self.kind == "max" and not self.padded and disjoint and len(self.slices) > 1
        if not self.fast:
            return
        nd = len(kernel)
        # work in the data's storage order; a standard output is read through a view
        self.perm = _batch_last_perm(2 + nd) if self.in_batch_last else tuple(range(2 + nd))
        self.out_perm = None if self.out_batch_last == self.in_batch_last else (
            _batch_last_perm(2 + nd) if self.in_batch_last else
            tuple(int(i) for i in np.argsort(_batch_last_perm(2 + nd))))
        order = lambda shape: tuple(shape[i] for i in self.perm)  # noqa: E731
        self.windows_index = [order(index) for index in self.slices]
        spatial = data[2:]
        # positions no window reads (stride > kernel, or a remainder row) get zero gradient
        self.covers_all = all((o - 1) * s + k == n and s == k
                              for o, s, k, n in zip(out_sp, stride, kernel, spatial))
        out_shape = order(self.out_shapes[0])
        dtype = self.dtypes["in"][0]
        if self.covers_all:
            tiled, bcast = [], []
            for axis in self.perm:
                if axis < 2:
                    tiled.append(data[axis])
                    bcast.append(data[axis])
                else:
                    tiled += [out_sp[axis - 2], kernel[axis - 2]]
                    bcast += [out_sp[axis - 2], 1]
            self.tiled, self.bcast = tuple(tiled), tuple(bcast)
            self.mask = np.empty(self.tiled, dtype=bool)
            self.windows = int(np.prod(out_shape))
        self.hit = np.empty(out_shape, dtype=bool)
        self.left = np.empty(out_shape, dtype=dtype)     # gradient not yet routed
        self.dx_scratch = None                            # for req 'add', made on first use

    def _out_view(self, array):
        """An output-shaped array in this kernel's working order (a view)."""
        return array if self.out_perm is None else array.transpose(self.out_perm)

    def forward(self, is_train, inputs, outputs, aux):
        if not self.fast:
            return super().forward(is_train, inputs, outputs, aux)
        # axis 0 (C batch-last, else N) is outside every window: split over it
        run_sliced(self._max_part, (inputs[0], self._out_view(outputs[0])), axis=0)

    def _max_part(self, x, y):
        windows = self.windows_index
        np.maximum(x[windows[0]], x[windows[1]], out=y)
        for index in windows[2:]:
            np.maximum(y, x[index], out=y)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.fast:
            return super().backward(out_grads, inputs, outputs, aux, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        x, y = inputs[0], self._out_view(outputs[0])
        g = self._out_view(out_grads[0])
        if req[0] == "write":
            dst = in_grads[0]
        else:
            if self.dx_scratch is None:
                self.dx_scratch = np.empty(in_grads[0].shape, dtype=in_grads[0].dtype)
            dst = self.dx_scratch
        tiled = self.covers_all and x.flags.c_contiguous and dst.flags.c_contiguous
        if not (tiled and self._tiled_grad(x, y, g, dst)):
            self._routed_grad(x, y, g, dst)
        if req[0] == "add":
            np.add(in_grads[0], dst, out=in_grads[0])

    def _tiled_grad(self, x, y, g, dst):
        """Two passes over the input when every window holds its maximum once; else False."""
        mask = self.mask
        if y.flags.c_contiguous:
            yb = y.reshape(self.bcast)
        else:
            np.copyto(self.left, y)
            yb = self.left.reshape(self.bcast)
        run_sliced(_equal_into, (x.reshape(self.tiled), yb, mask), axis=0)
        total = np.add.reduce(y, axis=None)  # NaN iff some window is NaN (inf-inf: harmless)
        if np.count_nonzero(mask) != self.windows or total != total:
            return False
        if g.flags.c_contiguous:
            gb = g.reshape(self.bcast)
        else:
            np.copyto(self.left, g)
            gb = self.left.reshape(self.bcast)
        run_sliced(_multiply_into, (gb, mask, dst.reshape(self.tiled)), axis=0)
        return True

    def _routed_grad(self, x, y, g, dst):
        run_sliced(self._routed_part, (x, y, g, dst, self.left, self.hit), axis=0,
                   size=x.size)

    def _routed_part(self, x, y, g, dst, left, hit):
        if not self.covers_all:
            dst.fill(0)
        np.copyto(left, g)
        last = len(self.windows_index) - 1
        for k, index in enumerate(self.windows_index):
            np.equal(x[index], y, out=hit)
            part = dst[index]
            np.multiply(left, hit, out=part)
            if k < last:
                np.subtract(left, part, out=left)


def _equal_into(a, b, out):
    np.equal(a, b, out=out)


def _multiply_into(a, b, out):
    np.multiply(a, b, out=out)
