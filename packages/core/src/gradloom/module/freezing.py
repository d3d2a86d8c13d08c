"""Freezing BatchNorm statistics by naming them in ``fixed_param_names``.

MXNet's ``fixed_param_names`` froze arguments only: a fine-tuned network's BatchNorm layers
kept averaging the new data into their moving mean and variance (and normalised each batch
by its own statistics) unless the graph itself was rebuilt with ``use_global_stats``. Here
naming a BatchNorm's ``moving_mean`` and ``moving_var`` in ``fixed_param_names`` binds that
layer with ``use_global_stats=True``: training normalises with the stored statistics and
never changes them, exactly as inference does. The module's own symbol (what checkpoints
save) stays as given; only the bound copy differs.
"""
import json

from ..base import ParameterError

__all__ = ["frozen_batchnorms", "with_global_stats"]

_MOVING = ("moving_mean", "moving_var")


def _batchnorm_aux(graph):
    """{aux variable name: (BatchNorm node name, 'moving_mean' | 'moving_var')}."""
    nodes = graph["nodes"]
    owners = {}
    for node in nodes:
        if node["op"] != "BatchNorm" or len(node["inputs"]) < 5:
            continue
        for (index, *_), role in zip(node["inputs"][3:5], _MOVING):
            owners[nodes[index]["name"]] = (node["name"], role)
    return owners


def frozen_batchnorms(symbol, fixed_names):
    """Names of the BatchNorm layers whose statistics ``fixed_names`` freezes.

    An auxiliary state that is not a BatchNorm statistic, or one of a layer's two statistics
    without the other, raises ``ParameterError``.
    """
    aux_names = set(symbol.list_auxiliary_states())
    named = [n for n in fixed_names if n in aux_names]
    if not named:
        return []
    owners = _batchnorm_aux(json.loads(symbol.tojson()))
    layers = {}
    for name in named:
        if name not in owners:
            raise ParameterError(f"fixed_param_names: auxiliary state {name!r} is not a "
                                 f"BatchNorm statistic; only those can be frozen")
        layer, role = owners[name]
        layers.setdefault(layer, set()).add(role)
    for layer, roles in layers.items():
        if len(roles) != 2:
            have = next(iter(roles))
            other = next(aux for aux, owner in owners.items()
                         if owner == (layer, _MOVING[1 - _MOVING.index(have)]))
            raise ParameterError(f"fixed_param_names freezes the {have} of BatchNorm "
                                 f"{layer!r} but not its other statistic; add {other!r} "
                                 f"(a layer's statistics are frozen together)")
    return sorted(layers)


def with_global_stats(symbol, layers):
    """A copy of ``symbol`` whose BatchNorm ``layers`` run with ``use_global_stats=True``."""
    from ..symbol import load_json
    graph = json.loads(symbol.tojson())
    for node in graph["nodes"]:
        if node["op"] == "BatchNorm" and node["name"] in layers:
            node.setdefault("attrs", {})["use_global_stats"] = "True"
    return load_json(json.dumps(graph))
