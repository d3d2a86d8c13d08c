"""The MLP's training step written by hand in numpy: the ceiling for an engine on numpy.

Forward and backward of 784-1024-1024-10 (relu, softmax cross-entropy) straight into
buffers allocated once, no graph, no dispatch: what a framework built on numpy and its BLAS
can at best reach on this host. Its ratio to PyTorch says how much the host's BLAS allows
(it differs a lot between CPUs: numpy's OpenBLAS against PyTorch's MKL/oneDNN); the
executor's ratio to it says how much gradloom itself costs.
"""
import numpy as np


def mlp_step(batch, rng=None):
    """A function running one forward + backward step of the MLP (parameter gradients only)."""
    rng = np.random.default_rng(0) if rng is None else rng
    f32 = np.float32
    sizes = [784, 1024, 1024, 10]
    weights = [rng.normal(0, 0.05, (o, i)).astype(f32) for i, o in zip(sizes, sizes[1:])]
    biases = [np.zeros(o, f32) for o in sizes[1:]]
    dweights = [np.empty_like(w) for w in weights]
    dbiases = [np.empty_like(b) for b in biases]
    x = rng.random((batch, 784), dtype=f32)
    label = rng.integers(0, 10, batch)
    rows = np.arange(batch)
    acts = [x] + [np.empty((batch, o), f32) for o in sizes[1:]]
    grads = [None] + [np.empty((batch, o), f32) for o in sizes[1:]]
    mask = np.empty((batch, 1024), bool)
    col = np.empty((batch, 1), f32)

    def step():
        for layer, (w, b) in enumerate(zip(weights, biases)):
            out = acts[layer + 1]
            np.matmul(acts[layer], w.T, out=out)
            np.add(out, b, out=out)
            if layer < 2:
                np.maximum(out, 0, out=out)
        prob, g = acts[3], grads[3]
        np.max(prob, axis=1, keepdims=True, out=col)
        np.subtract(prob, col, out=g)
        np.exp(g, out=g)
        np.sum(g, axis=1, keepdims=True, out=col)
        np.divide(g, col, out=g)
        g[rows, label] -= 1
        for layer in (2, 1, 0):
            g = grads[layer + 1]
            np.matmul(g.T, acts[layer], out=dweights[layer])
            np.sum(g, axis=0, out=dbiases[layer])
            if layer:
                below = grads[layer]
                np.matmul(g, weights[layer], out=below)
                np.greater(acts[layer], 0, out=mask)
                np.multiply(below, mask, out=below)
    return step
