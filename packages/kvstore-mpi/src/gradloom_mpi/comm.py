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
    def allreduce_sum(self, buffer, timeout_s=None, what="allreduce"):
        """Sum the contiguous array ``buffer`` over all ranks, in place.

        With ``timeout_s`` the sum is started non-blocking and ``DistributedError`` is
        raised when it has not completed in time (a rank never joined: it crashed silently,
        hangs, or ran out of batches early), instead of waiting forever.
        """
        if self.size > 1:
            MPI = mpi()
            if timeout_s is None:
                self._comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            else:
                request = self._comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
                self._wait(request, timeout_s, what)
        return buffer

    def _wait(self, request, timeout_s, what):
        deadline = time.monotonic() + timeout_s
        spins = 0
        while not request.Test():
            if time.monotonic() > deadline:
                raise DistributedError(
                    f"rank {self.rank}: {what} did not complete within {timeout_s} s: at "
                    f"least one of the {self.size} ranks never joined it (crashed, stuck, or "
                    f"ran out of batches early; shard the data with gradloom_mpi.ShardedIter "
                    f"so every rank runs the same number of steps)")
            spins += 1
            # spin briefly (sums usually finish within microseconds to milliseconds), then
            # back off so a long wait does not burn a core
            if spins > 1000:
                time.sleep(min(1e-5 * (spins - 1000), 0.01))

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
        self._wait(self._comm.Ibarrier(), timeout_s, "barrier()")

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

    def allreduce_sum(self, buffer, timeout_s=None, what="allreduce"):
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
