"""How many bytes a set of Modules (possibly sharing memory, as buckets do) holds."""

__all__ = ["module_memory"]


def module_memory(modules):
    """Bytes held by ``modules`` (Modules possibly sharing memory), each buffer counted once:
    ``{'pool', 'private', 'inputs', 'params', 'total'}``."""
    seen = set()

    def once(arr):
        if arr is None or id(arr) in seen:
            return 0
        seen.add(id(arr))
        return int(arr.nbytes)

    usage = {"pool": 0, "private": 0, "inputs": 0, "params": 0}
    for mod in modules:
        group = getattr(mod, "_exec_group", None)
        if group is None:
            continue
        for plan in group._plans.values():
            for exe in plan.execs:
                if exe is None:
                    continue
                for arr in exe._pool.arrays.values():
                    usage["pool"] += once(arr)
                for arr in list(exe._private_value.values()) + list(
                        exe._private_grad.values()):
                    usage["private"] += once(arr)
        for per_device in group._shared_inputs:
            for arr in per_device.values():
                usage["inputs"] += once(arr)
        for buffers in group.params.arg_groups + group.params.aux_groups:
            for arr in list(buffers.values) + list(buffers.grads or []) + [buffers.host]:
                usage["params"] += once(arr)
    usage["total"] = sum(usage.values())
    return usage
