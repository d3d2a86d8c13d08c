"""LSTM language model on a text file, trained with a BucketingModule.

MXNet's ``example/rnn/bucketing/lstm_bucketing.py``: embedding -> stacked LSTM cells
unrolled over the bucket length -> FullyConnected over the vocabulary -> SoftmaxOutput, one
symbol per sentence-length bucket, all sharing parameters. Token id 0 marks padding (it is
the iterator's invalid label and the metric's ignored label), real tokens start at 1.
"""
import os

from gradloom.base import ConfigError
from gradloom.rnn.language_model import lstm_lm_sym_gen

DESCRIPTION = "2-layer LSTM language model over a .txt file (one sentence per line)"
PARAMS = {"num_hidden": 200, "num_embed": 200, "num_layers": 2,
          "buckets": "10,20,30,40,50,60", "tokens": "words"}
INVALID_LABEL = 0
START_LABEL = 1
UNKNOWN = "<unk>"


def read_sentences(path, tokens, option="--data"):
    """Non-empty lines of a UTF-8 text file, as lists of words or of characters."""
    if not str(path).lower().endswith(".txt"):
        raise ConfigError(f"model 'lstm-lm' trains on a text file: give {option} FILE.txt "
                          f"(one sentence per line), e.g. tinyshakespeare/input.txt; got "
                          f"{path!r}")
    if not os.path.exists(path):
        raise ConfigError(f"data not found: {path!r} ({option})")
    if tokens not in ("words", "chars"):
        raise ConfigError(f"model parameter 'tokens' is 'words' or 'chars', got {tokens!r}")
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle]
    if tokens == "words":
        return [line.split() for line in lines if line.split()]
    return [list(line) for line in lines if line.strip()]


def _write_vocab(prefix, vocab, tokens):
    """``PREFIX-vocab.json``: token ids and how text was split, for predict and score."""
    import json

    from gradloom.fileio import atomic_write
    with atomic_write(f"{prefix}-vocab.json", "w") as handle:
        json.dump({"invalid_label": INVALID_LABEL, "unknown": UNKNOWN, "tokens": tokens,
                   "vocab": vocab}, handle, ensure_ascii=False, sort_keys=True)


def make_job(settings, contexts):
    import gradloom as mx

    from . import int_list, model_params
    params = model_params(__import__(__name__, fromlist=["PARAMS"]), settings.model_params,
                          settings.model)
    sizes = {k: int_list(params[k], k)[0] for k in ("num_hidden", "num_embed", "num_layers")}
    buckets = int_list(params["buckets"], "buckets")
    train_sentences = read_sentences(settings.data, params["tokens"])
    # the unknown token gets an id up front so validation text can map unseen tokens to it
    encoded, vocab = mx.rnn.encode_sentences(train_sentences + [[UNKNOWN]],
                                             invalid_label=INVALID_LABEL,
                                             start_label=START_LABEL)
    encoded = encoded[:-1]
    vocab_size = max(vocab.values()) + 1
    train_iter = mx.rnn.BucketSentenceIter(encoded, settings.batch_size, buckets=buckets,
                                           invalid_label=INVALID_LABEL)
    if not train_iter.idx:
        raise ConfigError(f"{settings.data}: no bucket of {buckets} holds a full batch of "
                          f"{settings.batch_size} sentences; lower --batch-size or change "
                          f"--model-param buckets=...")
    val_iter, val_count = None, 0
    if settings.val_data and settings.val_data != "none":
        val_sentences = read_sentences(settings.val_data, params["tokens"], "--val-data")
        val_encoded, _ = mx.rnn.encode_sentences(val_sentences, vocab=dict(vocab),
                                                 invalid_label=INVALID_LABEL,
                                                 unknown_token=UNKNOWN)
        val_iter = mx.rnn.BucketSentenceIter(val_encoded, settings.batch_size,
                                             buckets=buckets, invalid_label=INVALID_LABEL)
        val_count = len(val_sentences)
    if settings.checkpoint:
        _write_vocab(settings.checkpoint, vocab, params["tokens"])
    sym_gen = lstm_lm_sym_gen(vocab_size, **sizes)
    default_key = train_iter.default_bucket_key

    def make_module(contexts):
        return mx.mod.BucketingModule(sym_gen, default_bucket_key=default_key,
                                      context=contexts)

    def metric():
        return settings.metric or mx.metric.Perplexity(INVALID_LABEL)

    validation = f"validation {val_count}" if val_iter is not None else "no validation data"
    return {"symbol": sym_gen(default_key)[0], "make_module": make_module,
            "train": train_iter, "val": val_iter, "metric": metric,
            "initializer": mx.init.Xavier(factor_type="in", magnitude=2.34),
            "summary": f"{len(train_sentences)} sentences, {validation}, vocabulary "
                       f"{vocab_size}, buckets {buckets}"}
