"""``Symbol``: a handle on one or more outputs of a graph (MXNet 1.x ``mx.sym.Symbol``)."""
import copy
import numbers
import warnings

import numpy as np

from ..attribute import AttrScope
from ..base import AttributeValueError, ShapeError, UnsupportedError
from . import inference
from .graph import Node, hidden_key, split_variables, topo_order
from .register import binary_op, scalar_op

_STYPE_IDS = {"default": 0, "row_sparse": 1, "csr": 2}


def _var_node(name, attrs):
    return Node(None, name, attrs)


class Symbol:
    """Outputs ``[(node, index), ...]`` of a computation graph."""

    __slots__ = ("_heads", "_order")

    def __init__(self, heads):
        self._heads = list(heads)
        self._order = None

    # -- graph queries ----------------------------------------------------------------------
    def _topo(self):
        if self._order is None:
            self._order = topo_order(self._heads)
        return self._order

    @property
    def name(self):
        """Name of the (single) output node; ``None`` for a group."""
        if len(self._heads) != 1:
            return None
        return self._heads[0][0].name

    def list_arguments(self):
        return [n.name for n in split_variables(self._topo())[0]]

    def list_auxiliary_states(self):
        return [n.name for n in split_variables(self._topo())[1]]

    def list_inputs(self):
        return [n.name for n in self._topo() if n.op is None]

    def list_outputs(self):
        return [node.output_name(k) for node, k in self._heads]

    def get_internals(self):
        """Every node's visible outputs, in graph order (variables under their own name)."""
        heads = []
        for node in self._topo():
            heads.extend((node, k) for k in range(node.num_visible_outputs))
        return Symbol(heads)

    def get_children(self):
        """The inputs of this symbol's output node as a group; ``None`` for a variable."""
        node = self._heads[0][0]
        if not node.inputs:
            return None
        return Symbol(node.inputs)

    def __len__(self):
        return len(self._heads)

    def __iter__(self):
        return (self[i] for i in range(len(self._heads)))

    def __getitem__(self, index):
        if isinstance(index, str):
            names = self.list_outputs()
            matches = [i for i, n in enumerate(names) if n == index]
            if not matches:
                raise AttributeValueError(f"symbol has no output {index!r}; outputs: "
                                          f"{', '.join(names)}")
            if len(matches) > 1:
                raise AttributeValueError(f"output name {index!r} is ambiguous (appears "
                                          f"{len(matches)} times)")
            index = matches[0]
        if isinstance(index, slice):
            return Symbol(self._heads[index])
        if not isinstance(index, (int, np.integer)):
            raise AttributeValueError(f"symbol index must be an int, str or slice, not "
                                      f"{type(index).__name__}")
        if not -len(self._heads) <= index < len(self._heads):
            raise AttributeValueError(f"output index {index} out of range: the symbol has "
                                      f"{len(self._heads)} output(s)")
        return Symbol([self._heads[index]])

    # -- attributes -------------------------------------------------------------------------
    def attr(self, key):
        """Attribute ``key`` of the output node as a string, or ``None``."""
        if len(self._heads) != 1:
            return None
        return self._heads[0][0].attrs.get(hidden_key(key))

    def list_attr(self, recursive=False):
        if recursive:
            warnings.warn("list_attr(recursive=True) is deprecated; use attr_dict()",
                          DeprecationWarning, stacklevel=2)
            return {f"{n.name}${k}": v for n in self._topo() for k, v in n.attrs.items()}
        if len(self._heads) != 1:
            return {}
        return dict(self._heads[0][0].attrs)

    def attr_dict(self):
        """``{node name: {attribute: value}}`` for every node that has attributes."""
        return {n.name: dict(n.attrs) for n in self._topo() if n.attrs}

    def _set_attr(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise AttributeValueError(f"_set_attr: {key}={value!r} must be a string; pass "
                                          f"{key}={str(value)!r}")
        for node, _ in self._heads:
            for key, value in kwargs.items():
                node.attrs[hidden_key(key)] = value
            if node.op is not None:
                node.refresh()

    # -- inference --------------------------------------------------------------------------
    def _given_by_name(self, what, args, kwargs, convert):
        if args and kwargs:
            raise ShapeError(f"{what}: pass either positional values (in list_arguments() "
                             f"order) or keyword values, not both")
        order = self._topo()
        arg_nodes, aux_nodes = split_variables(order)
        given = {}
        if args:
            if len(args) > len(arg_nodes):
                raise ShapeError(f"{what}: {len(args)} values for {len(arg_nodes)} arguments")
            for node, value in zip(arg_nodes, args):
                if value is not None:
                    given[id(node)] = convert(value)
        else:
            by_name = {n.name: n for n in arg_nodes + aux_nodes}
            for name, value in kwargs.items():
                if name not in by_name:
                    raise ShapeError(
                        f"{what}: {name!r} is not an input of this symbol; inputs: "
                        f"{', '.join(by_name)}")
                if value is not None:
                    given[id(by_name[name])] = convert(value)
        return order, arg_nodes, aux_nodes, given

    def _infer_shape_impl(self, partial, args, kwargs):
        order, arg_nodes, aux_nodes, given = self._given_by_name(
            "infer_shape", args, kwargs, lambda s: tuple(int(d) for d in s))
        values = inference.infer_shapes(order, given)
        index = {id(n): i for i, n in enumerate(order)}
        arg = [values[index[id(n)]][0] for n in arg_nodes]
        out = [values[index[id(n)]][k] for n, k in self._heads]
        aux = [values[index[id(n)]][0] for n in aux_nodes]
        if partial:
            fix = (lambda s: () if s is None else s)
            return [fix(s) for s in arg], [fix(s) for s in out], [fix(s) for s in aux]
        if all(inference.is_complete(s) for s in arg + out + aux):
            return arg, out, aux
        unknown = [f"{n.name}: {s or ()}" for n, s in zip(arg_nodes, arg)
                   if not inference.is_complete(s)]
        if unknown:
            warnings.warn("Cannot decide shape for the following arguments (0s in shape means "
                          "unknown dimensions). Consider providing them as input:\n\t"
                          + "\n\t".join(unknown[:10]), stacklevel=3)
        return None, None, None

    def infer_shape(self, *args, **kwargs):
        """(arg_shapes, out_shapes, aux_shapes); ``(None, None, None)`` when incomplete."""
        return self._infer_shape_impl(False, args, kwargs)

    def infer_shape_partial(self, *args, **kwargs):
        """Like ``infer_shape`` but returns what is known (``()`` for unknown shapes)."""
        return self._infer_shape_impl(True, args, kwargs)

    def infer_type(self, *args, **kwargs):
        """(arg_types, out_types, aux_types) as numpy types; ``(None,)*3`` when incomplete."""
        order, arg_nodes, aux_nodes, given = self._given_by_name(
            "infer_type", args, kwargs, inference.dtype_name)
        values = inference.infer_types(order, given)
        index = {id(n): i for i, n in enumerate(order)}
        arg = [values[index[id(n)]][0] for n in arg_nodes]
        out = [values[index[id(n)]][k] for n, k in self._heads]
        aux = [values[index[id(n)]][0] for n in aux_nodes]
        if any(t is None for t in arg + out + aux):
            return None, None, None
        as_type = (lambda t: np.dtype(t).type)
        return [as_type(t) for t in arg], [as_type(t) for t in out], [as_type(t) for t in aux]

    # -- serialization ----------------------------------------------------------------------
    def tojson(self, remove_amp_cast=True):
        from .json_format import to_json
        return to_json(self._heads)

    def save(self, fname, remove_amp_cast=True):
        """Write the symbol JSON to ``fname`` atomically."""
        from ..fileio import atomic_write
        text = self.tojson()
        with atomic_write(fname, "w") as f:
            f.write(text)

    def debug_str(self):
        lines = []
        for node in self._topo():
            if node.op is None:
                lines.append(f"Variable:{node.name}")
            else:
                ins = ", ".join(src.output_name(k) for src, k in node.inputs)
                lines.append(f"Op:{node.op.name}, Name={node.name}\nInputs: {ins}")
        return "\n".join(lines)

    def __copy__(self):
        return Symbol(self._heads)

    def __deepcopy__(self, memo):
        mapping = {}
        for node in self._topo():
            clone = Node.__new__(Node)
            clone.op, clone.name, clone.attrs = node.op, node.name, dict(node.attrs)
            clone.inputs = [(mapping[id(src)], k) for src, k in node.inputs]
            clone.refresh()
            mapping[id(node)] = clone
        return Symbol([(mapping[id(n)], k) for n, k in self._heads])

    def __call__(self, *args, **kwargs):
        """A copy with argument variables replaced by symbols (MXNet's composition).

        Positional symbols replace ``list_arguments()`` in order, keyword ones the variable of
        that name; ``name=`` renames the output node of the copy.
        """
        name = kwargs.pop("name", None)
        clone = copy.deepcopy(self)
        arg_nodes = split_variables(clone._topo())[0]
        if len(args) > len(arg_nodes):
            raise AttributeValueError(f"compose: {len(args)} symbols for {len(arg_nodes)} "
                                      f"arguments ({', '.join(self.list_arguments())})")
        by_name = {n.name: n for n in arg_nodes}
        replace = {}
        for node, sym in zip(arg_nodes, args):
            replace[id(node)] = sym
        for key, sym in kwargs.items():
            if key not in by_name:
                raise AttributeValueError(f"compose: {key!r} is not an argument; arguments: "
                                          f"{', '.join(by_name)}")
            replace[id(by_name[key])] = sym
        for key, sym in replace.items():
            if not isinstance(sym, Symbol) or len(sym._heads) != 1:
                raise AttributeValueError("compose: arguments must be single-output Symbols")
        for node in clone._topo():
            node.inputs = [replace[id(src)]._heads[0] if id(src) in replace else (src, k)
                           for src, k in node.inputs]
        clone._heads = [replace[id(n)]._heads[0] if id(n) in replace else (n, k)
                        for n, k in clone._heads]
        clone._order = None
        if name is not None and len(clone._heads) == 1:
            clone._heads[0][0].name = name
        return clone

    def __getstate__(self):
        return {"handle": self.tojson()}

    def __setstate__(self, state):
        other = load_json(state["handle"])
        self._heads, self._order = other._heads, None

    def __repr__(self):
        if len(self._heads) == 1:
            return f"<Symbol {self.name}>"
        return f"<Symbol group [{', '.join(self.list_outputs())}]>"

    # -- binding ----------------------------------------------------------------------------
    def simple_bind(self, ctx, grad_req="write", type_dict=None, stype_dict=None,
                    group2ctx=None, shared_arg_names=None, shared_exec=None,
                    shared_buffer=None, **kwargs):
        """Infer shapes from ``kwargs``, allocate every array and return an Executor."""
        from ..executor.binding import simple_bind
        return simple_bind(self, ctx, grad_req, type_dict, group2ctx, shared_arg_names,
                           shared_exec, shared_buffer, kwargs)

    def bind(self, ctx, args, args_grad=None, grad_req="write", aux_states=None,
             group2ctx=None, shared_exec=None):
        """Bind to the given arrays (used in place, never copied); returns an Executor."""
        from ..executor.binding import bind
        return bind(self, ctx, args, args_grad, grad_req, aux_states, group2ctx, shared_exec)

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, Symbol):
            return binary_op("elemwise_add", "_plus", self, other)
        return scalar_op("_plus_scalar", "_plusscalar", self, other)

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, Symbol):
            return binary_op("elemwise_sub", "_minus", self, other)
        return scalar_op("_minus_scalar", "_minusscalar", self, other)

    def __rsub__(self, other):
        return scalar_op("_rminus_scalar", "_rminusscalar", self, other)

    def __mul__(self, other):
        if isinstance(other, Symbol):
            return binary_op("elemwise_mul", "_mul", self, other)
        return scalar_op("_mul_scalar", "_mulscalar", self, other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Symbol):
            return binary_op("elemwise_div", "_div", self, other)
        return scalar_op("_div_scalar", "_divscalar", self, other)

    __div__ = __truediv__

    def __rtruediv__(self, other):
        return scalar_op("_rdiv_scalar", "_rdivscalar", self, other)

    __rdiv__ = __rtruediv__

    def __neg__(self):
        return self.__mul__(-1.0)

    def __pow__(self, other):
        if isinstance(other, Symbol):
            return binary_op("_power", "_power", self, other)
        return scalar_op("_power_scalar", "_powerscalar", self, other)

    def __rpow__(self, other):
        return scalar_op("_rpower_scalar", "_rpowerscalar", self, other)

    def __mod__(self, other):
        if isinstance(other, Symbol):
            return binary_op("_mod", "_mod", self, other)
        return scalar_op("_mod_scalar", "_modscalar", self, other)

    def __rmod__(self, other):
        return scalar_op("_rmod_scalar", "_rmodscalar", self, other)

    def __abs__(self):
        from .register import make_function
        return make_function("abs")(self)

    # comparisons give 1.0 where they hold (MXNet's _greater, _equal_scalar, ...); Python
    # turns ``2 < x`` into ``x > 2``
    def _comparison(name):
        def method(self, other):
            if isinstance(other, Symbol):
                return binary_op(f"_{name}", f"_{name}", self, other)
            if not isinstance(other, numbers.Number):
                return NotImplemented      # ``sym == None``: Python's identity answer
            return scalar_op(f"_{name}_scalar", f"_{name}scalar", self, other)
        method.__name__ = name
        return method

    __eq__ = _comparison("equal")
    __ne__ = _comparison("not_equal")
    __gt__ = _comparison("greater")
    __ge__ = _comparison("greater_equal")
    __lt__ = _comparison("lesser")
    __le__ = _comparison("lesser_equal")
    del _comparison
    # MXNet's symbols were unhashable once ``==`` built a graph; these keep identity hashing,
    # so symbols still work as dict keys and set members
    __hash__ = object.__hash__

    def __bool__(self):
        # as in MXNet: a symbol has no truth value (``if a == b`` would test a graph)
        raise UnsupportedError("a Symbol has no truth value: comparisons such as a == b build "
                               "a graph; compare symbols with `is`, or evaluate them first")

    # fluent methods (``x.reshape(shape=(-1,))``) as in MXNet 1.x: the operator of that name
    # applied with this symbol as its first input
    def _fluent(op_name):
        def method(self, *args, **kwargs):
            from .register import make_function
            return make_function(op_name)(self, *args, **kwargs)
        method.__name__ = op_name
        method.__doc__ = f"``{op_name}(self, ...)``: the {op_name} operator on this symbol."
        return method

    for _name in ("reshape", "flatten", "transpose", "swapaxes", "expand_dims", "split",
                  "slice_axis", "sum", "mean", "max", "min", "exp", "log", "sqrt", "square",
                  "abs", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "clip"):
        locals()[_name] = _fluent(_name)
    del _name, _fluent


def Variable(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
             stype=None, **kwargs):
    """A placeholder for data, labels, parameters or states (MXNet's ``mx.sym.Variable``)."""
    if not isinstance(name, str):
        raise AttributeValueError(f"Variable name must be a string, not {type(name).__name__}")
    attrs = {hidden_key(k): v for k, v in AttrScope.current.get(attr).items()}
    if shape is not None:
        attrs["__shape__"] = str(shape)
    if lr_mult is not None:
        attrs["__lr_mult__"] = str(lr_mult)
    if wd_mult is not None:
        attrs["__wd_mult__"] = str(wd_mult)
    if dtype is not None:
        attrs["__dtype__"] = str(inference.DTYPE_NAME_TO_FLAG[np.dtype(dtype).name])
    if init is not None:
        attrs["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        if stype not in _STYPE_IDS:
            raise AttributeValueError(f"Variable {name!r}: stype must be one of "
                                      f"{', '.join(_STYPE_IDS)}, not {stype!r}")
        attrs["__storage_type__"] = str(_STYPE_IDS[stype])
    for key, value in kwargs.items():
        if not (key.startswith("__") and key.endswith("__")):
            raise AttributeValueError(
                f"Variable {name!r}: attribute name={key} is not supported; additional "
                f"attributes must start and end with double underscores, e.g. __{key}__")
        attrs[key] = str(value)
    for key, value in attrs.items():
        if not isinstance(value, str):
            raise AttributeValueError(f"Variable {name!r}: attribute {key}={value!r} must be "
                                      f"a string")
    return Symbol([(_var_node(name, attrs), 0)])


var = Variable


def Group(symbols):
    """One symbol whose outputs are the outputs of ``symbols``, in order."""
    heads = []
    for sym in symbols:
        if not isinstance(sym, Symbol):
            raise AttributeValueError(f"Group expects a list of Symbols, got "
                                      f"{type(sym).__name__}")
        heads.extend(sym._heads)
    if not heads:
        raise AttributeValueError("Group needs at least one symbol")
    return Symbol(heads)


def load_json(json_str):
    """A symbol from MXNet JSON text (every 1.x file and the 0.8/0.9 layouts)."""
    from ..plugins import load_plugins
    from .json_format import load_json as parse
    return Symbol(parse(json_str, load_plugins().ops))


def load(fname):
    """A symbol from a ``-symbol.json`` file."""
    from ..base import FormatError
    try:
        with open(fname, "r", encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise FormatError(f"cannot read symbol file {fname!r}: {exc}") from None
    try:
        return load_json(text)
    except FormatError as exc:
        raise FormatError(f"{fname}: {exc}") from None


def zeros(shape, dtype=None, **kwargs):
    """A zero-filled symbol (``0`` in ``shape`` = inferred from the graph)."""
    from .register import create
    from ..plugins import load_plugins
    return create(load_plugins().ops.get("_zeros"), "_zeros", (),
                  dict(kwargs, shape=shape, dtype=np.float32 if dtype is None else dtype))


def ones(shape, dtype=None, **kwargs):
    from .register import create
    from ..plugins import load_plugins
    return create(load_plugins().ops.get("_ones"), "_ones", (),
                  dict(kwargs, shape=shape, dtype=np.float32 if dtype is None else dtype))



def _binary_or_scalar(name, left, right, sym_op, scalar_op_name, rscalar_op_name=None):
    """MXNet's ``maximum``/``minimum``/``power`` helpers: symbol or number on either side."""
    if isinstance(left, Symbol) and isinstance(right, Symbol):
        return binary_op(sym_op, sym_op, left, right)
    if isinstance(left, Symbol):
        return scalar_op(scalar_op_name, scalar_op_name.replace("_scalar", "scalar"), left,
                         right)
    if isinstance(right, Symbol):
        op_name = rscalar_op_name or scalar_op_name
        return scalar_op(op_name, op_name.replace("_scalar", "scalar"), right, left)
    raise AttributeValueError(f"{name}: at least one operand must be a Symbol")


def maximum(left, right):
    return _binary_or_scalar("maximum", left, right, "_maximum", "_maximum_scalar")


def minimum(left, right):
    return _binary_or_scalar("minimum", left, right, "_minimum", "_minimum_scalar")


def power(base, exp):
    return _binary_or_scalar("power", base, exp, "_power", "_power_scalar", "_rpower_scalar")


pow = power  # noqa: A001 (MXNet's name)
