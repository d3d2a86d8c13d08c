"""Conformance cases of GridGenerator, BilinearSampler and SpatialTransformer.

The references loop over every output point and read its four neighbouring pixels one at a
time (nothing shared with the kernels' vectorised gather). Gradients are numerical: the
random grids put every point a random fraction between pixels, so a central difference of
1e-6 does not straddle a pixel boundary (where bilinear sampling has a kink); the
SpatialTransformer case's random affine maps also send points outside the input, which
exercises the zero padding.
"""
import numpy as np

from .cases import Case


def base_grid(height, width):
    """Target pixel coordinates in [-1, 1]: rows x, y, 1 (row-major positions)."""
    xs = [-1 + 2 * j / (width - 1) for j in range(width)]
    ys = [-1 + 2 * i / (height - 1) for i in range(height)]
    return np.array([[xs[j] for i in range(height) for j in range(width)],
                     [ys[i] for i in range(height) for j in range(width)],
                     [1.0] * (height * width)])


def affine_grid(theta, height, width):
    n = theta.shape[0]
    return (theta.reshape(n, 2, 3) @ base_grid(height, width)).reshape(n, 2, height, width)


def bilinear_sample(data, grid):
    """Sample ``data`` (N, C, H, W) at ``grid`` (N, 2, Ho, Wo); pixels outside read 0."""
    n, c, h, w = data.shape
    out = np.zeros((n, c) + grid.shape[2:])
    for b in range(n):
        for i in range(grid.shape[2]):
            for j in range(grid.shape[3]):
                x = (grid[b, 0, i, j] + 1) * (w - 1) / 2
                y = (grid[b, 1, i, j] + 1) * (h - 1) / 2
                x0, y0 = int(np.floor(x)), int(np.floor(y))
                for yy in (y0, y0 + 1):
                    for xx in (x0, x0 + 1):
                        if 0 <= xx < w and 0 <= yy < h:
                            weight = (1 - abs(x - xx)) * (1 - abs(y - yy))
                            out[b, :, i, j] += weight * data[b, :, yy, xx]
    return out


def _grid_generator_ref(x, aux, a, t):
    if a.transform_type == "affine":
        return [affine_grid(x[0], *a.target_shape)]
    flow = x[0]
    h, w = flow.shape[2:]
    cols = np.arange(w)[None, None, :]
    rows = np.arange(h)[None, :, None]
    return [np.stack([(flow[:, 0] + cols) * 2 / (w - 1) - 1,
                      (flow[:, 1] + rows) * 2 / (h - 1) - 1], axis=1)]


def _sampler_ref(x, aux, a, t):
    return [bilinear_sample(x[0], x[1])]


def _transformer_ref(x, aux, a, t):
    return [bilinear_sample(x[0], affine_grid(x[1], *a.target_shape))]


def add_cases(add):
    add(Case("GridGenerator", {"transform_type": "affine", "target_shape": (3, 4)}, [(2, 6)],
             _grid_generator_ref, name="GridGenerator-affine"))
    add(Case("GridGenerator", {"transform_type": "warp"}, [(2, 2, 3, 5)],
             _grid_generator_ref, name="GridGenerator-warp"))
    # grid values in [-1, -0.2] and [0.2, 1]: inside the input
    add(Case("BilinearSampler", {}, [(2, 3, 4, 5), (2, 2, 3, 4)], _sampler_ref))
    add(Case("BilinearSampler", {}, [(1, 2, 3, 3), (1, 2, 5, 2)], _sampler_ref,
             name="BilinearSampler-upsample"))
    # loc values of |0.2..1| and either sign: some points fall outside (zero padding)
    add(Case("SpatialTransformer", {"transform_type": "affine", "sampler_type": "bilinear",
                                    "target_shape": (3, 4)}, [(2, 2, 4, 5), (2, 6)],
             _transformer_ref))
