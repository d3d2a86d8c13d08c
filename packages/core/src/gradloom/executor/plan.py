"""Bind-time analysis of a graph: entries, shapes, dtypes, gradient flow and buffer layout.

Everything here runs once per bind; the executor turns the result into flat lists of kernel
calls. Entry ids (``eid``) number every node output, hidden ones included, in graph order.
"""
import numpy as np

from ..base import ShapeError, DTypeError
from ..symbol import inference
from ..symbol.graph import split_variables, topo_order
from .memory import aligned_elements

# where an entry's value or gradient lives
ARG, AUX, POOL, PRIVATE, ZEROS = "arg", "aux", "pool", "private", "zeros"


class GraphPlan:
    """Static facts about one bound graph (no arrays)."""

    def __init__(self, symbol, arg_shapes, arg_dtypes, aux_shapes, aux_dtypes, grad_req):
        self.symbol = symbol
        self.heads = list(symbol._heads)
        self.order = order = topo_order(self.heads)
        self.index = {id(n): i for i, n in enumerate(order)}
        self.arg_nodes, self.aux_nodes = split_variables(order)
        self.row_ptr = [0]
        for node in order:
            self.row_ptr.append(self.row_ptr[-1] + node.num_outputs)
        self.num_entries = self.row_ptr[-1]
        self.grad_req = list(grad_req)
        self._infer(arg_shapes, arg_dtypes, aux_shapes, aux_dtypes)
        self.head_eids = [self.eid(n, k) for n, k in self.heads]
        self._plan_gradients()
        self._plan_buffers()

    def eid(self, node, k=0):
        return self.row_ptr[self.index[id(node)]] + k

    def input_eids(self, i):
        return [self.eid(src, k) for src, k in self.order[i].inputs]

    # -- shapes and dtypes ----------------------------------------------------------------
    def _infer(self, arg_shapes, arg_dtypes, aux_shapes, aux_dtypes):
        vars_ = self.arg_nodes + self.aux_nodes
        shapes = {id(n): tuple(s) for n, s in zip(vars_, list(arg_shapes) + list(aux_shapes))}
        dtypes = {id(n): inference.dtype_name(t)
                  for n, t in zip(vars_, list(arg_dtypes) + list(aux_dtypes))}
        # the arrays' own shapes win over declared __shape__ attributes
        values = inference.infer_shapes(self.order, shapes)
        types = inference.infer_types(self.order, dtypes)
        self.shapes, self.dtypes = [], []
        for node, node_shapes, node_types in zip(self.order, values, types):
            for k, (shape, dtype) in enumerate(zip(node_shapes, node_types)):
                if not inference.is_complete(shape):
                    raise ShapeError(
                        f"bind: cannot infer the shape of {self._entry_name(node, k)} (got "
                        f"{shape}); give the shapes of all inputs (data, labels, states)")
                if dtype is None:
                    raise DTypeError(
                        f"bind: cannot infer the dtype of {self._entry_name(node, k)}; pass "
                        f"type_dict with the input dtypes")
                self.shapes.append(tuple(shape))
                self.dtypes.append(dtype)

    @staticmethod
    def _entry_name(node, k):
        if node.op is None or k < node.num_visible_outputs:
            return repr(node.output_name(k))
        return f"hidden output {k} of {node.name!r}"

    # -- gradients ------------------------------------------------------------------------
    def _plan_gradients(self):
        order = self.order
        arg_pos = {id(n): i for i, n in enumerate(self.arg_nodes)}
        needs = [False] * self.num_entries
        self.node_needs = [False] * len(order)
        for i, node in enumerate(order):
            if node.op is None:
                pos = arg_pos.get(id(node))
                needs[self.row_ptr[i]] = pos is not None and self.grad_req[pos] != "null"
                continue
            nargs = len(node.arg_names)
            flag = any(needs[e] for e in self.input_eids(i)[:nargs])
            self.node_needs[i] = flag
            for k in range(node.num_visible_outputs):
                needs[self.row_ptr[i] + k] = flag
        self.needs_grad = needs
        self.consumers = {}  # entry -> indices of nodes reading it (any input slot)
        for i, node in enumerate(order):
            for e in self.input_eids(i):
                self.consumers.setdefault(e, []).append(i)
        head_set = {e for e in self.head_eids if needs[e]}
        # req per (node, arg slot), in backward order: first writer 'write', later ones 'add'
        written = set(head_set)  # head gradients are written first, at backward() start
        self.slot_req = {}
        self.zero_fill = {}  # node index -> eids to zero before its backward (repeated inputs)
        for i in reversed(range(len(order))):
            node = order[i]
            if node.op is None or not self.node_needs[i]:
                continue
            eids = self.input_eids(i)[:len(node.arg_names)]
            reqs = []
            for e in eids:
                src = order[self._node_of(e)]
                if not needs[e]:
                    reqs.append("null")
                elif src.op is None and self.grad_req[arg_pos[id(src)]] == "add":
                    reqs.append("add")
                elif e in written:
                    reqs.append("add")
                else:
                    reqs.append("write")
            repeated = {e for e in eids if eids.count(e) > 1}
            for e in repeated:
                slots = [s for s, x in enumerate(eids) if x == e]
                if reqs[slots[0]] == "write":
                    # one kernel writing the same buffer twice: zero it, then accumulate
                    self.zero_fill.setdefault(i, []).append(e)
                    for s in slots:
                        reqs[s] = "add"
            written.update(e for e, r in zip(eids, reqs) if r != "null")
            self.slot_req[i] = reqs
        self.grad_written = written

    def _node_of(self, eid):
        # row_ptr is sorted: binary search for the node that owns entry ``eid``
        lo, hi = 0, len(self.order) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.row_ptr[mid] <= eid:
                lo = mid
            else:
                hi = mid - 1
        return lo

    # -- buffers --------------------------------------------------------------------------
    def _plan_buffers(self):
        """Decide where each value and gradient lives and lay the pool out."""
        order = self.order
        arg_pos = {id(n): i for i, n in enumerate(self.arg_nodes)}
        aux_pos = {id(n): i for i, n in enumerate(self.aux_nodes)}
        heads = set(self.head_eids)
        self.value_loc = [None] * self.num_entries
        self.grad_loc = [None] * self.num_entries
        layout = []  # (("value"|"grad", eid)) laid out in the pool
        for i, node in enumerate(order):
            base = self.row_ptr[i]
            if node.op is None:
                if id(node) in arg_pos:
                    self.value_loc[base] = (ARG, arg_pos[id(node)])
                    if self.needs_grad[base]:
                        self.grad_loc[base] = (ARG, arg_pos[id(node)])
                else:
                    self.value_loc[base] = (AUX, aux_pos[id(node)])
                continue
            for k in range(node.num_outputs):
                e = base + k
                # head outputs stay private: users read them after forward, and a shared
                # pool may be overwritten by another bucket's executor in between
                if e in heads:
                    self.value_loc[e] = (PRIVATE, e)
                else:
                    self.value_loc[e] = (POOL, e)
                    layout.append(("value", e))
                if k < node.num_visible_outputs and self.needs_grad[e]:
                    if e in heads:
                        self.grad_loc[e] = (PRIVATE, e)
                    elif e in self.grad_written:
                        self.grad_loc[e] = (POOL, e)
                        layout.append(("grad", e))
                    else:
                        # nobody ever writes this gradient (an unused output): constant zeros
                        self.grad_loc[e] = (ZEROS, e)
        self.pool_offsets, self.pool_needs = assign_offsets(
            [(key, self.dtypes[key[1]], int(np.prod(self.shapes[key[1]], dtype=np.int64)),
              *self._live_range(*key)) for key in layout])

    def _live_range(self, kind, e):
        """(first, last) step that touches buffer ``kind`` of entry ``e``.

        Steps: forward of node i is step i, backward of node i is step 2n-1-i, so a buffer
        whose range ended can share memory with one whose range starts later. Ranges are
        inclusive: a node's inputs and outputs never share memory (kernels need not be
        in-place safe).
        """
        n = len(self.order)
        p = self._node_of(e)
        consumers = self.consumers.get(e, ())
        if kind == "value":
            last = max(consumers, default=p)
            with_backward = [i for i in (p, *consumers) if i in self.slot_req]
            if with_backward:
                last = max(last, 2 * n - 1 - min(with_backward))
            return p, last
        writers = [c for c in consumers if c in self.slot_req]
        return 2 * n - 1 - max(writers), 2 * n - 1 - p


def assign_offsets(buffers):
    """Lay buffers out in per-dtype pools, reusing memory of buffers no longer live.

    ``buffers``: ``(key, dtype, nelems, first_step, last_step)``. A linear scan over time with
    a best-fit free list (a malloc simulation): bind-time cost stays near-linear even for long
    unrolled RNNs. Returns ``({key: (dtype, offset)}, {dtype: total elements})``.
    """
    import heapq
    offsets, needs = {}, {}
    by_dtype = {}
    for key, dtype, nelems, first, last in buffers:
        by_dtype.setdefault(dtype, []).append((first, last, aligned_elements(nelems, dtype),
                                               key))
    for dtype, items in by_dtype.items():
        items.sort(key=lambda it: (it[0], -it[2]))
        holes = []  # sorted [offset, size] free ranges below ``top``
        top = peak = 0
        live = []  # heap of (last_step, offset, size)
        for first, last, size, key in items:
            while live and live[0][0] < first:
                _, off, sz = heapq.heappop(live)
                top = _free(holes, off, sz, top)
            best = None
            for h in holes:
                if h[1] >= size and (best is None or h[1] < best[1]):
                    best = h
            if best is not None:
                off = best[0]
                if best[1] == size:
                    holes.remove(best)
                else:
                    best[0] += size
                    best[1] -= size
            else:
                off = top
                top += size
                peak = max(peak, top)
            offsets[key] = (dtype, off)
            heapq.heappush(live, (last, off, size))
        needs[dtype] = peak
    return offsets, needs


def _free(holes, off, size, top):
    """Return [off, off+size) to the free list (merging neighbours); returns the new top."""
    import bisect
    i = bisect.bisect_left(holes, [off, 0])
    holes.insert(i, [off, size])
    if i + 1 < len(holes) and holes[i][0] + holes[i][1] == holes[i + 1][0]:
        holes[i][1] += holes.pop(i + 1)[1]
    if i > 0 and holes[i - 1][0] + holes[i - 1][1] == holes[i][0]:
        holes[i - 1][1] += holes.pop(i)[1]
        i -= 1
    if holes[i][0] + holes[i][1] == top:
        top = holes.pop(i)[0]
    return top
