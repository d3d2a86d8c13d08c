"""``Custom``: an operator written in Python (``gradloom.operator``), MXNet's ``mx.sym.Custom``.

The node's attributes are ``op_type`` plus the keyword arguments given to ``Custom``; they
build the registered ``CustomOpProp`` once per node (when the node is created or loaded), and
its inputs, outputs, auxiliary states and shape and type inference come from that Prop.
At bind time the kernel asks the Prop for its ``CustomOp`` and wraps the kernel's buffers in
NDArrays (views, so the op's writes land in the executor's arrays).
"""
import numpy as np

from ..base import AttributeValueError, DTypeError, ShapeError
from ._common import as_shapes, is_known
from .opdef import Attrs, Kernel, OpDef, Param, parse_str


def _prop_label(attrs):
    return f"Custom op_type={attrs.op_type!r} ({type(attrs.prop).__name__})"


def _split_result(result, counts, what, attrs, error):
    """A Prop's ``infer_shape``/``infer_type`` result as (ins, outs, aux), counts checked."""
    if not isinstance(result, (list, tuple)) or len(result) not in (2, 3):
        raise error(f"{_prop_label(attrs)}: {what} must return 2 or 3 lists (inputs, outputs[, "
                    f"auxiliary states]), got {result!r}")
    ins, outs = list(result[0]), list(result[1])
    aux = list(result[2]) if len(result) == 3 else None
    for name, got, want in (("input", ins, counts[0]), ("output", outs, counts[1]),
                            ("auxiliary state", aux, counts[2])):
        if got is not None and len(got) != want:
            raise error(f"{_prop_label(attrs)}: {what} returned {len(got)} {name} entries but "
                        f"the Prop declares {want}; return one per list_* name")
    return ins, outs, aux


class CustomKernel(Kernel):
    """Calls the node's ``CustomOp`` with NDArray views of the executor's buffers.

    The views are made on the first call with a given set of buffers and reused while the
    executor passes the same buffers (always, between reallocations of its pool)."""

    def setup(self):
        from ..context import Context
        from ..operator import CustomOp
        from ..symbol.inference import DTYPE_NAME_TO_FLAG
        self.ctx = Context(self.backend.device_type, self.device_id)
        shapes = [list(s) for s in self.in_shapes]
        flags = [DTYPE_NAME_TO_FLAG.get(np.dtype(t).name, -1) for t in self.dtypes["in"]]
        self.custom_op = self.attrs.prop.create_operator(self.ctx, shapes, flags)
        if not isinstance(self.custom_op, CustomOp):
            raise AttributeValueError(
                f"{_prop_label(self.attrs)}: create_operator returned "
                f"{type(self.custom_op).__name__}, not a CustomOp instance")
        self.forward_req = ["write"] * len(self.attrs.out_names)
        self._views = {}

    def forget_arrays(self):
        self._views = {}

    def _nd(self, key, raws, shapes=None):
        """NDArray views of ``raws`` (cached while the same arrays come in). ``None`` entries
        (gradients nobody wants) get a throwaway buffer of ``shapes[i]``, so an op that
        writes every ``in_grad`` regardless of ``req`` still runs."""
        hit = self._views.get(key)
        if hit is not None and len(hit[0]) == len(raws) and all(
                a is b for a, b in zip(hit[0], raws)):
            return hit[1]
        from ..ndarray import NDArray
        views = []
        for i, raw in enumerate(raws):
            if raw is None:
                raw = self.xp.empty(shapes[i], dtype=self.dtypes["in"][i])
            views.append(NDArray(raw, self.ctx))
        self._views[key] = (list(raws), views)
        return views

    def forward(self, is_train, inputs, outputs, aux):
        self.custom_op.forward(is_train, self.forward_req, self._nd("in", inputs),
                               self._nd("out", outputs), self._nd("aux", aux))

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        self.custom_op.backward(req, self._nd("ograd", out_grads), self._nd("in", inputs),
                                self._nd("out", outputs), self._nd("igrad", in_grads,
                                                                   self.in_shapes),
                                self._nd("aux", aux))


class Custom(OpDef):
    name = "Custom"
    hint = "custom"
    kernel = CustomKernel
    params = {"op_type": Param(parse_str)}

    def parse_attrs(self, raw, node_name="?"):
        from ..operator import get_prop_class
        op_type = raw.get("op_type")
        if op_type is None:
            raise AttributeValueError(f"Custom {node_name!r}: required attribute 'op_type' is "
                                      f"missing; pass op_type='<registered name>'")
        cls = get_prop_class(str(op_type))
        # MXNet hands the Prop every other attribute as a string; hidden __x__ keys (lr_mult,
        # ctx_group) belong to the graph, not to the Prop
        kwargs = {k: str(v) for k, v in raw.items()
                  if k != "op_type" and not (k.startswith("__") and k.endswith("__"))}
        try:
            prop = cls(**kwargs)
        except TypeError as exc:
            raise AttributeValueError(f"Custom {node_name!r}: {cls.__name__}({kwargs}) failed: "
                                      f"{exc}; pass only the keyword arguments its __init__ "
                                      f"takes") from None
        attrs = Attrs(op_type=str(op_type), prop=prop)
        # asked once here: Node and inference read these lists on every query
        attrs["arg_names"] = list(prop.list_arguments())
        attrs["out_names"] = list(prop.list_outputs())
        attrs["aux_names"] = list(prop.list_auxiliary_states())
        return attrs

    def arguments(self, attrs):
        return attrs.arg_names

    def aux_states(self, attrs):
        return attrs.aux_names

    def outputs(self, attrs):
        return attrs.out_names

    def infer_shape(self, attrs, in_shapes, out_shapes):
        in_shapes, out_shapes = as_shapes(in_shapes), as_shapes(out_shapes)
        nargs = len(attrs.arg_names)
        # Props read their first input's dimensions (in_shape[0][1]...): wait until it is
        # known rather than hand them an empty list (MXNet fails there, partial inference
        # here just waits)
        if nargs and not is_known(in_shapes[0]):
            return in_shapes, out_shapes
        given = [list(s) if s is not None else [] for s in in_shapes[:nargs]]
        counts = (nargs, len(attrs.out_names), len(attrs.aux_names))
        ins, outs, aux = _split_result(attrs.prop.infer_shape(given), counts, "infer_shape",
                                       attrs, ShapeError)
        aux = in_shapes[nargs:] if aux is None else aux
        return as_shapes(list(ins) + list(aux)), as_shapes(outs)

    def infer_type(self, attrs, in_types, out_types):
        nargs = len(attrs.arg_names)
        if nargs and in_types[0] is None:
            return list(in_types), list(out_types)
        # the Prop sees numpy types (np.float32), as in MXNet; None where unknown
        given = [None if t is None else np.dtype(t).type for t in in_types[:nargs]]
        counts = (nargs, len(attrs.out_names), len(attrs.aux_names))
        ins, outs, aux = _split_result(attrs.prop.infer_type(given), counts, "infer_type",
                                       attrs, DTypeError)
        aux = in_types[nargs:] if aux is None else aux

        def names(types):
            return [None if t is None else np.dtype(t).name for t in types]
        return names(list(ins) + list(aux)), names(outs)


OPS = [Custom()]
