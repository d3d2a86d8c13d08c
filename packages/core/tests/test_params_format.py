"""MXNet's binary NDArray container: byte layout, fixtures, dtypes, error reporting."""
import os
import struct

import numpy as np
import pytest

import gradloom as mx
from gradloom.base import DTypeError, FormatError
from gradloom.ndarray import serialization as ser

FIXTURES = "/work/shared/fixtures/mxnet"

# reference/formats.md 2.5, written by mxnet 1.9.1
WORKED_EXAMPLE = bytes.fromhex(
    "1201000000000000" "0000000000000000" "0200000000000000"
    "c9fa93f9" "00000000" "02000000" "0200000000000000" "0300000000000000"
    "01000000" "00000000" "00000000"
    "0000803f000000400000404000008040" "0000a0400000c040"
    "c9fa93f9" "00000000" "01000000" "0100000000000000" "01000000" "00000000" "04000000"
    "07000000"
    "0200000000000000"
    "0500000000000000" "6172673a77"
    "0500000000000000" "6175783a6d")

LIST_EXAMPLE = bytes.fromhex(
    "1201000000000000" "0000000000000000" "0100000000000000"
    "c9fa93f9" "00000000" "01000000" "0100000000000000" "01000000" "00000000" "01000000"
    "000000000000f83f" "0000000000000000")


def test_worked_example_bytes(tmp_path):
    assert len(WORKED_EXAMPLE) == 158
    fname = tmp_path / "t.params"
    mx.nd.save(str(fname), {"arg:w": mx.nd.array([[1, 2, 3], [4, 5, 6]], dtype="float32"),
                            "aux:m": mx.nd.array([7], dtype="int32")})
    assert fname.read_bytes() == WORKED_EXAMPLE


def test_worked_example_loads():
    loaded = mx.nd.load_frombuffer(WORKED_EXAMPLE)
    assert list(loaded) == ["arg:w", "aux:m"]
    np.testing.assert_array_equal(loaded["arg:w"].asnumpy(), [[1, 2, 3], [4, 5, 6]])
    assert loaded["arg:w"].dtype == np.float32
    assert loaded["aux:m"].dtype == np.int32 and loaded["aux:m"].asnumpy().tolist() == [7]
    assert loaded["arg:w"].context == mx.cpu(0)


def test_list_example_bytes(tmp_path):
    fname = tmp_path / "l.nd"
    mx.nd.save(str(fname), [mx.nd.array([1.5], dtype="float64")])
    assert fname.read_bytes() == LIST_EXAMPLE
    loaded = mx.nd.load(str(fname))
    assert isinstance(loaded, list) and loaded[0].asnumpy().tolist() == [1.5]
    assert loaded[0].dtype == np.float64


@pytest.mark.parametrize("name", ["mlp-0001.params", "lenet_bn-0001.params"])
def test_fixture_round_trip_is_byte_identical(tmp_path, name):
    src = os.path.join(FIXTURES, name)
    params = mx.nd.load(src)
    assert all(k.startswith(("arg:", "aux:")) for k in params)
    out = tmp_path / name
    mx.nd.save(str(out), params)
    with open(src, "rb") as fobj:
        assert out.read_bytes() == fobj.read()


def test_fixture_contents():
    params = mx.nd.load(os.path.join(FIXTURES, "lenet_bn-0001.params"))
    assert params["arg:conv1_weight"].shape == (20, 1, 5, 5)
    assert params["arg:fc1_weight"].shape == (128, 800)
    var = params["aux:bn1_moving_var"].asnumpy()
    assert var.shape == (20,) and np.all(var > 0)       # moving variances are positive
    assert [k for k in params if k.startswith("aux:")] == ["aux:bn1_moving_mean",
                                                           "aux:bn1_moving_var"]


@pytest.mark.parametrize("dtype,code", [("float32", 0), ("float64", 1), ("float16", 2),
                                        ("uint8", 3), ("int32", 4), ("int8", 5),
                                        ("int64", 6), ("bool", 7)])
def test_dtypes_round_trip(tmp_path, dtype, code):
    rng = np.random.default_rng(0)
    host = (rng.normal(size=(3, 4)) * 50).astype(dtype)
    fname = tmp_path / "d.params"
    mx.nd.save(str(fname), {"x": mx.nd.array(host, dtype=dtype)})
    raw = fname.read_bytes()
    # header 24 + magic/stype/ndim 12 + 2 dims 16 + context 8 -> type flag at offset 60
    assert struct.unpack_from("<i", raw, 60)[0] == code
    back = mx.nd.load(str(fname))["x"]
    assert back.dtype == np.dtype(dtype).type
    np.testing.assert_array_equal(back.asnumpy(), host)


def test_big_endian_input_is_stored_little_endian():
    host = np.arange(6, dtype=">f4").reshape(2, 3)
    data = ser.save_tobuffer([host])
    assert data[-8 - 4:-8] == struct.pack("<f", 5.0)
    np.testing.assert_array_equal(mx.nd.load_frombuffer(data)[0].asnumpy(), host)


def test_zero_dim_is_saved_as_shape_1():
    data = ser.save_tobuffer({"s": mx.nd.array(3.0)})
    assert struct.unpack_from("<iq", data, 24 + 8) == (1, 1)
    back = mx.nd.load_frombuffer(data)["s"]
    assert back.shape == (1,) and back.asscalar() == 3.0


def test_empty_and_size_zero_arrays():
    data = ser.save_tobuffer([mx.nd.zeros((0, 3))])
    back = mx.nd.load_frombuffer(data)[0]
    assert back.shape == (0, 3)


def test_list_vs_dict_and_single_array():
    a, b = mx.nd.ones((2,)), mx.nd.zeros((3,))
    as_list = mx.nd.load_frombuffer(ser.save_tobuffer([a, b]))
    assert isinstance(as_list, list) and [x.shape for x in as_list] == [(2,), (3,)]
    as_dict = mx.nd.load_frombuffer(ser.save_tobuffer({"b": b, "a": a}))
    assert list(as_dict) == ["b", "a"]
    single = mx.nd.load_frombuffer(ser.save_tobuffer(a))
    assert isinstance(single, list) and single[0].asnumpy().tolist() == [1, 1]


def test_unicode_names():
    back = mx.nd.load_frombuffer(ser.save_tobuffer({"arg:poids_é": mx.nd.ones((1,))}))
    assert list(back) == ["arg:poids_é"]


def test_duplicate_names_last_wins():
    data = bytearray(ser.save_tobuffer({"a": mx.nd.array([1.0]), "b": mx.nd.array([2.0])}))
    data[-1:] = b"a"                       # rename "b" to "a"
    back = mx.nd.load_frombuffer(bytes(data))
    assert list(back) == ["a"] and back["a"].asscalar() == 2.0


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(DTypeError, match="str"):
        mx.nd.save(str(tmp_path / "x"), {1: mx.nd.ones((1,))})
    with pytest.raises(DTypeError, match="NDArray"):
        mx.nd.save(str(tmp_path / "x"), {"a": [1, 2]})
    with pytest.raises(DTypeError):
        mx.nd.save(str(tmp_path / "x"), "not arrays")
    with pytest.raises(DTypeError, match="complex"):
        mx.nd.save(str(tmp_path / "x"), [np.zeros(2, np.complex64)])
    assert not os.path.exists(tmp_path / "x")


def test_failed_save_leaves_old_file_intact(tmp_path):
    fname = tmp_path / "keep.params"
    mx.nd.save(str(fname), {"w": mx.nd.ones((2, 2))})
    before = fname.read_bytes()
    with pytest.raises(DTypeError):
        mx.nd.save(str(fname), {"w": mx.nd.ones((2,)), "bad": object()})
    assert fname.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.params"]


def test_failed_write_midway_leaves_old_file_intact(tmp_path, monkeypatch):
    fname = tmp_path / "keep.params"
    mx.nd.save(str(fname), {"w": mx.nd.ones((2, 2))})
    before = fname.read_bytes()
    real_chunks = ser._chunks

    def exploding_chunks(data):
        chunks = real_chunks(data)

        def gen():                 # the disk "fills up" after part of the file is written
            yield chunks[0]
            yield chunks[1]
            raise OSError("disk full")
        return gen()

    monkeypatch.setattr(ser, "_chunks", exploding_chunks)
    with pytest.raises(OSError, match="disk full"):
        mx.nd.save(str(fname), {"w": mx.nd.zeros((5, 5))})
    assert fname.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.params"]


# -- other record versions (formats.md 2.3) ------------------------------------------------
def _container(records, names=()):
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names))
    for name in names:
        out += struct.pack("<Q", len(name)) + name.encode()
    return out


def test_v1_record():
    rec = struct.pack("<Iiqq", 0xF993FAC8, 2, 1, 2) + struct.pack("<iii", 1, 0, 4)
    rec += np.array([[5, 6]], dtype="<i4").tobytes()
    back = mx.nd.load_frombuffer(_container([rec]))[0]
    assert back.shape == (1, 2) and back.asnumpy().tolist() == [[5, 6]]


def test_legacy_record_uint32_dims():
    rec = struct.pack("<III", 2, 2, 1) + struct.pack("<iii", 1, 0, 1)
    rec += np.array([[1.25], [2.5]], dtype="<f8").tobytes()
    back = mx.nd.load_frombuffer(_container([rec], ["x"]))["x"]
    assert back.shape == (2, 1) and back.dtype == np.float64
    np.testing.assert_array_equal(back.asnumpy(), [[1.25], [2.5]])


def test_v3_scalar_and_unknown_shape():
    scalar = struct.pack("<Iii", 0xF993FACA, 0, 0) + struct.pack("<iii", 1, 0, 0)
    scalar += struct.pack("<f", 4.5)
    unknown = struct.pack("<Iii", 0xF993FACA, 0, -1)
    back = mx.nd.load_frombuffer(_container([scalar, unknown]))
    assert back[0].shape == () and back[0].asnumpy() == 4.5
    assert back[1].size == 0


def test_v2_ndim0_is_none_placeholder():
    rec = struct.pack("<Iii", 0xF993FAC9, 0, 0)
    back = mx.nd.load_frombuffer(_container([rec]))
    assert back[0].size == 0


def test_row_sparse_record_is_densified():
    # formats.md 2.5: row_sparse [[0,0],[3,4],[0,0]]
    rec = struct.pack("<Ii", 0xF993FAC9, 1) + struct.pack("<iqq", 2, 1, 2)
    rec += struct.pack("<iqq", 2, 3, 2) + struct.pack("<iii", 1, 0, 0)
    rec += struct.pack("<iiq", 6, 1, 1) + struct.pack("<ff", 3, 4) + struct.pack("<q", 1)
    back = mx.nd.load_frombuffer(_container([rec]))[0]
    np.testing.assert_array_equal(back.asnumpy(), [[0, 0], [3, 4], [0, 0]])


def test_csr_record_is_densified():
    # formats.md 2.5: csr [[0,1],[2,0]]
    rec = struct.pack("<Ii", 0xF993FAC9, 2) + struct.pack("<iq", 1, 2)
    rec += struct.pack("<iqq", 2, 2, 2) + struct.pack("<iii", 1, 0, 0)
    rec += struct.pack("<iiq", 6, 1, 3) + struct.pack("<iiq", 6, 1, 2)
    rec += struct.pack("<ff", 1, 2) + struct.pack("<qqq", 0, 1, 2) + struct.pack("<qq", 1, 0)
    back = mx.nd.load_frombuffer(_container([rec]))[0]
    np.testing.assert_array_equal(back.asnumpy(), [[0, 1], [2, 0]])


def test_bfloat16_is_widened_to_float32():
    rec = struct.pack("<Iiiq", 0xF993FAC9, 0, 1, 2) + struct.pack("<iii", 1, 0, 12)
    rec += struct.pack("<HH", 0x3FC0, 0xC000)          # 1.5, -2.0 in bfloat16
    back = mx.nd.load_frombuffer(_container([rec]))[0]
    assert back.dtype == np.float32 and back.asnumpy().tolist() == [1.5, -2.0]


def test_single_record_raw_bytes():
    rec = ser.dumps_record(mx.nd.array([[1, 2]]))
    assert rec[:4] == bytes.fromhex("c9fa93f9")
    np.testing.assert_array_equal(ser.loads_record(rec), [[1, 2]])


# -- errors ---------------------------------------------------------------------------------
def _error(data):
    with pytest.raises(FormatError) as info:
        mx.nd.load_frombuffer(data)
    return str(info.value)


def test_bad_magic_names_buffer():
    msg = _error(b"\x13" + WORKED_EXAMPLE[1:])
    assert "<buffer>" in msg and "magic" in msg


def test_truncation_reports_offset():
    msg = _error(WORKED_EXAMPLE[:70])
    assert "truncated" in msg and "70" in msg


def test_unknown_dtype_code():
    data = bytearray(WORKED_EXAMPLE)
    data[0x3C] = 99
    assert "dtype code 99" in _error(bytes(data))


def test_impossible_shape():
    data = bytearray(WORKED_EXAMPLE)
    data[0x24:0x2C] = struct.pack("<q", 1 << 60)       # dim 2 -> 2**60: no allocation
    assert "truncated" in _error(bytes(data))
    data[0x24:0x2C] = struct.pack("<q", -5)
    assert "negative" in _error(bytes(data))
    data = bytearray(WORKED_EXAMPLE)
    data[0x20:0x24] = struct.pack("<i", 100000)
    assert "ndim" in _error(bytes(data))


def test_bad_name_count_and_trailing_bytes():
    data = bytearray(WORKED_EXAMPLE)
    data[0x7C] = 1
    assert "1 names for 2 arrays" in _error(bytes(data))
    assert "unexpected bytes" in _error(WORKED_EXAMPLE + b"\0")


def test_huge_array_count():
    data = bytearray(WORKED_EXAMPLE)
    data[16:24] = struct.pack("<Q", 1 << 62)
    assert "more than the file can hold" in _error(bytes(data))


def test_load_names_the_file(tmp_path):
    fname = tmp_path / "broken.params"
    fname.write_bytes(WORKED_EXAMPLE[:100])
    with pytest.raises(FormatError, match="broken.params"):
        mx.nd.load(str(fname))
    with pytest.raises(FormatError, match="does not exist"):
        mx.nd.load(str(tmp_path / "missing.params"))


def test_sparse_densify_limit(monkeypatch):
    rec = struct.pack("<Ii", 0xF993FAC9, 1) + struct.pack("<iqq", 2, 1, 2)
    rec += struct.pack("<iqq", 2, 1000, 2) + struct.pack("<iii", 1, 0, 0)
    rec += struct.pack("<iiq", 6, 1, 1) + struct.pack("<ff", 3, 4) + struct.pack("<q", 1)
    data = _container([rec])
    assert mx.nd.load_frombuffer(data)[0].shape == (1000, 2)
    monkeypatch.setattr(ser, "MAX_DENSIFY_BYTES", 64)
    assert "MAX_DENSIFY_BYTES" in _error(data)
