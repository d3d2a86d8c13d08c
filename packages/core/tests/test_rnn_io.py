"""BucketSentenceIter and encode_sentences (test-cases D7)."""
import numpy as np
import pytest

import gradloom as mx
from gradloom.base import ConfigError, ParameterError, UnknownNameError


def _sentences(count=60, seed=0):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(1, 20, size=rng.integers(1, 11))) for _ in range(count)]


def test_bucket_sentence_iter_shapes_and_labels():
    sents = _sentences()
    it = mx.rnn.BucketSentenceIter(sents, 4, buckets=[3, 6, 10], invalid_label=-1)
    assert it.default_bucket_key == 10
    assert it.provide_data == [mx.io.DataDesc("data", (4, 10), layout="NT")]
    assert it.provide_data[0].layout == "NT"
    assert it.provide_label == [mx.io.DataDesc("softmax_label", (4, 10))]
    seen = {3: 0, 6: 0, 10: 0}
    for batch in it:
        key = batch.bucket_key
        seen[key] += 1
        data, label = batch.data[0].asnumpy(), batch.label[0].asnumpy()
        assert data.shape == (4, key) and label.shape == (4, key)
        assert batch.pad == 0
        assert batch.provide_data[0].shape == (4, key)
        assert batch.provide_label[0].shape == (4, key)
        np.testing.assert_array_equal(label[:, :-1], data[:, 1:])
        np.testing.assert_array_equal(label[:, -1], -1)
    lengths = [len(s) for s in sents]
    expected = {3: sum(1 for n in lengths if n <= 3) // 4,
                6: sum(1 for n in lengths if 3 < n <= 6) // 4,
                10: sum(1 for n in lengths if 6 < n <= 10) // 4}
    assert seen == expected


def test_padding_and_content_preserved():
    sents = [[1, 2], [3, 4, 5], [6], [7, 8, 9]]
    it = mx.rnn.BucketSentenceIter(sents, 4, buckets=[3], invalid_label=-1)
    batch = next(it)
    rows = sorted(map(tuple, batch.data[0].asnumpy().astype(int).tolist()))
    assert rows == sorted([(1, 2, -1), (3, 4, 5), (6, -1, -1), (7, 8, 9)])
    with pytest.raises(StopIteration):
        next(it)


def test_time_major_layout_and_default_buckets():
    sents = [[1, 2, 3]] * 5 + [[1, 2]] * 4 + [[1]] * 2
    it = mx.rnn.BucketSentenceIter(sents, 4, layout="TN")
    assert it.buckets == [2, 3]   # lengths occurring at least batch_size times
    assert it.provide_data[0].shape == (3, 4)
    for batch in it:
        assert batch.data[0].shape == (batch.bucket_key, 4)
        assert batch.provide_data[0].layout == "TN"
    with pytest.raises(ConfigError):
        mx.rnn.BucketSentenceIter(sents, 4, layout="NTC")


def test_long_sentences_are_discarded_and_tails_dropped(caplog):
    sents = [[1] * 5] * 3 + [[1, 2]] * 5
    it = mx.rnn.BucketSentenceIter(sents, 2, buckets=[2])
    assert "discarded 3 sentences" in caplog.text
    assert len(list(it)) == 2          # 5 sentences -> 2 full batches of 2
    with pytest.raises(ParameterError):
        mx.rnn.BucketSentenceIter([[1]], 4)


def test_reset_shuffles_reproducibly_with_seed():
    sents = _sentences(80, seed=1)

    def order():
        mx.random.seed(5)
        it = mx.rnn.BucketSentenceIter(sents, 4, buckets=[3, 6, 10])
        return [b.data[0].asnumpy().copy() for b in it]

    first, second = order(), order()
    assert len(first) == len(second) > 3
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    mx.random.seed(5)
    it = mx.rnn.BucketSentenceIter(sents, 4, buckets=[3, 6, 10])
    epoch1 = [b.data[0].asnumpy().copy() for b in it]
    it.reset()
    epoch2 = [b.data[0].asnumpy().copy() for b in it]
    # a new order, but the same sentences
    assert [a.tobytes() for a in epoch1] != [a.tobytes() for a in epoch2]

    def rows(epoch):
        return sorted(tuple(r) for a in epoch for r in a.tolist())

    assert rows(epoch1) == rows(epoch2)


def test_encode_sentences():
    coded, vocab = mx.rnn.encode_sentences([["a", "b"], ["b", "c", "a"]], invalid_label=-1)
    assert vocab == {"\n": -1, "a": 0, "b": 1, "c": 2}
    assert coded == [[0, 1], [1, 2, 0]]
    # ids skip the invalid label
    coded, vocab = mx.rnn.encode_sentences([["x", "y"]], invalid_label=1, start_label=0)
    assert coded == [[0, 2]]
    # an existing vocabulary: unknown tokens raise or map to unknown_token
    with pytest.raises(UnknownNameError, match="Unknown token"):
        mx.rnn.encode_sentences([["z"]], vocab=dict(vocab))
    coded, vocab2 = mx.rnn.encode_sentences([["x", "z", "q"]], vocab=dict(vocab),
                                            unknown_token="<unk>")
    assert coded == [[0, 3, 3]] and vocab2["<unk>"] == 3
