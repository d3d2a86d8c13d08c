"""``Symbol.bind`` / ``Symbol.simple_bind`` / ``Executor.reshape``: arrays in, executor out.

Given arrays are used in place (a Module passes views into one flat parameter buffer);
``simple_bind`` allocates what is missing, reusing a shared executor's parameter, gradient and
auxiliary arrays by name when shapes and dtypes match.
"""
import numpy as np

from ..base import DTypeError, ParameterError, ShapeError
from ..context import Context, current_context
from .request import BindRequest

_VALID_REQ = {"null": "null", "write": "write", "add": "add", "inplace": "write"}


def _raw(value):
    raw = getattr(value, "raw", None)
    return value if raw is None or callable(raw) else raw


def _is_ndarray(value):
    return getattr(value, "raw", None) is not None and not callable(getattr(value, "raw"))


def normalize_grad_req(grad_req, arg_names):
    """``'write'`` / list / dict -> one of null/write/add per argument."""
    if isinstance(grad_req, str):
        reqs = [grad_req] * len(arg_names)
    elif isinstance(grad_req, (list, tuple)):
        if len(grad_req) != len(arg_names):
            raise ParameterError(f"grad_req has {len(grad_req)} entries but the symbol has "
                                 f"{len(arg_names)} arguments ({', '.join(arg_names)})")
        reqs = list(grad_req)
    elif isinstance(grad_req, dict):
        unknown = set(grad_req) - set(arg_names)
        if unknown:
            raise ParameterError(f"grad_req names {sorted(unknown)} that are not arguments; "
                                 f"arguments: {', '.join(arg_names)}")
        reqs = [grad_req.get(n, "null") for n in arg_names]
    else:
        raise ParameterError("grad_req must be one of str, list, tuple, or dict.")
    out = []
    for name, r in zip(arg_names, reqs):
        if r not in _VALID_REQ:
            raise ParameterError(f"grad_req for {name!r} is {r!r}; use 'write', 'add' or 'null'")
        out.append(_VALID_REQ[r])
    return out


def _by_name(what, given, names, required):
    """Dict or list of arrays -> list in ``names`` order (None where absent)."""
    if given is None:
        given = {}
    if isinstance(given, dict):
        missing = [n for n in names if n not in given]
        if required and missing:
            raise ParameterError(f"bind: {what} lacks {', '.join(repr(m) for m in missing)}; "
                                 f"give an array for every name in {names}")
        return [given.get(n) for n in names]
    given = list(given)
    if len(given) != len(names) and (required or given):
        raise ParameterError(f"bind: {what} has {len(given)} arrays but {len(names)} are "
                             f"needed ({', '.join(names)})")
    return given or [None] * len(names)


def _context(ctx):
    if ctx is None:
        return current_context()
    return ctx if isinstance(ctx, Context) else Context(ctx)


def bind(symbol, ctx, args, args_grad=None, grad_req="write", aux_states=None, group2ctx=None,
         shared_exec=None):
    ctx = _context(ctx)
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    args = _by_name("args", args, arg_names, True)
    grads = _by_name("args_grad", args_grad, arg_names, False)
    aux = _by_name("aux_states", aux_states, aux_names, True)
    reqs = normalize_grad_req(grad_req, arg_names)
    reqs = ["null" if g is None else r for r, g in zip(reqs, grads)]
    grads = [None if r == "null" else g for r, g in zip(reqs, grads)]
    request = BindRequest(
        symbol=symbol, ctx=ctx, device_id=ctx.device_id,
        args=[_raw(a) for a in args], args_grad=[None if g is None else _raw(g) for g in grads],
        aux_states=[_raw(a) for a in aux], grad_req=reqs, shared_exec=shared_exec,
        group2ctx=group2ctx,
        arg_ndarrays=[a if _is_ndarray(a) else None for a in args],
        grad_ndarrays=[g if _is_ndarray(g) else None for g in grads],
        aux_ndarrays=[a if _is_ndarray(a) else None for a in aux])
    return ctx.backend.make_executor(request)


def _same(raw, shape, dtype):
    return raw is not None and tuple(raw.shape) == tuple(shape) and raw.dtype == np.dtype(dtype)


def simple_bind(symbol, ctx, grad_req, type_dict, group2ctx, shared_arg_names, shared_exec,
                shared_buffer, shapes):
    ctx = _context(ctx)
    backend = ctx.backend
    arg_names = symbol.list_arguments()
    aux_names = symbol.list_auxiliary_states()
    arg_shapes, _, aux_shapes = symbol.infer_shape_partial(**shapes)
    unknown = [f"{n}: {s}" for n, s in zip(arg_names + aux_names, arg_shapes + aux_shapes)
               if not s or 0 in s]
    if unknown:
        raise ShapeError(f"simple_bind: cannot infer the shapes of {', '.join(unknown)}; pass "
                         f"the shapes of the inputs as keyword arguments (data=(N, ...))")
    attrs = symbol.attr_dict()
    defaults = {n: np.float32 for n in arg_names if "__dtype__" not in attrs.get(n, {})}
    given = {k: v for k, v in (type_dict or {}).items() if k in arg_names or k in aux_names}
    arg_types, _, aux_types = symbol.infer_type(**(given if type_dict else defaults))
    if arg_types is None:
        # what the graph cannot decide defaults to float32, as MXNet's simple_bind does
        arg_types, _, aux_types = symbol.infer_type(**dict(defaults, **given))
    if arg_types is None:
        raise DTypeError(f"simple_bind: cannot infer every dtype from type_dict={type_dict}; "
                         f"give the dtypes of all inputs")
    reqs = normalize_grad_req(grad_req, arg_names)
    shared_names = set(shared_arg_names or ())
    dev = ctx.device_id
    args, grads, arg_nd, grad_nd = [], [], [], []
    for name, shape, dtype, req in zip(arg_names, arg_shapes, arg_types, reqs):
        arr = grad = nd = gnd = None
        if shared_exec is not None and name in shared_names and name in shared_exec._arg_index:
            j = shared_exec._arg_index[name]
            if _same(shared_exec._arg_raw[j], shape, dtype):
                arr = shared_exec._arg_raw[j]
                nd = shared_exec.arg_arrays[j] if _ndarray_ready() else None
                if req != "null" and shared_exec._grad_raw[j] is not None:
                    grad = shared_exec._grad_raw[j]
                    gnd = shared_exec.grad_arrays[j] if _ndarray_ready() else None
        if arr is None and shared_buffer is not None and name not in shared_names:
            arr, nd = _from_shared_buffer(shared_buffer, name, shape, dtype, ctx, backend)
        if arr is None:
            arr = backend.zeros(shape, dtype, dev)
        if grad is None and req != "null":
            grad = backend.zeros(shape, dtype, dev)
        args.append(arr)
        grads.append(grad)
        arg_nd.append(nd)
        grad_nd.append(gnd)
    aux, aux_nd = [], []
    for name, shape, dtype in zip(aux_names, aux_shapes, aux_types):
        arr = nd = None
        if shared_exec is not None and name in shared_exec._aux_names:
            j = shared_exec._aux_names.index(name)
            if _same(shared_exec._aux_raw[j], shape, dtype):
                arr = shared_exec._aux_raw[j]
                nd = shared_exec.aux_arrays[j] if _ndarray_ready() else None
        if arr is None:
            arr = backend.zeros(shape, dtype, dev)
        aux.append(arr)
        aux_nd.append(nd)
    request = BindRequest(symbol=symbol, ctx=ctx, device_id=dev, args=args, args_grad=grads,
                          aux_states=aux, grad_req=reqs, shared_exec=shared_exec,
                          group2ctx=group2ctx, arg_ndarrays=arg_nd, grad_ndarrays=grad_nd,
                          aux_ndarrays=aux_nd)
    return backend.make_executor(request)


def _ndarray_ready():
    try:
        from ..ndarray import NDArray  # noqa: F401
    except ImportError:
        return False
    return True


def _from_shared_buffer(shared_buffer, name, shape, dtype, ctx, backend):
    """A view of ``shared_buffer[name]`` when it is big enough, else a new array stored there.

    This is how every bucket's data/label arrays live in one buffer sized by the largest.
    """
    size = int(np.prod(shape, dtype=np.int64))
    existing = shared_buffer.get(name)
    if existing is not None:
        raw = _raw(existing)
        if raw.dtype == np.dtype(dtype) and raw.size >= size and raw.flags.c_contiguous:
            view = raw.reshape(-1)[:size].reshape(shape)
            if tuple(raw.shape) == tuple(shape):
                return raw, existing if _is_ndarray(existing) else None
            return view, None
    arr = backend.zeros(shape, dtype, ctx.device_id)
    if _ndarray_ready():
        from ..ndarray import NDArray
        shared_buffer[name] = NDArray(arr, ctx)
    else:
        shared_buffer[name] = arr
    return arr, None


def reshape(executor, partial_shaping, allow_up_sizing, shapes):
    """``Executor.reshape``: reuse (views of) the old arrays, share the pool."""
    symbol = executor._symbol
    arg_shapes, _, aux_shapes = symbol.infer_shape(**shapes)
    if arg_shapes is None:
        raise ShapeError(f"reshape: shapes {shapes} do not determine every argument shape; "
                         f"give the shapes of all inputs")
    backend, ctx = executor._backend, executor._ctx

    def resize(kind, name, raw, nd, shape, dtype_from, given):
        if tuple(raw.shape) == tuple(shape):
            return raw, nd
        if not (partial_shaping or name in given):
            raise ShapeError(
                f"reshape: shape of unspecified {kind} {name!r} changed from {raw.shape} to "
                f"{shape}; this new executor would not share it with the old one. Check the "
                f"network, or pass partial_shaping=True if this is intended")
        size = int(np.prod(shape, dtype=np.int64))
        if size > raw.size:
            if not allow_up_sizing:
                raise ShapeError(
                    f"reshape: new shape of {kind} {name!r} {shape} is larger than the original "
                    f"{raw.shape}; binding a big executor first and then down-sizing it is "
                    f"more efficient, or pass allow_up_sizing=True")
            return backend.zeros(shape, dtype_from.dtype, executor._device_id), None
        return raw.reshape(-1)[:size].reshape(shape), None

    args, grads, arg_nd, grad_nd = [], [], [], []
    arg_wrappers = executor.arg_arrays if _ndarray_ready() else [None] * len(executor._arg_raw)
    grad_wrappers = executor.grad_arrays if _ndarray_ready() else [None] * len(executor._arg_raw)
    for i, name in enumerate(executor._arg_names):
        raw, shape = executor._arg_raw[i], arg_shapes[i]
        a, nd = resize("argument", name, raw, arg_wrappers[i], shape, raw, shapes)
        args.append(a)
        arg_nd.append(nd)
        graw = executor._grad_raw[i]
        if graw is None:
            grads.append(None)
            grad_nd.append(None)
        else:
            g, gnd = resize("argument", name, graw, grad_wrappers[i], shape, graw, shapes)
            grads.append(g)
            grad_nd.append(gnd)
    aux, aux_nd = [], []
    aux_wrappers = executor.aux_arrays if _ndarray_ready() else [None] * len(executor._aux_raw)
    for i, name in enumerate(executor._aux_names):
        raw = executor._aux_raw[i]
        a, nd = resize("auxiliary state", name, raw, aux_wrappers[i], aux_shapes[i], raw, shapes)
        aux.append(a)
        aux_nd.append(nd)
    request = BindRequest(symbol=symbol, ctx=ctx, device_id=executor._device_id, args=args,
                          args_grad=grads, aux_states=aux, grad_req=list(executor._grad_req),
                          shared_exec=executor, group2ctx=executor._group2ctx,
                          arg_ndarrays=arg_nd, grad_ndarrays=grad_nd, aux_ndarrays=aux_nd)
    return backend.make_executor(request)
