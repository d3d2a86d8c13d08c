"""Turn an uncaught exception on one rank into the end of the whole job.

Without this, a rank that raises exits while the others wait in their next collective
forever (the classic distributed hang). The hook prints the traceback, prefixed with the
rank, to stderr and then calls ``MPI_Abort`` on ``COMM_WORLD``, which makes ``mpiexec`` stop
every rank with a non-zero status. ``python -m mpi4py script.py`` does the same for scripts;
the hook covers scripts started as plain ``python script.py`` under ``mpiexec``.
"""
import sys
import time
import traceback

__all__ = ["install", "uninstall", "is_installed"]

_previous = None


def _abort_on_exception(exc_type, exc, tb):
    from .comm import mpi
    MPI = mpi()
    rank = MPI.COMM_WORLD.Get_rank()
    size = MPI.COMM_WORLD.Get_size()
    if size == 1:
        # nobody to take down: behave like Python's own hook (status 1)
        (_previous or sys.__excepthook__)(exc_type, exc, tb)
        return
    try:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(f"[gradloom rank {rank}/{size}] uncaught exception, aborting every "
                         f"rank:\n{text}")
        sys.stderr.flush()
        sys.stdout.flush()
        # the launcher forwards our output through pipes; Abort kills every process at once,
        # so give the forwarder a moment or the one message that explains the failure is lost
        time.sleep(0.5)
    finally:
        MPI.COMM_WORLD.Abort(1)


def install():
    """Install the abort hook as ``sys.excepthook`` (idempotent)."""
    global _previous
    if sys.excepthook is _abort_on_exception:
        return
    _previous = sys.excepthook
    sys.excepthook = _abort_on_exception


def uninstall():
    """Restore the hook that was there before :func:`install`."""
    global _previous
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _previous or sys.__excepthook__
    _previous = None


def is_installed():
    return sys.excepthook is _abort_on_exception
