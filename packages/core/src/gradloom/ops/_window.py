"""Sliding-window helpers shared by Convolution and Pooling.

Windows are visited one kernel offset at a time: for offset ``k`` the strided slice
``x[..., k*dilate : k*dilate + (out-1)*stride + 1 : stride]`` holds, for every output
position, the input element at that offset. A loop over the (few) kernel offsets with
whole-array operations is fast in numpy and cupy alike and needs no strided views.
"""
import itertools

from ._common import OpKernel


def window_slices(kernel, stride, dilate, out_spatial):
    """One index tuple per kernel offset, for arrays laid out ``(N, C, *spatial)``."""
    slices = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        index = [slice(None), slice(None)]
        for k, s, d, o in zip(offset, stride, dilate, out_spatial):
            start = k * d
            index.append(slice(start, start + (o - 1) * s + 1, s))
        slices.append(tuple(index))
    return slices


def interior(pad_before, spatial):
    """Index tuple of the unpadded region inside a padded ``(N, C, *spatial)`` buffer."""
    return (slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(pad_before, spatial))


def spatial_params(op, attrs, ndim, names=("stride", "dilate", "pad"), defaults=(1, 1, 0)):
    """Expand empty ``stride``/``dilate``/``pad`` tuples to one value per spatial axis."""
    from ..base import AttributeValueError
    out = []
    for name, default in zip(names, defaults):
        value = tuple(attrs.get(name) or ())
        if not value:
            value = (default,) * ndim
        if len(value) != ndim:
            raise AttributeValueError(f"{op}: {name}={value} has {len(value)} values but the "
                                      f"kernel has {ndim} spatial axes; give {ndim} values")
        out.append(value)
    return out


class WindowKernel(OpKernel):
    """Padding buffers shared by the Convolution and Pooling kernels.

    A padded operator copies its input into the interior of a bind-time buffer whose
    border holds the padding value, and scatters input gradients into a second buffer of
    the same shape, whose interior is the gradient. ``setup()`` sets ``padded`` and, when it
    is true, ``xpad``, ``dxpad`` and ``inner`` (backend kernels read these names).
    """

    def alloc_padding(self, lead, padded_spatial, pad_before, spatial, dtype, fill=0):
        """Allocate ``xpad`` (border ``fill``, kept by every forward) and ``dxpad``."""
        shape = tuple(lead) + tuple(padded_spatial)
        self.xpad = self.xp.full(shape, fill, dtype=dtype)
        self.dxpad = self.xp.empty(shape, dtype=dtype)
        self.inner = interior(pad_before, spatial)

    def padded_input(self, x):
        """``x``, or the padded buffer holding ``x`` in its interior."""
        if not self.padded:
            return x
        self.xp.copyto(self.xpad[self.inner], x)
        return self.xpad

    def input_grad_target(self, in_grads, req):
        """Where to accumulate the data gradient (to be given to ``finish_input_grad``)."""
        return self.dxpad if self.padded else self.grad_dst(0, in_grads, req)

    def finish_input_grad(self, target, in_grads, req):
        """Write (or add, per ``req``) the accumulated data gradient into ``in_grads[0]``."""
        if self.padded:
            self.store_grad(0, in_grads, req, target[self.inner])
        else:
            self.grad_done(0, in_grads, req, target)
