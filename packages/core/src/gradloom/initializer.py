"""Parameter initializers (``gradloom.init`` / ``gradloom.initializer``), MXNet's rules.

An initializer is called as ``init(InitDesc(name, attrs), arr)``. The parameter's
``__init__`` attribute (set by ``Variable(init=...)`` or an operator default, a JSON string
``'["name", {kwargs}]'``) wins; otherwise the name's suffix decides: ``weight`` -> the
initializer's own rule, ``bias``/``beta`` -> 0, ``gamma`` -> 1, moving statistics -> 0 or 1.

Values are drawn on the host from the numpy ``Generator`` returned by :func:`host_rng`
(the host backend's generator, re-seeded by ``gradloom.random.seed``) and copied into
``arr`` with ``arr[:] = values``, so the same seed gives the same weights on every backend.
"""
import json
import re
import warnings

import numpy as np

from .base import ConfigError, ParameterError, ShapeError, UnknownNameError

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "host_rng", "set_host_seed",
           "Zero", "One", "Constant", "Uniform", "Normal", "Orthogonal", "Xavier",
           "MSRAPrelu", "Bilinear", "LSTMBias", "FusedRNN", "Load", "Mixed"]

from .random import host_rng  # noqa: E402  (one host generator for the whole package)


def set_host_seed(seed):
    """Re-seed the host generator initializers draw from (same as ``gradloom.random.seed``)."""
    from .random import seed as _seed
    _seed(seed)


class InitDesc(str):
    """A parameter name (``str``) carrying its symbol attributes and the global initializer.

    ``attrs`` holds the variable's attributes (``__init__``, ``__lr_mult__``, ...);
    ``global_init`` is the initializer the Module was asked to use.
    """

    def __new__(cls, name, attrs=None, global_init=None):
        obj = super().__new__(cls, name)
        obj.attrs = dict(attrs) if attrs else {}
        obj.global_init = global_init
        return obj


_REGISTRY = {}


def register(klass):
    """Class decorator: make ``klass`` creatable by its lower-cased class name."""
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise ConfigError(f"initializer.register expects an Initializer subclass, got "
                          f"{klass!r}")
    name = klass.__name__.lower()
    if name in _REGISTRY and _REGISTRY[name] is not klass:
        warnings.warn(f"New initializer {klass.__module__}.{klass.__name__} is overriding "
                      f"existing initializer {name!r}", UserWarning, stacklevel=2)
    _REGISTRY[name] = klass
    return klass


def alias(*names):
    """Class decorator: also make the class creatable under each of ``names``."""
    def decorate(klass):
        for name in names:
            _REGISTRY[name.lower()] = klass
        return klass
    return decorate


def create(init, **kwargs):
    """An initializer from an instance, a registered name, or a JSON ``'["name", {...}]'``."""
    if isinstance(init, Initializer):
        return init
    if not isinstance(init, str):
        raise ConfigError(f"an initializer must be an Initializer, a name or a JSON string, "
                          f"got {type(init).__name__}")
    name = init
    if init.lstrip().startswith("["):
        try:
            name, json_kwargs = json.loads(init)
        except (ValueError, TypeError):
            raise ConfigError(f"initializer {init!r} is not valid JSON of the form "
                              f'\'["name", {{kwargs}}]\'') from None
        kwargs = {**json_kwargs, **kwargs}
    klass = _REGISTRY.get(str(name).lower())
    if klass is None:
        raise UnknownNameError(f"unknown initializer {name!r}; registered: "
                               f"{', '.join(sorted(_REGISTRY))}")
    return klass(**kwargs)


class Initializer:
    """Base class: suffix dispatch, ``__init__`` attribute, ``dumps``.

    Subclasses implement ``_init_weight(name, arr)``.
    """

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        """Log a summary of every initialised array (``print_func(arr) -> str``)."""
        self._verbose = verbose
        if print_func is None:
            def print_func(x):
                x = np.asarray(_host(x))
                return str((np.linalg.norm(x) / np.sqrt(x.size)).item()) if x.size else "0"
        self._print_func = print_func
        return self

    def _verbose_print(self, desc, init, arr):
        if self._verbose and self._print_func:
            import logging
            logging.info("Initialized %s as %s: %s", desc, init, self._print_func(arr))

    def dumps(self):
        """JSON ``[lower-cased class name, constructor kwargs]`` (what ``create`` reads)."""
        return json.dumps([type(self).__name__.lower(), _jsonable(self._kwargs)])

    def __call__(self, desc, arr):
        if not isinstance(desc, InitDesc):
            desc = InitDesc(str(desc))
        if desc.global_init is None:
            desc.global_init = self
        init = desc.attrs.get("__init__", "")
        if init:
            # the variable's own initializer decides, whatever the name
            create(init)._init_weight(desc, arr)
            self._verbose_print(desc, init, arr)
            return
        rule = self._rule_for(desc)
        rule(desc, arr)
        self._verbose_print(desc, rule.__name__.lstrip("_"), arr)

    # longest suffixes first so that e.g. "moving_inv_var" is not taken for "var"
    _SUFFIX_RULES = (
        ("moving_inv_var", "_init_zero"), ("moving_mean", "_init_zero"),
        ("moving_var", "_init_one"), ("moving_avg", "_init_zero"),
        ("state_cell", "_init_zero"), ("weight", "_init_weight"), ("bias", "_init_bias"),
        ("gamma", "_init_gamma"), ("beta", "_init_beta"), ("state", "_init_zero"),
        ("min", "_init_zero"), ("max", "_init_one"),
    )

    def _rule_for(self, name):
        for suffix, method in self._SUFFIX_RULES:
            if name.endswith(suffix):
                return getattr(self, method)
        return self._init_default

    def _init_zero(self, _, arr):
        arr[:] = 0.0

    def _init_one(self, _, arr):
        arr[:] = 1.0

    def _init_bias(self, _, arr):
        arr[:] = 0.0

    def _init_gamma(self, _, arr):
        arr[:] = 1.0

    def _init_beta(self, _, arr):
        arr[:] = 0.0

    def _init_weight(self, name, arr):
        raise ConfigError(f"{type(self).__name__} has no rule for weights (parameter "
                          f"{name!r}); implement _init_weight or use Uniform/Xavier/...")

    def _init_default(self, name, _):
        raise ParameterError(
            f"Unknown initialization pattern for {name!r}: default initialization only "
            f"knows names ending in 'weight', 'bias', 'gamma' (1.0), 'beta' (0.0) and "
            f"moving statistics; give the variable an initializer, e.g. "
            f"sym.Variable({str(name)!r}, init=gradloom.init.Uniform())")

    def __eq__(self, other):
        return type(self) is type(other) and self._kwargs == other._kwargs

    def __hash__(self):
        return hash(self.dumps())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"


def _host(arr):
    return arr.asnumpy() if hasattr(arr, "asnumpy") else arr


def _jsonable(value):
    if hasattr(value, "asnumpy"):        # an NDArray (on any device): its values
        value = value.asnumpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@register
class Zero(Initializer):
    """All zeros (also ``'zeros'``)."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        arr[:] = 0.0


@register
class One(Initializer):
    """All ones (also ``'ones'``)."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        arr[:] = 1.0


alias("zeros")(Zero)
alias("ones")(One)


@register
class Constant(Initializer):
    """Every element (or a broadcast array) set to ``value``."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr):
        arr[:] = np.asarray(_host(self.value))


@register
class Uniform(Initializer):
    """Uniform on ``[-scale, scale]``."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        arr[:] = host_rng().uniform(-self.scale, self.scale, size=arr.shape)


@register
class Normal(Initializer):
    """Gaussian with mean 0 and standard deviation ``sigma``."""

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        arr[:] = host_rng().normal(0.0, self.sigma, size=arr.shape)


@register
class Orthogonal(Initializer):
    """Scaled orthogonal matrix from the SVD of a random (uniform or normal) matrix."""

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        if rand_type not in ("uniform", "normal"):
            raise ConfigError(f"Orthogonal rand_type must be 'uniform' or 'normal', got "
                              f"{rand_type!r}")
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, _, arr):
        nout = arr.shape[0]
        nin = int(np.prod(arr.shape[1:]))
        rng = host_rng()
        if self.rand_type == "uniform":
            tmp = rng.uniform(-1.0, 1.0, (nout, nin))
        else:
            tmp = rng.normal(0.0, 1.0, (nout, nin))
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        arr[:] = (self.scale * res).reshape(arr.shape)


@register
class Xavier(Initializer):
    """Glorot/Xavier: variance ``magnitude / factor`` with factor from fan in/out.

    ``fan_in = shape[1]*prod(shape[2:])``, ``fan_out = shape[0]*prod(shape[2:])``;
    ``factor_type`` 'avg' / 'in' / 'out'; ``scale = sqrt(magnitude/factor)``; uniform on
    ``[-scale, scale]`` or gaussian with std ``scale``.
    """

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        if rnd_type not in ("uniform", "gaussian"):
            raise ConfigError(f"Xavier rnd_type must be 'uniform' or 'gaussian', got "
                              f"{rnd_type!r}")
        if factor_type not in ("avg", "in", "out"):
            raise ConfigError(f"Xavier factor_type must be 'avg', 'in' or 'out', got "
                              f"{factor_type!r}")
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _scale(self, name, shape):
        if len(shape) < 2:
            raise ShapeError(f"Xavier initializer cannot be applied to {name!r} of shape "
                             f"{tuple(shape)}: it needs at least 2 dimensions; give it "
                             f"another initializer (e.g. init=gradloom.init.Zero())")
        hw_scale = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fan_in, fan_out = shape[1] * hw_scale, shape[0] * hw_scale
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in,
                  "out": fan_out}[self.factor_type]
        return float(np.sqrt(self.magnitude / factor))

    def _init_weight(self, name, arr):
        scale = self._scale(name, arr.shape)
        rng = host_rng()
        if self.rnd_type == "uniform":
            arr[:] = rng.uniform(-scale, scale, size=arr.shape)
        else:
            arr[:] = rng.normal(0.0, scale, size=arr.shape)


@register
class MSRAPrelu(Xavier):
    """He/MSRA initialisation for PReLU nets: gaussian Xavier, magnitude 2/(1+slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Bilinear(Initializer):
    """Bilinear-interpolation kernels (for deconvolution upsampling weights)."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, name, arr):
        shape = arr.shape
        if len(shape) != 4:
            raise ShapeError(f"Bilinear initializer needs a 4-D kernel, {name!r} has shape "
                             f"{tuple(shape)}")
        f = np.ceil(shape[3] / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        x = np.arange(shape[3])
        y = np.arange(shape[2])
        kernel = np.outer(1 - np.abs(y / f - c), 1 - np.abs(x / f - c))
        arr[:] = np.broadcast_to(kernel, shape)


@register
class LSTMBias(Initializer):
    """Zeros, with the forget-gate quarter (the second of i, f, c, o) set to forget_bias."""

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, _, arr):
        values = np.zeros(arr.shape)
        num_hidden = arr.shape[0] // 4
        values[num_hidden:2 * num_hidden] = self.forget_bias
        arr[:] = values


@register
class FusedRNN(Initializer):
    """The flat parameter vector of the fused ``RNN`` operator, in MXNet's packed layout.

    Each gate's weight matrix is a weight of its own ``(num_hidden, inputs)`` shape for
    ``init`` (the module's initializer when ``init`` is None); biases are 0, except that an
    LSTM's forget gates get ``forget_bias`` in both their input and hidden bias, as in MXNet.
    Give it to the vector's variable: ``Variable("lstm_parameters", init=FusedRNN(...))``.
    """

    def __init__(self, init, num_hidden, num_layers, mode, bidirectional=False,
                 forget_bias=1.0):
        init = None if init is None else create(init)   # a saved __init__ holds its JSON
        super().__init__(init=None if init is None else init.dumps(), num_hidden=num_hidden,
                         num_layers=num_layers, mode=mode, bidirectional=bidirectional,
                         forget_bias=forget_bias)
        self._init, self.forget_bias = init, forget_bias
        from types import SimpleNamespace
        self._attrs = SimpleNamespace(state_size=num_hidden, num_layers=num_layers, mode=mode,
                                      bidirectional=bool(bidirectional))

    def __call__(self, desc, arr):
        # whatever the vector's name ("lstm_parameters" has no suffix rule): it is all ours
        self._init_weight(desc if isinstance(desc, InitDesc) else InitDesc(str(desc)), arr)

    def _init_weight(self, desc, arr):
        from .ops.rnn_op import GATES, param_layout, param_size
        attrs = self._attrs
        gates, hidden = GATES[attrs.mode], attrs.state_size
        first_layer = (2 if attrs.bidirectional else 1) * gates * hidden
        input_size, rest = divmod(arr.size - param_size(attrs, 0), first_layer)
        if rest or input_size < 1:
            raise ShapeError(f"FusedRNN: {arr.size} values do not hold a {attrs.num_layers}-layer "
                             f"{attrs.mode} of {hidden} hidden units for any input size; "
                             f"check num_hidden/num_layers/mode/bidirectional")
        inner = self._init if self._init is not None else getattr(desc, "global_init", None)
        if inner is None or isinstance(inner, FusedRNN):
            raise ConfigError("FusedRNN(init=None) takes the weights' initializer from the "
                              "module's: pass init=..., or an initializer to init_params")
        values = np.zeros(arr.shape, dtype=np.float64)
        for layer, direction, (wx, wh, bx, bh) in param_layout(attrs, input_size):
            for (offset, shape), kind in ((wx, "i2h"), (wh, "h2h")):
                block = values[offset:offset + shape[0] * shape[1]].reshape(shape)
                for g in range(gates):   # each gate's (hidden, inputs) matrix on its own
                    name = f"{desc}_l{layer}{'r' if direction else ''}_{kind}{g}_weight"
                    inner._init_weight(InitDesc(name), block[g * hidden:(g + 1) * hidden])
            if attrs.mode == "lstm":     # gates i, f, g, o: the second is the forget gate
                for offset, _ in (bx, bh):
                    values[offset + hidden:offset + 2 * hidden] = self.forget_bias
        arr[:] = values


class Load:
    """Initialise from saved parameters (a dict or a ``.params`` file), else ``default_init``.

    ``arg:``/``aux:`` prefixes of saved names are dropped; shapes must match.
    """

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, str):
            from .ndarray import load
            param = load(param)
        if not isinstance(param, dict):
            raise ParameterError("Load expects a dict name -> array or a .params file saved "
                                 "as a dict")
        self.param = {}
        for name, arr in param.items():
            if name.startswith("arg:") or name.startswith("aux:"):
                name = name[4:]
            self.param[name] = arr
        self.default_init = default_init
        self.verbose = verbose

    def __call__(self, name, arr):
        if name in self.param:
            src = np.asarray(_host(self.param[name]))
            if tuple(arr.shape) != tuple(src.shape):
                raise ShapeError(f"Parameter {str(name)!r} cannot be initialized from "
                                 f"loading: shape mismatch, target {tuple(arr.shape)} vs "
                                 f"loaded {tuple(src.shape)}")
            arr[:] = src
            if self.verbose:
                import logging
                logging.info("Initialized %s by loading", name)
        else:
            if self.default_init is None:
                raise ParameterError(f"Cannot initialize {str(name)!r}: not found in the "
                                     f"loaded parameters and no default_init was given")
            self.default_init(name, arr)
            if self.verbose:
                import logging
                logging.info("Initialized %s by default", name)


class Mixed:
    """Pick the initializer of the first regular expression that matches the name."""

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise ConfigError(f"Mixed needs one initializer per pattern, got "
                              f"{len(patterns)} patterns and {len(initializers)} "
                              f"initializers")
        self.map = list(zip([re.compile(p) for p in patterns], initializers))

    def __call__(self, name, arr):
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise ParameterError(f"Parameter name {str(name)!r} did not match any pattern "
                             f"({', '.join(p.pattern for p, _ in self.map)}); add a '.*' "
                             f"pattern at the end with a default initializer")
