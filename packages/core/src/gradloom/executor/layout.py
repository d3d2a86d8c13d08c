"""Private storage layouts for intermediate values, agreed between neighbouring kernels.

Users always see MXNet's layouts (NCHW...). Inside a bound graph, though, a value that only
kernels read may be stored in another axis order when its producer and every reader can
work in it: on CPUs the im2col convolution and pooling run 2-3x faster with the batch axis
last, (C, H, W, N), and converting at each kernel's edge would cost most of that gain.

Protocol (optional; kernels without it are never given a private layout):

* ``kernel.layout_options()`` -> tuple of axis permutations in which the kernel can read
  its first input and write its first output. ``perm`` means the stored array is
  ``standard.transpose(perm)``.
* ``kernel.set_layouts(in_perm, out_perm)``: called once at bind time, before any call,
  with ``None`` for the standard layout.
* ``kernel.elementwise = True``: a one-input, one-output kernel that works element by
  element; its output (and both gradients) take whatever layout its input has.

A value gets a private layout when it is not a graph output, and every reader either takes
that layout on its first input or is an elementwise kernel whose own output can (in turn)
take it. Gradient buffers follow their value's layout.
"""


def plan_layouts(plan, kernels):
    """``{eid: perm}`` for the entries stored in a private layout (empty: none)."""
    heads = set(plan.head_eids)
    order = plan.order

    def first_output(i):
        return plan.row_ptr[i]

    def is_elementwise(i):
        node = order[i]
        return (getattr(kernels[i], "elementwise", False) and node.num_outputs == 1
                and len(plan.input_eids(i)) == 1)

    def readable(e, perm, depth=0):
        """Can every reader of entry ``e`` read (and write its gradient) in ``perm``?"""
        readers = plan.consumers.get(e, ())
        if e in heads or not readers or depth > len(order):
            return False
        for c in set(readers):
            ins = plan.input_eids(c)
            if ins.count(e) != 1 or ins[0] != e:
                return False           # read through another slot (a weight, a second operand)
            if is_elementwise(c):
                if not readable(first_output(c), perm, depth + 1):
                    return False
                continue
            options = getattr(kernels[c], "layout_options", None)
            if options is None or perm not in options():
                return False
        return True

    layouts = {}

    def assign(e, perm):
        layouts[e] = perm
        for c in set(plan.consumers.get(e, ())):
            if is_elementwise(c):
                assign(first_output(c), perm)

    for i, node in enumerate(order):
        kernel = kernels[i]
        if kernel is None or is_elementwise(i):
            continue
        options = getattr(kernel, "layout_options", None)
        if options is None:
            continue
        e = first_output(i)
        for perm in options():
            if readable(e, perm):
                assign(e, perm)
                break
    return layouts


def apply_layouts(plan, kernels, layouts):
    """Tell each layout-aware kernel how its first input and first output are stored."""
    for i, kernel in enumerate(kernels):
        if kernel is None or getattr(kernel, "set_layouts", None) is None:
            continue
        ins = plan.input_eids(i)
        in_perm = layouts.get(ins[0]) if ins else None
        out_perm = layouts.get(plan.row_ptr[i])
        if in_perm is not None or out_perm is not None:
            kernel.set_layouts(in_perm, out_perm)


def stored_shape(shape, perm):
    return tuple(shape[i] for i in perm)


def inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)
