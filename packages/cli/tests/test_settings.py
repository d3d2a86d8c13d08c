"""Config files, --context parsing and data specs (the parts of train that need no Module)."""
import numpy as np
import pytest

from gradloom.base import BackendUnavailableError, ConfigError, FormatError
from gradloom_cli.config import (TrainSettings, apply_config_file, apply_flags,
                                 parse_key_values)
from gradloom_cli.contexts import parse_contexts
from gradloom_cli.data import load_arrays, shape_for
from gradloom_cli.zoo import get_model, model_names

from cli_fakes import FakeBackend, hookimpl


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('model = "lenet"\nbatch-size = 32\nepochs = 2\n'
                    '[optimizer_params]\nlearning_rate = 0.05\nmomentum = 0.9\n')
    settings = apply_config_file(TrainSettings(), path)
    assert (settings.model, settings.batch_size, settings.epochs) == ("lenet", 32, 2)
    apply_flags(settings, {"epochs": 5, "model": None,
                           "optimizer_params": {"learning_rate": 0.01}})
    assert (settings.model, settings.epochs) == ("lenet", 5)
    assert settings.optimizer_params == {"learning_rate": 0.01, "momentum": 0.9}


@pytest.mark.parametrize("text, message", [
    ("epoch = 3\n", "run.toml: unknown key 'epoch'; did you mean 'epochs'?"),
    ("epochs = 'three'\n", "run.toml: 'epochs' must be a int, got str 'three'"),
    ("batch_size = 0\n", "run.toml: 'batch_size' must be at least 1, got 0"),
    ("resume = 1\n", "run.toml: 'resume' must be a bool, got int 1"),
    ("model = \n", "run.toml is not valid TOML"),
])
def test_config_errors_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        apply_config_file(TrainSettings(), path)
    assert str(info.value).startswith(f"{tmp_path}/{message}")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.toml"):
        apply_config_file(TrainSettings(), tmp_path / "nope.toml")


def test_opt_params_are_typed():
    assert parse_key_values(["learning_rate=0.1", "momentum=0.9", "wd=1e-4",
                             "lazy_update=false", "name=x", "begin_num_update=3"]) == {
        "learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4, "lazy_update": False,
        "name": "x", "begin_num_update": 3}
    with pytest.raises(ConfigError, match="bad --opt-param 'learning_rate'"):
        parse_key_values(["learning_rate"])


def test_contexts(isolated):
    class Plugin:
        @hookimpl
        def gradloom_register_backends(self, register):
            register.add(FakeBackend("cpu", count=2))
            register.add(FakeBackend("gpu", reason="cupy is not installed"))

    isolated(extra_plugins=[("fake", Plugin())])
    assert [str(c) for c in parse_contexts("cpu")] == ["cpu(0)"]
    assert [str(c) for c in parse_contexts("CPU:0,1")] == ["cpu(0)", "cpu(1)"]
    with pytest.raises(ConfigError, match=r"unknown context 'tpu:0' \(--context\): device "
                                          r"type 'tpu' is not provided by any installed "
                                          r"backend \(registered: cpu, gpu\)"):
        parse_contexts("tpu:0")
    with pytest.raises(ConfigError, match="device ids must be integers"):
        parse_contexts("cpu:a")
    with pytest.raises(ConfigError, match="distinct"):
        parse_contexts("cpu:1,1")
    with pytest.raises(BackendUnavailableError, match="cupy is not installed"):
        parse_contexts("gpu:0")
    with pytest.raises(BackendUnavailableError, match=r"context cpu\(5\) does not exist"):
        parse_contexts("cpu:0,5")


def test_npz_and_csv_data(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2], np.float32)
    np.savez(tmp_path / "d.npz", data=x, label=y)
    data, label = load_arrays(str(tmp_path / "d.npz"))
    np.testing.assert_array_equal(data, x)
    np.testing.assert_array_equal(label, y)
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.column_stack([y, x]), delimiter=",", header="label,a,b,c,d",
               comments="")
    data, label = load_arrays(str(csv))
    np.testing.assert_allclose(data, x, rtol=1e-6)
    np.testing.assert_array_equal(label, y)
    np.savez(tmp_path / "nolabel.npz", data=x)
    with pytest.raises(FormatError, match="has no array 'label'"):
        load_arrays(str(tmp_path / "nolabel.npz"))
    np.savez(tmp_path / "wrong.npz", x=x)
    with pytest.raises(FormatError, match=r"has no array 'data' \(found: x\)"):
        load_arrays(str(tmp_path / "wrong.npz"))


def test_bundled_and_idx_directory(tmp_path):
    import gzip
    import struct
    data, label = load_arrays("mnist-small", "test")
    assert data.shape == (1000, 1, 28, 28) and data.dtype == np.float32
    assert 0.0 <= data.min() and data.max() <= 1.0
    assert label.shape == (1000,) and set(np.unique(label)) == set(range(10))
    # an IDX directory with 3 images of 2x2
    images = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        with gzip.open(tmp_path / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, 3, 2, 2) + images.tobytes())
        with gzip.open(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([2, 0, 1]))
    data, label = load_arrays(str(tmp_path), "test")
    np.testing.assert_allclose(data[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(label, [2, 0, 1])


def test_unknown_data_and_shapes(tmp_path):
    with pytest.raises(ConfigError, match=r"data not found: 'nope' \(--data\)"):
        load_arrays("nope")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(ConfigError, match="cannot tell the format"):
        load_arrays(str(tmp_path / "x.txt"))
    x = np.zeros((2, 1, 28, 28), np.float32)
    assert shape_for(x, (784,)).shape == (2, 784)
    with pytest.raises(ConfigError, match="784 values per sample"):
        shape_for(x, (3, 32, 32))


def test_zoo():
    assert {"mlp", "lenet", "resnet"} <= set(model_names())
    with pytest.raises(ConfigError, match="unknown model 'vgg'"):
        get_model("vgg")
    assert get_model("lenet").input_shape((784,)) == (1, 28, 28)
    assert get_model("mlp").input_shape((1, 28, 28)) == (784,)
    with pytest.raises(ConfigError, match="model 'lenet' needs images"):
        get_model("lenet").input_shape((10,))
