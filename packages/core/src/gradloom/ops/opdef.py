"""How an operator is defined: once, for every backend.

An ``OpDef`` describes an operator: its attributes (with MXNet's names, parsers and
defaults), its inputs, auxiliary states and outputs, and shape and type inference. Its
``kernel`` class holds the forward and backward math written against ``xp`` (numpy or cupy).

A ``Kernel`` is an operator bound to fixed shapes, dtypes and one device: the executor creates
one per graph node at bind time (allocating any workspace there) and afterwards only calls
``forward``/``backward`` with preallocated arrays. A backend may register a faster kernel for
an op (``gradloom_register_kernels``); it has the same constructor and methods.
"""
import ast

import numpy as np

from ..base import AttributeValueError

REQUIRED = object()


# -- attribute parsers: accept a Python value or MXNet's string form ------------------------
def parse_int(value):
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in ("none", ""):
            return None
        return int(float(value))
    return None if value is None else int(value)


def parse_float(value):
    if isinstance(value, str):
        if value.strip().lower() in ("none", ""):
            return None
        return float(value)
    return None if value is None else float(value)


def parse_bool(value):
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "1"):
            return True
        if v in ("false", "0"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def _literal(value):
    """A tuple attribute's value: strings are read as Python literals; ``None``/"" -> ()."""
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        return () if text.lower() in ("none", "") else ast.literal_eval(text)
    return value


def parse_tuple(value):
    """``"(5, 5)"``, ``"[5,5]"``, ``"5"``, ``(5, 5)``, ``5`` -> tuple of ints (``None`` stays)."""
    value = _literal(value)
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    return tuple(int(v) for v in value)


def parse_index_tuple(value):
    """``"(None, 1, -2)"`` or ``(None, 1, -2)`` -> a tuple of ints and ``None`` (slice bounds)."""
    value = _literal(value)
    if value is None or isinstance(value, (int, np.integer)):
        return (value if value is None else int(value),)
    return tuple(None if v is None else int(v) for v in value)


def parse_str(value):
    return None if value is None else str(value)


def parse_dtype(value):
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    return np.dtype(value).name


def choice(*options):
    def parse(value):
        text = str(value)
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}; got {text!r}")
        return text
    parse.__name__ = f"one of {options}"
    return parse


def optional(parser):
    def parse(value):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
            return None
        return parser(value)
    return parse


class Param:
    """One operator attribute: its parser and default (``REQUIRED`` when it has none)."""

    def __init__(self, parse, default=REQUIRED, doc=""):
        self.parse = parse
        self.default = default
        self.doc = doc


class Attrs(dict):
    """Parsed attributes; read as ``attrs.kernel`` or ``attrs['kernel']``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def to_attr_string(value):
    """MXNet's string form of a Python attribute value (what goes into symbol JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        items = ", ".join(str(to_attr_string(v)) for v in value)
        return "(" + items + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return str(value)


class OpDef:
    """An operator. Subclass it (or instantiate with keyword overrides) once per operator.

    Class attributes:
      ``name``       canonical name written into symbol JSON (``"FullyConnected"``)
      ``aliases``    other names accepted when loading JSON or calling ``gradloom.sym``
      ``params``     ``{attr_name: Param}``
      ``kernel``     the generic ``Kernel`` subclass (math written against ``xp``)
      ``hint``       prefix for automatic node names (defaults to ``name.lower()``)
    """

    name = None
    aliases = ()
    params = {}
    kernel = None
    hint = None

    # -- attributes ----------------------------------------------------------------------
    def parse_attrs(self, raw, node_name="?"):
        """Parse string/Python attribute values into an ``Attrs``; hidden ``__x__`` ignored."""
        attrs = Attrs()
        for key, param in self.params.items():
            if key in raw and raw[key] is not None:
                try:
                    attrs[key] = param.parse(raw[key])
                except (ValueError, TypeError, SyntaxError) as exc:
                    raise AttributeValueError(
                        f"{self.name} {node_name!r}: attribute {key}={raw[key]!r} is invalid: "
                        f"{exc}") from None
            elif param.default is REQUIRED:
                raise AttributeValueError(
                    f"{self.name} {node_name!r}: required attribute {key!r} is missing; pass "
                    f"{key}=... when creating the operator")
            else:
                attrs[key] = param.default
        for key in raw:
            if key not in self.params and not (key.startswith("__") and key.endswith("__")):
                raise AttributeValueError(
                    f"{self.name} {node_name!r}: unknown attribute {key!r}; accepted: "
                    f"{', '.join(self.params) or 'none'}")
        return attrs

    # -- interface -----------------------------------------------------------------------
    def arguments(self, attrs):
        """Names of the (non-auxiliary) inputs, in order (``["data", "weight", "bias"]``)."""
        return ["data"]

    def aux_states(self, attrs):
        """Names of the auxiliary (mutable, non-differentiated) inputs, after the arguments."""
        return []

    def outputs(self, attrs):
        """Names of the visible outputs (``["output"]``)."""
        return ["output"]

    def num_hidden_outputs(self, attrs):
        """Outputs after the visible ones that backward needs but users never see."""
        return 0

    def num_outputs(self, attrs):
        return len(self.outputs(attrs)) + self.num_hidden_outputs(attrs)

    def serialized_num_outputs(self, attrs):
        """Output count written to symbol JSON's ``node_row_ptr`` (MXNet's, for fidelity)."""
        return self.num_outputs(attrs)

    def variable_attrs(self, attrs, input_name):
        """Extra attributes for an automatically created input variable (e.g. ``__init__``)."""
        return {}

    def infer_shape(self, attrs, in_shapes, out_shapes):
        """Fill unknown shapes, forwards and backwards.

        ``in_shapes`` lists arguments then aux states; ``out_shapes`` every output (hidden
        ones included). A shape is a tuple (``0`` in a dimension = unknown) or ``None``.
        Return ``(in_shapes, out_shapes)`` as lists with whatever could be inferred; raise
        ``ShapeError`` naming the input and both shapes when they contradict each other.
        """
        raise NotImplementedError(f"{self.name} must define infer_shape")

    def infer_type(self, attrs, in_types, out_types):
        """Fill unknown dtypes (numpy dtype names or ``None``). Default: all alike."""
        known = next((t for t in list(in_types) + list(out_types) if t is not None), None)
        return ([t or known for t in in_types], [t or known for t in out_types])

    def make_kernel(self, attrs, in_shapes, out_shapes, dtypes, backend, device_id):
        return self.kernel(self, attrs, in_shapes, out_shapes, dtypes, backend, device_id)

    def __repr__(self):
        return f"<operator {self.name}>"


class Kernel:
    """An operator bound to shapes, dtypes and a device. Generic kernels use only ``xp``.

    ``in_shapes``/``dtypes['in']`` cover arguments then aux states, ``out_shapes`` every
    output including hidden ones. Allocate workspace in ``__init__`` (via ``self.xp``), never
    in ``forward``/``backward``.
    """

    def __init__(self, op, attrs, in_shapes, out_shapes, dtypes, backend, device_id):
        self.op = op
        self.attrs = attrs
        self.in_shapes = [tuple(s) for s in in_shapes]
        self.out_shapes = [tuple(s) for s in out_shapes]
        self.dtypes = dtypes
        self.backend = backend
        self.device_id = device_id
        self.xp = backend.xp
        self.num_args = len(op.arguments(attrs))
        self.setup()

    def setup(self):
        """Precompute whatever depends only on attributes and shapes (workspace, views)."""

    def forget_arrays(self):
        """Drop whatever this kernel keeps of the arrays it was last called with.

        The executor calls it before a shared pool it carves from is reallocated, so a
        cache of views does not keep an outgrown buffer alive."""

    def forward(self, is_train, inputs, outputs, aux):
        """Compute ``outputs`` (preallocated, written in place) from ``inputs``.

        ``inputs`` are the argument arrays, ``aux`` the auxiliary-state arrays (updated in
        place where the operator keeps running statistics), ``outputs`` all outputs.
        """
        raise NotImplementedError(f"{self.op.name} kernel must define forward")

    def backward(self, out_grads, inputs, outputs, aux, in_grads, req):
        """Write or add input gradients.

        ``out_grads`` has one array per visible output (loss heads ignore it);
        ``in_grads[i]`` is the gradient buffer of argument ``i`` or ``None`` when
        ``req[i] == 'null'``. ``req[i] == 'write'`` overwrites, ``'add'`` accumulates. Every
        non-null buffer must be written (zeros for inputs without a gradient, like labels).
        """
        raise NotImplementedError(f"{self.op.name} kernel must define backward")


def assign(dst, value, req):
    """Store ``value`` into ``dst`` according to ``req`` ('write', 'add', 'null')."""
    if req == "write":
        dst[...] = value
    elif req == "add":
        dst += value
