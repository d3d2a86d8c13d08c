"""SoftmaxOutput: a warp-per-row softmax and a one-pass loss gradient.

Attribute handling (views for multi_output / preserve_shape, label layout, soft labels,
``out_grad``, write/add, the label's zero gradient) is the generic kernel's; only its two
numeric steps are replaced (``forward`` and ``_hard_label_grad``):

* forward: one warp per (row, position) finds the max, sums the exponentials and scales,
  reading the row from global memory three times instead of allocating temporaries;
* hard-label backward: ``grad = (prob - target) * grad_scale / count`` in one elementwise
  pass, where ``target`` is the one-hot (or smoothed) label, ignored labels give zero with
  ``use_ignore``, and ``count`` follows ``normalization`` exactly as the generic kernel does.
  For 'valid' the count of non-ignored labels is reduced on the device into a one-element
  array the gradient pass reads, so no value travels to the host.
"""
import numpy as np

from gradloom.ops.loss import SoftmaxOutputKernel

from ._cuda import (THREADS, contiguous, declare_elementwise, declare_raw, declare_reduction,
                    elementwise, fast_dtype, grid, raw, reduction)

declare_raw("softmax_rows", r"""
// x, y: (rows, K, P) contiguous; one warp per (row, position) pair
template <typename T>
__global__ void softmax_rows(const T* __restrict__ x, T* __restrict__ y,
                             long long pairs, int K, int P) {
    long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= pairs) return;              // uniform across the warp
    long long r = warp / P;
    int p = (int)(warp - r * P);
    const T* xr = x + r * (long long)K * P + p;
    T* yr = y + r * (long long)K * P + p;
    T m = xr[0];
    for (int c = lane; c < K; c += 32) m = max(m, xr[(long long)c * P]);
    for (int o = 16; o > 0; o >>= 1) m = max(m, __shfl_xor_sync(0xffffffffu, m, o));
    T s = 0;
    for (int c = lane; c < K; c += 32) {
        T e = exp(xr[(long long)c * P] - m);
        yr[(long long)c * P] = e;
        s += e;
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    T inv = (T)1 / s;
    for (int c = lane; c < K; c += 32) yr[(long long)c * P] *= inv;
}
""", ["softmax_rows<float>", "softmax_rows<double>"])

# label -> integer class exactly as the generic kernel: truncation toward zero
_GRAD_BODY = r"""
    long long r = i / (K * P);
    long long p = i % P;
    int c = (int)((i / P) % K);
    long long lab = (long long)label[r * P + p];
    T v = prob - (T)off;
    if (lab >= 0 && lab < K && c == lab) v -= (T)hit;
    if (use_ignore && lab == ignore) v = (T)0;
    v *= (T)(scale / (double)count[0]);
"""
declare_elementwise("softmax_output_grad",
                    "T prob, raw L label, raw float32 count, int64 K, int64 P, float64 off, "
                    "float64 hit, int64 ignore, bool use_ignore, float64 scale",
                    "T grad", _GRAD_BODY + "grad = v;")
# max(number of labels != ignore_label, 1), as float32, on the device
declare_reduction("count_not_ignored", "L lab, int64 ignore", "float32 count",
                  "((long long)lab != ignore) ? 1.0f : 0.0f", "a + b",
                  "count = a > 1.0f ? a : 1.0f", "0.0f", "float32")


class SoftmaxOutputKernelGPU(SoftmaxOutputKernel):
    def setup(self):
        super().setup()
        self.fast = fast_dtype([self.dtypes["in"][0], self.dtypes["out"][0]])
        if not self.fast:
            return
        xp, a = self.xp, self.attrs
        self.pairs = self.view[0] * self.positions
        self._softmax = raw("softmax_rows", "softmax_rows", self.dtypes["in"][0])
        self._blocks = grid(self.pairs * 32)
        if self.soft:
            return
        # the backward grid is the generic kernel's (rows, classes, positions)
        rows, k, positions = self.grad_view
        self.grad_k, self.grad_p = k, positions
        self.off = a.smooth_alpha / (k - 1) if a.smooth_alpha and k > 1 else 0.0
        self.hit = 1.0 - a.smooth_alpha - self.off
        self.count = xp.empty((1,), dtype=np.float32)
        if a.normalization == "batch":
            self.count.fill(rows * positions)
            self.count_valid = False
        elif a.normalization == "valid":
            self.count_valid = True           # reduced from the labels every step
            self._count = reduction("count_not_ignored")
        else:   # 'null': multi_output still divides by the number of positions
            self.count.fill(positions)
            self.count_valid = False
        self._grad = elementwise("softmax_output_grad")

    def forward(self, is_train, inputs, outputs, aux):
        x, y = inputs[0], outputs[0]
        if not (self.fast and contiguous(x, y)):
            return super().forward(is_train, inputs, outputs, aux)
        self._softmax(self._blocks, (THREADS,),
                      (x, y, np.int64(self.pairs), np.int32(self.classes),
                       np.int32(self.positions)))

    def _hard_label_grad(self, prob, label, dst):
        """The generic backward's hard-label step (it handles soft labels, ``out_grad``,
        write/add and the label's zero gradient): ``dst`` gets the loss gradient."""
        if not self.fast or not contiguous(prob, dst):
            return super()._hard_label_grad(prob, label, dst)
        a = self.attrs
        flat = label.reshape(-1)
        if self.count_valid:
            self._count(flat, self.ignore, out=self.count.reshape(()))
        self._grad(prob, flat, self.count, self.grad_k, self.grad_p, self.off, self.hit,
                   self.ignore, a.use_ignore, a.grad_scale, dst)


KERNELS = {"SoftmaxOutput": SoftmaxOutputKernelGPU}
