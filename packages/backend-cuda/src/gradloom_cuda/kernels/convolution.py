"""2-D Convolution as im2col + one cuBLAS GEMM per group, col2im as a gather.

Layout: the column buffer is ``(groups, C/g * KH * KW, N * OH * OW)``: rows are (channel,
kernel offset) as in the weight, columns (image, output position). Then

* forward: ``Y^T = W @ col`` is one GEMM per group over the whole batch (not N small ones),
  followed by one pass that transposes ``Y^T`` to NCHW and adds the bias;
* backward: ``dW = dY^T @ col^T`` (one GEMM, the batch sum happens inside it),
  ``dcol = W^T @ dY^T`` (one GEMM) and col2im, where each input element gathers the column
  entries that read it (no atomics, deterministic).

Buffers (column, its gradient, the GEMM result) are allocated at bind time. 1-D and 3-D
convolutions and other dtypes run the generic kernel.
"""
import numpy as np

from gradloom.ops._window import spatial_params
from gradloom.ops.conv import ConvolutionKernel

from ._cuda import (THREADS, GenericFallback, capped_grid, contiguous, declare_elementwise,
                    declare_raw, elementwise, fast_dtype, raw)

declare_raw("im2col", r"""
template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ col, long long total,
                       int N, int C, int H, int W, int OH, int OW, int KH, int KW,
                       int SH, int SW, int PH, int PW, int DH, int DW) {
    long long P = (long long)OH * OW, NP = (long long)N * P;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        long long j = idx % NP, row = idx / NP;
        int kj = (int)(row % KW);
        long long t = row / KW;
        int ki = (int)(t % KH);
        int c = (int)(t / KH);
        int n = (int)(j / P);
        int p = (int)(j % P);
        int ih = (p / OW) * SH - PH + ki * DH;
        int iw = (p % OW) * SW - PW + kj * DW;
        T v = (T)0;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
            v = x[(((long long)n * C + c) * H + ih) * W + iw];
        col[idx] = v;
    }
}

template <typename T>
__global__ void col2im(const T* __restrict__ dcol, T* __restrict__ dx, long long total,
                       int N, int C, int H, int W, int OH, int OW, int KH, int KW,
                       int SH, int SW, int PH, int PW, int DH, int DW, int accumulate) {
    long long P = (long long)OH * OW, NP = (long long)N * P;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        int iw = (int)(idx % W);
        long long t = idx / W;
        int ih = (int)(t % H);
        t /= H;
        int c = (int)(t % C);
        int n = (int)(t / C);
        T s = (T)0;
        for (int ki = 0; ki < KH; ++ki) {
            int hh = ih + PH - ki * DH;
            if (hh < 0 || hh % SH) continue;
            int oh = hh / SH;
            if (oh >= OH) continue;
            for (int kj = 0; kj < KW; ++kj) {
                int ww = iw + PW - kj * DW;
                if (ww < 0 || ww % SW) continue;
                int ow = ww / SW;
                if (ow >= OW) continue;
                long long row = ((long long)c * KH + ki) * KW + kj;
                s += dcol[row * NP + (long long)n * P + (long long)oh * OW + ow];
            }
        }
        if (accumulate) dx[idx] += s; else dx[idx] = s;
    }
}
""", ["im2col<float>", "im2col<double>", "col2im<float>", "col2im<double>"])

declare_elementwise("add_bias", "T t, T b", "T y", "y = t + b;")


class ConvolutionKernelGPU(GenericFallback, ConvolutionKernel):
    generic_kernel = ConvolutionKernel
    defer_bias = False

    def setup(self):
        a = self.attrs
        self.fast = len(a.kernel) == 2 and fast_dtype(self.dtypes["in"][:2] +
                                                      self.dtypes["out"][:1])
        if not self.fast:
            return super().setup()
        xp = self.xp
        dtype = self.dtypes["in"][0]
        (sh, sw), (dh, dw), (ph, pw) = spatial_params("Convolution", a, 2)
        n, c, h, w = self.in_shapes[0]
        f, g = a.num_filter, a.num_group
        oh, ow = self.out_shapes[0][2:]
        kh, kw = a.kernel
        cg, fg, p = c // g, f // g, oh * ow
        self.has_bias = not a.no_bias
        self.w3 = (g, fg, cg * kh * kw)
        self.col = xp.empty((g, cg * kh * kw, n * p), dtype=dtype)
        self.dcol = xp.empty_like(self.col)
        self.yt = xp.empty((g, fg, n * p), dtype=dtype)   # GEMM result / transposed dY
        self.yt_nchw = self.yt.reshape(g, fg, n, p).transpose(2, 0, 1, 3)
        self.y4 = (n, g, fg, p)
        self.y3 = (n, f, p)
        self.yt4 = (g, fg, n, p)
        self.bias4 = (1, g, fg, 1)
        i32 = np.int32
        self.geometry = (i32(n), i32(c), i32(h), i32(w), i32(oh), i32(ow), i32(kh), i32(kw),
                         i32(sh), i32(sw), i32(ph), i32(pw), i32(dh), i32(dw))
        self.col_total = np.int64(self.col.size)
        self.x_total = np.int64(n * c * h * w)
        self._im2col = raw("im2col", "im2col", dtype)
        self._col2im = raw("im2col", "col2im", dtype)
        self._add_bias = elementwise("add_bias")

    def bias_views(self):
        """(output view, bias view) for a fused bias-add: bias broadcast per filter."""
        return self.y3, (1, self.y3[1], 1)

    def forward(self, is_train, inputs, outputs, aux):
        if not self.fast or not contiguous(inputs[0], outputs[0]):
            return self._generic("forward", is_train, inputs, outputs, aux)
        xp = self.xp
        self._im2col(capped_grid(self.col_total), (THREADS,),
                     (inputs[0], self.col, self.col_total) + self.geometry)
        xp.matmul(inputs[1].reshape(self.w3), self.col, out=self.yt)
        y = outputs[0].reshape(self.y4)
        if self.has_bias and not self.defer_bias:
            self._add_bias(self.yt_nchw, inputs[2].reshape(self.bias4), y)
        else:
            xp.copyto(y, self.yt_nchw)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        ok = contiguous(out_grads[0]) and (not self.wants(0, in_grads, req) or
                                           contiguous(in_grads[0]))
        if not self.fast or not ok:
            return self._generic("backward", out_grads, inputs, outputs, aux, in_grads, req)
        xp = self.xp
        gy = out_grads[0]
        if self.has_bias and self.wants(2, in_grads, req):
            if req[2] == "write":
                xp.sum(gy.reshape(self.y3), axis=(0, 2), out=in_grads[2])
            else:
                in_grads[2] += gy.reshape(self.y3).sum(axis=(0, 2))
        want_w, want_x = self.wants(1, in_grads, req), self.wants(0, in_grads, req)
        if not (want_w or want_x):
            return
        # dY^T (groups, filters, image*position): the layout both GEMMs want
        xp.copyto(self.yt.reshape(self.yt4), gy.reshape(self.y4).transpose(1, 2, 0, 3))
        if want_w:
            dst = self.grad_dst(1, in_grads, req)
            xp.matmul(self.yt, self.col.transpose(0, 2, 1), out=dst.reshape(self.w3))
            self.grad_done(1, in_grads, req, dst)
        if want_x:
            xp.matmul(inputs[1].reshape(self.w3).transpose(0, 2, 1), self.yt, out=self.dcol)
            self._col2im(capped_grid(self.x_total), (THREADS,),
                         (self.dcol, in_grads[0], self.x_total) + self.geometry +
                         (np.int32(req[0] == "add"),))

    @property
    def can_defer_bias(self):
        return self.fast and self.has_bias


KERNELS = {"Convolution": ConvolutionKernelGPU}
