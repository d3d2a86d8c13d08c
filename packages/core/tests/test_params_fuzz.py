"""The ``.params`` reader on hostile input: only ``FormatError`` or a valid result."""
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

import gradloom as mx
from gradloom.base import FormatError
from gradloom.ndarray import serialization as ser


@pytest.fixture(autouse=True, scope="module")
def small_densify_limit():
    # mutated sparse shapes must be refused, not expanded into gigabytes of zeros
    old = ser.MAX_DENSIFY_BYTES
    ser.MAX_DENSIFY_BYTES = 1 << 20
    yield
    ser.MAX_DENSIFY_BYTES = old

VALID = ser.save_tobuffer({
    "arg:w": mx.nd.array([[1, 2, 3], [4, 5, 6]]),
    "arg:b": mx.nd.array([0.5, -1], dtype="float64"),
    "aux:m": mx.nd.array([7], dtype="int32"),
    "aux:h": mx.nd.array([1, 2, 3, 4], dtype="float16"),
    "x": mx.nd.array([[9]], dtype="uint8"),
})


def _load_or_format_error(data):
    try:
        out = mx.nd.load_frombuffer(data)
    except FormatError as err:
        assert "<buffer>" in str(err)
        return None
    assert isinstance(out, (list, dict))
    for arr in (out.values() if isinstance(out, dict) else out):
        host = arr.asnumpy()
        assert isinstance(host, np.ndarray)
    return out


def test_every_truncation_of_a_valid_file():
    for length in range(len(VALID)):
        assert _load_or_format_error(VALID[:length]) is None, length
    assert _load_or_format_error(VALID) is not None


def test_every_single_byte_set_to_extremes():
    # deterministic sweep: each position set to 0x00 and 0xff
    for pos in range(len(VALID)):
        for value in (0x00, 0xFF):
            data = bytearray(VALID)
            data[pos] = value
            _load_or_format_error(bytes(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes(data):
    _load_or_format_error(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_random_bytes_after_valid_header(tail):
    _load_or_format_error(VALID[:24] + tail)


@settings(max_examples=250, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 255))
def test_single_byte_mutation(pos, value):
    data = bytearray(VALID)
    data[pos] = value
    out = _load_or_format_error(bytes(data))
    if out is not None and pos >= 24:
        # a surviving mutation must have hit data bytes or names, never the structure
        assert len(out) in (5, 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)),
                min_size=2, max_size=6))
def test_multi_byte_mutation(edits):
    data = bytearray(VALID)
    for pos, value in edits:
        data[pos] = value
    _load_or_format_error(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8),
                       st.tuples(st.sampled_from(["float32", "float64", "float16", "uint8",
                                                  "int8", "int32", "int64"]),
                                 st.lists(st.integers(0, 3), min_size=0, max_size=3)),
                       max_size=4))
def test_save_load_round_trip(spec):
    rng = np.random.default_rng(0)
    data = {name: (rng.normal(size=shape) * 10).astype(dtype)
            for name, (dtype, shape) in spec.items()}
    blob = ser.save_tobuffer({k: mx.nd.array(v, dtype=v.dtype) for k, v in data.items()})
    back = mx.nd.load_frombuffer(blob)
    assert list(back) == list(data)
    for name, host in data.items():
        expected = host.reshape(1) if host.ndim == 0 else host
        assert back[name].dtype == host.dtype.type
        np.testing.assert_array_equal(back[name].asnumpy(), expected)
    # saving what was loaded reproduces the bytes
    assert ser.save_tobuffer(back) == blob


def _sparse_and_legacy_file():
    # csr [[0,1],[2,0]] (formats.md 2.5), a row_sparse record, a V1 and a legacy record
    csr = struct.pack("<Ii", 0xF993FAC9, 2) + struct.pack("<iq", 1, 2)
    csr += struct.pack("<iqq", 2, 2, 2) + struct.pack("<iii", 1, 0, 0)
    csr += struct.pack("<iiq", 6, 1, 3) + struct.pack("<iiq", 6, 1, 2)
    csr += struct.pack("<ff", 1, 2) + struct.pack("<qqq", 0, 1, 2) + struct.pack("<qq", 1, 0)
    rsp = struct.pack("<Ii", 0xF993FAC9, 1) + struct.pack("<iqq", 2, 1, 2)
    rsp += struct.pack("<iqq", 2, 3, 2) + struct.pack("<iii", 1, 0, 0)
    rsp += struct.pack("<iiq", 6, 1, 1) + struct.pack("<ff", 3, 4) + struct.pack("<q", 1)
    v1 = struct.pack("<Iiq", 0xF993FAC8, 1, 2) + struct.pack("<iii", 1, 0, 3) + b"\x01\x02"
    legacy = struct.pack("<II", 1, 1) + struct.pack("<iii", 1, 0, 0) + struct.pack("<f", 9)
    records = [csr, rsp, v1, legacy]
    return (struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
            + struct.pack("<Q", 0))


OTHER = _sparse_and_legacy_file()


def test_other_record_kinds_load():
    out = mx.nd.load_frombuffer(OTHER)
    assert [a.shape for a in out] == [(2, 2), (3, 2), (2,), (1,)]
    assert out[0].asnumpy().tolist() == [[0, 1], [2, 0]]


def test_other_record_kinds_truncations_and_mutations():
    for length in range(len(OTHER)):
        assert _load_or_format_error(OTHER[:length]) is None, length
    for pos in range(len(OTHER)):
        for value in (0x00, 0x01, 0x7F, 0xFF):
            data = bytearray(OTHER)
            data[pos] = value
            _load_or_format_error(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(OTHER) - 1), st.integers(0, 255))
def test_other_record_kinds_random_mutation(pos, value):
    data = bytearray(OTHER)
    data[pos] = value
    _load_or_format_error(bytes(data))
