"""Recurrent cells and sequence iterators (MXNet's ``mx.rnn``).

Cells build unrolled graphs out of ordinary operators (FullyConnected, SliceChannel,
Activation, element-wise arithmetic, Concat), so every backend runs them without a fused RNN
kernel, and parameter names follow MXNet (``lstm_l0_i2h_weight`` ...) so checkpoints carry
over.
"""
from .base_cell import BaseRNNCell
from .cells import GRUCell, LSTMCell, RNNCell
from .containers import BidirectionalCell, SequentialRNNCell
from .io import BucketSentenceIter, encode_sentences
from .modifiers import DropoutCell, ModifierCell, ResidualCell, ZoneoutCell
from .params import RNNParams

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell",
           "SequentialRNNCell", "BidirectionalCell", "ModifierCell", "DropoutCell",
           "ResidualCell", "ZoneoutCell", "BucketSentenceIter", "encode_sentences"]
