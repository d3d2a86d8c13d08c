"""relu, tanh or sigmoid followed by max pooling, run as the pooling followed by the activation.

These functions never decrease, so the largest activation in a window is the activation of
the largest input, and its gradient goes to that same position:
``maxpool(act(x)) == act(maxpool(x))``. Where ties appear only after the activation (relu's
zeros, tanh and sigmoid saturating to exactly 1.0 in float32) the gradient there is 0 either
way. Swapping the two runs
the activation, forward and backward, on the pooled array: a quarter of the elements for
LeNet's 2x2 windows (its step 6-7% faster on 2 cores).

The executor (``gradloom_cpu.executor``) pairs an Activation node with the max-pooling node
that is its only reader, when the activation's output is not a graph output and no monitor
or operator profiler wants to see it: that output is then never computed.
"""
import numpy as np

from .activation import CpuActivationKernel, _relu_grad
from .pooling import CpuPoolingKernel

SWAPPABLE = ("relu", "tanh", "sigmoid")


def find_pairs(plan, kernels, layouts):
    """``[(activation node index, pooling node index)]`` that can run swapped.

    ``layouts`` (``{entry: perm}``) must store the activation's input as its output, which
    the pooling kernel is set up to read."""
    heads = set(plan.head_eids)
    pairs = []
    for j, pool in enumerate(kernels):
        if not (isinstance(pool, CpuPoolingKernel) and pool.fast):
            continue
        source, output = plan.order[j].inputs[0]
        i = plan.index[id(source)]
        act = kernels[i]
        if not (isinstance(act, CpuActivationKernel) and act.attrs.act_type in SWAPPABLE):
            continue
        entry = plan.row_ptr[i] + output
        if entry in heads or plan.consumers.get(entry) != [j]:
            continue
        if layouts.get(plan.input_eids(i)[0]) != layouts.get(entry):
            continue
        pairs.append((i, j))
    return pairs


class SwappedActPool:
    """The forward and backward calls of one (activation, max pooling) pair."""

    def __init__(self, act, pool):
        self.act, self.pool = act, pool
        self.relu = act.attrs.act_type == "relu"
        self.pooled_input = None      # max over each window of the activation's input
        self.pooled_grad = None       # gradient with respect to it
        self.mask = None              # relu's x > 0 (core's relu gradient would allocate it)

    def forward(self, is_train, act_inputs, pool_outputs, aux):
        y = pool_outputs[0]
        if self.pooled_input is None or self.pooled_input.shape != y.shape:
            self.pooled_input = np.empty_like(y)   # once, at the first step
            self.pooled_grad = np.empty_like(y)
            self.mask = np.empty(y.shape, dtype=bool) if self.relu else None
        self.pool.forward(is_train, act_inputs, [self.pooled_input], aux)
        self.act.fwd(np, self.pooled_input, y)

    def backward(self, out_grads, act_inputs, pool_outputs, act_in_grads, act_req):
        if self.relu:
            _relu_grad(self.pooled_input, out_grads[0], self.mask, self.pooled_grad)
        else:
            self.act.bwd(np, self.pooled_input, pool_outputs[0], out_grads[0],
                         self.pooled_grad)
        self.pool.backward([self.pooled_grad], act_inputs, [self.pooled_input], [],
                           act_in_grads, act_req)


def swap_calls(swaps, fwd, bwd, op_nodes, bwd_nodes):
    """The forward and backward call lists with each pair's two calls made one.

    ``swaps``: ``[(activation index, pooling index, SwappedActPool)]``; ``fwd``/``bwd`` are
    the executor's lists, ``op_nodes`` the node index of each forward call, ``bwd_nodes`` of
    each backward call (None for a zero fill)."""
    acts = {i for i, _, _ in swaps}
    swapped = {j: (i, swap) for i, j, swap in swaps}
    inputs_of = {i: ins for (_, ins, _, _), i in zip(fwd, op_nodes) if i in acts}
    new_fwd = []
    for (call, ins, outs, aux), i in zip(fwd, op_nodes):
        if i in acts:
            continue
        if i in swapped:
            act, swap = swapped[i]
            new_fwd.append((swap.forward, inputs_of[act], outs, aux))
        else:
            new_fwd.append((call, ins, outs, aux))
    act_args = {i: args for (_, args), i in zip(bwd, bwd_nodes) if i in acts}
    new_bwd = []
    for (call, args), i in zip(bwd, bwd_nodes):
        if i in acts:
            continue
        if i in swapped:
            act, swap = swapped[i]
            if act in act_args:       # else nothing below the activation needs a gradient
                _, ins, _, _, in_grads, reqs = act_args[act]
                new_bwd.append((swap.backward, (args[0], ins, args[2], in_grads, reqs)))
        else:
            new_bwd.append((call, args))
    return new_fwd, new_bwd
