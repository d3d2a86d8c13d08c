"""The LSTM language model of MXNet's bucketing example, as a ``sym_gen`` factory.

Both the example script and the command line's model zoo train this exact network; one
definition keeps their parameter names (``embed_weight``, ``lstm_l0_i2h_weight``,
``pred_weight`` ...) and therefore their checkpoints interchangeable.
"""
from .. import symbol as sym
from .cells import LSTMCell
from .containers import SequentialRNNCell


def lstm_lm_sym_gen(vocab_size, num_layers=2, num_hidden=200, num_embed=200):
    """``sym_gen(seq_len) -> (symbol, data_names, label_names)`` for a BucketingModule.

    embedding -> ``num_layers`` stacked LSTM cells unrolled over ``seq_len`` ->
    FullyConnected over the vocabulary -> SoftmaxOutput on the flattened labels.
    """
    # one cell stack for every bucket: its parameter variables are shared by all unrolls
    stack = SequentialRNNCell()
    for layer in range(num_layers):
        stack.add(LSTMCell(num_hidden=num_hidden, prefix=f"lstm_l{layer}_"))

    def sym_gen(seq_len):
        data = sym.Variable("data")
        label = sym.Variable("softmax_label")
        embed = sym.Embedding(data=data, input_dim=vocab_size, output_dim=num_embed,
                              name="embed")
        stack.reset()   # fresh step counters, so each unroll names its nodes the same way
        outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = sym.Reshape(outputs, shape=(-1, num_hidden))
        pred = sym.FullyConnected(data=pred, num_hidden=vocab_size, name="pred")
        label = sym.Reshape(label, shape=(-1,))
        pred = sym.SoftmaxOutput(data=pred, label=label, name="softmax")
        return pred, ("data",), ("softmax_label",)

    return sym_gen
