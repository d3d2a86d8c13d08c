"""How a batch is split across devices."""
from ..base import ShapeError

__all__ = ["split_input_slice", "batch_axis"]


def batch_axis(layout):
    """Axis of the batch in ``layout``: 0 without a layout, -1 when it has no ``N``."""
    if layout is None:
        return 0
    return layout.find("N")


def split_input_slice(batch_size, work_load_list):
    """Consecutive ``slice`` objects, one per device, ``None`` for a device left idle.

    MXNet's rule first: ``n_i = round(w_i * batch / total)``, the shortfall added to the last
    device. Where that rule leaves a device empty (a batch smaller than the number of devices,
    or unlucky rounding) MXNet raised "Too many slices"; we instead split by largest
    remainders, so every batch size >= 1 works and devices without samples stay idle.
    """
    if batch_size < 1:
        raise ShapeError(f"batch size must be at least 1, got {batch_size}")
    total = float(sum(work_load_list))
    if total <= 0 or any(w < 0 for w in work_load_list):
        raise ShapeError(f"work_load_list must hold non-negative numbers with a positive sum, "
                         f"got {list(work_load_list)}")
    sizes = [int(round(w * batch_size / total)) for w in work_load_list]
    short = batch_size - sum(sizes)
    if short > 0:
        sizes[-1] += short
    slices, end = [], 0
    ok = True
    for n in sizes:
        begin, end = min(end, batch_size), min(end + n, batch_size)
        if end <= begin:
            ok = False
            break
        slices.append(slice(begin, end))
    if ok and end == batch_size:
        return slices
    # largest-remainder split; ties go to the earlier device
    exact = [w * batch_size / total for w in work_load_list]
    sizes = [int(e) for e in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in order[:batch_size - sum(sizes)]:
        sizes[i] += 1
    slices, end = [], 0
    for n in sizes:
        slices.append(slice(end, end + n) if n else None)
        end += n
    return slices


def is_presliced(batch):
    """A list of per-device batches (a namedtuple with ``.data`` is ONE batch)."""
    return isinstance(batch, (list, tuple)) and not hasattr(batch, "data")
