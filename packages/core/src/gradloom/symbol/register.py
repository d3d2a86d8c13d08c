"""Operator functions (``gradloom.sym.FullyConnected`` ...) generated from the op registry.

One generic creator serves every operator: keyword arguments that are symbols (or positional
ones) become inputs, everything else becomes MXNet's string attributes, the node is named by
the current ``NameManager`` and missing inputs are created as variables that copy the
operator's attributes (how ``lr_mult=0`` on a layer reaches its weight; operators.md 1.1).
"""
import numbers

import numpy as np

from ..attribute import AttrScope
from ..base import AttributeValueError
from ..name import NameManager
from ..plugins import load_plugins
from .graph import Node, hidden_key


def attr_string(value):
    """MXNet's Python frontend writes ``str(value)``; dtypes are written by name."""
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return str(value)


def _num_args_key(op):
    key = getattr(op, "key_var_num_args", None)
    if key is None and "num_args" in op.params:
        key = "num_args"
    return key


def _bind_positional_attrs(op, args, kwargs, attrs):
    """Split positional arguments like MXNet's generated signatures do: the leading symbols
    are inputs, the values after them fill the operator's attributes in declaration order
    (``Dropout(data, 0.5)`` sets ``p``). Returns the input symbols."""
    from .symbol import Symbol
    count = 0
    while count < len(args) and isinstance(args[count], Symbol):
        count += 1
    values = args[count:]
    if not values:
        return args
    # num_args is filled from the number of inputs, never given positionally
    params = [key for key in op.params if key != _num_args_key(op)]
    if len(values) > len(params):
        raise AttributeValueError(
            f"{op.name}: {len(values)} positional attribute values given but it takes "
            f"{len(params)} ({', '.join(params)}); pass them by keyword")
    for key, value in zip(params, values):
        if isinstance(value, Symbol):
            raise AttributeValueError(
                f"{op.name}: symbol given after an attribute value; pass inputs first "
                f"({op.name}(data, ...)) or by keyword")
        if key in kwargs:
            raise AttributeValueError(f"{op.name}: attribute {key!r} given twice "
                                      f"(positionally and by keyword)")
        attrs[hidden_key(key)] = attr_string(value)
    return args[:count]


def create(op, hint, args, kwargs):
    """Apply operator ``op`` to symbols ``args``/``kwargs``; returns the new ``Symbol``."""
    from .symbol import Symbol, _var_node
    kwargs = dict(kwargs)
    name = kwargs.pop("name", None)
    attr = kwargs.pop("attr", None)
    kwargs.pop("out", None)
    attrs = {}
    for key, value in AttrScope.current.get(attr).items():
        attrs[hidden_key(key)] = attr_string(value)
    input_kwargs = {}
    for key, value in kwargs.items():
        if isinstance(value, Symbol):
            input_kwargs[key] = value
        elif value is None and key not in op.params:
            continue  # an input explicitly left out: created automatically below
        else:
            attrs[hidden_key(key)] = attr_string(value)
    args = _bind_positional_attrs(op, args, kwargs, attrs)
    num_key = _num_args_key(op)
    if num_key is not None and num_key not in attrs:
        attrs[num_key] = str(len(args) + len(input_kwargs))
    name = NameManager.current.get(name, hint)
    node = Node(op, name, attrs)
    names = node.input_names
    if len(args) > len(names):
        raise AttributeValueError(
            f"{op.name} {name!r} takes {len(names)} inputs ({', '.join(names) or 'none'}) but "
            f"{len(args)} symbols were given")
    given = dict(zip(names, args))
    for key, value in input_kwargs.items():
        if key not in names:
            raise AttributeValueError(
                f"{op.name} {name!r}: {key!r} is not an input of this operator; inputs: "
                f"{', '.join(names) or 'none'}")
        if key in given:
            raise AttributeValueError(f"{op.name} {name!r}: input {key!r} given twice "
                                      f"(positionally and by keyword)")
        given[key] = value
    inputs = []
    for input_name in names:
        sym = given.get(input_name)
        if sym is None:
            var_attrs = dict(node.attrs)
            for key, value in op.variable_attrs(node.parsed, input_name).items():
                var_attrs[key] = attr_string(value)
            inputs.append((_var_node(f"{name}_{input_name}", var_attrs), 0))
            continue
        if len(sym._heads) != 1:
            raise AttributeValueError(
                f"{op.name} {name!r}: input {input_name!r} is a group of "
                f"{len(sym._heads)} outputs; pick one with sym[i] or sym['name_output']")
        inputs.append(sym._heads[0])
    node.inputs = inputs
    return Symbol([(node, i) for i in range(node.num_visible_outputs)])


def make_function(call_name):
    """The ``gradloom.sym.<call_name>`` function (looks the op up at call time)."""
    hint_default = call_name.lower()

    def op_function(*args, **kwargs):
        ops = load_plugins().ops
        op = ops.get(call_name)
        hint = op.hint if (call_name == op.name and op.hint) else hint_default
        return create(op, hint, args, kwargs)

    op_function.__name__ = call_name
    op_function.__qualname__ = call_name
    op_function.__doc__ = f"Apply operator {call_name} (see gradloom.ops)."
    return op_function


def scalar_op(op_name, hint, sym, scalar):
    """``sym <op> scalar`` via the registry (``_mul_scalar`` named ``_mulscalar<n>``)."""
    if not isinstance(scalar, numbers.Number):
        raise AttributeValueError(f"{op_name}: scalar operand must be a number, not "
                                  f"{type(scalar).__name__}")
    op = load_plugins().ops.get(op_name)
    return create(op, hint, (sym,), {"scalar": scalar})


def binary_op(op_name, hint, lhs, rhs):
    op = load_plugins().ops.get(op_name)
    return create(op, hint, (lhs, rhs), {})
