"""2-D max / avg / sum pooling: one thread per output forward, one per input backward.

Geometry (kernel, stride, pad, output size for 'valid'/'full' and global pooling) and the
average's divisor (``count_include_pad``) come from the generic operator code, so the
conventions live in one place. Padding is implicit: positions outside the input are skipped
(max: they act as -inf; avg/sum: as 0), exactly what the generic kernel's padded copy holds.

Max forward records, per output, the flat index of the FIRST window element (in kernel
offset order) equal to the maximum; backward then gathers, for each input element, the
gradients of the outputs that chose it: the generic kernel's routing, without atomics.
Avg/sum backward gather ``g / divisor`` (or ``g``) over the windows containing the element.
lp pooling, 1-D/3-D pooling and other dtypes run the generic kernel.
"""
import numpy as np

from gradloom.ops.pooling import PoolingKernel, pool_geometry

from ._cuda import (THREADS, GenericFallback, capped_grid, contiguous, declare_raw,
                    fast_dtype, raw)

declare_raw("pool2d", r"""
// mode: 0 max, 1 avg, 2 sum. x: (N*C, H, W), y / argmax / divisor: (N*C, OH, OW) / (OH, OW)
template <typename T>
__global__ void pool2d_fwd(const T* __restrict__ x, T* __restrict__ y, int* __restrict__ arg,
                           const T* __restrict__ divisor, long long total, int H, int W,
                           int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW,
                           int mode) {
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        int ow = (int)(idx % OW);
        long long t = idx / OW;
        int oh = (int)(t % OH);
        long long plane = t / OH;
        const T* xp = x + plane * H * W;
        int h0 = oh * SH - PH, w0 = ow * SW - PW;
        if (mode == 0) {
            T best = neg_inf<T>();
            int where = -1;
            for (int ki = 0; ki < KH; ++ki) {
                int ih = h0 + ki;
                if (ih < 0 || ih >= H) continue;
                for (int kj = 0; kj < KW; ++kj) {
                    int iw = w0 + kj;
                    if (iw < 0 || iw >= W) continue;
                    T v = xp[ih * W + iw];
                    if (where < 0 || v > best) { best = v; where = ih * W + iw; }
                }
            }
            y[idx] = best;
            arg[idx] = where;
        } else {
            T s = (T)0;
            for (int ki = 0; ki < KH; ++ki) {
                int ih = h0 + ki;
                if (ih < 0 || ih >= H) continue;
                for (int kj = 0; kj < KW; ++kj) {
                    int iw = w0 + kj;
                    if (iw < 0 || iw >= W) continue;
                    s += xp[ih * W + iw];
                }
            }
            y[idx] = mode == 1 ? s / divisor[oh * OW + ow] : s;
        }
    }
}

template <typename T>
__global__ void pool2d_bwd(const T* __restrict__ g, const int* __restrict__ arg,
                           const T* __restrict__ divisor, T* __restrict__ dx, long long total,
                           int H, int W, int OH, int OW, int KH, int KW, int SH, int SW,
                           int PH, int PW, int mode, int accumulate) {
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        int iw = (int)(idx % W);
        long long t = idx / W;
        int ih = (int)(t % H);
        long long plane = t / H;
        const T* gp = g + plane * OH * OW;
        const int* ap = arg + plane * OH * OW;
        int self = ih * W + iw;
        // outputs whose window [o*S - P, o*S - P + K) contains this element
        int oh_lo = ih + PH - KH + 1;
        oh_lo = oh_lo <= 0 ? 0 : (oh_lo + SH - 1) / SH;
        int oh_hi = min((ih + PH) / SH, OH - 1);
        int ow_lo = iw + PW - KW + 1;
        ow_lo = ow_lo <= 0 ? 0 : (ow_lo + SW - 1) / SW;
        int ow_hi = min((iw + PW) / SW, OW - 1);
        T s = (T)0;
        for (int oh = oh_lo; oh <= oh_hi; ++oh) {
            for (int ow = ow_lo; ow <= ow_hi; ++ow) {
                int o = oh * OW + ow;
                if (mode == 0) {
                    if (ap[o] == self) s += gp[o];
                } else if (mode == 1) {
                    s += gp[o] / divisor[o];
                } else {
                    s += gp[o];
                }
            }
        }
        if (accumulate) dx[idx] += s; else dx[idx] = s;
    }
}
""", ["pool2d_fwd<float>", "pool2d_fwd<double>", "pool2d_bwd<float>", "pool2d_bwd<double>"])

_MODES = {"max": 0, "avg": 1, "sum": 2}


class PoolingKernelGPU(GenericFallback, PoolingKernel):
    generic_kernel = PoolingKernel

    def setup(self):
        a = self.attrs
        data = self.in_shapes[0]
        self.fast = (len(data) == 4 and a.pool_type in _MODES and
                     fast_dtype(self.dtypes["in"][:1] + self.dtypes["out"][:1]))
        if not self.fast:
            return super().setup()
        xp = self.xp
        dtype = self.dtypes["in"][0]
        self.kind = a.pool_type
        spatial = data[2:]
        kernel, stride, pad, self.out_spatial = pool_geometry(a, spatial)
        n, c, h, w = data
        oh, ow = self.out_spatial
        out_shape = (n, c, oh, ow)
        self.arg = xp.empty(out_shape if self.kind == "max" else (1,), dtype=np.int32)
        if self.kind == "avg":
            # the generic operator's rule for the number of elements averaged
            self.divisor = xp.ascontiguousarray(self._divisor(
                xp, kernel, stride, pad, spatial, dtype, a.count_include_pad is not False))
        else:
            self.divisor = xp.ones((1,), dtype=dtype)     # unused, a valid pointer
        i32 = np.int32
        self.mode = i32(_MODES[self.kind])
        self._arg_valid = False     # max: argmax indices written by the last fast forward
        self.geometry = (i32(h), i32(w), i32(oh), i32(ow), i32(kernel[0]), i32(kernel[1]),
                         i32(stride[0]), i32(stride[1]), i32(pad[0]), i32(pad[1]))
        self.y_total = np.int64(n * c * oh * ow)
        self.x_total = np.int64(n * c * h * w)
        self._fwd = raw("pool2d", "pool2d_fwd", dtype)
        self._bwd = raw("pool2d", "pool2d_bwd", dtype)

    def forward(self, is_train, inputs, outputs, aux):
        if not self.fast or not contiguous(inputs[0], outputs[0]):
            self._arg_valid = False
            return self._generic("forward", is_train, inputs, outputs, aux)
        self._arg_valid = True
        self._fwd(capped_grid(self.y_total), (THREADS,),
                  (inputs[0], outputs[0], self.arg, self.divisor, self.y_total) +
                  self.geometry + (self.mode,))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        ok = contiguous(out_grads[0], in_grads[0]) and (self.kind != "max" or self._arg_valid)
        if not self.fast or not ok:
            return self._generic("backward", out_grads, inputs, outputs, aux, in_grads, req)
        self._bwd(capped_grid(self.x_total), (THREADS,),
                  (out_grads[0], self.arg, self.divisor, in_grads[0], self.x_total) +
                  self.geometry + (self.mode, np.int32(req[0] == "add")))


KERNELS = {"Pooling": PoolingKernelGPU}
