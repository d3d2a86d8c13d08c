"""Settings of ``gradloom train``: defaults, then a TOML file, then command-line flags.

A TOML file uses the flag names as keys (``batch_size`` or ``batch-size``) and the tables
``[optimizer_params]`` and ``[model_params]``::

    model = "lenet"
    data = "mnist-small"
    epochs = 2
    [optimizer_params]
    learning_rate = 0.05

An unknown key or a value of the wrong type is a ``ConfigError`` naming the file and key.
"""
import dataclasses
import difflib
import sys

from gradloom.base import ConfigError


@dataclasses.dataclass
class TrainSettings:
    model: str = "mlp"
    data: str = "mnist-small"
    val_data: str = ""          # "" = the data set's test split when it has one; "none" = skip
    data_dir: str = ""
    context: str = "cpu"
    kvstore: str = "local"
    optimizer: str = "sgd"
    optimizer_params: dict = dataclasses.field(default_factory=dict)
    model_params: dict = dataclasses.field(default_factory=dict)
    metric: str = ""            # "" = the model's own (accuracy; perplexity for lstm-lm)
    epochs: int = 3
    batch_size: int = 64
    checkpoint: str = ""
    resume: bool = False
    seed: int = 0
    plot: str = ""
    log_json: str = ""


_FIELDS = {f.name: f for f in dataclasses.fields(TrainSettings)}
_TYPES = {"str": str, "int": int, "bool": bool, "dict": dict}


def _expected_type(name):
    annotation = _FIELDS[name].type
    return _TYPES.get(annotation, annotation) if isinstance(annotation, str) else annotation


def _check_value(name, value, where):
    expected = _expected_type(name)
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{where}: {name!r} must be a {expected.__name__}, got "
                          f"{type(value).__name__} {value!r}")
    if name in ("epochs", "batch_size") and value < 1:
        raise ConfigError(f"{where}: {name!r} must be at least 1, got {value}")
    return value


def _load_toml(path):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: tomllib's predecessor, when it is installed
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(f"reading {path} needs a TOML parser: Python 3.11+ has one, "
                              f"on 3.10 run `pip install tomli`") from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def apply_config_file(settings, path):
    """Overlay the keys of the TOML file ``path`` on ``settings`` (returned, changed)."""
    for key, value in _load_toml(path).items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            close = difflib.get_close_matches(name, list(_FIELDS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint} (known keys: "
                              f"{', '.join(sorted(_FIELDS))})")
        setattr(settings, name, _check_value(name, value, str(path)))
    return settings


def apply_flags(settings, flags):
    """Overlay the command-line values that were given (``None`` = not given)."""
    for name, value in flags.items():
        if value is None:
            continue
        if name in ("optimizer_params", "model_params"):
            setattr(settings, name, {**getattr(settings, name), **value})
        else:
            setattr(settings, name, value)
    return settings


def parse_key_values(items, option="--opt-param"):
    """``["learning_rate=0.1", "momentum=0.9"]`` -> ``{"learning_rate": 0.1, ...}``."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad {option} {item!r}: write KEY=VALUE, e.g. "
                              f"{option} learning_rate=0.1")
        out[key.strip()] = parse_scalar(text.strip())
    return out


def parse_scalar(text):
    """Command-line text to the number, boolean or string it spells."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text
