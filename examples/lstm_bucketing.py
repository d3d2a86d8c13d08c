"""Character-level LSTM language model on Tiny Shakespeare, trained with BucketingModule.

The flow of MXNet's example/rnn/bucketing/lstm_bucketing.py: lines become sentences,
BucketSentenceIter groups them by length into buckets, ``sym_gen(seq_len)`` unrolls a
stacked LSTM for each bucket, and ``BucketingModule.fit`` trains one set of parameters over
all buckets, reporting perplexity (padding ignored).

    python examples/lstm_bucketing.py                       # shipped 60 kB slice
    python examples/lstm_bucketing.py --data ../shared/data/tinyshakespeare/input.txt
    GRADLOOM_TINYSHAKESPEARE=/path/input.txt python examples/lstm_bucketing.py

The model part is ``gradloom.rnn.language_model.lstm_lm_sym_gen``, written with the
``mx.sym``/``mx.rnn`` API only (copy it alongside to run under ``import mxnet as mx``); only
the data loading is specific to this corpus.
"""
import argparse
import logging
import os

import gradloom as mx
# The network (embedding -> stacked LSTMCells unrolled per bucket -> FullyConnected ->
# SoftmaxOutput) is written with mx.sym / mx.rnn only; gradloom ships it so that this
# script and `gradloom train --model lstm-lm` train, and checkpoint, the same model.
from gradloom.rnn.language_model import lstm_lm_sym_gen as make_sym_gen

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "data", "tinyshakespeare_head.txt")
BUCKETS = [10, 20, 30, 40, 50, 64]
START_LABEL = 1      # ids start at 1 ...
INVALID_LABEL = 0    # ... so 0 can pad sentences (and be ignored by the metric)


def data_path(arg=None):
    """``--data``, else $GRADLOOM_TINYSHAKESPEARE, else the shipped slice."""
    return arg or os.environ.get("GRADLOOM_TINYSHAKESPEARE") or DEFAULT_DATA


def read_lines(fname, max_lines=None):
    """Non-empty lines of the corpus, each a list of characters."""
    with open(fname, encoding="utf-8") as fobj:
        lines = [line.rstrip("\n") for line in fobj]
    lines = [list(line) for line in lines if line.strip()]
    return lines[:max_lines] if max_lines else lines


def tokenize(lines, vocab=None):
    return mx.rnn.encode_sentences(lines, vocab=vocab, invalid_label=INVALID_LABEL,
                                   start_label=START_LABEL, unknown_token=None
                                   if vocab is None else "\x00")


def make_iters(fname, batch_size, max_lines=None, val_fraction=0.1):
    """Train/validation BucketSentenceIters (the last lines are the validation set)."""
    lines = read_lines(fname, max_lines)
    split = int(len(lines) * (1 - val_fraction))
    train_sent, vocab = tokenize(lines[:split])
    vocab.setdefault("\x00", max(vocab.values()) + 1)   # id for characters unseen in training
    val_sent, _ = tokenize(lines[split:], vocab)
    train = mx.rnn.BucketSentenceIter(train_sent, batch_size, buckets=BUCKETS,
                                      invalid_label=INVALID_LABEL)
    val = mx.rnn.BucketSentenceIter(val_sent, batch_size, buckets=BUCKETS,
                                    invalid_label=INVALID_LABEL)
    return train, val, vocab


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a character-level LSTM language "
                                                 "model with bucketing")
    parser.add_argument("--data", default=None, help="text file (default: "
                        "$GRADLOOM_TINYSHAKESPEARE or the shipped slice)")
    parser.add_argument("--max-lines", type=int, default=None)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--num-hidden", type=int, default=200)
    parser.add_argument("--num-embed", type=int, default=200)
    parser.add_argument("--gpus", type=str, default=None,
                        help="e.g. 0,1 (default: CPU)")
    parser.add_argument("--kv-store", type=str, default="device")
    parser.add_argument("--num-epochs", type=int, default=25)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--optimizer", type=str, default="sgd")
    parser.add_argument("--mom", type=float, default=0.0)
    parser.add_argument("--wd", type=float, default=0.00001)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--disp-batches", type=int, default=50)
    parser.add_argument("--model-prefix", type=str, default=None,
                        help="save a checkpoint after every epoch")
    return parser.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)-15s %(message)s")
    args = parse_args(argv)
    mx.random.seed(42)
    train, val, vocab = make_iters(data_path(args.data), args.batch_size, args.max_lines)
    sym_gen = make_sym_gen(max(vocab.values()) + 1, args.num_layers, args.num_hidden,
                           args.num_embed)
    contexts = ([mx.gpu(int(i)) for i in args.gpus.split(",")] if args.gpus
                else mx.cpu(0))
    model = mx.mod.BucketingModule(sym_gen=sym_gen,
                                   default_bucket_key=train.default_bucket_key,
                                   context=contexts)
    epoch_end = (mx.callback.module_checkpoint(model, args.model_prefix,
                                               save_optimizer_states=True)
                 if args.model_prefix else None)
    optimizer_params = {"learning_rate": args.lr, "wd": args.wd}
    if args.optimizer.lower() in ("sgd", "nag"):   # the optimizers that take a momentum
        optimizer_params["momentum"] = args.mom
    model.fit(train_data=train, eval_data=val,
              eval_metric=mx.metric.Perplexity(INVALID_LABEL),
              kvstore=args.kv_store, optimizer=args.optimizer,
              optimizer_params=optimizer_params,
              initializer=mx.init.Xavier(factor_type="in", magnitude=2.34),
              num_epoch=args.num_epochs, epoch_end_callback=epoch_end,
              batch_end_callback=mx.callback.Speedometer(args.batch_size, args.disp_batches,
                                                         auto_reset=False))
    return model


if __name__ == "__main__":
    main()
