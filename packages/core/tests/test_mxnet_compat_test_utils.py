"""``mx.test_utils.download`` as MXNet's example data helpers call it.

``example/module/utils/get_data.py`` calls ``mx.test_utils.download(url, zippath)`` only
when the MNIST files are missing; the function must exist and keep existing files.
"""
import pytest

import gradloom as mx
from gradloom.base import GradloomError


def test_existing_file_is_returned_without_fetching(tmp_path):
    target = tmp_path / "mnist.zip"
    target.write_bytes(b"already here")
    # an unreachable URL proves nothing was fetched
    got = mx.test_utils.download("http://invalid.invalid/mnist.zip", str(target), retries=1)
    assert got == str(target)
    assert target.read_bytes() == b"already here"


def test_fetches_into_dirname_with_url_name(tmp_path):
    src = tmp_path / "src" / "data.bin"
    src.parent.mkdir()
    src.write_bytes(bytes(range(256)) * 4)
    out = mx.test_utils.download(src.as_uri(), dirname=str(tmp_path / "dst"))
    assert out == str(tmp_path / "dst" / "data.bin")
    assert (tmp_path / "dst" / "data.bin").read_bytes() == src.read_bytes()
    src.write_bytes(b"new")
    mx.test_utils.download(src.as_uri(), dirname=str(tmp_path / "dst"), overwrite=True)
    assert (tmp_path / "dst" / "data.bin").read_bytes() == b"new"


def test_failure_names_url_and_where_to_put_the_file(tmp_path):
    missing = (tmp_path / "nope.bin").as_uri()
    with pytest.raises(GradloomError, match="place it at .*got.bin"):
        mx.test_utils.download(missing, str(tmp_path / "got.bin"), retries=1)
    assert not (tmp_path / "got.bin").exists()
