"""MXNet 1.x symbol JSON, both ways (formats.md section 1).

The writer reproduces dmlc's JSONWriter byte for byte (indentation by open scope, ``", "``
separators followed by a newline in multi-line containers, arrays of numbers inline up to ten
elements, single-key objects inline). The reader accepts every 1.x file plus the 0.8/0.9
layouts, applying MXNet's upgraders when the file is older than the version we emulate.
"""
import json

from ..base import FormatError, UnknownOperatorError
from .graph import HIDDEN_KEYS, Node, topo_order

MXNET_VERSION = 10901  # the MXNet release whose files we write and whose semantics we follow


# -- writer ---------------------------------------------------------------------------------
def _escape(text):
    out = ['"']
    for ch in text:
        if ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Writer:
    """dmlc::JSONWriter: separators indent by the number of open scopes (inline ones too)."""

    def __init__(self):
        self.parts = []
        self.multi = []
        self.count = []

    def _sep(self):
        if self.multi[-1]:
            self.parts.append("\n" + " " * (2 * len(self.multi)))

    def begin(self, bracket, multi_line):
        self.parts.append(bracket)
        self.multi.append(multi_line)
        self.count.append(0)

    def end(self, bracket):
        multi = self.multi.pop()
        n = self.count.pop()
        if multi and n and (not self.multi or self.multi[-1]):
            self.parts.append("\n" + " " * (2 * len(self.multi)))
        self.parts.append(bracket)

    def item(self):
        if self.count[-1]:
            self.parts.append(", ")
        self.count[-1] += 1
        self._sep()

    def key(self, name):
        self.item()
        self.parts.append(_escape(name) + ": ")

    def write_int_array(self, values):
        self.begin("[", len(values) > 10)
        for v in values:
            self.item()
            self.parts.append(str(int(v)))
        self.end("]")

    def write_entries(self, entries):
        self.begin("[", len(entries) > 10)
        for entry in entries:
            self.item()
            self.write_int_array(entry)
        self.end("]")

    def write_str_map(self, mapping):
        self.begin("{", len(mapping) > 1)
        for k in sorted(mapping):
            self.key(k)
            self.parts.append(_escape(mapping[k]))
        self.end("}")


def to_json(heads):
    """MXNet 1.9.1's JSON text for the graph ending in ``heads`` (list of (node, index))."""
    order = topo_order(heads)
    index = {id(n): i for i, n in enumerate(order)}
    w = _Writer()
    w.begin("{", True)
    w.key("nodes")
    w.begin("[", True)
    for node in order:
        w.item()
        w.begin("{", True)
        w.key("op")
        w.parts.append(_escape("null" if node.op is None else node.op.name))
        w.key("name")
        w.parts.append(_escape(node.name))
        if node.attrs:
            w.key("attrs")
            w.write_str_map({k: str(v) for k, v in node.attrs.items()})
        w.key("inputs")
        entries = [(index[id(src)], k, 1 if node.op is not None and node.is_aux_slot(slot) else 0)
                   for slot, (src, k) in enumerate(node.inputs)]
        w.write_entries(entries)
        w.end("}")
    w.end("]")
    w.key("arg_nodes")
    w.write_int_array([i for i, n in enumerate(order) if n.op is None])
    w.key("node_row_ptr")
    row, total = [0], 0
    for node in order:
        total += 1 if node.op is None else node.op.serialized_num_outputs(node.parsed)
        row.append(total)
    w.write_int_array(row)
    w.key("heads")
    w.write_entries([(index[id(n)], k, 0) for n, k in heads])
    w.key("attrs")
    w.begin("{", False)
    w.key("mxnet_version")
    w.begin("[", False)
    w.item()
    w.parts.append('"int"')
    w.item()
    w.parts.append(str(MXNET_VERSION))
    w.end("]")
    w.end("}")
    w.end("}")
    return "".join(w.parts)


# -- reader ---------------------------------------------------------------------------------
def _file_version(graph_attrs):
    value = (graph_attrs or {}).get("mxnet_version")
    if value is None:
        return 800  # no version: written by 0.8.0, every upgrader applies
    if isinstance(value, list) and len(value) == 2:
        value = value[1]
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FormatError(f"symbol JSON: graph attribute mxnet_version={value!r} is not an "
                          f"integer") from None


def _entry(raw, n_nodes, where):
    if not isinstance(raw, (list, tuple)) or len(raw) not in (2, 3):
        raise FormatError(f"symbol JSON: {where}: entry {raw!r} must be [node, index] or "
                          f"[node, index, version]")
    nid, k = int(raw[0]), int(raw[1])
    if not 0 <= nid < n_nodes:
        raise FormatError(f"symbol JSON: {where}: entry {raw!r} refers to node {nid}, which "
                          f"does not exist before it")
    return nid, k


def load_json(text, op_registry):
    """Parse MXNet symbol JSON; returns the list of head entries ``(Node, index)``."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise FormatError(f"symbol JSON is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "nodes" not in data or "heads" not in data:
        raise FormatError("symbol JSON must be an object with 'nodes' and 'heads' (a file "
                          "written by Symbol.save / tojson)")
    version = _file_version(data.get("attrs"))
    raw_nodes = data["nodes"]
    nodes = []
    for i, raw in enumerate(raw_nodes):
        op_name = raw.get("op", "null")
        name = raw.get("name", f"node{i}")
        attrs = dict(raw.get("attrs") or raw.get("attr") or {})
        if raw.get("param"):
            attrs.update(raw["param"])  # 0.8: operator parameters stored separately
        attrs = {k: str(v) for k, v in attrs.items()}
        # hidden keys written without underscores (older writers) become __key__
        for key in HIDDEN_KEYS:
            if key in attrs:
                attrs.setdefault(f"__{key}__", attrs.pop(key))
        inputs = [_entry(e, i, f"node {name!r}") for e in raw.get("inputs", [])]
        if op_name == "null":
            node = Node(None, name, attrs)
        else:
            if op_name not in op_registry:
                raise UnknownOperatorError(
                    f"symbol JSON: failed loading node {name!r} of type {op_name!r}: gradloom "
                    f"has no operator {op_name!r} (see `gradloom plugins` for the registered "
                    f"ones, or install the plugin that provides it)")
            op = op_registry.get(op_name)
            moved = _pop_input_hidden_attrs(op, attrs)
            node = Node(op, name, attrs)
            node.inputs = [(nodes[nid], k) for nid, k in inputs]
            _repair_inputs(node, version)
            for input_name, extra in moved.items():
                _move_to_input(node, input_name, extra)
            if version < 904:
                _reapply_variable_attrs(node)
        nodes.append(node)
    heads = [(nodes[nid], k) for nid, k in
             (_entry(e, len(nodes), "heads") for e in data["heads"])]
    if not heads:
        raise FormatError("symbol JSON has no heads (outputs)")
    return heads


def _pop_input_hidden_attrs(op, attrs):
    """``weight_lr_mult`` on an op -> ``{'weight': {'__lr_mult__': ...}}`` (legacy upgrade)."""
    moved = {}
    for key in list(attrs):
        for hidden in HIDDEN_KEYS:
            suffix = "_" + hidden
            if key.endswith(suffix) and key not in op.params:
                input_name = key[:-len(suffix)]
                moved.setdefault(input_name, {})[f"__{hidden}__"] = attrs.pop(key)
                break
    return moved


def _move_to_input(node, input_name, extra):
    names = node.input_names
    if input_name not in names:
        raise FormatError(f"symbol JSON: node {node.name!r} has attribute "
                          f"{input_name}_{next(iter(extra)).strip('_')} but {node.op.name} has "
                          f"no input {input_name!r} (inputs: {', '.join(names)})")
    slot = names.index(input_name)
    if slot < len(node.inputs) and node.inputs[slot][0].op is None:
        node.inputs[slot][0].attrs.update(extra)


def _repair_inputs(node, version):
    expected = node.input_names
    have = len(node.inputs)
    if have == len(expected):
        return
    if have > len(expected):
        raise FormatError(f"symbol JSON: node {node.name!r} ({node.op.name}) has {have} inputs "
                          f"but the operator takes {len(expected)} ({', '.join(expected)})")
    if version >= 900:
        raise FormatError(
            f"symbol JSON: node {node.name!r} ({node.op.name}) lacks inputs "
            f"{', '.join(expected[have:])}; the file claims MXNet version {version} where "
            f"every input (auxiliary states included) must be stored; re-save the symbol")
    # 0.8 files did not store auxiliary states: create them as MXNet's upgrader does
    for input_name in expected[have:]:
        var_attrs = dict(node.attrs)
        var_attrs.update(node.op.variable_attrs(node.parsed, input_name))
        node.inputs.append((Node(None, f"{node.name}_{input_name}", var_attrs), 0))


def _reapply_variable_attrs(node):
    for input_name, (src, _) in zip(node.input_names, node.inputs):
        if src.op is None:
            for key, value in node.op.variable_attrs(node.parsed, input_name).items():
                src.attrs.setdefault(key, str(value))
