"""Training steps written by hand in numpy: the ceiling for an engine on numpy.

Forward and backward (parameter gradients only, softmax cross-entropy summed over the batch,
as ``SoftmaxOutput``) straight into buffers allocated once: no graph, no dispatch, no
framework. What these reach against PyTorch says how much the host's BLAS allows (it differs
a lot between CPUs: numpy's OpenBLAS against PyTorch's MKL/oneDNN); the executor's ratio to
them says how much gradloom itself costs.

* ``mlp_step``: 784-1024-1024-10 with relu.
* ``lenet_step``: conv20-5x5, tanh, maxpool2, conv50-5x5, tanh, maxpool2, fc500, tanh, fc10,
  kept batch-last, (C, H, W, N), from the first convolution to the last layer, so im2col
  copies and col2im additions run along the batch; each tanh runs after its pooling, on a
  quarter of the values (the two commute). BLAS uses its own threads; everything else runs
  on the calling thread.

Each returns a :class:`Reference`: the step, and the parameters, gradients and inputs under
the names and shapes of the symbols in ``_common.build`` (tests check the gradients against
the executor's).
"""
from dataclasses import dataclass

import numpy as np

F32 = np.float32


@dataclass
class Reference:
    step: object
    params: dict      # name -> array, shaped as the symbol's argument
    grads: dict       # name -> array, filled by step()
    data: np.ndarray  # (N, ...) as the symbol's data
    label: np.ndarray  # (N,) class indices


def _params(rng, shapes):
    params = {name: (rng.normal(0, 0.05, shape) if name.endswith("weight")
                     else rng.normal(0, 0.01, shape)).astype(F32)
              for name, shape in shapes.items()}
    return params, {name: np.empty_like(value) for name, value in params.items()}


def mlp_step(batch, rng=None):
    """The MLP's step (relu hidden layers)."""
    rng = np.random.default_rng(0) if rng is None else rng
    sizes = [784, 1024, 1024, 10]
    shapes = {}
    for k, (i, o) in enumerate(zip(sizes, sizes[1:]), 1):
        shapes[f"fc{k}_weight"], shapes[f"fc{k}_bias"] = (o, i), (o,)
    params, grads = _params(rng, shapes)
    weights = [params[f"fc{k}_weight"] for k in (1, 2, 3)]
    biases = [params[f"fc{k}_bias"] for k in (1, 2, 3)]
    dweights = [grads[f"fc{k}_weight"] for k in (1, 2, 3)]
    dbiases = [grads[f"fc{k}_bias"] for k in (1, 2, 3)]
    x = rng.random((batch, 784), dtype=F32)
    label = rng.integers(0, 10, batch)
    rows = np.arange(batch)
    acts = [x] + [np.empty((batch, o), F32) for o in sizes[1:]]
    dacts = [None] + [np.empty((batch, o), F32) for o in sizes[1:]]
    mask = np.empty((batch, 1024), bool)
    col = np.empty((batch, 1), F32)

    def step():
        for layer, (w, b) in enumerate(zip(weights, biases)):
            out = acts[layer + 1]
            np.matmul(acts[layer], w.T, out=out)
            np.add(out, b, out=out)
            if layer < 2:
                np.maximum(out, 0, out=out)
        prob, g = acts[3], dacts[3]
        np.max(prob, axis=1, keepdims=True, out=col)
        np.subtract(prob, col, out=g)
        np.exp(g, out=g)
        np.sum(g, axis=1, keepdims=True, out=col)
        np.divide(g, col, out=g)
        g[rows, label] -= 1
        for layer in (2, 1, 0):
            g = dacts[layer + 1]
            np.matmul(g.T, acts[layer], out=dweights[layer])
            np.sum(g, axis=0, out=dbiases[layer])
            if layer:
                below = dacts[layer]
                np.matmul(g, weights[layer], out=below)
                np.greater(acts[layer], 0, out=mask)
                np.multiply(below, mask, out=below)
    return Reference(step, params, grads, x, label)


def _tanh_grad(d, a, scratch):
    """``d *= 1 - a**2`` (a = tanh output) without temporaries."""
    np.multiply(a, a, out=scratch)
    np.subtract(1, scratch, out=scratch)
    np.multiply(d, scratch, out=d)


class _ConvPool:
    """A valid 5x5 convolution followed by 2x2 max pooling and tanh, batch-last."""

    def __init__(self, params, grads, name, channels, filters, size, batch):
        self.n, self.f, self.out = batch, filters, size - 4
        self.w = params[f"{name}_weight"].reshape(filters, channels * 25)
        self.b = params[f"{name}_bias"].reshape(filters, 1)
        self.dw = grads[f"{name}_weight"].reshape(self.w.shape)
        self.db = grads[f"{name}_bias"].reshape(self.b.shape)
        o, p = self.out, self.out // 2
        self.col = np.empty((channels, 5, 5, o, o, batch), F32)
        self.dcol = np.empty_like(self.col)
        self.y = np.empty((filters, o, o, batch), F32)
        self.dy = np.empty_like(self.y)
        self.mask = np.empty((filters, p, 2, p, 2, batch), bool)
        self.a = np.empty((filters, p, p, batch), F32)      # tanh(maxpool(conv))
        self.scratch = np.empty_like(self.a)

    def forward(self, x):
        o = self.out
        for kh in range(5):
            for kw in range(5):
                np.copyto(self.col[:, kh, kw], x[:, kh:kh + o, kw:kw + o])
        y2 = self.y.reshape(self.f, -1)
        np.matmul(self.w, self.col.reshape(self.w.shape[1], -1), out=y2)
        np.add(y2, self.b, out=y2)
        p = o // 2
        y6 = self.y.reshape(self.f, p, 2, p, 2, self.n)
        np.max(y6, axis=(2, 4), out=self.a)
        np.equal(y6, self.a[:, :, None, :, None], out=self.mask)
        np.tanh(self.a, out=self.a)
        return self.a

    def backward(self, da, dx=None):
        """``da``: gradient at this block's output (overwritten); fills dw, db and ``dx``."""
        _tanh_grad(da, self.a, self.scratch)
        p = self.out // 2
        np.multiply(self.mask, da[:, :, None, :, None],
                    out=self.dy.reshape(self.f, p, 2, p, 2, self.n))
        dy2 = self.dy.reshape(self.f, -1)
        col2 = self.col.reshape(self.w.shape[1], -1)
        np.matmul(dy2, col2.T, out=self.dw)
        np.sum(dy2, axis=1, keepdims=True, out=self.db)
        if dx is None:
            return
        np.matmul(self.w.T, dy2, out=self.dcol.reshape(col2.shape))
        dx.fill(0)
        o = self.out
        for kh in range(5):
            for kw in range(5):
                window = dx[:, kh:kh + o, kw:kw + o]
                np.add(window, self.dcol[:, kh, kw], out=window)


def lenet_step(batch, rng=None):
    """LeNet's step, batch-last throughout."""
    rng = np.random.default_rng(0) if rng is None else rng
    n = batch
    params, grads = _params(rng, {
        "conv1_weight": (20, 1, 5, 5), "conv1_bias": (20,),
        "conv2_weight": (50, 20, 5, 5), "conv2_bias": (50,),
        "fc1_weight": (500, 800), "fc1_bias": (500,),
        "fc2_weight": (10, 500), "fc2_bias": (10,)})
    block1 = _ConvPool(params, grads, "conv1", 1, 20, 28, n)
    block2 = _ConvPool(params, grads, "conv2", 20, 50, 12, n)
    w3, b3 = params["fc1_weight"], params["fc1_bias"].reshape(500, 1)
    w4, b4 = params["fc2_weight"], params["fc2_bias"].reshape(10, 1)
    dw3, db3 = grads["fc1_weight"], grads["fc1_bias"].reshape(500, 1)
    dw4, db4 = grads["fc2_weight"], grads["fc2_bias"].reshape(10, 1)
    data = rng.random((n, 1, 28, 28), dtype=F32)
    label = rng.integers(0, 10, n)
    samples = np.arange(n)
    x = np.empty((1, 28, 28, n), F32)
    a3 = np.empty((500, n), F32)
    z4 = np.empty((10, n), F32)
    row = np.empty((1, n), F32)
    d3 = np.empty((500, n), F32)
    scratch = np.empty((500, n), F32)
    d2 = np.empty((800, n), F32)
    da1 = np.empty((20, 12, 12, n), F32)

    def step():
        np.copyto(x, data.transpose(1, 2, 3, 0))
        a1 = block1.forward(x)
        flat = block2.forward(a1).reshape(800, n)    # (C, H, W) features by N, as Flatten
        np.matmul(w3, flat, out=a3)
        np.add(a3, b3, out=a3)
        np.tanh(a3, out=a3)
        np.matmul(w4, a3, out=z4)
        np.add(z4, b4, out=z4)
        np.max(z4, axis=0, keepdims=True, out=row)    # softmax over the classes (axis 0)
        np.subtract(z4, row, out=z4)
        np.exp(z4, out=z4)
        np.sum(z4, axis=0, keepdims=True, out=row)
        np.divide(z4, row, out=z4)
        z4[label, samples] -= 1
        np.matmul(z4, a3.T, out=dw4)
        np.sum(z4, axis=1, keepdims=True, out=db4)
        np.matmul(w4.T, z4, out=d3)
        _tanh_grad(d3, a3, scratch)
        np.matmul(d3, flat.T, out=dw3)
        np.sum(d3, axis=1, keepdims=True, out=db3)
        np.matmul(w3.T, d3, out=d2)
        block2.backward(d2.reshape(50, 4, 4, n), da1)
        block1.backward(da1)
    return Reference(step, params, grads, data, label)


STEPS = {"mlp": mlp_step, "lenet": lenet_step}
