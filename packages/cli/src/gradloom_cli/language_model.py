"""``predict`` and ``score`` for checkpoints of ``gradloom train --model lstm-lm``.

Such a checkpoint is a ``BucketingModule`` one (a symbol per used bucket length, see
``gradloom.module.bucket_checkpoint``) plus ``PREFIX-vocab.json``, the token ids it was
trained with. Text is split into tokens the way training split it, unseen tokens become
``<unk>``, and every line goes to the shortest saved bucket that holds it; lines longer than
the longest bucket are counted and skipped. Batches are filled up with all-padding rows
(token 0), which the perplexity metric ignores, so no line is left out for want of a full
batch and no padding is scored.
"""
import bisect
import json
import os

import numpy as np

from gradloom.base import ConfigError, FormatError

from .zoo.lstm_lm import INVALID_LABEL, UNKNOWN, read_sentences


def vocab_path(prefix):
    return f"{prefix}-vocab.json"


def is_language_model(prefix):
    return os.path.exists(vocab_path(prefix))


class LanguageModel:
    """A loaded lstm-lm checkpoint, bound for inference with ``batch_size`` rows."""

    def __init__(self, prefix, epoch, contexts, batch_size):
        import gradloom as mx
        self.prefix = prefix
        self.batch_size = batch_size
        self.vocab, self.tokens = _read_vocab(vocab_path(prefix))
        self.words = {i: w for w, i in self.vocab.items()}
        self.module = mx.mod.BucketingModule.load(prefix, epoch, context=contexts)
        self.buckets = sorted(k for k in self.module.saved_bucket_keys
                              if isinstance(k, int) and not isinstance(k, bool))
        if not self.buckets:
            raise FormatError(f"{prefix}-buckets.json lists no sentence-length bucket; is "
                              f"this an lstm-lm checkpoint?")
        default = self.module.default_bucket_key
        shape = (batch_size, default)
        self.module.bind([mx.io.DataDesc("data", shape, layout="NT")],
                         [mx.io.DataDesc("softmax_label", shape, layout="NT")],
                         for_training=False)

    def token_label(self, token_id):
        """How a token id prints: the word, or a quoted character (a space is visible)."""
        token = self.words.get(int(token_id), "?")
        return repr(token) if self.tokens == "chars" else token

    def encode(self, path, option):
        """Token ids of every non-empty line of ``path``, unseen tokens as ``<unk>``."""
        import gradloom as mx
        sentences = read_sentences(path, self.tokens, option)
        encoded, _ = mx.rnn.encode_sentences(sentences, vocab=dict(self.vocab),
                                             invalid_label=INVALID_LABEL,
                                             unknown_token=UNKNOWN)
        return encoded

    def batches(self, encoded):
        """``(DataBatch, [(line index, length)])`` per batch; lines too long are skipped.

        Returns the generator and the number of skipped lines."""
        by_bucket = {}
        skipped = 0
        for index, ids in enumerate(encoded):
            at = bisect.bisect_left(self.buckets, len(ids))
            if at == len(self.buckets):
                skipped += 1
                continue
            by_bucket.setdefault(self.buckets[at], []).append(index)
        return self._batches(encoded, by_bucket), skipped

    def _batches(self, encoded, by_bucket):
        import gradloom as mx
        for length in sorted(by_bucket):
            lines = by_bucket[length]
            for start in range(0, len(lines), self.batch_size):
                rows = lines[start:start + self.batch_size]
                data = np.full((self.batch_size, length), INVALID_LABEL, np.float32)
                for r, index in enumerate(rows):
                    data[r, :len(encoded[index])] = encoded[index]
                label = np.full_like(data, INVALID_LABEL)
                label[:, :-1] = data[:, 1:]
                shape = (self.batch_size, length)
                yield mx.io.DataBatch(
                    [mx.nd.array(data)], [mx.nd.array(label)], pad=0, bucket_key=length,
                    provide_data=[mx.io.DataDesc("data", shape, layout="NT")],
                    provide_label=[mx.io.DataDesc("softmax_label", shape, layout="NT")]), \
                    [(index, len(encoded[index])) for index in rows]

    def probabilities(self, batch):
        """Next-token probabilities of a batch, shaped (rows, length, vocabulary)."""
        self.module.forward(batch, is_train=False)
        out = self.module.get_outputs()[0].asnumpy()
        return out.reshape(self.batch_size, batch.bucket_key, -1)


def _read_vocab(path):
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        vocab = {str(w): int(i) for w, i in saved["vocab"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(f"{path} is not a vocabulary written by gradloom train --model "
                          f"lstm-lm ({exc})") from None
    tokens = saved.get("tokens")
    if tokens is None:   # written before the file recorded it: single characters mean chars
        tokens = "chars" if all(len(w) == 1 for w in vocab if w != UNKNOWN) else "words"
    if tokens not in ("words", "chars"):
        raise FormatError(f"{path}: 'tokens' is {tokens!r}, expected 'words' or 'chars'")
    return vocab, tokens


def score(model, path, metric_names):
    """``(results, lines scored, lines skipped, tokens scored)`` of perplexity on ``path``."""
    import gradloom as mx
    names = [m.lower() for m in metric_names] or ["perplexity"]
    if any(n not in ("perplexity", "ppl") for n in names):
        raise ConfigError(f"--metric {', '.join(metric_names)}: an lstm-lm checkpoint is "
                          f"scored by perplexity (per-token accuracy would count the padding "
                          f"of short lines); leave --metric out or give --metric perplexity")
    metric = mx.metric.Perplexity(ignore_label=INVALID_LABEL)
    encoded = model.encode(path, "DATA")
    batches, skipped = model.batches(encoded)
    lines = tokens = 0
    for batch, rows in batches:
        probs = model.probabilities(batch)
        metric.update(batch.label, [mx.nd.array(probs.reshape(-1, probs.shape[-1]))])
        lines += len(rows)
        tokens += sum(length - 1 for _, length in rows)
    if not lines:
        raise ConfigError(f"{path}: no line fits the checkpoint's buckets {model.buckets} "
                          f"(all {skipped} are longer)")
    return metric.get_name_value(), lines, skipped, tokens


def predict(model, path):
    """Next-token probabilities after the last token of every line: ``(n lines, vocab)``,
    NaN rows for lines longer than the longest bucket; and the number of those.

    The padding id (0) is not a token: its probability (the model also learns to predict
    padding, as MXNet's example does) is removed and the rest rescaled to sum to 1."""
    encoded = model.encode(path, "INPUT")
    batches, skipped = model.batches(encoded)
    out = None
    for batch, rows in batches:
        probs = model.probabilities(batch)
        if out is None:
            out = np.full((len(encoded), probs.shape[-1]), np.nan, np.float32)
        for r, (index, length) in enumerate(rows):
            out[index] = probs[r, length - 1]
    if out is None:
        raise ConfigError(f"{path}: no line fits the checkpoint's buckets {model.buckets} "
                          f"(all {skipped} are longer)")
    out[:, INVALID_LABEL] = 0
    out /= out.sum(axis=1, keepdims=True)
    return out, skipped
