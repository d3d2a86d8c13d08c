"""Sliding-window helpers shared by Convolution and Pooling.

Windows are visited one kernel offset at a time: for offset ``k`` the strided slice
``x[..., k*dilate : k*dilate + (out-1)*stride + 1 : stride]`` holds, for every output
position, the input element at that offset. A loop over the (few) kernel offsets with
whole-array operations is fast in numpy and cupy alike and needs no strided views.
"""
import itertools


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
