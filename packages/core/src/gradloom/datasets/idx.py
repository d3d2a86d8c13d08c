"""Reader for the IDX format of the MNIST family (gzip-compressed or raw).

Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
dimension, then the values row-major in big-endian order.
"""
import gzip
import os

import numpy as np

from ..base import FormatError

# IDX type code -> big-endian numpy dtype
_IDX_TYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def _read_all(path):
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open  # by content, not by file name
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as err:
        raise FormatError(f"{path}: cannot decompress ({err}); the file is corrupted or "
                          "truncated, download it again") from err


def parse_idx(buf, source="<buffer>"):
    """Parse IDX bytes into a numpy array in native byte order."""
    if len(buf) < 4:
        raise FormatError(f"{source}: {len(buf)} bytes is too short for an IDX header; "
                          "download the file again")
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_TYPES:
        raise FormatError(f"{source}: not an IDX file (magic {buf[:4].hex()}); expected "
                          "00 00 <type> <ndim>, e.g. 00000803 for MNIST images")
    dtype = _IDX_TYPES[buf[2]]
    ndim = buf[3]
    if ndim == 0:
        raise FormatError(f"{source}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(buf) < header_len:
        raise FormatError(f"{source}: truncated IDX header ({len(buf)} bytes, need "
                          f"{header_len}); download the file again")
    shape = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(buf) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise FormatError(f"{source}: IDX data {what}: header shape {shape} needs {expected} "
                          f"bytes, file has {actual}; download the file again")
    arr = np.frombuffer(buf, dtype=dtype, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path):
    """Read an IDX file (``.gz`` or raw) into a numpy array; raises ``FormatError``."""
    path = os.fspath(path)
    return parse_idx(_read_all(path), source=path)
