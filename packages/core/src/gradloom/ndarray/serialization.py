"""MXNet's binary NDArray container (``.params``, ``.nd``, ``.buckets``), both ways.

Layout (all integers little-endian; see reference/formats.md section 2):

    uint64 0x112, uint64 0, uint64 n, n array records, uint64 m (0 or n), m names

A record written here is MXNet's "V2" dense record:

    uint32 0xF993FAC9, int32 stype 0, int32 ndim, ndim x int64 dims,
    int32 dev_type 1, int32 dev_id 0, int32 dtype code, raw C-order data

so files are byte-identical to what MXNet 1.x writes for the same arrays in the same order.
The reader also accepts V3 (numpy-shape) records, V1 records, pre-V1 legacy records and the
sparse (row_sparse, csr) storage types, which it densifies.

The reader never trusts a size from the file: every count is checked against the bytes that
remain before anything is allocated, and every problem becomes a ``FormatError`` that names
the file and the byte offset.
"""
import os
import struct

import numpy as np

from ..base import DTypeError, FormatError
from ..fileio import atomic_write, read_bytes_checked

__all__ = ["save", "load", "load_frombuffer", "save_tobuffer", "dumps_record",
           "loads_record", "DTYPE_TO_CODE", "CODE_TO_DTYPE"]

LIST_MAGIC = 0x112
RECORD_V1 = 0xF993FAC8
RECORD_V2 = 0xF993FAC9
RECORD_V3 = 0xF993FACA

STYPE_DEFAULT, STYPE_ROW_SPARSE, STYPE_CSR = 0, 1, 2
_NUM_AUX = {STYPE_ROW_SPARSE: 1, STYPE_CSR: 2}
_STYPE_NAMES = {STYPE_ROW_SPARSE: "row_sparse", STYPE_CSR: "csr"}

# mshadow type flags. Code 12 (bfloat16) has no numpy type: it is read into float32.
CODE_TO_DTYPE = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
    8: np.dtype("<i2"), 9: np.dtype("<u2"), 10: np.dtype("<u4"), 11: np.dtype("<u8"),
}
# keyed by kind + itemsize so that any byte order of a dtype finds its code
DTYPE_TO_CODE = {f"{dt.kind}{dt.itemsize}": code for code, dt in CODE_TO_DTYPE.items()}
_BFLOAT16 = 12

# Context dev_type codes: 1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared. Only informational.
_DEV_TYPES = (1, 2, 3, 5)

# No real array has more dimensions than this; a larger ndim means a corrupted file and
# would otherwise make us read millions of bogus dims.
_MAX_NDIM = 32

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I32x3 = struct.Struct("<iii")
_REC_HEAD = struct.Struct("<Iii")     # magic, stype, ndim
_REC_TAIL = struct.Struct("<iii")     # dev_type, dev_id, type_flag
_LIST_HEAD = struct.Struct("<QQQ")


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def _dtype_code(dtype, where):
    dt = np.dtype(dtype)
    code = DTYPE_TO_CODE.get(f"{dt.kind}{dt.itemsize}") if dt.fields is None else None
    if code is None:
        supported = ", ".join(sorted({d.name for d in CODE_TO_DTYPE.values()}))
        raise DTypeError(f"cannot save {where}: dtype {dt} has no MXNet type code; "
                         f"convert it with .astype(...) to one of {supported}")
    return code


def _host_array(value, where):
    """A C-contiguous little-endian numpy array of ``value`` (NDArray or numpy array)."""
    from .ndarray import NDArray
    if isinstance(value, NDArray):
        arr = value.asnumpy() if not isinstance(value.raw, np.ndarray) else value.raw
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        raise DTypeError(f"cannot save {where}: expected an NDArray, got "
                         f"{type(value).__name__}; wrap it with gradloom.nd.array(...)")
    code = _dtype_code(arr.dtype, where)
    target = CODE_TO_DTYPE[code]
    if arr.dtype != target:          # big-endian input: store little-endian like MXNet
        arr = arr.astype(target)
    if arr.ndim == 0:
        # MXNet's legacy reader treats ndim 0 as "no array" and then desynchronises, so a
        # scalar is stored as shape (1,) (formats.md 2.6).
        arr = arr.reshape(1)
    return np.ascontiguousarray(arr), code


def _record_header(arr, code):
    """The V2 record header of ``arr`` (data follows separately, to avoid a copy)."""
    head = _REC_HEAD.pack(RECORD_V2, STYPE_DEFAULT, arr.ndim)
    dims = struct.pack(f"<{arr.ndim}q", *arr.shape)
    return head + dims + _REC_TAIL.pack(1, 0, code)


def _normalise(data):
    """(names or None, list of values) from an NDArray, a list/tuple or a str-keyed dict."""
    from .ndarray import NDArray
    if isinstance(data, (NDArray, np.ndarray)):
        return None, [data]
    if isinstance(data, dict):
        names = []
        for key in data:
            if not isinstance(key, str):
                raise DTypeError(f"cannot save a dict with key {key!r} of type "
                                 f"{type(key).__name__}: parameter names must be str")
            names.append(key)
        return names, list(data.values())
    if isinstance(data, (list, tuple)):
        return None, list(data)
    raise DTypeError(f"nd.save expects an NDArray, a list of NDArrays or a dict str -> "
                     f"NDArray, got {type(data).__name__}")


def _chunks(data):
    """The file as a list of bytes-like pieces (array data as zero-copy memoryviews)."""
    names, values = _normalise(data)
    chunks = [_LIST_HEAD.pack(LIST_MAGIC, 0, len(values))]
    for i, value in enumerate(values):
        where = f"entry {names[i]!r}" if names is not None else f"list item {i}"
        arr, code = _host_array(value, where)
        chunks.append(_record_header(arr, code))
        if arr.size:
            chunks.append(memoryview(arr).cast("B"))
    if names is None:
        chunks.append(_U64.pack(0))
    else:
        chunks.append(_U64.pack(len(names)))
        for name in names:
            raw = name.encode("utf-8")
            chunks.append(_U64.pack(len(raw)))
            chunks.append(raw)
    return chunks


def save(fname, data):
    """Write ``data`` (NDArray, list of NDArrays, or dict str -> NDArray) to ``fname``.

    Dict entries are written in iteration order and loaded back as a dict; a list (or a
    single NDArray) is loaded back as a list. The file appears atomically.
    """
    if not isinstance(fname, (str, bytes, os.PathLike)):
        raise DTypeError(f"nd.save: fname must be a path, got {type(fname).__name__}")
    chunks = _chunks(data)          # build (and validate) everything before touching disk
    with atomic_write(fname, "wb") as fobj:
        for chunk in chunks:
            fobj.write(chunk)


def save_tobuffer(data):
    """The bytes :func:`save` would write."""
    return b"".join(_chunks(data))


def dumps_record(value):
    """One V2 record without the list container (MXNet's "raw bytes" form, formats.md 2.8)."""
    arr, code = _host_array(value, "array")
    return _record_header(arr, code) + arr.tobytes()


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
class _Reader:
    """Cursor over a bytes buffer whose every read is bounds-checked."""

    __slots__ = ("buf", "pos", "source")

    def __init__(self, buf, source):
        self.buf = memoryview(buf).cast("B")
        self.pos = 0
        self.source = source

    def fail(self, what, at=None):
        at = self.pos if at is None else at
        raise FormatError(f"invalid NDArray file {self.source}: {what} (at byte {at} of "
                          f"{len(self.buf)}); the file is truncated or corrupted, write it "
                          f"again with nd.save / save_checkpoint")

    def need(self, nbytes, what):
        if nbytes > len(self.buf) - self.pos:
            self.fail(f"truncated while reading {what}: needs {nbytes} bytes, only "
                      f"{len(self.buf) - self.pos} left")

    def unpack(self, st, what):
        self.need(st.size, what)
        values = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return values

    def u64(self, what):
        return self.unpack(_U64, what)[0]

    def take(self, nbytes, what):
        self.need(nbytes, what)
        out = self.buf[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return out

    def shape64(self, what, allow_unknown=False):
        """``Tuple<int64>``: int32 ndim, ndim x int64. Returns None for "unknown" (ndim -1)."""
        start = self.pos
        (ndim,) = self.unpack(_I32, f"{what} ndim")
        if allow_unknown and ndim == -1:
            return None
        if ndim < 0 or ndim > _MAX_NDIM:
            self.fail(f"{what} has impossible ndim {ndim}", start)
        dims = self.unpack(struct.Struct(f"<{ndim}q"), f"{what} dims") if ndim else ()
        for d in dims:
            if d < 0 and not (allow_unknown and d == -1):
                self.fail(f"{what} {dims} has a negative dimension", start)
        if allow_unknown and -1 in dims:
            return None
        return tuple(dims)

    def shape32(self, ndim, what):
        start = self.pos - 4
        if ndim > _MAX_NDIM:
            self.fail(f"unknown record magic 0x{ndim:08x} (not an NDArray record; read as a "
                      f"legacy ndim it is impossible)", start)
        return self.unpack(struct.Struct(f"<{ndim}I"), f"{what} dims") if ndim else ()


def _nbytes(shape, itemsize):
    n = itemsize
    for d in shape:
        n *= d
    return n


def _read_dtype(rd, what):
    start = rd.pos
    (code,) = rd.unpack(_I32, f"{what} type flag")
    if code in CODE_TO_DTYPE:
        return code, CODE_TO_DTYPE[code]
    if code == _BFLOAT16:
        return code, np.dtype("<u2")
    rd.fail(f"{what} has unknown dtype code {code} (known: 0-12)", start)


# numpy cannot even describe arrays whose byte size (ignoring zero dims) passes this
_MAX_EXTENT = 1 << 62


def _check_extent(rd, shape, itemsize, what, at):
    extent = itemsize
    for d in shape:
        extent *= max(d, 1)
    if extent > _MAX_EXTENT:
        rd.fail(f"{what} has impossible shape {shape}", at)


def _read_data(rd, shape, code, dtype, what):
    _check_extent(rd, shape, dtype.itemsize, what, rd.pos)
    nbytes = _nbytes(shape, dtype.itemsize)
    raw = rd.take(nbytes, f"{what} data ({nbytes} bytes for shape {shape})")
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
    if code == _BFLOAT16:
        # bfloat16 is the top half of a float32: widen it exactly.
        return (arr.astype("<u4") << 16).view("<f4").astype(np.float32)
    if dtype.byteorder == "<" and not np.little_endian:   # pragma: no cover (BE hosts)
        return arr.astype(dtype.newbyteorder("="))
    return arr.copy()


def _read_context(rd, what):
    start = rd.pos
    dev_type, dev_id = rd.unpack(struct.Struct("<ii"), f"{what} context")
    if dev_type not in _DEV_TYPES or dev_id < 0:
        rd.fail(f"{what} has an invalid context (dev_type {dev_type}, dev_id {dev_id})", start)


def _empty_placeholder():
    # MXNet's "none" array (saved with ndim 0): no data, no dtype. A size-0 float32 array is
    # the closest thing that still behaves like an array.
    return np.empty((0,), dtype=np.float32)


#: Largest dense array (bytes) a sparse record is expanded into. The logical shape of a
#: sparse array is not backed by bytes in the file, so a corrupted one could otherwise ask
#: for any amount of memory. Raise it to load genuinely huge sparse arrays.
MAX_DENSIFY_BYTES = 1 << 31


def _dense_zeros(rd, shape, dtype, what, start):
    _check_extent(rd, shape, dtype.itemsize, what, start)
    nbytes = _nbytes(shape, dtype.itemsize)
    if nbytes > MAX_DENSIFY_BYTES:
        rd.fail(f"{what}: sparse array of shape {shape} would need {nbytes} bytes as a dense "
                f"array, more than MAX_DENSIFY_BYTES={MAX_DENSIFY_BYTES} (raise "
                f"gradloom.ndarray.serialization.MAX_DENSIFY_BYTES if the file is genuine)",
                start)
    try:
        return np.zeros(shape, dtype=dtype)
    except (MemoryError, ValueError):
        rd.fail(f"{what}: the dense form of shape {shape} ({_nbytes(shape, dtype.itemsize)} "
                f"bytes) cannot be allocated; the shape is corrupted or too large to densify",
                start)


def _densify(rd, stype, storage_shape, shape, data, aux, what, start):
    if stype == STYPE_ROW_SPARSE:
        (rows,) = aux
        if storage_shape[:1] != rows.shape or storage_shape[1:] != shape[1:]:
            rd.fail(f"{what}: row_sparse storage shape {storage_shape} does not fit shape "
                    f"{shape} with {rows.size} row indices", start)
        rows = rows.astype(np.int64, copy=False)
        if rows.size and (rows.min() < 0 or rows.max() >= shape[0]):
            rd.fail(f"{what}: row_sparse row index out of range for shape {shape}", start)
        dense = _dense_zeros(rd, shape, data.dtype, what, start)
        dense[rows] = data
        return dense
    indptr, indices = aux
    if (len(shape) != 2 or data.ndim != 1 or indptr.shape != (shape[0] + 1,)
            or indices.shape != data.shape):
        rd.fail(f"{what}: csr arrays (indptr {indptr.shape}, indices {indices.shape}, data "
                f"{data.shape}) do not fit shape {shape}", start)
    indptr = indptr.astype(np.int64, copy=False)
    indices = indices.astype(np.int64, copy=False)
    if (indptr.size and (indptr[0] != 0 or indptr[-1] != data.size
                         or np.any(np.diff(indptr) < 0))):
        rd.fail(f"{what}: csr indptr is not a valid row pointer", start)
    if indices.size and (indices.min() < 0 or indices.max() >= shape[1]):
        rd.fail(f"{what}: csr column index out of range for shape {shape}", start)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    dense = _dense_zeros(rd, shape, data.dtype, what, start)
    dense[rows, indices] = data
    return dense


def _read_record(rd, what):
    """One array record -> numpy array (dense, host memory)."""
    start = rd.pos
    (magic,) = rd.unpack(_U32, f"{what} record magic")
    if magic in (RECORD_V2, RECORD_V3):
        (stype,) = rd.unpack(_I32, f"{what} storage type")
        if stype not in (STYPE_DEFAULT, STYPE_ROW_SPARSE, STYPE_CSR):
            rd.fail(f"{what} has unknown storage type {stype} (known: 0 dense, 1 "
                    f"row_sparse, 2 csr)", start + 4)
        if magic == RECORD_V3 and stype != STYPE_DEFAULT:
            rd.fail(f"{what}: a numpy-shape (V3) record must be dense, found "
                    f"{_STYPE_NAMES[stype]}", start + 4)
        storage_shape = rd.shape64(f"{what} storage shape") if stype != STYPE_DEFAULT else None
        if magic == RECORD_V3:
            # numpy-shape semantics: ndim 0 is a real scalar, unknown (-1) means "none".
            shape = rd.shape64(f"{what} shape", allow_unknown=True)
            if shape is None:
                return _empty_placeholder()
        else:
            shape = rd.shape64(f"{what} shape")
            if len(shape) == 0:
                return _empty_placeholder()
        _read_context(rd, what)
        code, dtype = _read_dtype(rd, what)
        if stype == STYPE_DEFAULT:
            return _read_data(rd, shape, code, dtype, what)
        aux_meta = []
        for k in range(_NUM_AUX[stype]):
            aux_code, aux_dtype = _read_dtype(rd, f"{what} aux {k}")
            aux_meta.append((aux_code, aux_dtype, rd.shape64(f"{what} aux {k} shape")))
        data = _read_data(rd, storage_shape, code, dtype, what)
        aux = [_read_data(rd, s, c, d, f"{what} aux {k}")
               for k, (c, d, s) in enumerate(aux_meta)]
        if any(a.dtype.kind not in "iu" for a in aux):
            rd.fail(f"{what}: sparse index arrays must be integers", start)
        return _densify(rd, stype, storage_shape, shape, data, aux, what, start)
    if magic == RECORD_V1:
        shape = rd.shape64(f"{what} shape")
    else:
        # pre-V1 legacy: the word just read is ndim, followed by uint32 dims
        shape = rd.shape32(magic, f"{what} shape")
    if len(shape) == 0:
        return _empty_placeholder()
    _read_context(rd, what)
    code, dtype = _read_dtype(rd, what)
    return _read_data(rd, shape, code, dtype, what)


def _parse(buf, source):
    """(names or None, list of numpy arrays) from the bytes of a container."""
    rd = _Reader(buf, source)
    magic, _reserved, count = rd.unpack(_LIST_HEAD, "header")
    if magic != LIST_MAGIC:
        rd.fail(f"bad magic 0x{magic:x}, expected 0x112 (this is not an MXNet/gradloom "
                f"NDArray file)", 0)
    # Each record takes at least 4 bytes: a count larger than that is corruption, not a
    # reason to loop for ages.
    if count > (len(rd.buf) - rd.pos) // 4:
        rd.fail(f"header claims {count} arrays, more than the file can hold", 16)
    arrays = [_read_record(rd, f"array {i}") for i in range(count)]
    name_pos = rd.pos
    num_names = rd.u64("number of names")
    if num_names not in (0, count):
        rd.fail(f"{num_names} names for {count} arrays (must be 0 or {count})", name_pos)
    names = None
    if num_names:
        names = []
        for i in range(num_names):
            length = rd.u64(f"length of name {i}")
            at = rd.pos
            raw = rd.take(length, f"name {i} ({length} bytes)")
            try:
                names.append(bytes(raw).decode("utf-8"))
            except UnicodeDecodeError:
                rd.fail(f"name {i} is not valid UTF-8", at)
    if rd.pos != len(rd.buf):
        rd.fail(f"{len(rd.buf) - rd.pos} unexpected bytes after the last name", rd.pos)
    return names, arrays


def _wrap(names, arrays):
    from ..context import cpu
    from .ndarray import NDArray
    ctx = cpu(0)
    nds = [NDArray(a, ctx) for a in arrays]
    if names is None:
        return nds
    return dict(zip(names, nds))     # duplicate names: the last one wins, as in MXNet


def load_frombuffer(buf):
    """Arrays from the bytes of a ``.params``/``.nd`` file: a list, or a dict if named."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise DTypeError(f"load_frombuffer expects bytes, got {type(buf).__name__}")
    return _wrap(*_parse(buf, "<buffer>"))


def load(fname):
    """Arrays saved by ``save`` (or MXNet): a list, or a dict if names were saved.

    The arrays are on ``cpu(0)``; move them with ``as_in_context``.
    """
    if not isinstance(fname, (str, bytes, os.PathLike)):
        raise DTypeError(f"nd.load: fname must be a path, got {type(fname).__name__}")
    buf = read_bytes_checked(fname, "NDArray file")
    return _wrap(*_parse(buf, repr(os.fsdecode(fname))))


def loads_record(buf, source="<buffer>"):
    """A numpy array from one record without the list container (formats.md 2.8)."""
    rd = _Reader(buf, source)
    arr = _read_record(rd, "record")
    if rd.pos != len(rd.buf):
        rd.fail(f"{len(rd.buf) - rd.pos} unexpected bytes after the record", rd.pos)
    return arr
