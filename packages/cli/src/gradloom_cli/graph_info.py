"""Facts about a symbol JSON file read straight from the file (``formats.md`` section 1).

Used by ``gradloom inspect``: the MXNet version stamped in the graph attributes, and a DOT
rendering of the graph.
"""
import json

from gradloom.base import FormatError


def read_graph(path):
    try:
        with open(path, encoding="utf-8") as handle:
            graph = json.load(handle)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path} is not a symbol JSON file: {exc}") from None
    if not isinstance(graph, dict) or "nodes" not in graph or "heads" not in graph:
        raise FormatError(f"{path} is not a symbol JSON file: it has no 'nodes'/'heads'; "
                          f"expected the PREFIX-symbol.json written by save_checkpoint")
    return graph


def mxnet_version(graph):
    """``"1.9.1"`` from ``attrs.mxnet_version = ["int", 10901]``; MXNet reads a missing one as
    0.8.0 (``None`` is returned then)."""
    value = graph.get("attrs", {}).get("mxnet_version")
    if not value:
        return None
    number = int(value[1] if isinstance(value, list) else value)
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


_SHOWN_ATTRS = ("num_hidden", "num_filter", "kernel", "stride", "pad", "act_type", "pool_type",
                "global_pool", "shape", "axis", "num_outputs", "p", "output_dim")


def to_dot(graph, parameters=(), name="gradloom"):
    """Graphviz DOT text: one box per operator, ellipses for inputs; parameters hidden
    (as MXNet's ``plot_network`` does by default) and listed in the operator's label."""
    nodes = graph["nodes"]
    hidden = set(parameters)
    lines = [f"digraph {_quote(name)} {{", "  rankdir=BT;", "  node [fontname=Helvetica];"]
    for index, node in enumerate(nodes):
        attrs = node.get("attrs", node.get("attr", node.get("param", {}))) or {}
        if node["op"] == "null":
            if node["name"] in hidden:
                continue
            lines.append(f"  n{index} [label={_quote(node['name'])}, shape=ellipse];")
            continue
        details = [f"{k}={attrs[k]}" for k in _SHOWN_ATTRS if k in attrs]
        label = "\\n".join([node["name"], node["op"]] + details)
        lines.append(f"  n{index} [label=\"{label.replace(chr(34), chr(39))}\", shape=box];")
    for index, node in enumerate(nodes):
        for entry in node.get("inputs", []):
            source = entry[0]
            if nodes[source]["op"] == "null" and nodes[source]["name"] in hidden:
                continue
            lines.append(f"  n{source} -> n{index};")
    lines.append("}")
    return "\n".join(lines) + "\n"
