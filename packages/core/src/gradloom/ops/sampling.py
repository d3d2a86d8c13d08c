"""Spatial sampling: GridGenerator, BilinearSampler and SpatialTransformer (NCHW data).

A sampling grid has shape ``(N, 2, Ho, Wo)``: channel 0 holds the source x, channel 1 the
source y, both normalised to ``[-1, 1]`` (-1 the first pixel centre, 1 the last), as in
MXNet. Bilinear sampling reads the four pixels around each point; a pixel outside the input
counts as zero (MXNet's zero padding), so a point is blended towards zero near the border.

SpatialTransformer is an affine GridGenerator followed by BilinearSampler, run as one node
(MXNet's LeNet ``--add_stn``).
"""
import numpy as np

from ..base import AttributeValueError, ShapeError
from ._common import OpKernel, as_shapes, is_unknown, merge, scatter_add_rows
from .opdef import OpDef, Param, choice, optional, parse_bool, parse_tuple

CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))   # (dy, dx) offsets from the top-left pixel


def affine_base_grid(xp, height, width, dtype):
    """``(3, height*width)`` rows x, y, 1 of the target pixels in ``[-1, 1]`` (row major)."""
    # MXNet: -1 + index * 2 / (size - 1); a size of 1 divides by zero there as well
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = -1.0 + np.arange(width) * 2.0 / (width - 1)
        ys = -1.0 + np.arange(height) * 2.0 / (height - 1)
    base = np.stack([np.tile(xs, height), np.repeat(ys, width), np.ones(height * width)])
    return xp.asarray(base.astype(dtype))


class BilinearSampling:
    """Bilinear sampling of ``(N, C, H, W)`` data at an ``(N, 2, Ho, Wo)`` grid.

    Shared by the BilinearSampler and SpatialTransformer kernels; scratch is allocated once.
    """

    def __init__(self, kernel, data_shape, grid_shape, dtype):
        xp = self.xp = kernel.xp
        self.backend = kernel.backend
        n, c, h, w = data_shape
        self.n, self.c, self.h, self.w = n, c, h, w
        self.p = grid_shape[2] * grid_shape[3]
        self.out_shape = (n, c) + tuple(grid_shape[2:])
        # per corner: flat pixel index (clipped; invalid corners get weight 0) and weight
        self.index = xp.empty((4, n, self.p), dtype=np.intp)
        self.valid = xp.empty((4, n, self.p), dtype=dtype)
        self.wx = xp.empty((n, self.p), dtype=dtype)   # weight of the right column
        self.wy = xp.empty((n, self.p), dtype=dtype)   # weight of the bottom row
        self.batch = xp.arange(n).reshape(n, 1) * (h * w)
        self.data_rows = xp.empty((n * h * w, c), dtype=dtype)   # data gradient, channels-last

    def locate(self, grid):
        """Fill the corner indices, validity and fractional weights for ``grid``."""
        xp, h, w = self.xp, self.h, self.w
        gx = grid[:, 0].reshape(self.n, self.p)
        gy = grid[:, 1].reshape(self.n, self.p)
        x = (gx + 1) * ((w - 1) / 2)
        y = (gy + 1) * ((h - 1) / 2)
        x0, y0 = xp.floor(x), xp.floor(y)
        xp.subtract(x, x0, out=self.wx)
        xp.subtract(y, y0, out=self.wy)
        for k, (dy, dx) in enumerate(CORNERS):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
            xp.copyto(self.valid[k], inside)
            flat = xp.clip(yi, 0, h - 1) * w + xp.clip(xi, 0, w - 1)
            xp.copyto(self.index[k], flat, casting="unsafe")

    def weight(self, k):
        """The bilinear weight of corner ``k`` (zero where the corner is outside)."""
        dy, dx = CORNERS[k]
        wx = self.wx if dx else 1 - self.wx
        wy = self.wy if dy else 1 - self.wy
        return wx * wy * self.valid[k]

    def gather(self, flat_data, k):
        """``(N, C, P)`` values of corner ``k`` (zero outside)."""
        idx = self.index[k][:, None, :]
        return self.xp.take_along_axis(flat_data, idx, axis=2) * self.valid[k][:, None, :]

    def forward(self, data, grid, out):
        self.locate(grid)
        flat = data.reshape(self.n, self.c, self.h * self.w)
        res = out.reshape(self.n, self.c, self.p)
        res[...] = 0
        for k in range(4):
            res += self.gather(flat, k) * self.weight(k)[:, None, :]

    def data_grad(self, dy):
        """Gradient of the data, ``(N, C, H, W)``: each output gradient scattered back to
        its four pixels (several points may share one pixel, so it accumulates)."""
        xp = self.xp
        g = dy.reshape(self.n, self.c, self.p).transpose(0, 2, 1)   # (N, P, C)
        self.data_rows[...] = 0
        for k in range(4):
            rows = (self.index[k] + self.batch).reshape(-1)
            values = (g * self.weight(k)[:, :, None]).reshape(-1, self.c)
            scatter_add_rows(self.backend, self.data_rows, rows, values)
        return xp.transpose(self.data_rows.reshape(self.n, self.h, self.w, self.c),
                            (0, 3, 1, 2))

    def grid_grad(self, data, dy):
        """Gradient of the grid, ``(N, 2, Ho, Wo)``: the derivative of the bilinear weights
        by the source x and y, scaled from pixels back to ``[-1, 1]``."""
        xp = self.xp
        flat = data.reshape(self.n, self.c, self.h * self.w)
        g = dy.reshape(self.n, self.c, self.p)
        gx = xp.zeros((self.n, self.p), dtype=self.wx.dtype)
        gy = xp.zeros((self.n, self.p), dtype=self.wx.dtype)
        for k, (oy, ox) in enumerate(CORNERS):
            v = (self.gather(flat, k) * g).sum(axis=1)   # (N, P): sum over channels
            wx = self.wx if ox else 1 - self.wx
            wy = self.wy if oy else 1 - self.wy
            gx += v * wy * (1 if ox else -1)
            gy += v * wx * (1 if oy else -1)
        gx *= (self.w - 1) / 2
        gy *= (self.h - 1) / 2
        return xp.stack([gx, gy], axis=1).reshape((self.n, 2) + self.out_shape[2:])


def _check_4d(op, shape, what):
    if not is_unknown(shape) and len(shape) != 4:
        layout = "(N, C, H, W)" if what == "data" else "(N, 2, H, W)"
        raise ShapeError(f"{op}: input {what!r} has shape {tuple(shape)}; it needs 4 "
                         f"dimensions {layout}")


# -- GridGenerator ----------------------------------------------------------------------
class GridGeneratorKernel(OpKernel):
    def setup(self):
        out = self.out_shapes[0]
        self.n, self.hw = out[0], out[2] * out[3]
        self.affine = self.attrs.transform_type == "affine"
        dtype = self.dtypes["out"][0]
        if self.affine:
            self.base = affine_base_grid(self.xp, out[2], out[3], dtype)
        else:
            # pixel coordinates of every position, added to the flow then normalised
            h, w = out[2], out[3]
            xs = np.tile(np.arange(w, dtype=np.float64), (h, 1))
            ys = np.repeat(np.arange(h, dtype=np.float64)[:, None], w, axis=1)
            self.pixels = self.xp.asarray(np.stack([xs, ys]).astype(dtype))
            self.scale = self.xp.asarray(np.array([2.0 / (w - 1), 2.0 / (h - 1)],
                                                  dtype=dtype).reshape(1, 2, 1, 1))

    def forward(self, is_train, inputs, outputs, aux):
        xp, out = self.xp, outputs[0]
        if self.affine:
            theta = inputs[0].reshape(self.n, 2, 3)
            xp.matmul(theta, self.base, out=out.reshape(self.n, 2, self.hw))
        else:
            xp.add(inputs[0], self.pixels, out=out)
            out *= self.scale
            out -= 1

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        g = out_grads[0]
        if self.affine:
            grad = self.xp.matmul(g.reshape(self.n, 2, self.hw), self.base.T)
            self.store_grad(0, in_grads, req, grad.reshape(self.n, 6))
        else:
            self.store_grad(0, in_grads, req, g * self.scale)


class GridGenerator(OpDef):
    name = "GridGenerator"
    kernel = GridGeneratorKernel
    params = {
        "transform_type": Param(choice("affine", "warp")),
        "target_shape": Param(parse_tuple, (0, 0)),
    }

    def serialized_num_outputs(self, attrs):
        return 2   # MXNet also lists a hidden copy of the base grid

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, out = in_shapes[0], out_shapes[0]
        if attrs.transform_type == "warp":
            _check_4d(self.name, data, "data")
            if not is_unknown(data) and data[1] not in (0, 2):
                raise ShapeError(f"GridGenerator: input 'data' has shape {data}; a 'warp' "
                                 f"flow needs 2 channels (N, 2, H, W)")
            shape = merge(data, out, self.name, "input 'data'")
            return [shape], [shape]
        h, w = (tuple(attrs.target_shape) + (0, 0))[:2]
        if len(attrs.target_shape) != 2 or h <= 0 or w <= 0:
            raise AttributeValueError(f"GridGenerator: target_shape={attrs.target_shape} "
                                      f"must be a positive (H, W) for transform_type='affine'")
        if not is_unknown(data) and (len(data) != 2 or data[1] not in (0, 6)):
            raise ShapeError(f"GridGenerator: input 'data' has shape {data}; an affine "
                             f"transform needs (N, 6)")
        n = 0 if is_unknown(data) else data[0]
        out = merge(out, (n, 2, h, w), self.name, "output")
        data = merge(data, (out[0], 6), self.name, "input 'data'")
        return [data], [out]


# -- BilinearSampler --------------------------------------------------------------------
class BilinearSamplerKernel(OpKernel):
    def setup(self):
        self.sampling = BilinearSampling(self, self.in_shapes[0], self.in_shapes[1],
                                         self.dtypes["out"][0])

    def forward(self, is_train, inputs, outputs, aux):
        self.sampling.forward(inputs[0], inputs[1], outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        s, dy = self.sampling, out_grads[0]
        s.locate(inputs[1])
        if self.wants(0, in_grads, req):
            self.store_grad(0, in_grads, req, s.data_grad(dy))
        if self.wants(1, in_grads, req):
            self.store_grad(1, in_grads, req, s.grid_grad(inputs[0], dy))


def _sampler_out(op, data, n, height, width, out):
    """Unify the output with ``(N, C, height, width)`` from the data and grid/loc shapes."""
    c = 0 if is_unknown(data) else data[1]
    return merge(out, (n, c, height, width), op, "output")


class BilinearSampler(OpDef):
    name = "BilinearSampler"
    kernel = BilinearSamplerKernel
    params = {"cudnn_off": Param(optional(parse_bool), None)}

    def arguments(self, attrs):
        return ["data", "grid"]

    def serialized_num_outputs(self, attrs):
        return 2   # MXNet also lists a hidden workspace output

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, grid = in_shapes
        _check_4d(self.name, data, "data")
        _check_4d(self.name, grid, "grid")
        out = out_shapes[0]
        if not is_unknown(grid) and grid[1] not in (0, 2):
            raise ShapeError(f"BilinearSampler: input 'grid' has shape {grid}; it needs 2 "
                             f"channels (source x, y): (N, 2, H, W)")
        n = 0 if is_unknown(data) else data[0]
        if not is_unknown(grid):
            n = merge((n,), (grid[0],), self.name, "input 'grid' batch size")[0]
            out = _sampler_out(self.name, data, n, grid[2], grid[3], out)
        if not is_unknown(data) and n:
            data = merge(data, (n, 0, 0, 0), self.name, "input 'data'")
        return [data, grid], [out]


# -- SpatialTransformer -----------------------------------------------------------------
class SpatialTransformerKernel(OpKernel):
    def setup(self):
        dtype = self.dtypes["out"][0]
        out = self.out_shapes[0]
        self.n, self.hw = out[0], out[2] * out[3]
        self.base = affine_base_grid(self.xp, out[2], out[3], dtype)
        self.grid = self.xp.empty((self.n, 2) + tuple(out[2:]), dtype=dtype)
        self.sampling = BilinearSampling(self, self.in_shapes[0], self.grid.shape, dtype)

    def _make_grid(self, loc):
        theta = loc.reshape(self.n, 2, 3)
        self.xp.matmul(theta, self.base, out=self.grid.reshape(self.n, 2, self.hw))

    def forward(self, is_train, inputs, outputs, aux):
        self._make_grid(inputs[1])
        self.sampling.forward(inputs[0], self.grid, outputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        s, dy = self.sampling, out_grads[0]
        self._make_grid(inputs[1])   # the grid is recomputed: no hidden output to keep
        s.locate(self.grid)
        if self.wants(0, in_grads, req):
            self.store_grad(0, in_grads, req, s.data_grad(dy))
        if self.wants(1, in_grads, req):
            g = s.grid_grad(inputs[0], dy).reshape(self.n, 2, self.hw)
            self.store_grad(1, in_grads, req,
                            self.xp.matmul(g, self.base.T).reshape(self.n, 6))


class SpatialTransformer(OpDef):
    name = "SpatialTransformer"
    kernel = SpatialTransformerKernel
    params = {
        "target_shape": Param(parse_tuple, (0, 0)),
        "transform_type": Param(choice("affine")),
        "sampler_type": Param(choice("bilinear")),
        "cudnn_off": Param(optional(parse_bool), None),
    }

    def arguments(self, attrs):
        return ["data", "loc"]

    def serialized_num_outputs(self, attrs):
        return 3   # MXNet also lists hidden grid outputs

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, loc = in_shapes
        _check_4d(self.name, data, "data")
        h, w = (tuple(attrs.target_shape) + (0, 0))[:2]
        if len(attrs.target_shape) != 2 or h <= 0 or w <= 0:
            raise AttributeValueError(f"SpatialTransformer: target_shape="
                                      f"{attrs.target_shape} must be a positive (H, W), the "
                                      f"output height and width")
        if not is_unknown(loc) and (len(loc) != 2 or loc[1] not in (0, 6)):
            raise ShapeError(f"SpatialTransformer: input 'loc' has shape {loc}; an affine "
                             f"transform needs (N, 6): make the localisation net output 6")
        if is_unknown(data):
            return [data, loc], [out_shapes[0]]
        out = _sampler_out(self.name, data, data[0], h, w, out_shapes[0])
        loc = merge(loc, (data[0], 6), self.name, "input 'loc'")
        return [data, loc], [out]


OPS = [GridGenerator(), BilinearSampler(), SpatialTransformer()]
