"""Check that every rank is about to run the same collective, and say who differs.

A rank that pushes other keys, shapes or dtypes than the others makes MPI either hang or
sum unrelated bytes. Gathering a small signature first turns that into an error that names
the rank and the difference. Every rank gathers the same list, so every rank raises.
"""
from gradloom.base import DistributedError

__all__ = ["signature_of", "check_agreement", "describe_mismatch"]


def signature_of(entries):
    """A picklable, comparable summary of ``(key, shape, dtype)`` entries."""
    return tuple((key, tuple(int(d) for d in shape), str(dtype)) for key, shape, dtype in entries)


def describe_mismatch(what, signatures, rank):
    """One sentence saying how ``rank``'s signature differs from rank 0's."""
    ref = {key: (shape, dtype) for key, shape, dtype in signatures[0]}
    mine = {key: (shape, dtype) for key, shape, dtype in signatures[rank]}
    parts = []
    only_ref = [k for k in ref if k not in mine]
    only_mine = [k for k in mine if k not in ref]
    if only_ref:
        parts.append(f"keys missing on rank {rank}: {only_ref}")
    if only_mine:
        parts.append(f"keys only on rank {rank}: {only_mine}")
    for key in ref:
        if key in mine and ref[key] != mine[key]:
            (s0, d0), (s1, d1) = ref[key], mine[key]
            if s0 != s1:
                parts.append(f"key {key!r} has shape {s1} on rank {rank} but {s0} on rank 0")
            if d0 != d1:
                parts.append(f"key {key!r} has dtype {d1} on rank {rank} but {d0} on rank 0")
    if not parts:
        parts.append("the same keys in a different grouping")
    return f"rank {rank} differs from rank 0 in {what}: " + "; ".join(parts)


def check_agreement(comm, what, signature):
    """Raise ``DistributedError`` on every rank if any rank's ``signature`` differs."""
    signatures = comm.allgather_obj(signature)
    bad = [r for r, sig in enumerate(signatures) if sig != signatures[0]]
    if bad:
        details = ". ".join(describe_mismatch(what, signatures, r) for r in bad)
        raise DistributedError(
            f"the {len(signatures)} ranks disagree on {what} (ranks {bad}). {details}. Every "
            f"rank must push the same keys with the same shapes and dtypes in the same order: "
            f"build the same model on every rank and call the store at the same points")
