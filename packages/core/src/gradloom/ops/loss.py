"""Loss heads: SoftmaxOutput, regression outputs, make_loss/MakeLoss.

They produce their own gradient in backward (ignoring the output gradient unless
``out_grad``) and give the label a zero gradient.
"""
import numpy as np

from ..base import ShapeError
from ._common import OpKernel, as_shapes, is_known, is_unknown, merge, prod
from ._math import UNARY
from .activation import softmax_into
from .opdef import OpDef, Param, choice, parse_bool, parse_float


def _force_data_dtype(in_types, out_types):
    """Loss heads compute in the data's dtype; integer labels are read as that dtype."""
    dtype = in_types[0] or (out_types[0] if out_types else None)
    return [dtype] * len(in_types), [dtype] * len(out_types)


class _DataLabelHead(OpDef):
    """A head with inputs ``(data, label)`` and one output shaped and typed like ``data``.

    Subclasses define ``label_shapes(attrs, data)`` (label shapes that fit, the first being
    the one inferred for an unknown label) and ``check_label(attrs, data, label, default)``
    (raises ShapeError for a label that does not fit).
    """

    def arguments(self, attrs):
        return ["data", "label"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data = merge(in_shapes[0], out_shapes[0], self.name, "input 'data'")
        label = in_shapes[1]
        if is_known(data):
            default = self.label_shapes(attrs, data)[0]
            if is_unknown(label):
                label = default
            elif is_known(label):
                self.check_label(attrs, data, label, default)
            else:
                label = merge(label, default, self.name, "input 'label'")
        return [data, label], [data]

    def infer_type(self, attrs, in_types, out_types):
        return _force_data_dtype(in_types, out_types)


# -- SoftmaxOutput ----------------------------------------------------------------------
class SoftmaxOutputKernel(OpKernel):
    def setup(self):
        xp, a = self.xp, self.attrs
        data, label = self.in_shapes[:2]
        n = data[0]
        # forward's softmax runs over axis 1 of this view
        if a.multi_output:
            self.view = (n, data[1], prod(data[2:]))     # per position over the channels
        elif a.preserve_shape:
            self.view = (prod(data[:-1]), data[-1])      # over the last axis
        else:
            self.view = (n, prod(data[1:]))              # over all non-batch elements
        self.positions = self.view[2] if a.multi_output else 1
        self.classes = self.view[1]   # forward's softmax width
        self.soft = tuple(label) == tuple(data)
        # backward's (rows, classes, positions) grid; without multi_output the rows are the
        # labels, as in MXNet (for >2-d data with a (n, d1) label that is per last axis)
        total, labels = prod(data), prod(label)
        if a.multi_output:
            self.grad_view = self.view
        elif not self.soft:
            if not labels or total % labels:
                raise ShapeError(f"SoftmaxOutput: label shape {tuple(label)} does not divide "
                                 f"data {tuple(data)} into rows; give the label shape "
                                 f"{tuple(data[:-1])}")
            self.grad_view = (labels, total // labels, 1)
        if not self.soft:
            if a.multi_output and labels != n * self.positions:
                raise ShapeError(f"SoftmaxOutput: label shape {tuple(label)} holds {labels} "
                                 f"labels but data {tuple(data)} needs {n * self.positions}; "
                                 f"give the label shape {(n, self.positions)}")
            # label index grid: (rows, positions); the class axis is the view's axis 1
            self.lab_shape = (self.grad_view[0], self.positions)
            self.ilab = xp.empty(self.lab_shape, dtype=np.intp)
            self.valid = xp.empty(self.lab_shape, dtype=bool)
            self.rows = xp.arange(self.grad_view[0]).reshape(-1, 1)
            self.cols = xp.arange(self.positions).reshape(1, -1)
            self.ignore = int(a.ignore_label)

    def forward(self, is_train, inputs, outputs, aux):
        softmax_into(self.xp, inputs[0].reshape(self.view), outputs[0].reshape(self.view), 1)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        xp, a = self.xp, self.attrs
        dst = self.grad_dst(0, in_grads, req)
        prob = outputs[0]
        if self.soft:
            xp.subtract(prob, inputs[1], out=dst)
            dst *= a.grad_scale
        else:
            self._hard_label_grad(prob, inputs[1], dst)
        if a.out_grad:
            dst *= out_grads[0]
        self.grad_done(0, in_grads, req, dst)

    def _hard_label_grad(self, prob, label, dst):
        xp, a, k = self.xp, self.attrs, self.grad_view[1]
        g = dst.reshape(self.grad_view)
        xp.copyto(g, prob.reshape(g.shape))
        lab = label.reshape(self.lab_shape)
        xp.copyto(self.ilab, lab, casting="unsafe")  # truncation toward zero, like int()
        alpha = a.smooth_alpha
        # one-hot (or smoothed) target subtracted where the label names a class in [0, k)
        xp.logical_and(self.ilab >= 0, self.ilab < k, out=self.valid)
        target = xp.where(self.valid, self.ilab, 0)
        hit = 1.0 - alpha
        if alpha:
            g -= alpha / (k - 1)
            hit -= alpha / (k - 1)
        g[self.rows, target, self.cols] -= hit * self.valid
        ignored = self.ilab == self.ignore
        if a.use_ignore:
            g *= ~ignored[:, None, :]
        if a.normalization == "valid":
            # counted even without use_ignore; a device scalar, so the GPU never waits
            count = self.xp.maximum((~ignored).sum(), 1)
        elif a.normalization == "batch":
            count = self.grad_view[0] * self.positions
        else:  # multi_output divides by the number of positions even for 'null'
            count = self.positions
        g *= a.grad_scale / count


class SoftmaxOutput(_DataLabelHead):
    name = "SoftmaxOutput"
    aliases = ("Softmax",)
    kernel = SoftmaxOutputKernel
    params = {
        "grad_scale": Param(parse_float, 1.0),
        "ignore_label": Param(parse_float, -1.0),
        "multi_output": Param(parse_bool, False),
        "use_ignore": Param(parse_bool, False),
        "preserve_shape": Param(parse_bool, False),
        "normalization": Param(choice("null", "batch", "valid"), "null"),
        "out_grad": Param(parse_bool, False),
        "smooth_alpha": Param(parse_float, 0.0),
    }

    def label_shapes(self, attrs, data):
        # class indices (one per row or per position), or probabilities shaped like data
        if attrs.multi_output:
            return [(data[0], prod(data[2:])), (data[0],) + tuple(data[2:]),
                    (data[0], 1) + tuple(data[2:]), tuple(data)]
        accepted = [tuple(data[:-1]), tuple(data)]
        if not attrs.preserve_shape:
            accepted.append((data[0],))
        return accepted

    def check_label(self, attrs, data, label, default):
        if tuple(label) not in self.label_shapes(attrs, data):
            raise ShapeError(f"SoftmaxOutput: input 'label' has shape {tuple(label)} "
                             f"but data {tuple(data)} needs {default} (or the data "
                             f"shape for probability labels); fix the label shape")


SIGMOID = UNARY["sigmoid"][0]


# -- regression heads -------------------------------------------------------------------
class RegressionKernel(OpKernel):
    def setup(self):
        label = self.in_shapes[1]
        self.scale = self.attrs.grad_scale / (prod(label) // label[0])
        self.kind = self.op.kind

    def forward(self, is_train, inputs, outputs, aux):
        xp, x, out = self.xp, inputs[0], outputs[0]
        if self.kind == "logistic":
            SIGMOID(xp, x, out)
        else:
            xp.copyto(out, x)

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        xp = self.xp
        dst = self.grad_dst(0, in_grads, req)
        xp.subtract(outputs[0], inputs[1].reshape(outputs[0].shape), out=dst)
        if self.kind == "mae":
            xp.sign(dst, out=dst)
        dst *= self.scale
        self.grad_done(0, in_grads, req, dst)


class RegressionOutput(_DataLabelHead):
    kernel = RegressionKernel
    params = {"grad_scale": Param(parse_float, 1.0)}

    def __init__(self, name, kind):
        self.name, self.kind = name, kind

    def label_shapes(self, attrs, data):
        return [(data[0],) if tuple(data[1:]) == (1,) else tuple(data)]

    def check_label(self, attrs, data, label, default):
        if label[0] != data[0] or prod(label) != prod(data):
            raise ShapeError(f"{self.name}: input 'label' has shape {tuple(label)} but "
                             f"data is {tuple(data)}; the label needs the same batch "
                             f"size and number of elements, e.g. {default}")


# -- make_loss / MakeLoss ---------------------------------------------------------------
class MakeLossKernel(OpKernel):
    def forward(self, is_train, inputs, outputs, aux):
        self.xp.copyto(outputs[0], inputs[0])

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        if not self.wants(0, in_grads, req):
            return
        a = self.attrs
        if self.op.name == "make_loss":
            value = 1.0
        elif a.normalization == "batch":
            value = a.grad_scale / self.in_shapes[0][0]
        elif a.normalization == "valid":
            # a device scalar (no host round trip per step on a GPU)
            value = a.grad_scale / self.xp.maximum((inputs[0] > a.valid_thresh).sum(), 1)
        else:
            value = a.grad_scale
        if req[0] == "write":
            in_grads[0][...] = value
        else:
            in_grads[0] += value


class MakeLossOp(OpDef):
    kernel = MakeLossKernel

    def __init__(self, name, params):
        self.name, self.params = name, params

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        shape = merge(in_shapes[0], out_shapes[0], self.name, "input 'data'")
        return [shape], [shape]


OPS = [
    SoftmaxOutput(),
    RegressionOutput("LinearRegressionOutput", "linear"),
    RegressionOutput("LogisticRegressionOutput", "logistic"),
    RegressionOutput("MAERegressionOutput", "mae"),
    MakeLossOp("make_loss", {}),
    MakeLossOp("MakeLoss", {"grad_scale": Param(parse_float, 1.0),
                            "valid_thresh": Param(parse_float, 0.0),
                            "normalization": Param(choice("null", "batch", "valid"), "null")}),
]


# -- softmax_cross_entropy --------------------------------------------------------------
class SoftmaxCrossEntropyKernel(OpKernel):
    def setup(self):
        n, k = self.in_shapes[0]
        dtype = self.dtypes["in"][0]
        self.prob = self.xp.empty((n, k), dtype=dtype)
        self.rows = self.xp.arange(n)
        self.k = k

    def _label_index(self, label):
        # truncated like MXNet's int cast; clipped into the row, where MXNet would read
        # outside it (an out-of-range label is undefined there)
        return self.xp.clip(label.astype(self.rows.dtype), 0, self.k - 1)

    def forward(self, is_train, inputs, outputs, aux):
        xp = self.xp
        softmax_into(xp, inputs[0], self.prob, 1)
        picked = self.prob[self.rows, self._label_index(inputs[1])]
        outputs[0][...] = -xp.log(picked).sum()

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.zero_grad(1, in_grads, req)
        if not self.wants(0, in_grads, req):
            return
        dst = self.grad_dst(0, in_grads, req)
        softmax_into(self.xp, inputs[0], dst, 1)
        dst[self.rows, self._label_index(inputs[1])] -= 1
        dst *= out_grads[0]      # the (1,) output gradient scales every row
        self.grad_done(0, in_grads, req, dst)


class SoftmaxCrossEntropy(OpDef):
    """Summed cross entropy of softmax(data) over the rows: data (N, K), label (N,)."""
    name = "softmax_cross_entropy"
    kernel = SoftmaxCrossEntropyKernel
    params = {}

    def arguments(self, attrs):
        return ["data", "label"]

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        data, label = in_shapes
        if not is_unknown(data) and len(data) != 2:
            raise ShapeError(f"softmax_cross_entropy: input 'data' has shape {data}; it "
                             f"needs 2 dimensions (batch, classes)")
        if not is_unknown(label) and len(label) != 1:
            raise ShapeError(f"softmax_cross_entropy: input 'label' has shape {label}; it "
                             f"needs 1 dimension (batch,), one class index per row")
        if not is_unknown(data) and not is_unknown(label):
            merged = merge((data[0],), (label[0],), self.name, "input 'label' batch size")
            data, label = (merged[0], data[1]), merged
        out = merge(out_shapes[0], (1,), self.name, "output")
        return [data, label], [out]

    def infer_type(self, attrs, in_types, out_types):
        return _force_data_dtype(in_types, out_types)


OPS = OPS + [SoftmaxCrossEntropy()]
