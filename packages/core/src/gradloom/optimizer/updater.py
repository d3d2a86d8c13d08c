"""``Updater``: MXNet's per-index optimizer driver (``updater(index, grad, weight)``).

States are created lazily per index. ``get_states``/``set_states`` exchange bytes in
gradloom's optimizer-state format (an NDArray container plus a JSON header, see
``gradloom.checkpoint``), never a pickle.
"""
import numpy as np

from ..base import ConfigError
from ._arrays import place_like
from .optimizer import Optimizer

__all__ = ["Updater", "get_updater"]


class Updater:
    """Applies ``optimizer`` to (index, grad, weight) triples, keeping one state per index."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise ConfigError(f"get_updater expects an Optimizer, got "
                              f"{type(optimizer).__name__}; create one with "
                              f"gradloom.optimizer.create(name, ...)")
        self.optimizer = optimizer
        self.states = {}
        # False for states loaded by set_states: they live on the host until first use
        self.states_synced = {}
        self.aggregate_updates = False

    def __call__(self, index, grad, weight):
        """Update ``weight`` with ``grad`` (note MXNet's order: grad before weight)."""
        if isinstance(index, (list, tuple)):
            indices, grads, weights = index, grad, weight
        else:
            indices, grads, weights = [index], [grad], [weight]
        opt = self.optimizer
        for idx, g, w in zip(indices, grads, weights):
            if idx not in self.states:
                self.states[idx] = opt.create_state_multi_precision(idx, w)
                self.states_synced[idx] = True
            elif not self.states_synced.get(idx, True):
                self.states[idx] = self.sync_state_context(self.states[idx], w)
                self.states_synced[idx] = True
            opt.update_multi_precision(idx, w, g, self.states[idx])

    def sync_state_context(self, state, weight):
        """A loaded (host) state moved next to ``weight`` (its device and array kind)."""
        slots = [place_like(np.asarray(s), weight) for s in self.optimizer.unpack_state(state)]
        return self.optimizer.pack_state(slots)

    def set_states(self, states):
        """Restore states from bytes written by ``get_states`` (or a state file's bytes)."""
        from ..checkpoint import loads_updater_states
        loaded, meta = loads_updater_states(states)
        self.states = {key: self.optimizer.pack_state(list(slots))
                       for key, slots in loaded.items()}
        self.states_synced = dict.fromkeys(self.states, False)
        if isinstance(meta.get("counters"), dict):
            from ..checkpoint import restore_updater_counters
            restore_updater_counters(self.optimizer, meta)

    def get_states(self, dump_optimizer=False):
        """The states as bytes (gradloom's state format, not a pickle).

        The optimizer's hyper-parameters and update counters are always included;
        ``dump_optimizer`` is accepted for MXNet compatibility.
        """
        from ..checkpoint import dumps_updater_states
        return dumps_updater_states(self)


def get_updater(optimizer):
    """An :class:`Updater` driving ``optimizer``."""
    return Updater(optimizer)
