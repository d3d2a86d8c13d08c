"""Bias-add + activation fusion, decided once per bound graph.

A FullyConnected or Convolution node whose output is read by exactly one node, an
activation run by a fused GPU kernel, and is not a graph output, skips its own bias-add; the
activation adds the bias in the same pass as ``f``. Gradients are unchanged: the activation's
backward reads only its output, and the layer's backward never reads its output. Fusion is
turned off while a monitor is installed, because monitors show every node's output.
"""


def find_pairs(plan, kernels):
    """``[(layer node index, activation node index, bias entry id)]`` that can be fused."""
    heads = set(plan.head_eids)
    pairs = []
    for i, kernel in enumerate(kernels):
        if kernel is None or not getattr(kernel, "can_defer_bias", False):
            continue
        out = plan.row_ptr[i]
        consumers = plan.consumers.get(out, ())
        if out in heads or len(consumers) != 1:
            continue
        j = consumers[0]
        act = kernels[j]
        if not getattr(act, "accepts_bias", False):
            continue
        if plan.input_eids(j).count(out) != 1 or plan.input_eids(j)[0] != out:
            continue
        pairs.append((i, j, plan.input_eids(i)[2]))
    return pairs


def apply(pairs, kernels, values, enabled):
    """Switch the fused pairs on (with the current bias arrays) or off."""
    for i, j, bias_eid in pairs:
        layer, act = kernels[i], kernels[j]
        if enabled:
            data_view, bias_view = layer.bias_views()
            layer.defer_bias = True
            act.set_bias(values[bias_eid], data_view, bias_view)
        else:
            layer.defer_bias = False
            act.set_bias(None, None, None)
