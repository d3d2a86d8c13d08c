"""Atomic writes and checked reads."""
import os
import stat

import pytest

from gradloom.base import FormatError
from gradloom.fileio import atomic_write, read_bytes_checked


def test_atomic_write_creates_file(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_write(target) as fobj:
        fobj.write(b"\x00\x01abc")
    assert target.read_bytes() == b"\x00\x01abc"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_text_mode(tmp_path):
    target = tmp_path / "sym.json"
    with atomic_write(str(target), "w") as fobj:
        fobj.write('{"nodes": ["é"]}\n')
    assert target.read_text(encoding="utf-8") == '{"nodes": ["é"]}\n'


def test_atomic_write_replaces_existing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old content that is longer")
    with atomic_write(target) as fobj:
        fobj.write(b"new")
    assert target.read_bytes() == b"new"


def test_exception_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_write(target) as fobj:
            fobj.write(b"half of the new cont")
            # the target is untouched while the new content is being written
            assert target.read_bytes() == b"old"
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_exception_without_previous_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "new.bin") as fobj:
            fobj.write(b"x")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "p.bin") as fobj:
            fobj.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "p.bin").st_mode) == 0o644


def test_bad_mode_and_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "a", "ab"):
            pass
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "no" / "such" / "dir.bin"):
            pass


def test_read_bytes_checked(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert read_bytes_checked(tmp_path / "f") == b"abc"
    with pytest.raises(FormatError, match="does not exist"):
        read_bytes_checked(tmp_path / "missing", "parameter file")
    with pytest.raises(FormatError, match="directory"):
        read_bytes_checked(tmp_path)


def test_bytes_path_and_symlink(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    with atomic_write(os.fsencode(str(link))) as fobj:
        fobj.write(b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["link.bin", "real.bin"]
