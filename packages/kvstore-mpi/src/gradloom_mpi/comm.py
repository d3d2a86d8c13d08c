"""A thin wrapper over an mpi4py communicator: the collectives the stores and iterators use.

``mpi4py.MPI`` runs ``MPI_Init`` when it is imported, so nothing here imports it at module
level; :func:`world` (called by a store factory, a ``ShardedIter`` or a benchmark) is the
first place that does.
"""
import time

import numpy as np

from gradloom.base import DistributedError

__all__ = ["Communicator", "as_communicator", "world", "mpi"]


def mpi():
    """The ``mpi4py.MPI`` module (initialises MPI on first call)."""
    from mpi4py import MPI
    return MPI


def world():
    """A communicator over every process of the job (``COMM_WORLD``)."""
    return Communicator(mpi().COMM_WORLD)


def as_communicator(obj):
    """A :class:`Communicator` from a store, a ``Communicator``, an mpi4py comm or ``None``.

    ``None`` means ``COMM_WORLD``; a store contributes the communicator it reduces over, so
    iterators and metrics agree with the store on who the workers are.
    """
    if obj is None:
        return world()
    if isinstance(obj, (Communicator, SingleProcess)):
        return obj
    inner = getattr(obj, "comm", None)
    if isinstance(inner, Communicator):
        return inner
    if hasattr(obj, "Allreduce") and hasattr(obj, "Get_rank"):
        return Communicator(obj)
    if hasattr(obj, "rank") and hasattr(obj, "num_workers") and obj.num_workers == 1:
        return SingleProcess()
    raise DistributedError(
        f"cannot use {type(obj).__name__} as a communicator: pass a 'dist_sync' or "
        f"'dist_device_sync' kvstore, a gradloom_mpi Communicator or an mpi4py communicator")


class Communicator:
    """Rank, size and the handful of collectives gradloom needs, over one mpi4py comm."""

    def __init__(self, comm):
        self._comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    @property
    def mpi_comm(self):
        return self._comm

    def dup(self):
        """A private copy, so a store's collectives never interleave with the user's."""
        return Communicator(self._comm.Dup())

    # -- array collectives (in place, no pickling) -----------------------------------------
    def allreduce_sum(self, buffer):
        """Sum the contiguous array ``buffer`` over all ranks, in place."""
        if self.size > 1:
            MPI = mpi()
            self._comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        return buffer

    def bcast_array(self, buffer, root=0):
        """Overwrite ``buffer`` on every rank with ``root``'s, in place."""
        if self.size > 1:
            self._comm.Bcast(buffer, root=root)
        return buffer

    # -- object collectives (small Python values: signatures, seeds) -----------------------
    def bcast_obj(self, obj, root=0):
        return obj if self.size == 1 else self._comm.bcast(obj, root=root)

    def allgather_obj(self, obj):
        return [obj] if self.size == 1 else self._comm.allgather(obj)

    def allreduce_float64(self, values):
        """Element-wise sum over ranks of a short list of numbers (metric sums, counts)."""
        buf = np.asarray(values, dtype=np.float64).copy()
        return self.allreduce_sum(buf)

    # -- synchronisation ---------------------------------------------------------------------
    def barrier(self, timeout_s=None):
        """Wait for every rank; with ``timeout_s`` raise instead of waiting forever."""
        if self.size == 1:
            return
        if timeout_s is None:
            self._comm.Barrier()
            return
        request = self._comm.Ibarrier()
        deadline = time.monotonic() + timeout_s
        pause = 1e-4
        while not request.Test():
            if time.monotonic() > deadline:
                raise DistributedError(
                    f"rank {self.rank}: not every one of the {self.size} ranks reached the "
                    f"barrier within {timeout_s} s; a rank is stuck or has fewer batches than "
                    f"the others (shard the data with gradloom_mpi.ShardedIter so every rank "
                    f"runs the same number of steps)")
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def abort(self, code=1):
        self._comm.Abort(code)

    def free(self):
        MPI = mpi()
        if self._comm not in (MPI.COMM_WORLD, MPI.COMM_SELF) and self._comm != MPI.COMM_NULL:
            self._comm.Free()


class SingleProcess:
    """The communicator of a one-process job (a non-distributed store): every call is local."""

    rank = 0
    size = 1

    def allreduce_sum(self, buffer):
        return buffer

    def bcast_array(self, buffer, root=0):
        return buffer

    def bcast_obj(self, obj, root=0):
        return obj

    def allgather_obj(self, obj):
        return [obj]

    def allreduce_float64(self, values):
        return np.asarray(values, dtype=np.float64).copy()

    def barrier(self, timeout_s=None):
        pass
