"""The generic graph engine: a bound symbol as flat lists of prebound kernel calls.

At bind time: topological order, shape and dtype inference, one kernel per node (a backend's
registered kernel wins over the operator's generic one), every buffer allocated once (from a
pool shared with ``shared_exec``), and the forward and backward passes turned into lists of
``(function, arguments)``. A training step is then two loops over those lists: no dict
building, no graph walking, no shape checks and no allocation per step.
"""
import numpy as np

from .. import profiler as _profiler
from ..base import ParameterError, ShapeError
from ..plugins import load_plugins
from .layout import apply_layouts, inverse, plan_layouts, stored_shape
from .memory import MemoryPool
from .plan import ARG, AUX, POOL, PRIVATE, ZEROS, GraphPlan


def _wrap(raw, ctx):
    from ..ndarray import NDArray
    return NDArray(raw, ctx)


def _raw(value):
    """The backend array behind an NDArray (or the array itself)."""
    raw = getattr(value, "raw", None)
    return value if raw is None or callable(raw) else raw


class GraphExecutor:
    """MXNet's ``Executor`` on any backend. Build it through ``Symbol.bind``/``simple_bind``."""

    def __init__(self, backend, request):
        # kernels allocate workspace in their constructors: do it on the bound device
        with backend.device_scope(request.device_id):
            self._init(backend, request)

    def _init(self, backend, request):
        self._backend = backend
        # keep the caller's wrappers, not the request: a request names its shared executor,
        # and chains of reshaped executors must not keep each other alive
        self._given_wrappers = {"arg": request.arg_ndarrays, "grad": request.grad_ndarrays,
                                "aux": request.aux_ndarrays}
        self._symbol = request.symbol
        self._ctx = request.ctx
        self._device_id = request.device_id
        self._group2ctx = request.group2ctx
        self._xp = backend.xp
        self._arg_raw = list(request.args)
        self._grad_raw = list(request.args_grad)
        self._aux_raw = list(request.aux_states)
        self._grad_req = list(request.grad_req)
        plan = self._plan = GraphPlan(
            self._symbol, [a.shape for a in self._arg_raw], [a.dtype for a in self._arg_raw],
            [a.shape for a in self._aux_raw], [a.dtype for a in self._aux_raw], self._grad_req)
        self._arg_names = [n.name for n in plan.arg_nodes]
        self._aux_names = [n.name for n in plan.aux_nodes]
        self._output_names = self._symbol.list_outputs()
        self._arg_index = {name: i for i, name in enumerate(self._arg_names)}
        self._check_given_arrays()
        self._kernels = self._make_kernels()
        # values only kernels read may be stored in an axis order neighbours agree on
        self._layouts = plan_layouts(plan, self._kernels)
        apply_layouts(plan, self._kernels, self._layouts)
        self._allocate_private()
        shared = request.shared_exec
        if shared is not None and shared._pool.compatible(backend, self._device_id):
            self._pool = shared._pool
        else:
            self._pool = MemoryPool(backend, self._device_id)
        self._pool.reserve(plan.pool_needs)
        self._monitor = None
        self._monitor_all = False
        self._head_dirty = False
        self._wrappers = {}
        self._carve()
        self._pool.attach(self)
        # a profiler state change re-plans live executors (timed call lists only then)
        _profiler.register_executor(self)
        # the NDArray views users see are made once, here, and stay the same objects
        self.arg_dict, self.grad_dict, self.aux_dict, self.output_dict  # noqa: B018
        self._outputs_nd = self.outputs

    # -- bind-time construction -------------------------------------------------------------
    def _check_given_arrays(self):
        for kind, names, arrays in (("argument", self._arg_names, self._arg_raw),
                                    ("auxiliary state", self._aux_names, self._aux_raw)):
            for name, array in zip(names, arrays):
                if not self._backend.owns(array):
                    raise ParameterError(
                        f"bind: {kind} {name!r} is a {type(array).__name__}, not an array of "
                        f"the {self._backend.device_type} backend; create it on {self._ctx}")
        for name, grad, arg in zip(self._arg_names, self._grad_raw, self._arg_raw):
            if grad is not None and tuple(grad.shape) != tuple(arg.shape):
                raise ShapeError(f"bind: gradient array of {name!r} has shape {grad.shape} but "
                                 f"the argument has {arg.shape}; give matching arrays")

    def _make_kernels(self):
        plan = self._plan
        registry = load_plugins().kernels
        kernels = [None] * len(plan.order)
        for i, node in enumerate(plan.order):
            if node.op is None:
                continue
            ins = plan.input_eids(i)
            base = plan.row_ptr[i]
            outs = range(base, base + node.num_outputs)
            cls = registry.lookup(node.op.name, self._backend.device_type) or node.op.kernel
            kernels[i] = cls(node.op, node.parsed, [plan.shapes[e] for e in ins],
                             [plan.shapes[e] for e in outs],
                             {"in": [plan.dtypes[e] for e in ins],
                              "out": [plan.dtypes[e] for e in outs]},
                             self._backend, self._device_id)
        return kernels

    def _allocate_private(self):
        """Head outputs and head/unused gradients: small, owned by this executor alone."""
        plan, be, dev = self._plan, self._backend, self._device_id
        self._private_value = {}
        self._private_grad = {}
        for e, loc in enumerate(plan.value_loc):
            if loc is not None and loc[0] == PRIVATE:
                self._private_value[e] = be.zeros(plan.shapes[e], plan.dtypes[e], dev)
        for e, loc in enumerate(plan.grad_loc):
            if loc is None:
                continue
            if loc[0] == PRIVATE:
                grad = be.zeros(plan.shapes[e], plan.dtypes[e], dev)
                # MXNet's default head gradient: ones (per appearance among the heads)
                grad[...] = plan.head_eids.count(e)
                self._private_grad[e] = grad
            elif loc[0] == ZEROS:
                self._private_grad[e] = be.zeros(self._stored_shape(e), plan.dtypes[e], dev)
        # heads whose gradient is also accumulated by consumers must be re-seeded every step
        self._heads_reseed = [e for e in set(plan.head_eids)
                              if plan.grad_loc[e] is not None and e in plan.grad_written
                              and self._consumed(e)]
        self._head_grads = [self._private_grad.get(e) for e in plan.head_eids]
        # a head listed twice receives the sum of both gradients
        self._head_repeat = [e in plan.head_eids[:j] for j, e in enumerate(plan.head_eids)]
        self._head_fill = [(self._private_grad[e], plan.head_eids.count(e))
                           for e in dict.fromkeys(plan.head_eids) if e in self._private_grad]

    def _stored_shape(self, e):
        perm = self._layouts.get(e)
        shape = self._plan.shapes[e]
        return shape if perm is None else stored_shape(shape, perm)

    def _user_view(self, e, array):
        """``array`` (entry ``e``'s value or gradient) in the layout users know."""
        perm = self._layouts.get(e)
        return array if perm is None else array.transpose(inverse(perm))

    def _consumed(self, eid):
        plan = self._plan
        for i in plan.slot_req:
            node = plan.order[i]
            if eid in plan.input_eids(i)[:len(node.arg_names)]:
                return True
        return False

    def _carve(self):
        """(Re)build every array view and the flat call lists from the pool's current arrays."""
        plan, pool = self._plan, self._pool
        pool.reserve(plan.pool_needs)   # a no-op unless an earlier growth failed
        values = [None] * plan.num_entries
        grads = [None] * plan.num_entries
        for e, loc in enumerate(plan.value_loc):
            kind, ref = loc
            if kind == ARG:
                values[e] = self._arg_raw[ref]
            elif kind == AUX:
                values[e] = self._aux_raw[ref]
            elif kind == PRIVATE:
                values[e] = self._private_value[e]
            else:
                dtype, offset = plan.pool_offsets[("value", e)]
                values[e] = pool.view(dtype, offset, self._stored_shape(e))
        for e, loc in enumerate(plan.grad_loc):
            if loc is None:
                continue
            kind, ref = loc
            if kind == ARG:
                grads[e] = self._grad_raw[ref]
            elif kind == POOL:
                dtype, offset = plan.pool_offsets[("grad", e)]
                grads[e] = pool.view(dtype, offset, self._stored_shape(e))
            else:
                grads[e] = self._private_grad[e]
        self._values, self._grads = values, grads
        self._generation = pool.generation
        self._build_plans()

    def _release_views(self):
        """Drop every view of the pool (it is about to be reallocated; ``_carve`` follows)."""
        self._values = self._grads = None
        self._fwd = self._bwd = self._fwd_active = self._bwd_active = ()
        for kernel in self._kernels:
            if kernel is not None:
                kernel.forget_arrays()

    def _build_plans(self):
        plan, values, grads = self._plan, self._values, self._grads
        fwd, bwd, bwd_nodes = [], [], []
        node_io = {}   # only while the lists are built: nothing per node is kept twice
        for i, node in enumerate(plan.order):
            if node.op is None:
                continue
            kernel = self._kernels[i]
            eids = plan.input_eids(i)
            nargs = len(node.arg_names)
            base = plan.row_ptr[i]
            ins = [values[e] for e in eids[:nargs]]
            aux = [values[e] for e in eids[nargs:]]
            outs = [values[e] for e in range(base, base + node.num_outputs)]
            fwd.append((kernel.forward, ins, outs, aux))
            node_io[i] = (ins, outs, aux)
        for i in reversed(range(len(plan.order))):
            if i not in plan.slot_req:
                continue
            node = plan.order[i]
            ins, outs, aux = node_io[i]
            eids = plan.input_eids(i)[:len(node.arg_names)]
            reqs = plan.slot_req[i]
            in_grads = [None if r == "null" else grads[e] for e, r in zip(eids, reqs)]
            base = plan.row_ptr[i]
            out_grads = [grads[e] for e in range(base, base + node.num_visible_outputs)]
            for e in plan.zero_fill.get(i, ()):
                bwd.append((grads[e].fill, (0,)))
                bwd_nodes.append(None)
            bwd.append((self._kernels[i].backward, (out_grads, ins, outs, aux, in_grads, reqs)))
            bwd_nodes.append(i)
        self._fwd = fwd
        self._bwd = bwd
        self._bwd_nodes = bwd_nodes
        self._fwd_active = fwd if self._monitor is None else self._monitored_forward_plan()
        self._bwd_active = bwd if self._monitor is None else self._monitored_backward_plan()
        if _profiler.operators_enabled():
            self._profile_plans()

    # -- running ----------------------------------------------------------------------------
    def forward(self, is_train=False, **kwargs):
        """Run the forward pass; ``kwargs`` (name=array) are copied into the arguments first."""
        if self._generation != self._pool.generation:
            self._carve()
        if kwargs:
            self._copy_inputs(kwargs)
        for f, ins, outs, aux in self._fwd_active:
            f(is_train, ins, outs, aux)
        return self._outputs_nd

    def backward(self, out_grads=None, is_train=True):
        """Accumulate gradients into the gradient arrays (per ``grad_req``)."""
        if self._generation != self._pool.generation:
            self._carve()
        if out_grads is not None:
            self._set_head_grads(out_grads)
        elif self._head_dirty or self._heads_reseed:
            for g, count in self._head_fill:
                g.fill(count)
            self._head_dirty = False
        for f, args in self._bwd_active:
            f(*args)

    def _set_head_grads(self, out_grads):
        if isinstance(out_grads, dict):
            out_grads = [out_grads.get(n) for n in self._output_names]
        elif not isinstance(out_grads, (list, tuple)):
            out_grads = [out_grads]
        if len(out_grads) != len(self._head_grads):
            raise ShapeError(f"backward: {len(out_grads)} out_grads for "
                             f"{len(self._head_grads)} outputs ({', '.join(self._output_names)})")
        for name, dst, src, repeat in zip(self._output_names, self._head_grads, out_grads,
                                          self._head_repeat):
            if dst is None or src is None:
                continue
            if repeat:
                src = _raw(src)
                if not self._backend.owns(src):
                    src = self._backend.from_host(np.asarray(src), self._device_id)
                dst += src
            else:
                self._copy_into(name, dst, src)
        self._head_dirty = True

    def _copy_inputs(self, kwargs):
        for name, value in kwargs.items():
            i = self._arg_index.get(name)
            if i is None:
                raise ParameterError(f"forward: {name!r} is not an argument of the symbol; "
                                     f"arguments: {', '.join(self._arg_names)}")
            self._copy_into(name, self._arg_raw[i], value)

    def _copy_into(self, name, dst, value):
        src = _raw(value)
        if tuple(getattr(src, "shape", np.shape(src))) != tuple(dst.shape):
            raise ShapeError(f"{name!r}: got shape {tuple(np.shape(src))}, bound shape is "
                             f"{tuple(dst.shape)}; call reshape() to change bound shapes")
        if self._backend.owns(src):
            self._xp.copyto(dst, src, casting="unsafe")
        else:
            self._backend.copy_from_host(dst, np.asarray(src))

    # -- profiling --------------------------------------------------------------------------
    def _profile_plans(self):
        """Wrap every operator call of the active plans so ``mx.profiler`` records it."""
        plan = self._plan
        sync = None
        if self._ctx.device_type != "cpu":
            backend, device_id = self._backend, self._device_id
            sync = lambda: backend.synchronize(device_id)  # noqa: E731 (kernel, not launch, time)
        op_nodes = [i for i, n in enumerate(plan.order) if n.op is not None]
        self._fwd_active = [
            (_profiler.timed(plan.order[i].op.name, "operator", f, sync), ins, outs, aux)
            for (f, ins, outs, aux), i in zip(self._fwd_active, op_nodes)]
        self._bwd_active = [
            (f if i is None else
             _profiler.timed("_backward_" + plan.order[i].op.name, "operator", f, sync), args)
            for (f, args), i in zip(self._bwd_active, self._bwd_nodes)]

    # -- monitoring -------------------------------------------------------------------------
    def set_monitor_callback(self, callback, monitor_all=False):
        """Call ``callback(name, NDArray)`` for every node output (and input if monitor_all).

        Uses separate call lists, so executors without a monitor pay nothing.
        """
        self._monitor = callback
        self._monitor_all = monitor_all
        self._build_plans()

    def _monitored_forward_plan(self):
        plan, cb, ctx = self._plan, self._monitor, self._ctx
        steps = []
        for (f, ins, outs, aux), i in zip(self._fwd, [j for j, n in enumerate(plan.order)
                                                      if n.op is not None]):
            node = plan.order[i]
            names_out = [node.output_name(k) for k in range(node.num_visible_outputs)]
            names_in = [f"{node.name}_{n}" for n in node.input_names]
            eids_out = range(plan.row_ptr[i], plan.row_ptr[i] + node.num_visible_outputs)
            eids_in = plan.input_eids(i)
            view = self._user_view

            def step(is_train, ins, outs, aux, f=f, names_out=names_out, names_in=names_in,
                     eids_out=eids_out, eids_in=eids_in):
                if self._monitor_all:
                    for name, e, arr in zip(names_in, eids_in, list(ins) + list(aux)):
                        cb(name, _wrap(view(e, arr), ctx))
                f(is_train, ins, outs, aux)
                for name, e, arr in zip(names_out, eids_out, outs):
                    cb(name, _wrap(view(e, arr), ctx))
            steps.append((step, ins, outs, aux))
        return steps

    def _monitored_backward_plan(self):
        cb, ctx, plan = self._monitor, self._ctx, self._plan
        steps = []
        for (f, args), i in zip(self._bwd, self._bwd_nodes):
            if i is None:
                steps.append((f, args))
                continue
            node = plan.order[i]
            names = [f"{node.name}_backward_{n}" for n in node.arg_names]
            eids = plan.input_eids(i)[:len(node.arg_names)]
            view = self._user_view

            def step(*args, f=f, names=names, eids=eids):
                f(*args)
                for name, e, arr in zip(names, eids, args[4]):
                    if arr is not None:
                        cb(name, _wrap(view(e, arr), ctx))
            steps.append((step, args))
        return steps

    # -- arrays -----------------------------------------------------------------------------
    def _wrapped(self, key, raws, given):
        lst = self._wrappers.get(key)
        if lst is None:
            lst = []
            for j, raw in enumerate(raws):
                if raw is None:
                    lst.append(None)
                elif given is not None and j < len(given) and given[j] is not None:
                    lst.append(given[j])
                else:
                    lst.append(_wrap(raw, self._ctx))
            self._wrappers[key] = lst
        return lst

    @property
    def arg_arrays(self):
        return self._wrapped("arg", self._arg_raw, self._given_wrappers["arg"])

    @property
    def grad_arrays(self):
        return self._wrapped("grad", self._grad_raw, self._given_wrappers["grad"])

    @property
    def aux_arrays(self):
        return self._wrapped("aux", self._aux_raw, self._given_wrappers["aux"])

    @property
    def outputs(self):
        return self._wrapped("out", [self._values[e] for e in self._plan.head_eids], None)

    @property
    def arg_dict(self):
        d = self._wrappers.get("arg_dict")
        if d is None:
            d = self._wrappers["arg_dict"] = dict(zip(self._arg_names, self.arg_arrays))
        return d

    @property
    def grad_dict(self):
        d = self._wrappers.get("grad_dict")
        if d is None:
            d = self._wrappers["grad_dict"] = dict(zip(self._arg_names, self.grad_arrays))
        return d

    @property
    def aux_dict(self):
        d = self._wrappers.get("aux_dict")
        if d is None:
            d = self._wrappers["aux_dict"] = dict(zip(self._aux_names, self.aux_arrays))
        return d

    @property
    def output_dict(self):
        d = self._wrappers.get("output_dict")
        if d is None:
            d = self._wrappers["output_dict"] = dict(zip(self._output_names, self.outputs))
        return d

    @property
    def grad_req(self):
        return dict(zip(self._arg_names, self._grad_req))

    @property
    def backend(self):
        return self._backend

    @property
    def device_id(self):
        return self._device_id

    @property
    def symbol(self):
        return self._symbol

    # raw arrays, for code inside gradloom that works on backend arrays
    @property
    def arg_raw(self):
        return self._arg_raw

    @property
    def grad_raw(self):
        return self._grad_raw

    @property
    def aux_raw(self):
        return self._aux_raw

    @property
    def output_raw(self):
        return [self._values[e] for e in self._plan.head_eids]

    def pool_nbytes(self):
        """Bytes held by the (possibly shared) intermediate-buffer pool."""
        return self._pool.nbytes()

    @property
    def _total_exec_bytes(self):
        """Bytes this executor needs beyond its parameters (MXNet's bookkeeping name)."""
        return self.pool_nbytes() + self.private_nbytes()

    def private_nbytes(self):
        """Bytes of the buffers this executor owns alone (head outputs and head gradients)."""
        arrays = list(self._private_value.values()) + list(self._private_grad.values())
        return sum(int(a.size) * a.dtype.itemsize for a in arrays)

    # -- parameters and reshaping -----------------------------------------------------------
    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy values (NDArray or arrays, cast to the bound dtype) into the bound arrays."""
        arg_pos = self._arg_index
        aux_pos = {n: i for i, n in enumerate(self._aux_names)}
        for params, pos, raws, kind in ((arg_params, arg_pos, self._arg_raw, "arguments"),
                                        (aux_params or {}, aux_pos, self._aux_raw,
                                         "auxiliary states")):
            for name, value in params.items():
                i = pos.get(name)
                if i is None:
                    if allow_extra_params:
                        continue
                    raise ParameterError(f"Find name {name!r} that is not in the {kind}; pass "
                                         f"allow_extra_params=True to ignore it")
                self._copy_into(name, raws[i], value)

    def reshape(self, partial_shaping=False, allow_up_sizing=False, **kwargs):
        """A new executor for new input shapes, sharing parameters and the buffer pool."""
        from .binding import reshape
        return reshape(self, partial_shaping, allow_up_sizing, kwargs)

    def debug_str(self):
        plan = self._plan
        lines = [f"Executor on {self._ctx}: {len(self._fwd)} forward calls, "
                 f"{len(self._bwd)} backward calls, pool {self.pool_nbytes()} bytes"]
        for i, node in enumerate(plan.order):
            shapes = [plan.shapes[e] for e in range(plan.row_ptr[i], plan.row_ptr[i + 1])]
            kind = "Variable" if node.op is None else f"Op:{node.op.name}"
            lines.append(f"{kind}, Name={node.name}, shapes={shapes}")
        return "\n".join(lines)
