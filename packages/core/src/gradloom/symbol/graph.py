"""Graph nodes and the orders every symbol query and the executor rely on.

A ``Node`` is a variable (``op is None``) or an operator application. Its ``inputs`` are
entries ``(node, output_index)``; arguments come first, then auxiliary states, as the
operator declares them. ``attrs`` holds MXNet's string attributes exactly as they are written
to JSON (hidden ``__x__`` keys included); ``parsed`` the operator's parsed view of them.
"""
from ..base import AttributeValueError

# keyword names stored as hidden ``__key__`` attributes (MXNet's kHiddenKeys)
HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage",
               "profiler_scope")


def hidden_key(key):
    """``lr_mult`` -> ``__lr_mult__``; other keys unchanged."""
    return f"__{key}__" if key in HIDDEN_KEYS else key


class Node:
    __slots__ = ("op", "name", "attrs", "inputs", "parsed", "_arg_names", "_aux_names",
                 "_out_names", "_num_outputs", "__weakref__")

    def __init__(self, op, name, attrs=None, inputs=()):
        self.op = op
        self.name = name
        self.attrs = dict(attrs or {})
        self.inputs = list(inputs)
        self.refresh()

    def refresh(self):
        """Re-parse attributes (after creation or ``_set_attr``) and cache the interface."""
        if self.op is None:
            self.parsed = None
            self._arg_names, self._aux_names = [], []
            self._out_names, self._num_outputs = [self.name], 1
            return
        self.parsed = self.op.parse_attrs(self.attrs, self.name)
        self._arg_names = list(self.op.arguments(self.parsed))
        self._aux_names = list(self.op.aux_states(self.parsed))
        self._out_names = list(self.op.outputs(self.parsed))
        self._num_outputs = self.op.num_outputs(self.parsed)

    @property
    def is_variable(self):
        return self.op is None

    @property
    def arg_names(self):
        return self._arg_names

    @property
    def aux_names(self):
        return self._aux_names

    @property
    def input_names(self):
        return self._arg_names + self._aux_names

    @property
    def num_outputs(self):
        """All outputs, hidden ones included (what JSON's node_row_ptr counts)."""
        return self._num_outputs

    @property
    def num_visible_outputs(self):
        return len(self._out_names)

    def output_name(self, index):
        """Public name of output ``index``: ``fc1_output``, ``split0_output1``, ``data``."""
        if self.op is None:
            return self.name
        if index >= len(self._out_names):
            raise AttributeValueError(
                f"{self.op.name} {self.name!r} has {len(self._out_names)} visible output(s); "
                f"output {index} does not exist")
        return f"{self.name}_{self._out_names[index]}"

    def is_aux_slot(self, slot):
        return slot >= len(self._arg_names)

    def __repr__(self):
        kind = "variable" if self.op is None else self.op.name
        return f"<Node {kind} {self.name}>"


def topo_order(heads):
    """Nodes reachable from ``heads`` in depth-first post-order, inputs in order.

    Iterative so that long unrolled RNNs do not hit Python's recursion limit.
    """
    order, seen = [], set()
    for head, _ in heads:
        if id(head) in seen:
            continue
        seen.add(id(head))
        stack = [(head, 0)]
        while stack:
            node, pos = stack[-1]
            if pos < len(node.inputs):
                stack[-1] = (node, pos + 1)
                child = node.inputs[pos][0]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def aux_variable_ids(order):
    """ids of the variable nodes consumed in an auxiliary (mutable) input slot."""
    aux = set()
    for node in order:
        if node.op is None:
            continue
        for slot, (src, _) in enumerate(node.inputs):
            if src.op is None and node.is_aux_slot(slot):
                aux.add(id(src))
    return aux


def split_variables(order):
    """(arguments, auxiliary states) as lists of variable nodes, in graph order."""
    aux_ids = aux_variable_ids(order)
    args, aux = [], []
    for node in order:
        if node.op is None:
            (aux if id(node) in aux_ids else args).append(node)
    return args, aux
