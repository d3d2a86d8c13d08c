"""MXNet's Python custom operators: ``CustomOp``, ``CustomOpProp`` and ``register``.

Write the math in a ``CustomOp`` (``forward``/``backward`` on NDArrays, results stored with
``self.assign``), describe its inputs, outputs and shapes in a ``CustomOpProp``, register the
Prop under a name and use it as ``mx.sym.Custom(data, op_type='name', ...)``. Extra keyword
arguments of ``Custom`` reach the Prop's constructor as strings (they are symbol attributes,
so a saved symbol recreates the same Prop when loaded, once the Prop is registered again).

The ``Custom`` operator itself lives in ``gradloom.ops.custom``.
"""
from .base import AttributeValueError, UnknownNameError, UnsupportedError

__all__ = ["CustomOp", "CustomOpProp", "get_prop_class", "register", "registered_names"]

_PROPS = {}   # op_type -> CustomOpProp subclass


class CustomOp:
    """Base class of a custom operator's computation (one instance per bound node)."""

    def __init__(self):
        pass

    def forward(self, is_train, req, in_data, out_data, aux):
        """Compute ``out_data`` from ``in_data``; ``req[i]`` says how to store output ``i``.

        All arguments but ``is_train`` are lists of NDArrays; write results with
        ``self.assign(out_data[i], req[i], value)``. Override it.
        """
        raise UnsupportedError(f"{type(self).__name__} does not define forward(); a CustomOp "
                               f"subclass must override forward(is_train, req, in_data, "
                               f"out_data, aux)")

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        """Store the input gradients with ``self.assign(in_grad[i], req[i], value)``.

        Override it for an operator that is trained through.
        """
        raise UnsupportedError(f"{type(self).__name__} does not define backward(); override "
                               f"backward(req, out_grad, in_data, out_data, in_grad, aux) to "
                               f"train through this operator, or bind with grad_req='null'")

    def assign(self, dst, req, src):
        """Store ``src`` into the NDArray ``dst`` as ``req`` asks: 'null' leaves it alone,
        'write'/'inplace' overwrite, 'add' accumulates."""
        if req == "null":
            return
        if req in ("write", "inplace"):
            dst[:] = src
        elif req == "add":
            dst[:] += src
        else:
            raise AttributeValueError(f"assign: unknown req {req!r}; use 'null', 'write', "
                                      f"'inplace' or 'add'")


class CustomOpProp:
    """Base class of a custom operator's description: names, shapes, types, creation.

    ``need_top_grad=False`` marks a loss head: its backward ignores ``out_grad``.
    """

    def __init__(self, need_top_grad=True):
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape):
        """``(in_shapes, out_shapes, aux_shapes)`` from the argument shapes (lists of ints).

        Default: every output has the first argument's shape; no auxiliary states.
        """
        return in_shape, (in_shape[0],) * len(self.list_outputs()), ()

    def infer_type(self, in_type):
        """``(in_types, out_types, aux_types)`` (numpy types). Default: all like the first."""
        return (in_type, [in_type[0]] * len(self.list_outputs()),
                [in_type[0]] * len(self.list_auxiliary_states()))

    def list_outputs(self):
        return ["output"]

    def list_arguments(self):
        return ["data"]

    def list_auxiliary_states(self):
        return []

    def need_top_grad(self):
        return self.need_top_grad_

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        """Ids of the blobs backward reads. gradloom keeps every blob alive until backward
        anyway, so this only documents the operator (kept for MXNet compatibility)."""
        deps = list(out_grad) if self.need_top_grad_ else []
        return deps + list(in_data) + list(out_data)

    def create_operator(self, ctx, in_shapes, in_dtypes):
        """The ``CustomOp`` for one bound node: ``ctx`` is its Context, ``in_shapes`` lists
        the argument then auxiliary shapes, ``in_dtypes`` their MXNet type flags (0 is
        float32, as MXNet passes them)."""
        return CustomOp()


def register(reg_name):
    """Class decorator: register a ``CustomOpProp`` subclass as ``op_type=reg_name``.

    Registering a name again replaces the earlier Prop (as re-running a script in MXNet does).
    """
    def do_register(prop_cls):
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise AttributeValueError(f"register({reg_name!r}): {prop_cls!r} is not a "
                                      f"CustomOpProp subclass")
        _PROPS[reg_name] = prop_cls
        return prop_cls
    return do_register


def registered_names():
    return sorted(_PROPS)


def get_prop_class(op_type):
    """The Prop class registered as ``op_type``; ``UnknownNameError`` when there is none."""
    cls = _PROPS.get(op_type)
    if cls is None:
        raise UnknownNameError(
            f"Custom: op_type {op_type!r} is not registered; registered: "
            f"{', '.join(registered_names()) or 'none'}. Decorate its CustomOpProp with "
            f"@mx.operator.register({op_type!r}) (in the process that builds or loads the "
            f"symbol)")
    return cls
