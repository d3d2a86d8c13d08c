"""Crash-safe file writing and checked reading.

Every file gradloom writes goes through :func:`atomic_write`: the bytes go to a temporary
file in the target's directory (same filesystem, so the final rename is atomic), are flushed
to disk, and only then replace the target. A crash or an exception while writing leaves the
previous file untouched and no temporary file behind.
"""
import contextlib
import os
import tempfile

from .base import FormatError

__all__ = ["atomic_write", "read_bytes_checked"]


def _fsync_dir(directory):
    # Make the rename itself durable; not every platform/filesystem lets us open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    ``mode`` is ``'wb'`` (bytes) or ``'w'`` (text, ``encoding`` default UTF-8). If the body
    raises, the temporary file is removed, ``path`` keeps its old content and the exception
    propagates.
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_write supports modes 'w'/'wt' and 'wb', not {mode!r}")
    path = os.fsdecode(os.fspath(path))
    if os.path.islink(path):
        # write through the link (replacing the link itself would detach it from its target)
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    try:
        if "b" in mode:
            fobj = os.fdopen(fd, "wb")
        else:
            fobj = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with fobj:
            yield fobj
            fobj.flush()
            os.fsync(fobj.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def read_bytes_checked(path, what="file"):
    """The whole content of ``path`` as bytes; a missing/unreadable file raises FormatError.

    ``what`` names the kind of file in the message (e.g. ``'parameter file'``).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as fobj:
            return fobj.read()
    except FileNotFoundError:
        raise FormatError(f"{what} {path!r} does not exist; check the path "
                          f"(and the prefix/epoch of a checkpoint)") from None
    except IsADirectoryError:
        raise FormatError(f"{what} {path!r} is a directory, not a file; pass the file's "
                          f"path") from None
    except OSError as err:
        raise FormatError(f"{what} {path!r} cannot be read: {err.strerror or err}; "
                          f"check its permissions") from None
