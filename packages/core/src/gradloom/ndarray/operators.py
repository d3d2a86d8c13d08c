"""``nd.<Operator>(...)``: any registered operator applied to NDArrays at once.

MXNet let scripts call every operator imperatively (``mx.nd.Convolution(x, w, b, ...)``,
``mx.nd.topk(x, k=2)``). Here the call builds the operator's one-node symbol, binds it on
the first array's context and runs it in inference mode (as MXNet's imperative calls outside
autograd do). Executors are kept per operator, attributes, input shapes and dtypes, so a
repeated call copies its inputs in and runs the kernel; the results are new arrays.
"""
import threading

from ..base import ParameterError

__all__ = ["operator_function", "is_operator"]

_NODE = "__nd__"         # a fixed name: calls must not use up the symbols' automatic names
_EXECUTORS = {}
_MAX_EXECUTORS = 256     # a script looping over ever-new shapes must not grow memory forever
# re-entrant: a Python custom operator run by nd.Custom may itself call nd.<operator>
_LOCK = threading.RLock()


def is_operator(name):
    from ..plugins import load_plugins
    return not name.startswith("__") and name in load_plugins().ops


def _key(name, inputs, attrs, ctx):
    signature = tuple((k, tuple(v.shape), str(v.dtype)) for k, v in inputs)
    return name, signature, tuple(sorted((k, repr(v)) for k, v in attrs.items())), str(ctx)


def _bind(name, inputs, attrs, ctx):
    """(executor, input name -> bound argument or aux name) for one call signature."""
    from .. import symbol as sym
    variables = {key: sym.Variable(f"__nd_{key}") for key, _ in inputs}
    positional = [variables[k] for k, _ in inputs if isinstance(k, int)]
    keyword = {k: variables[k] for k, _ in inputs if not isinstance(k, int)}
    node = getattr(sym, name)(*positional, **keyword, **attrs, name=_NODE)
    given = {f"__nd_{key}" for key, _ in inputs}
    missing = [n[len(_NODE) + 1:] for n in node.list_arguments() + node.list_auxiliary_states()
               if n not in given]
    if missing:
        raise ParameterError(f"nd.{name}: inputs {missing} are not given; pass every input "
                             f"of the operator as an NDArray (positionally or by name)")
    shapes = {f"__nd_{k}": tuple(v.shape) for k, v in inputs}
    types = {f"__nd_{k}": v.dtype for k, v in inputs}
    exe = node.simple_bind(ctx, grad_req="null", type_dict=types, **shapes)
    return exe


def _run(name, args, kwargs):
    from .ndarray import NDArray
    inputs = [(i, a) for i, a in enumerate(args)]
    attrs, out = {}, kwargs.pop("out", None)
    kwargs.pop("name", None)     # MXNet accepted a name for the (unnamed) imperative result
    for key, value in kwargs.items():
        (inputs.append((key, value)) if isinstance(value, NDArray) else
         attrs.__setitem__(key, value))
    if any(not isinstance(a, NDArray) for _, a in inputs):
        raise ParameterError(f"nd.{name}: positional inputs must be NDArrays; give "
                             f"attributes by keyword")
    ctx = inputs[0][1].context if inputs else None
    if ctx is None:
        from ..context import current_context
        ctx = current_context()
    key = _key(name, inputs, attrs, ctx)
    with _LOCK:
        exe = _EXECUTORS.get(key)
        if exe is None:
            if len(_EXECUTORS) >= _MAX_EXECUTORS:
                _EXECUTORS.pop(next(iter(_EXECUTORS)))
            exe = _EXECUTORS[key] = _bind(name, inputs, attrs, ctx)
        aux = exe.aux_dict
        for k, v in inputs:
            target = f"__nd_{k}"
            if target in aux:
                aux[target][:] = v
        results = exe.forward(is_train=False, **{f"__nd_{k}": v for k, v in inputs
                                                 if f"__nd_{k}" not in aux})
        results = [r.copy() for r in results]
    if out is not None:
        for dst, src in zip(out if isinstance(out, (list, tuple)) else [out], results):
            dst[:] = src
        return out
    return results[0] if len(results) == 1 else results


def operator_function(name):
    """``nd.<name>``: the operator ``name`` applied to NDArrays (attributes by keyword)."""
    def fn(*args, **kwargs):
        return _run(name, args, dict(kwargs))
    fn.__name__ = name
    fn.__doc__ = (f"The {name} operator on NDArrays: inputs positionally or by name, "
                  f"attributes by keyword, ``out=`` optional (see docs/operators.md).")
    return fn
