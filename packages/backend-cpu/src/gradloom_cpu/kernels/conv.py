"""Convolution as one large GEMM per group over a column buffer built by one strided copy.

The generic kernel multiplies per sample (a batched matmul of many small GEMMs). Here the
columns of all samples sit side by side, so BLAS sees one big product. Their order inside
the column buffer is the kernel's private layout; the operator's API stays NC*:

* ``batch-middle``: columns ordered (N, *out_spatial). Turning the GEMM result (F, N, P)
  into (N, F, P) moves whole rows of P floats, so it is cheap when the output plane is large
  (LeNet's first layer); the im2col copy runs along the output width.
* ``batch-last``: columns ordered (*out_spatial, N), the (C, H, W, N) layout. Every im2col
  and col2im copy runs along N contiguous floats, which wins when output planes are small;
  the price is element-wise transposes at the kernel's edges.

``choose_layout`` picks one from the shapes (measured on a 2-core x86 host: batch-last is
2-3x cheaper in im2col/col2im for 8x8 outputs, batch-middle 4x cheaper at the edges for
24x24 ones). When the executor can keep the data and/or the output in the batch-last
layout between kernels (``gradloom.executor.layout``: the kernel offers it through
``layout_options`` and is told through ``set_layouts``), those edge transposes disappear
and the kernel always works batch-last. Everything is allocated at bind time; attribute
parsing, shapes and the semantics stay those of core's ``ConvolutionKernel``.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from gradloom.ops._common import prod
from gradloom.ops._window import spatial_params
from gradloom.ops.conv import ConvolutionKernel

from . import _parallel
from ._blas import MIN_MACS, MIN_OUTPUT, matmul
from ._parallel import run_sliced

BATCH_MIDDLE, BATCH_LAST = "batch-middle", "batch-last"
MIN_BATCH_LAST = 16   # below it, batch-last copies run along too few contiguous floats


def choose_layout(batch, out_spatial):
    """Batch-last pays off when output rows are short and the batch gives long copies."""
    return BATCH_LAST if batch >= MIN_BATCH_LAST and out_spatial[-1] < 16 else BATCH_MIDDLE


def batch_last_perm(ndim):
    """Axis order of an (N, C, *S) array stored as (C, *S, N)."""
    return tuple(range(1, ndim)) + (0,)


class CpuConvolutionKernel(ConvolutionKernel):
    layout = None  # None: choose from the shapes; tests force either value
    in_batch_last = out_batch_last = False  # data / output stored batch-last by the executor

    def layout_options(self):
        """Private layouts the data input and the output may each be stored in.

        Batch-last only pays with batches long enough to make its copies run (see
        ``choose_layout``)."""
        n = self.in_shapes[0][0]
        return (batch_last_perm(len(self.in_shapes[0])),) if n >= MIN_BATCH_LAST else ()

    def set_layouts(self, in_perm, out_perm):
        self.in_batch_last = in_perm is not None
        self.out_batch_last = out_perm is not None
        self.setup()

    def setup(self):
        a = self.attrs
        data = self.in_shapes[0]
        dtype = np.dtype(self.dtypes["in"][0])
        n, c = data[:2]
        spatial = tuple(data[2:])
        nd = len(spatial)
        kernel = tuple(a.kernel)
        stride, dilate, pad = spatial_params("Convolution", a, nd)
        out_sp = tuple(self.out_shapes[0][2:])
        f, g = a.num_filter, a.num_group
        self.has_bias = not a.no_bias
        layout = self.layout or choose_layout(n, out_sp)
        if self.in_batch_last or self.out_batch_last:
            layout = BATCH_LAST
        self.batch_last = layout == BATCH_LAST
        # internal axis order of an (N, C, *S) array: C first, then N and S in layout order
        if self.batch_last:
            self.perm = (1,) + tuple(range(2, 2 + nd)) + (0,)
        else:
            self.perm = (1, 0) + tuple(range(2, 2 + nd))
        self.inv_perm = tuple(int(i) for i in np.argsort(self.perm))
        padded = tuple(s + 2 * p for s, p in zip(spatial, pad))
        self.padded = any(pad)
        # the input in internal layout: a bind-time buffer (zero border) unless batch-middle
        # without padding, where a transposed view of the input itself serves
        self.copy_input = self.padded or (self.batch_last and not self.in_batch_last)
        if self.copy_input:
            self.xbuf = np.zeros(self._internal((n, c) + padded), dtype=dtype)
            self.xbuf_inner = self.xbuf[self._internal_index(
                (slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(pad, spatial)))]
        self.dxbuf = None  # allocated on first input-gradient request
        self.pad, self.stride, self.dilate, self.kernel_size = pad, stride, dilate, kernel
        self.spatial, self.padded_spatial, self.out_spatial = spatial, padded, out_sp
        cols = self._internal((n, 1) + out_sp)[1:]        # (N, *O) or (*O, N)
        m = n * prod(out_sp)
        kk = prod(kernel)
        k = (c // g) * kk
        # one group with a bias: the column buffer gets a row of ones below the im2col rows
        # and the weights a bias column, so the GEMM adds the bias (no pass over the output)
        # and the weight-gradient GEMM returns the bias gradient as one more row (no
        # reduction over the output gradient)
        self.bias_row = self.has_bias and g == 1
        self.col2d = np.empty((g * k + self.bias_row, m), dtype=dtype)
        if self.bias_row:
            self.col2d[k] = 1
            self.w_ext = np.empty((f, k + 1), dtype=dtype)
        self.col = self.col2d[:g * k].reshape((c,) + kernel + cols)
        self.dcol = np.empty_like(self.col)
        self.groups = g
        self.col3 = self.col.reshape(g, k, m)
        self.dcol3 = self.dcol.reshape(self.col3.shape)
        self.w3 = (g, f // g, k)
        self.m = m
        # large enough that the element-wise work around it pays for threads of our own:
        # the executor then runs the step with single-threaded BLAS (``_blas``)
        self.wants_blas_section = f * (c // g) * kk * m >= MIN_MACS
        if not self.out_batch_last:   # else the output buffers themselves are internal
            self.yint = np.empty((f,) + cols, dtype=dtype)     # GEMM result, internal layout
            self.y3 = self.yint.reshape(g, f // g, m)
            self.dyint = np.empty_like(self.yint)
            self.dy3 = self.dyint.reshape(self.y3.shape)
        self.bias_view = (1, f) + (1,) * nd
        self.bias_internal = (f,) + (1,) * (nd + 1)
        self.dw_scratch = np.empty((f, (c // g) * kk), dtype=dtype)
        # the weight gradient is computed transposed, col (K, M) @ dy.T (M, F), cut by rows
        # of col so each thread reads only its part of the large operand: OpenBLAS runs this
        # orientation faster than dy @ col.T when F is small (LeNet: F=20 and 50, 1.2-1.3x
        # on one core); the (K, F) result is then transposed into place (K*F elements)
        self.dwt_scratch = np.empty((self.col2d.shape[0], f), dtype=dtype)
        # too small to cut by rows (LeNet's first layer: 26x20 over 73728 positions): the
        # threads each take a share of the positions and their results are summed
        self.dwt_partials = np.empty((_parallel.SPLITTER.threads,) + self.dwt_scratch.shape,
                                     dtype=dtype) if self.dwt_scratch.size < MIN_OUTPUT else None
        self.db_scratch = np.empty((f,), dtype=dtype)
        self.offsets = list(np.ndindex(*kernel))

    # -- layout helpers --------------------------------------------------------------------
    def _internal(self, shape):
        return tuple(shape[i] for i in self.perm)

    def _internal_index(self, index):
        return tuple(index[i] for i in self.perm)

    def _col_source(self, xint):
        """``xint`` (internal layout, padded) viewed as the column buffer's shape."""
        st = xint.strides
        nd = len(self.kernel_size)
        if self.batch_last:      # xint: (C, *P, N)
            sp = st[1:1 + nd]
            strides = (st[0],) + tuple(s * d for s, d in zip(sp, self.dilate)) \
                + tuple(s * t for s, t in zip(sp, self.stride)) + (st[-1],)
        else:                    # xint: (C, N, *P)
            sp = st[2:]
            strides = (st[0],) + tuple(s * d for s, d in zip(sp, self.dilate)) + (st[1],) \
                + tuple(s * t for s, t in zip(sp, self.stride))
        return as_strided(xint, self.col.shape, strides, writeable=False)

    def _window_index(self, offset):
        """Index of the input positions kernel offset ``offset`` reads, internal layout."""
        index = [slice(None), slice(None)]
        for k, d, s, o in zip(offset, self.dilate, self.stride, self.out_spatial):
            index.append(slice(k * d, k * d + (o - 1) * s + 1, s))
        return self._internal_index(tuple(index))

    # -- forward ---------------------------------------------------------------------------
    def forward(self, is_train, inputs, outputs, aux):
        x = inputs[0]
        xview = x if self.in_batch_last else x.transpose(self.perm)
        if self.copy_input:
            run_sliced(np.copyto, (self.xbuf_inner, xview))
            xint = self.xbuf
        else:
            xint = xview
        run_sliced(np.copyto, (self.col, self._col_source(xint)))
        w3 = inputs[1].reshape(self.w3)
        y = outputs[0]
        y3 = y.reshape(self.y3_shape()) if self.out_batch_last else self.y3
        if self.bias_row:
            k = self.w3[2]
            np.copyto(self.w_ext[:, :k], w3[0])
            np.copyto(self.w_ext[:, k], inputs[2])
            matmul(self.w_ext, self.col2d, y3[0], "cols")
        elif self.groups == 1:
            matmul(w3[0], self.col3[0], y3[0], "cols")
        else:
            np.matmul(w3, self.col3, out=y3)
        if self.out_batch_last:
            if self.has_bias and not self.bias_row:
                run_sliced(_add_into, (y, inputs[2].reshape(self.bias_internal), y))
            return
        result = self.yint.transpose(self.inv_perm)
        if self.has_bias and not self.bias_row:
            bias = inputs[2].reshape(self.bias_view)
            run_sliced(lambda r, o: np.add(r, bias, out=o), (result, y))
        else:
            run_sliced(np.copyto, (y, result))

    def y3_shape(self):
        return (self.groups, self.w3[1], self.m)

    # -- backward --------------------------------------------------------------------------
    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if self.out_batch_last:
            dy3 = out_grads[0].reshape(self.y3_shape())
        else:
            run_sliced(np.copyto, (self.dyint, out_grads[0].transpose(self.perm)))
            dy3 = self.dy3
        wants_weight = self.wants(1, in_grads, req)
        wants_bias = self.has_bias and self.wants(2, in_grads, req)
        # with the ones row, the weight-gradient GEMM's last row is the bias gradient
        bias_from_gemm = wants_bias and wants_weight and self.bias_row
        if wants_bias and not bias_from_gemm:
            dst = in_grads[2] if req[2] == "write" else self.db_scratch
            np.add.reduce(dy3.reshape(-1, self.m), axis=1, out=dst)
            if req[2] == "add":
                in_grads[2] += dst
        if wants_weight:
            dw = in_grads[1]
            dst = dw.reshape(self.w3) if req[1] == "write" else \
                self.dw_scratch.reshape(self.w3)
            if self.groups == 1:
                k = self.w3[2]
                matmul(self.col2d, dy3[0].T, self.dwt_scratch, "rows", self.dwt_partials)
                np.copyto(dst[0], self.dwt_scratch[:k].T)
                if bias_from_gemm:
                    if req[2] == "write":
                        np.copyto(in_grads[2], self.dwt_scratch[k])
                    else:
                        in_grads[2] += self.dwt_scratch[k]
            else:
                np.matmul(dy3, self.col3.transpose(0, 2, 1), out=dst)
            if req[1] == "add":
                dw += self.dw_scratch.reshape(dw.shape)
        if self.wants(0, in_grads, req):
            self._data_grad(inputs[1], dy3, in_grads[0], req[0])

    def _data_grad(self, weight, dy3, dx, req):
        w3 = weight.reshape(self.w3)
        if self.groups == 1:
            matmul(w3[0].T, dy3[0], self.dcol3[0], "cols")
        else:
            np.matmul(w3.transpose(0, 2, 1), dy3, out=self.dcol3)
        # col2im: accumulate each kernel offset's columns onto the positions it read,
        # straight into the (zeroed) gradient buffer when it is unpadded and in this order
        direct = req == "write" and not self.padded and (
            self.in_batch_last or not self.batch_last)
        if direct:
            target = dx if self.in_batch_last else dx.transpose(self.perm)
        else:
            if self.dxbuf is None:
                shape = self._internal(self.in_shapes[0][:2] + self.padded_spatial)
                self.dxbuf = np.empty(shape, dtype=self.col.dtype)
                inner = (slice(None), slice(None)) + tuple(
                    slice(p, p + s) for p, s in zip(self.pad, self.spatial))
                self.dxbuf_inner = self.dxbuf[self._internal_index(inner)]
            target = self.dxbuf
        # channels are independent here: split over them (axis 0 of both)
        run_sliced(self._col2im, (target, self.dcol), axis=0, size=self.dcol.size)
        if direct:
            return
        grad = self.dxbuf_inner if self.in_batch_last else \
            self.dxbuf_inner.transpose(self.inv_perm)
        if req == "write":
            run_sliced(np.copyto, (dx, grad))
        else:
            run_sliced(_add_into, (dx, grad, dx))

    def _col2im(self, target, dcol):
        target.fill(0)
        for offset in self.offsets:
            view = target[self._window_index(offset)]
            np.add(view, dcol[(slice(None),) + offset], out=view)


def _add_into(a, b, out):
    np.add(a, b, out=out)
