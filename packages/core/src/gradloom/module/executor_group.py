"""``DataParallelExecutorGroup``: one executor per device, each fed its slice of the batch.

Parameters, gradients and aux states are views into the flat buffers of a
:class:`~gradloom.module.params.ParamStore` (shared with other groups for bucketing), so all
executors of all input shapes train the same memory. For every distinct set of input
shapes the group builds a *plan* once (executors, slices, copy targets, merged outputs) and
keeps it: alternating batch sizes (a short last batch, buckets) never rebinds twice.
"""
import logging

import numpy as np

from ..base import ParameterError, ShapeError
from ..io.desc import normalise_descs
from .errors import InputsGradError, NotForTrainingError
from .params import ParamStore
from .slicing import batch_axis, is_presliced, split_input_slice

__all__ = ["DataParallelExecutorGroup"]


def _axis_index(axis, sl):
    """Index tuple selecting ``sl`` along ``axis``."""
    return (slice(None),) * axis + (sl,)


def _raw(value):
    raw = getattr(value, "raw", None)
    if raw is not None:
        return raw
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value)


def _load(dst, src, backend):
    """Copy the array ``src`` into ``dst`` (a device array of ``backend``), casting."""
    if isinstance(dst, np.ndarray) and isinstance(src, np.ndarray):
        np.copyto(dst, src, casting="unsafe")
    elif backend.owns(src):
        backend.xp.copyto(dst, src, casting="unsafe")
    else:
        host = src if isinstance(src, np.ndarray) else np.asarray(src)
        backend.copy_from_host(dst, host)


class _Plan:
    """Executors and copy targets for one set of input shapes."""

    def __init__(self):
        self.batch_size = 0
        self.slices = []          # per device: slice or None (idle)
        self.execs = []           # per device: Executor or None
        self.active = []          # indices of devices with work
        self.data_shapes = None   # DataDesc lists (total shapes)
        self.label_shapes = None
        self.data_targets = []    # per data input: [(index tuple, dst raw, backend)]
        self.label_targets = []
        self.merged = None        # merged output NDArrays (or None: single device)
        self.merged_given = False # the merged arrays went to a caller (get_outputs)
        # per output: None (device 0's output serves) or (shape, dtype, [(index, src raw,
        # backend)]) to concatenate the devices' pieces into a new array
        self.merge_copies = []
        self.output_shapes = []


class DataParallelExecutorGroup:
    """Runs one symbol on several devices as one data-parallel unit.

    Arguments as in MXNet; ``param_store`` (or ``shared_group``) passes existing parameter
    memory in.
    """

    def __init__(self, symbol, contexts, workload, data_shapes, label_shapes, param_names,
                 for_training, inputs_need_grad, shared_group=None, logger=logging,
                 fixed_param_names=None, grad_req="write", state_names=None, group2ctxs=None):
        if group2ctxs:
            raise ParameterError("group2ctxs (model parallelism over ctx_group attributes) is "
                                 "not supported; place the whole symbol on each context")
        data_shapes = normalise_descs(data_shapes, "data_shapes")
        label_shapes = normalise_descs(label_shapes, "label_shapes")
        self.symbol = symbol
        self.contexts = list(contexts)
        self.workload = list(workload) if workload else [1] * len(self.contexts)
        self.logger = logger
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self.fixed_param_names = list(fixed_param_names or [])
        self.state_names = list(state_names or [])
        self.arg_names = symbol.list_arguments()
        self.aux_names = symbol.list_auxiliary_states()
        self.output_names = symbol.list_outputs()
        self.param_names = [n for n in self.arg_names if n in set(param_names)]
        self.data_names = [d.name for d in data_shapes]
        self.label_names = [d.name for d in label_shapes] if label_shapes else []
        self.grad_req = self._resolve_grad_req(grad_req)
        # some gradient buffers sum over backward calls until zero_grad() (grad_req='add')
        self.accumulates = "add" in self.grad_req.values()
        self.output_layouts = [batch_axis(symbol[i].attr("__layout__"))
                               for i in range(len(self.output_names))]
        self._monitor = None
        self._shared_inputs = (shared_group._shared_inputs if shared_group is not None
                               else [dict() for _ in self.contexts])
        self._plans = {}
        self._merged_fresh = False
        # executors of a group sharing another one's memory (a bucket) carve their
        # intermediate buffers from the shared group's pool: one pool for all buckets
        self._shared_plan = shared_group._default_plan if shared_group is not None else None
        if shared_group is not None:
            self.params = shared_group.params
            self._check_shared(data_shapes, label_shapes)
        else:
            self.params = self._make_store(data_shapes, label_shapes)
        self._default_plan = None
        self.plan = None
        self.reshape(data_shapes, label_shapes)
        self._default_plan = self.plan

    # -- set-up -------------------------------------------------------------------------
    def _resolve_grad_req(self, grad_req):
        names = self.arg_names
        if not self.for_training:
            return {n: "null" for n in names}
        params = set(self.param_names)
        fixed = set(self.fixed_param_names)
        data = set(self.data_names)
        if isinstance(grad_req, str):
            req = {}
            for n in names:
                if n in params:
                    req[n] = "null" if n in fixed else grad_req
                elif n in data:
                    req[n] = grad_req if self.inputs_need_grad else "null"
                else:
                    req[n] = "null"
        elif isinstance(grad_req, (list, tuple)):
            if len(grad_req) != len(names):
                raise ParameterError(f"grad_req as a list needs one entry per argument "
                                     f"({len(names)}: {names}), got {len(grad_req)}")
            req = dict(zip(names, grad_req))
        elif isinstance(grad_req, dict):
            req = {}
            for n in names:
                if n in params:
                    req[n] = "null" if n in fixed else "write"
                elif n in data:
                    req[n] = "write" if self.inputs_need_grad else "null"
                else:
                    req[n] = "null"
            unknown = set(grad_req) - set(names)
            if unknown:
                raise ParameterError(f"grad_req names {sorted(unknown)} are not arguments of "
                                     f"the symbol; arguments: {names}")
            req.update(grad_req)
        else:
            raise ParameterError("grad_req must be one of str, list, tuple, or dict.")
        for n, r in req.items():
            if r not in ("write", "add", "null", "inplace"):
                raise ParameterError(f"grad_req for {n!r} is {r!r}; use 'write', 'add' or "
                                     f"'null'")
            if r == "inplace":
                req[n] = "write"
        return req

    def _input_dtypes(self, data_shapes, label_shapes):
        types = {}
        attrs = self.symbol.attr_dict()
        for desc in list(data_shapes) + list(label_shapes or []):
            dtype = getattr(desc, "dtype", np.float32)
            declared = attrs.get(desc.name, {}).get("__dtype__")
            if declared is not None and desc.name in self.data_names:
                dtype = _declared_dtype(declared)
            types[desc.name] = np.dtype(dtype)
        return types

    def _infer(self, shapes, types):
        arg_shapes, out_shapes, aux_shapes = self.symbol.infer_shape(**shapes)
        if arg_shapes is None or any(s is None for s in arg_shapes):
            raise ShapeError(f"cannot infer all argument shapes from the input shapes "
                             f"{shapes}; give every input's shape to bind()")
        arg_types, out_types, aux_types = self.symbol.infer_type(
            **{k: v for k, v in types.items()})
        return (dict(zip(self.arg_names, arg_shapes)), out_shapes,
                dict(zip(self.aux_names, aux_shapes)),
                dict(zip(self.arg_names, arg_types or [None] * len(self.arg_names))),
                out_types, dict(zip(self.aux_names, aux_types or [None] * len(self.aux_names))))

    def _make_store(self, data_shapes, label_shapes):
        shapes = {d.name: tuple(d.shape) for d in list(data_shapes) + list(label_shapes or [])}
        types = self._input_dtypes(data_shapes, label_shapes)
        arg_shapes, _, aux_shapes, arg_types, _, aux_types = self._infer(shapes, types)
        specs = [(n, arg_shapes[n], arg_types.get(n) or np.float32,
                  self.grad_req.get(n, "null") != "null") for n in self.param_names]
        aux_specs = [(n, aux_shapes[n], aux_types.get(n) or np.float32) for n in self.aux_names]
        return ParamStore(self.contexts, specs, aux_specs, self.for_training)

    def _check_shared(self, data_shapes, label_shapes):
        missing = [n for n in self.param_names if n not in self.params.arg_shapes]
        missing += [n for n in self.aux_names if n not in self.params.aux_shapes]
        if missing:
            raise ParameterError(f"shared_module does not hold {missing}; every parameter of a "
                                 f"module sharing memory must exist in the shared module")

    # -- plans --------------------------------------------------------------------------
    @staticmethod
    def _key(data_shapes, label_shapes):
        return (tuple((d.name, tuple(d.shape)) for d in data_shapes),
                None if label_shapes is None else
                tuple((d.name, tuple(d.shape)) for d in label_shapes))

    def reshape(self, data_shapes, label_shapes=None):
        """Switch to executors for these input shapes (built once, then reused)."""
        data_shapes = normalise_descs(data_shapes, "data_shapes")
        label_shapes = normalise_descs(label_shapes, "label_shapes")
        key = self._key(data_shapes, label_shapes)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._build_plan(list(data_shapes),
                                    None if label_shapes is None else list(label_shapes))
            self._plans[key] = plan
        self.plan = plan
        self._merged_fresh = False

    def _decide_batch(self, descs):
        batch = None
        first = None
        for desc in descs:
            axis = batch_axis(getattr(desc, "layout", None))
            if axis < 0:
                continue
            if axis >= len(desc.shape):
                raise ShapeError(f"input {desc.name!r} has layout {desc.layout!r} but shape "
                                 f"{tuple(desc.shape)}")
            size = desc.shape[axis]
            if batch is None:
                batch, first = size, desc
            elif size != batch:
                raise ShapeError(f"all data must have the same batch size: batch_size = "
                                 f"{batch} (from {first.name!r}), but {desc.name!r} has shape "
                                 f"{tuple(desc.shape)}")
        return batch

    @property
    def shared_data_arrays(self):
        """Per device, ``{input name: NDArray}`` of the buffers this group's inputs are
        views of, shared with every group bound with ``shared_group`` (the buckets): each
        holds the largest size any of them needed."""
        from ..ndarray import NDArray
        return [{name: NDArray(buf, ctx) for (name, _), buf in pool.items()}
                for pool, ctx in zip(self._shared_inputs, self.contexts)]

    def _input_array(self, k, name, shape, dtype):
        """An input array of ``shape`` on device ``k``, reusing the largest buffer seen."""
        from ..ndarray import NDArray
        ctx = self.contexts[k]
        backend = ctx.backend
        size = int(np.prod(shape, dtype=np.int64))
        pool = self._shared_inputs[k]
        key = (name, np.dtype(dtype).str)
        buf = pool.get(key)
        if buf is None or buf.size < size:
            buf = pool[key] = backend.zeros((max(size, 1),), dtype, ctx.device_id)
        return NDArray(buf[:size].reshape(shape), ctx)

    def _build_plan(self, data_shapes, label_shapes):
        from ..ndarray import NDArray
        plan = _Plan()
        plan.data_shapes = data_shapes
        plan.label_shapes = label_shapes
        inputs = data_shapes + (label_shapes or [])
        batch = self._decide_batch(inputs)
        if batch is None:   # nothing has a batch axis: every device gets the whole input
            batch = 0
            plan.slices = [slice(None)] * len(self.contexts)
        else:
            plan.slices = split_input_slice(batch, self.workload)
        plan.batch_size = batch
        plan.active = [k for k, sl in enumerate(plan.slices) if sl is not None]
        types = self._input_dtypes(data_shapes, label_shapes)
        store = self.params
        plan.execs = [None] * len(self.contexts)
        default = self._default_plan or self._shared_plan
        out_shapes_dev0 = None
        for k in plan.active:
            sl = plan.slices[k]
            shapes = {}
            for desc in inputs:
                axis = batch_axis(getattr(desc, "layout", None))
                shape = list(desc.shape)
                if axis >= 0 and batch:
                    shape[axis] = sl.stop - sl.start
                shapes[desc.name] = tuple(shape)
            arg_shapes, out_shapes, aux_shapes, arg_types, _, _ = self._infer(shapes, types)
            for n in self.param_names:
                if tuple(arg_shapes[n]) != store.arg_shapes[n]:
                    raise ShapeError(
                        f"input shapes {shapes} would change the shape of parameter {n!r} "
                        f"from {store.arg_shapes[n]} to {tuple(arg_shapes[n])}; parameters "
                        f"keep their shapes across reshape: bind a new Module instead")
            for n in self.aux_names:
                if tuple(aux_shapes[n]) != store.aux_shapes[n]:
                    raise ShapeError(f"input shapes {shapes} would change the shape of "
                                     f"auxiliary state {n!r}; bind a new Module instead")
            if out_shapes_dev0 is None:
                out_shapes_dev0 = out_shapes
            args = store.arg_views(k)
            args_grad = store.grad_views(k) if self.for_training else {}
            for name in self.arg_names:
                if name in args:
                    continue
                dtype = types.get(name) or arg_types.get(name) or np.float32
                args[name] = self._input_array(k, name, arg_shapes[name], dtype)
                if self.grad_req.get(name, "null") != "null" and name not in args_grad:
                    args_grad[name] = NDArray(
                        self.contexts[k].backend.zeros(tuple(arg_shapes[name]), dtype,
                                                       self.contexts[k].device_id),
                        self.contexts[k])
            shared_exec = None
            if default is not None and default.execs[k] is not None:
                shared_exec = default.execs[k]
            exe = self.symbol.bind(self.contexts[k], args=args,
                                   args_grad=args_grad if self.for_training else None,
                                   grad_req=self.grad_req, aux_states=store.aux_views(k),
                                   shared_exec=shared_exec)
            if self._monitor is not None:
                self._monitor.install(exe)
            plan.execs[k] = exe
        self._make_targets(plan, data_shapes, label_shapes)
        self._make_merge(plan, out_shapes_dev0)
        return plan

    def _make_targets(self, plan, data_shapes, label_shapes):
        def targets(desc):
            axis = batch_axis(getattr(desc, "layout", None))
            out = []
            for k in plan.active:
                dst = plan.execs[k].arg_dict[desc.name].raw
                sl = plan.slices[k]
                whole = axis < 0 or not plan.batch_size or (
                    sl.start == 0 and sl.stop == plan.batch_size)
                index = None if whole else _axis_index(axis, sl)
                out.append((index, dst, self.contexts[k].backend))
            return out
        plan.data_targets = [targets(d) for d in data_shapes]
        plan.label_targets = [targets(d) for d in (label_shapes or [])]

    def _make_merge(self, plan, out_shapes_dev0):
        n_out = len(self.output_names)
        first = plan.active[0]
        outputs0 = plan.execs[first].outputs
        plan.output_shapes = []
        for j in range(n_out):
            shape = list(outputs0[j].shape)
            axis = self.output_layouts[j]
            if axis >= 0 and plan.batch_size and axis < len(shape):
                shape[axis] = sum(tuple(plan.execs[k].outputs[j].shape)[axis]
                                  for k in plan.active)
            plan.output_shapes.append((self.output_names[j], tuple(shape)))
        if len(plan.active) == 1:
            plan.merged = None
            return
        from ..ndarray import NDArray
        ctx = self.contexts[first]
        plan.merged = []
        plan.merge_copies = []
        for j in range(n_out):
            axis = self.output_layouts[j]
            if axis < 0:
                plan.merged.append(outputs0[j])
                plan.merge_copies.append(None)
                continue
            plan.merged.append(NDArray(ctx.backend.empty(plan.output_shapes[j][1],
                                                         outputs0[j].dtype, ctx.device_id),
                                       ctx))
            copies, start = [], 0
            for k in plan.active:
                src = plan.execs[k].outputs[j].raw
                n = src.shape[axis]
                copies.append((_axis_index(axis, slice(start, start + n)), src,
                               self.contexts[k].backend))
                start += n
            plan.merge_copies.append((plan.output_shapes[j][1], outputs0[j].dtype, copies))

    # -- running ------------------------------------------------------------------------
    @property
    def batch_size(self):
        return self.plan.batch_size

    @property
    def slices(self):
        return self.plan.slices

    @property
    def execs(self):
        """The executors with work in the current shapes (idle devices have none)."""
        return [self.plan.execs[k] for k in self.plan.active]

    @property
    def data_shapes(self):
        return self.plan.data_shapes

    @property
    def label_shapes(self):
        return self.plan.label_shapes

    def load_inputs(self, targets_list, arrays):
        for targets, src in zip(targets_list, arrays):
            raw = _raw(src)
            for index, dst, backend in targets:
                _load(dst, raw if index is None else raw[index], backend)

    def forward(self, data_batch, is_train=None):
        plan = self.plan
        if is_presliced(data_batch):
            self._load_presliced(data_batch)
        else:
            self.load_inputs(plan.data_targets, data_batch.data)
            label = getattr(data_batch, "label", None)
            if label and plan.label_targets:
                self.load_inputs(plan.label_targets, label)
        if is_train is None:
            is_train = self.for_training
        for k in plan.active:
            plan.execs[k].forward(is_train=is_train)
        self._merged_fresh = False

    def _load_presliced(self, batches):
        plan = self.plan
        if len(batches) != len(plan.active):
            raise ShapeError(f"{len(batches)} pre-sliced batches were given for "
                             f"{len(plan.active)} devices; pass one batch per device")
        for i, name in enumerate(self.data_names):
            for k, batch in zip(plan.active, batches):
                dst = plan.execs[k].arg_dict[name].raw
                _load(dst, _raw(batch.data[i]), self.contexts[k].backend)
        if plan.label_targets:
            for i, name in enumerate(self.label_names):
                for k, batch in zip(plan.active, batches):
                    if batch.label:
                        dst = plan.execs[k].arg_dict[name].raw
                        _load(dst, _raw(batch.label[i]), self.contexts[k].backend)

    def backward(self, out_grads=None):
        if not self.for_training:
            raise NotForTrainingError("re-bind with for_training=True to run backward")
        plan = self.plan
        if out_grads is None:
            for k in plan.active:
                plan.execs[k].backward()
            return
        from ..ndarray import NDArray
        if not isinstance(out_grads, (list, tuple)):
            out_grads = [out_grads]
        for k in plan.active:
            sl = plan.slices[k]
            grads = []
            for j, grad in enumerate(out_grads):
                raw = _raw(grad)
                axis = self.output_layouts[j]
                if axis >= 0 and plan.batch_size and len(plan.active) > 1:
                    raw = raw[_axis_index(axis, sl)]
                grads.append(NDArray(raw) if isinstance(raw, np.ndarray) else
                             NDArray(raw, getattr(grad, "context", None)))
            plan.execs[k].backward(out_grads=grads)

    def get_outputs(self, merge_multi_context=True):
        plan = self.plan
        if not merge_multi_context:
            return [[plan.execs[k].outputs[j] for k in plan.active]
                    for j in range(len(self.output_names))]
        outputs = self.merged_outputs()
        plan.merged_given = plan.merged is not None
        return outputs

    def merged_outputs(self):
        """The outputs of the last forward merged over devices, for use before the next
        forward (``update_metric``). The merge buffers are reused from step to step unless
        ``get_outputs`` handed them to a caller: then new ones are made, as MXNet's
        concatenation did, so outputs kept from an earlier batch keep their values."""
        plan = self.plan
        if plan.merged is None:
            return list(plan.execs[plan.active[0]].outputs)
        if not self._merged_fresh:
            from ..ndarray import NDArray
            ctx = self.contexts[plan.active[0]]
            for j, merge in enumerate(plan.merge_copies):
                if merge is None:
                    continue
                shape, dtype, copies = merge
                if plan.merged_given:
                    plan.merged[j] = NDArray(ctx.backend.empty(shape, dtype, ctx.device_id),
                                             ctx)
                buf = plan.merged[j].raw
                for index, src, backend in copies:
                    _load(buf[index], src, backend)
            plan.merged_given = False
            self._merged_fresh = True
        return list(plan.merged)

    def get_input_grads(self, merge_multi_context=True):
        if not self.inputs_need_grad:
            raise InputsGradError("input gradients are only computed for a module bound with "
                                  "inputs_need_grad=True: bind(..., inputs_need_grad=True)")
        from ..ndarray import NDArray
        plan = self.plan
        per_input = [[plan.execs[k].grad_dict[name] for k in plan.active]
                     for name in self.data_names]
        if not merge_multi_context:
            return per_input
        merged = []
        for desc, pieces in zip(plan.data_shapes, per_input):
            if len(pieces) == 1:
                merged.append(pieces[0])
                continue
            axis = batch_axis(getattr(desc, "layout", None))
            if axis < 0:
                merged.append(pieces[0])
                continue
            host = [p.asnumpy() for p in pieces]
            merged.append(NDArray(self.contexts[plan.active[0]].backend.from_host(
                np.concatenate(host, axis=axis), self.contexts[plan.active[0]].device_id),
                self.contexts[plan.active[0]]))
        return merged

    def get_states(self, merge_multi_context=False):
        plan = self.plan
        return [[plan.execs[k].arg_dict[name] for k in plan.active]
                for name in self.state_names]

    def set_states(self, states=None, value=None):
        plan = self.plan
        if states is not None:
            for name, per_dev in zip(self.state_names, states):
                for k, src in zip(plan.active, per_dev):
                    _load(plan.execs[k].arg_dict[name].raw, _raw(src),
                          self.contexts[k].backend)
        else:
            for name in self.state_names:
                for k in plan.active:
                    plan.execs[k].arg_dict[name].raw[...] = value

    def get_output_shapes(self):
        return list(self.plan.output_shapes)

    def install_monitor(self, mon):
        self._monitor = mon
        for plan in self._plans.values():
            for exe in plan.execs:
                if exe is not None:
                    mon.install(exe)

    # -- parameters through the group (Module keeps its own host copies instead) ----------
    def get_params(self, arg_params, aux_params):
        """Copy the current values into ``arg_params``/``aux_params`` (dicts, filled in
        place: existing NDArrays are overwritten, missing names added): parameters from
        device 0 (identical on every device after an update), auxiliary states averaged
        over the devices."""
        from ..ndarray import array
        self.params.sync_to_host()
        for target, values in ((arg_params, self.params.host_args()),
                               (aux_params, self.params.host_aux())):
            for name, value in values.items():
                if name in target and hasattr(target[name], "raw"):
                    target[name][:] = value.asnumpy().astype(target[name].dtype)
                else:
                    target[name] = array(value.asnumpy())

    def set_params(self, arg_params, aux_params, allow_extra=False):
        """Copy the given values onto every device; names the group does not have raise
        ``ExtraParamError`` unless ``allow_extra``. Everything is checked (names, shapes)
        before anything is copied."""
        from .errors import ExtraParamError
        from .params import _host_array
        todo = []
        for values, names, kind in ((arg_params or {}, self.param_names, "parameter"),
                                    (aux_params or {}, self.aux_names, "auxiliary state")):
            extra = sorted(set(values) - set(names))
            if extra and not allow_extra:
                raise ExtraParamError(f"{extra[0]!r} is not a {kind} of this executor group; "
                                      f"pass allow_extra=True to ignore such names")
            for name, value in values.items():
                if name in names:
                    host = _host_array(value)
                    self.params.check_compatible(name, host.shape, kind)
                    todo.append((name, host, kind != "parameter"))
        for name, host, aux in todo:
            self.params.set_device_value(name, host, aux=aux)

    def decide_slices(self, data_shapes):
        """The per-device batch slices for ``data_shapes`` (by ``workload``)."""
        batch = self._decide_batch(normalise_descs(data_shapes, "data_shapes"))
        return split_input_slice(batch, self.workload)

    # -- MXNet's bookkeeping lists (read by user code that reaches into the group) --------
    @property
    def input_grad_arrays(self):
        """Per data input, its gradient on each device (None unless inputs_need_grad)."""
        if not self.inputs_need_grad:
            return None
        plan = self.plan
        return [[plan.execs[k].grad_dict[n] for k in plan.active] for n in self.data_names]

    @property
    def state_arrays(self):
        """Per state input (``state_names``), its array on each device."""
        plan = self.plan
        return [[plan.execs[k].arg_dict[n] for k in plan.active] for n in self.state_names]

    @property
    def param_arrays(self):
        views = [self.params.arg_views(k) for k in range(len(self.contexts))]
        return [[v[n] for v in views] for n in self.param_names]

    @property
    def grad_arrays(self):
        if not self.for_training:
            return None
        views = [self.params.grad_views(k) for k in range(len(self.contexts))]
        return [[v[n] for v in views] if n in views[0] else None for n in self.param_names]

    @property
    def aux_arrays(self):
        views = [self.params.aux_views(k) for k in range(len(self.contexts))]
        return [[v[n] for v in views] for n in self.aux_names]

    @property
    def data_arrays(self):
        plan = self.plan
        return [[(plan.slices[k], plan.execs[k].arg_dict[n]) for k in plan.active]
                for n in self.data_names]

    @property
    def label_arrays(self):
        plan = self.plan
        if not plan.label_shapes:
            return None
        return [[(plan.slices[k], plan.execs[k].arg_dict[n]) for k in plan.active]
                for n in self.label_names]


def _declared_dtype(text):
    try:
        return np.dtype(text)
    except TypeError:
        codes = {"0": "float32", "1": "float64", "2": "float16", "3": "uint8", "4": "int32",
                 "5": "int8", "6": "int64"}
        return np.dtype(codes.get(str(text), "float32"))
