"""Run one operator's kernel outside a graph: infer shapes, allocate, forward, backward.

``bind_op`` is what the checks in ``gradloom.testing`` and the conformance suite use; it
resolves the kernel exactly as an executor does (the backend's registered kernel, else the
operator's generic one), so a backend's fast kernels are what gets tested.
"""
import numpy as np

from ..base import ShapeError
from ..ops._common import is_known


def resolve_op(name):
    from ..plugins import load_plugins
    return load_plugins().ops.get(name)


def kernel_class(op, backend):
    from ..plugins import load_plugins
    found = load_plugins().kernels.lookup(op.name, backend.device_type)
    return found or op.kernel


def infer_shapes(op, attrs, in_shapes, out_shapes=None):
    """Run ``op.infer_shape`` to a fixed point; raise ``ShapeError`` if anything stays unknown."""
    n_in = len(op.arguments(attrs)) + len(op.aux_states(attrs))
    ins = list(in_shapes) + [None] * (n_in - len(in_shapes))
    outs = list(out_shapes or [None] * op.num_outputs(attrs))
    for _ in range(4):
        new_ins, new_outs = op.infer_shape(attrs, ins, outs)
        new_ins, new_outs = list(new_ins), list(new_outs)
        if new_ins == ins and new_outs == outs:
            break
        ins, outs = new_ins, new_outs
    if not all(is_known(s) for s in ins + outs):
        raise ShapeError(f"{op.name}: shapes could not be completed: inputs {ins}, outputs "
                         f"{outs}; give the missing input shapes")
    return [tuple(s) for s in ins], [tuple(s) for s in outs]


def infer_types(op, attrs, in_types):
    n_out = op.num_outputs(attrs)
    ins, outs = op.infer_type(attrs, list(in_types), [None] * n_out)
    return list(ins), list(outs)


class BoundOp:
    """One operator bound to shapes, dtypes and a backend device, with host-side I/O.

    ``forward``/``backward`` take and return numpy arrays; device arrays live in ``args``,
    ``aux``, ``outputs`` and ``grads`` and are reused between calls, as in an executor.
    """

    def __init__(self, op_name, attrs, in_shapes, backend, dtype="float32", in_types=None,
                 device_id=0, kernel=None):
        self.op = resolve_op(op_name)
        self.attrs = self.op.parse_attrs(dict(attrs))
        self.backend, self.xp, self.device_id = backend, backend.xp, device_id
        self.arg_names = self.op.arguments(self.attrs)
        self.aux_names = self.op.aux_states(self.attrs)
        self.num_args = len(self.arg_names)
        self.num_visible = len(self.op.outputs(self.attrs))
        self.in_shapes, self.out_shapes = infer_shapes(self.op, self.attrs, in_shapes)
        given = list(in_types or [])
        given += [None] * (len(self.in_shapes) - len(given))
        if self.in_shapes and given[0] is None:
            given[0] = np.dtype(dtype).name
        in_t, out_t = infer_types(self.op, self.attrs, given)
        in_t = [t or np.dtype(dtype).name for t in in_t]
        out_t = [t or np.dtype(dtype).name for t in out_t]
        self.dtypes = {"in": in_t, "out": out_t}
        cls = kernel or kernel_class(self.op, backend)
        self.kernel = cls(self.op, self.attrs, self.in_shapes, self.out_shapes, self.dtypes,
                          backend, device_id)
        self.args = [backend.zeros(s, dtype=t, device_id=device_id)
                     for s, t in zip(self.in_shapes, in_t)]
        self.aux = self.args[self.num_args:]
        self.args = self.args[:self.num_args]
        self.outputs = [backend.zeros(s, dtype=t, device_id=device_id)
                        for s, t in zip(self.out_shapes, out_t)]
        self.grads = [backend.zeros(s, dtype=t, device_id=device_id)
                      for s, t in zip(self.in_shapes[:self.num_args], in_t)]

    def set_inputs(self, inputs=None, aux=None):
        for dst, value in zip(self.args, inputs or []):
            if value is not None:
                self.backend.copy_from_host(dst, np.asarray(value))
        for dst, value in zip(self.aux, aux or []):
            if value is not None:
                self.backend.copy_from_host(dst, np.asarray(value))

    def forward(self, inputs=None, aux=None, is_train=True, arrays=None):
        """Run forward; ``arrays`` replaces the device input arrays (e.g. strided views)."""
        self.set_inputs(inputs, aux)
        args = arrays if arrays is not None else self.args
        self.kernel.forward(is_train, args, self.outputs, self.aux)
        return [self.backend.to_host(o).copy() for o in self.outputs]

    def backward(self, out_grads=None, req="write", grads=None, arrays=None):
        """Run backward; returns the host gradients (``None`` where req is 'null').

        ``grads`` gives initial gradient values (for 'add'); ``req`` is one value or a list.
        """
        reqs = [req] * self.num_args if isinstance(req, str) else list(req)
        if out_grads is None:
            out_grads = [np.ones(s, dtype=t) for s, t in
                         zip(self.out_shapes[:self.num_visible], self.dtypes["out"])]
        dev_out_grads = [self.backend.from_host(np.asarray(g, dtype=t), self.device_id)
                         for g, t in zip(out_grads, self.dtypes["out"])]
        for i, value in enumerate(grads or []):
            if value is not None:
                self.backend.copy_from_host(self.grads[i], np.asarray(value))
        in_grads = [g if r != "null" else None for g, r in zip(self.grads, reqs)]
        args = arrays if arrays is not None else self.args
        self.kernel.backward(dev_out_grads, args, self.outputs, self.aux, in_grads, reqs)
        return [self.backend.to_host(g).copy() if r != "null" else None
                for g, r in zip(self.grads, reqs)]

    def aux_values(self):
        return [self.backend.to_host(a).copy() for a in self.aux]


def bind_op(op_name, attrs=None, in_shapes=(), backend=None, dtype="float32", **kwargs):
    """Bind ``op_name`` with ``attrs`` on ``backend`` (default: the cpu backend)."""
    if backend is None:
        from ..plugins import load_plugins
        backend = load_plugins().backends.get("cpu")
    return BoundOp(op_name, attrs or {}, in_shapes, backend, dtype=dtype, **kwargs)
