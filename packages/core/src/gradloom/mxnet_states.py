"""Importing MXNet's optimizer-state files (``prefix-NNNN.states``) without unpickling them.

MXNet wrote ``pickle.dumps(updater.states)``: a dict from optimizer index (or parameter name,
when it updated on the kvstore) to ``None``, one NDArray or a tuple of NDArrays, each NDArray
pickled as ``NDArray(None)`` plus ``{'handle': bytearray(<one array record>)}``. Unpickling
would run whatever callables a crafted file names, so this module reads the pickle opcode
stream with ``pickletools`` and interprets only the opcodes such a file uses: containers,
numbers, strings, bytes, and exactly two globals (``mxnet.ndarray.ndarray.NDArray`` and
``bytearray``). Anything else is a ``FormatError`` naming the file and the opcode; nothing is
ever called.

MXNet stored no update counts and, by default, no optimizer: a run resumed from these files
restarts learning-rate schedules and Adam's bias correction, exactly as MXNet did.
"""
import pickletools

from .base import FormatError, ParameterError

__all__ = ["is_mxnet_pickle", "read_mxnet_states", "states_by_name"]

PICKLE_MAGIC = b"\x80"
_NDARRAY = ("mxnet.ndarray.ndarray", "NDArray")
_BYTEARRAY = {("builtins", "bytearray"), ("__builtin__", "bytearray")}


def is_mxnet_pickle(buf):
    return bytes(buf[:1]) == PICKLE_MAGIC


class _PickledNDArray:
    """What ``NDArray(None)`` plus its ``{'handle': ...}`` state stand for: one array."""

    def __init__(self):
        self.array = None


class _Global:
    def __init__(self, key):
        self.key = key


_MARK = object()
_PUSH_ARG = {"BININT", "BININT1", "BININT2", "LONG1", "LONG4", "INT", "LONG", "BINFLOAT",
             "FLOAT", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
             "SHORT_BINBYTES", "BINBYTES", "BINBYTES8"}
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_EMPTY = {"EMPTY_DICT": dict, "EMPTY_LIST": list, "EMPTY_TUPLE": tuple}
_TUPLE_N = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_IGNORED = {"PROTO", "FRAME"}
_MEMO_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GET = {"GET", "BINGET", "LONG_BINGET"}


class _Machine:
    """The pickle virtual machine restricted to data: every opcode either builds a value
    from its argument and the stack, or is refused."""

    def __init__(self, source):
        self.source = source
        self.stack = []
        self.memo = {}

    def fail(self, why, pos):
        raise FormatError(f"{self.source} is not an MXNet optimizer-state pickle gradloom can "
                          f"import: {why} at byte {pos}; gradloom reads only the dict of "
                          f"NDArrays that MXNet's save_optimizer_states writes")

    def pop_mark(self):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1:]
                del self.stack[i:]
                return items
        raise IndexError("no mark")

    def run(self, buf):
        try:
            for op, arg, pos in pickletools.genops(bytes(buf)):
                name = op.name
                if name == "STOP":
                    if len(self.stack) != 1:
                        self.fail("the stack does not end with one value", pos)
                    return self.stack[0]
                self.step(name, arg, pos)
        except (ValueError, IndexError, KeyError, TypeError) as err:   # malformed stream
            raise FormatError(f"{self.source}: corrupted or truncated pickle ({err}); "
                              f"re-save the optimizer states") from None
        raise FormatError(f"{self.source}: the pickle has no STOP opcode (truncated file)")

    def step(self, name, arg, pos):
        stack = self.stack
        if name in _IGNORED:
            return
        if name in _PUSH_ARG:
            stack.append(arg)
        elif name in _CONSTANTS:
            stack.append(_CONSTANTS[name])
        elif name in _EMPTY:
            stack.append(_EMPTY[name]())
        elif name == "MARK":
            stack.append(_MARK)
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = stack[-1]
        elif name in _MEMO_PUT:
            self.memo[arg] = stack[-1]
        elif name in _MEMO_GET:
            stack.append(self.memo[arg])
        elif name in _TUPLE_N:
            n = _TUPLE_N[name]
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif name == "TUPLE":
            stack.append(tuple(self.pop_mark()))
        elif name == "LIST":
            stack.append(self.pop_mark())
        elif name == "DICT":
            items = self.pop_mark()
            stack.append(dict(zip(items[::2], items[1::2])))
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            self._dict(stack[-1], pos)[key] = value
        elif name == "SETITEMS":
            items = self.pop_mark()
            self._dict(stack[-1], pos).update(zip(items[::2], items[1::2]))
        elif name == "APPEND":
            value = stack.pop()
            self._list(stack[-1], pos).append(value)
        elif name == "APPENDS":
            items = self.pop_mark()
            self._list(stack[-1], pos).extend(items)
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                key = tuple(arg.split(" ", 1))
            else:
                attr, module = stack.pop(), stack.pop()
                key = (module, attr)
            if key != _NDARRAY and key not in _BYTEARRAY:
                self.fail(f"it names {'.'.join(map(str, key))!r}, which is not an NDArray "
                          f"(a pickled optimizer from dump_optimizer=True, or not MXNet's "
                          f"file at all)", pos)
            stack.append(_Global(key))
        elif name == "REDUCE":
            args, func = stack.pop(), stack.pop()
            stack.append(self._reduce(func, args, pos))
        elif name == "BUILD":
            state = stack.pop()
            self._build(stack[-1], state, pos)
        else:
            self.fail(f"opcode {name} is not part of such a file", pos)

    def _dict(self, value, pos):
        if not isinstance(value, dict):
            self.fail("SETITEM on something that is not a dict", pos)
        return value

    def _list(self, value, pos):
        if not isinstance(value, list):
            self.fail("APPEND on something that is not a list", pos)
        return value

    def _reduce(self, func, args, pos):
        if not isinstance(func, _Global) or not isinstance(args, tuple):
            self.fail("a call of something other than NDArray or bytearray", pos)
        if func.key == _NDARRAY:
            if args not in ((), (None,)):
                self.fail("NDArray built from arguments other than None", pos)
            return _PickledNDArray()
        if len(args) != 1 or not isinstance(args[0], (bytes, bytearray)):
            self.fail("bytearray built from something other than bytes", pos)
        return bytearray(args[0])

    def _build(self, target, state, pos):
        if not isinstance(target, _PickledNDArray) or not isinstance(state, dict) \
                or not isinstance(state.get("handle"), (bytes, bytearray)):
            self.fail("an object state other than an NDArray's {'handle': bytes}", pos)
        from .ndarray.serialization import loads_record
        target.array = loads_record(bytes(state["handle"]), self.source)


def _slots(value, key, source):
    """One parameter's state as a tuple of numpy arrays (MXNet: None, array or tuple)."""
    if value is None:
        return ()
    if isinstance(value, _PickledNDArray):
        return (value.array,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, _PickledNDArray) for v in value):
        return tuple(v.array for v in value)
    raise FormatError(f"{source}: the state of {key!r} is a {type(value).__name__}, not "
                      f"None, an NDArray or a tuple of NDArrays (a multi-precision state? "
                      f"import it without multi_precision)")


def read_mxnet_states(buf, source):
    """``{MXNet key: tuple of numpy arrays}`` from the bytes of an MXNet ``.states`` file;
    keys are optimizer indices (int) or parameter names (str), as MXNet wrote them."""
    states = _Machine(source).run(buf)
    if not isinstance(states, dict):
        raise FormatError(f"{source}: the pickle holds a {type(states).__name__}, not the dict "
                          f"of states MXNet's save_optimizer_states writes")
    for key in states:
        if not isinstance(key, (int, str)) or isinstance(key, bool):
            raise FormatError(f"{source}: state key {key!r} is neither an index nor a name")
    return {key: _slots(value, key, source) for key, value in states.items()}


def states_by_name(states, param_names, trainable, source):
    """MXNet's keys turned into parameter names.

    Names are kept. Integer keys are MXNet's ``index * num_devices + device`` over
    ``param_names`` (the module's parameters in order); every device held the same state,
    so device 0's is taken. The device count is what makes the keys of the ``trainable``
    parameters come out exactly; anything else raises ``ParameterError``.
    """
    if all(isinstance(k, str) for k in states):
        return dict(states)
    if not all(isinstance(k, int) for k in states):
        raise FormatError(f"{source} mixes index and name keys")
    index_of = {name: i for i, name in enumerate(param_names)}
    with_state = [index_of[n] for n in param_names if n in trainable]
    if not states:
        return {}
    devices, rest = divmod(len(states), max(len(with_state), 1))
    expected = {i * devices + d for i in with_state for d in range(devices)}
    if rest or not devices or set(states) != expected:
        raise ParameterError(
            f"{source}: its {len(states)} index keys do not match {len(with_state)} "
            f"trainable parameters on any number of devices; import it into a module with "
            f"the same parameters and fixed_param_names as the MXNet run")
    return {param_names[i]: states[i * devices] for i in with_state}
