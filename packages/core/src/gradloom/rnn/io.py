"""Sentence iterators for bucketing: ``encode_sentences`` and ``BucketSentenceIter``."""
import bisect
import logging

import numpy as np

from ..base import ConfigError, ParameterError, UnknownNameError
from ..io import DataBatch, DataDesc, DataIter
from ..io._host import host_rng, wrap

__all__ = ["encode_sentences", "BucketSentenceIter"]


def encode_sentences(sentences, vocab=None, invalid_label=-1, invalid_key="\n",
                     start_label=0, unknown_token=None):
    """Map every token to an integer id; returns ``(encoded_sentences, vocab)``.

    Without ``vocab`` a new one is built (``invalid_key`` -> ``invalid_label``, then ids
    from ``start_label`` in order of first appearance, skipping ``invalid_label``). With a
    given ``vocab``, unknown tokens map to ``unknown_token`` (added once if it is not in the
    vocabulary) or raise ``UnknownNameError``.
    """
    new_vocab = vocab is None
    if new_vocab:
        vocab = {invalid_key: invalid_label}
        idx = start_label
    else:
        used = [v for v in vocab.values() if isinstance(v, (int, np.integer))]
        idx = max(max(used) + 1, start_label) if used else start_label
    res = []
    for sent in sentences:
        coded = []
        for word in sent:
            if word not in vocab:
                if not new_vocab:
                    if not unknown_token:
                        raise UnknownNameError(f"Unknown token {word!r}: it is not in the "
                                               f"vocabulary; pass unknown_token=... to map "
                                               f"unknown tokens to one id")
                    word = unknown_token
                if word not in vocab:
                    if idx == invalid_label:
                        idx += 1
                    vocab[word] = idx
                    idx += 1
            coded.append(vocab[word])
        res.append(coded)
    return res, vocab


class BucketSentenceIter(DataIter):
    """Batches of equal-length (padded) sentences for a ``BucketingModule``.

    Each sentence goes to the smallest bucket at least as long as it and is right-padded
    with ``invalid_label``; longer sentences are dropped (and counted in a warning). Labels
    are the data shifted left by one with ``invalid_label`` last. Only full batches are
    produced; ``reset()`` shuffles the batch order and the sentences inside each bucket
    (with the generator ``gradloom.random.seed`` controls). Every batch carries its
    ``bucket_key`` (the bucket length) and its own ``provide_data``/``provide_label``.
    """

    def __init__(self, sentences, batch_size, buckets=None, invalid_label=-1,
                 data_name="data", label_name="softmax_label", dtype="float32",
                 layout="NT"):
        super().__init__(batch_size)
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        lengths = [len(s) for s in sentences]
        if not buckets:
            counts = np.bincount(lengths) if lengths else np.zeros(0, dtype=np.int64)
            buckets = [i for i, n in enumerate(counts) if n >= batch_size and i > 0]
        buckets = sorted(int(b) for b in buckets)
        if not buckets:
            raise ParameterError(f"no bucket: no sentence length occurs batch_size="
                                 f"{batch_size} times; pass buckets=[...] explicitly")
        self.major_axis = layout.find("N")
        if layout not in ("NT", "TN"):
            raise ConfigError(f"Invalid layout {layout!r}: Must be NT (batch major) or TN "
                              f"(time major)")
        per_bucket = [[] for _ in buckets]
        ndiscard = 0
        for sent in sentences:
            buck = bisect.bisect_left(buckets, len(sent))
            if buck == len(buckets):
                ndiscard += 1
                continue
            buff = np.full((buckets[buck],), invalid_label, dtype=dtype)
            buff[:len(sent)] = sent
            per_bucket[buck].append(buff)
        if ndiscard:
            logging.warning("discarded %d sentences longer than the largest bucket.",
                            ndiscard)
        self.data = [np.asarray(b, dtype=dtype).reshape(len(b), length)
                     for b, length in zip(per_bucket, buckets)]
        self.buckets = buckets
        self.data_name = data_name
        self.label_name = label_name
        self.dtype = dtype
        self.invalid_label = invalid_label
        self.layout = layout
        self.default_bucket_key = max(buckets)
        shape = self._shape(self.default_bucket_key)
        self.provide_data = [DataDesc(data_name, shape, dtype, layout)]
        self.provide_label = [DataDesc(label_name, shape, dtype, layout)]
        self.idx = []
        for i, buck in enumerate(self.data):
            self.idx.extend((i, j) for j in range(0, len(buck) - batch_size + 1, batch_size))
        # labels are computed once; reset() permutes data and labels together
        self.labels = []
        for buck in self.data:
            label = np.empty_like(buck)
            label[:, :-1] = buck[:, 1:]
            label[:, -1] = invalid_label
            self.labels.append(label)
        self.curr_idx = 0
        self.reset()

    def _shape(self, length):
        if self.major_axis == 0:
            return (self.batch_size, length)
        return (length, self.batch_size)

    def reset(self):
        """Shuffle the batch order and the sentences in each bucket; start over."""
        self.curr_idx = 0
        rng = host_rng()
        order = rng.permutation(len(self.idx))
        self.idx = [self.idx[i] for i in order]
        for i, buck in enumerate(self.data):
            perm = rng.permutation(len(buck))
            self.data[i] = buck[perm]
            self.labels[i] = self.labels[i][perm]

    def next(self):
        if self.curr_idx == len(self.idx):
            raise StopIteration
        i, j = self.idx[self.curr_idx]
        self.curr_idx += 1
        data = self.data[i][j:j + self.batch_size]
        label = self.labels[i][j:j + self.batch_size]
        if self.major_axis == 1:
            data = np.ascontiguousarray(data.T)
            label = np.ascontiguousarray(label.T)
        return DataBatch([wrap(data)], [wrap(label)], pad=0, bucket_key=self.buckets[i],
                         provide_data=[DataDesc(self.data_name, data.shape, self.dtype,
                                                self.layout)],
                         provide_label=[DataDesc(self.label_name, label.shape, self.dtype,
                                                 self.layout)])
