"""The shared features: batch hashing of n-grams, the per-language copy, and the English valences."""

from __future__ import annotations

import numpy as np
import pytest

from caredesk.triage import datasets as ds
from caredesk.triage import hashing
from caredesk.triage.features import Featurizer, Valence
from caredesk.triage.text import clean

N = 2**16


def test_character_ngrams_stay_within_words() -> None:
    # " ab " gives a, b | " a", ab, "b " | " ab", "ab " | " ab ": eight n-grams, each once
    row = hashing.char_ngrams(["ab"], N)
    assert row.sum() == 8
    assert sorted(row.data.tolist()) == [1.0] * 8
    # two words never share an n-gram across the space between them
    assert hashing.char_ngrams(["ab cd"], N).sum() == 16
    # the same n-gram twice is counted twice
    assert hashing.char_ngrams(["ab ab"], N).data.tolist() == [2.0] * 8


def test_word_tokens_keep_combining_marks_and_split_punctuation() -> None:
    # Devanagari vowel signs are marks: "नमस्ते" is one word, so one unigram and nothing else
    assert hashing.word_ngrams(["नमस्ते"], N).sum() == 1
    # "hi" "!" "!" are three tokens: three unigrams (one counted twice) and two bigrams
    row = hashing.word_ngrams(["hi!!"], N)
    assert row.sum() == 5
    assert hashing.word_ngrams(["", "   "], N).nnz == 0


def test_a_text_has_the_same_columns_alone_and_in_any_batch() -> None:
    texts = [clean(str(r["text"])).lower() for r in ds.care_corpus()[:300]]
    for fn in (hashing.char_ngrams, hashing.word_ngrams):
        batch = fn(texts, N)
        for i in (0, 17, 299):
            alone = fn([texts[i]], N)
            assert (batch[i] != alone[0]).nnz == 0
        # different texts differ
        assert (batch[0] != batch[1]).nnz > 0


def test_columns_are_fixed_across_releases() -> None:
    """The hash is part of the model files' contract (FEATURE_SPEC): a change here needs new models."""
    row = hashing.word_ngrams(["refund please"], N)
    assert sorted(row.indices.tolist()) == sorted(
        int(c) for c in (hashing.fmix(np.array([h], dtype=np.uint64))[0] & np.uint64(N - 1) for h in _three())
    )


def _three() -> list[int]:
    prime, m1 = 0x100000001B3, 0xFF51AFD7ED558CCD
    mask = 2**64 - 1

    def token(word: str) -> int:
        return sum((ord(ch) * pow(prime, i, 2**64) + 1) for i, ch in enumerate(word)) & mask

    a, b = token("refund"), token("please")
    return [a, b, (a * m1 + b + 7) & mask]


def test_per_language_ngrams_move_with_the_language() -> None:
    feat = Featurizer()
    grams = feat.ngrams(["great service", "great service"])
    x = feat.crossed(grams, ["en", "es"])
    assert x.shape[1] == feat.n_crossed
    assert x[0].nnz == x[1].nnz == grams[0].nnz + 1
    assert set(x[0].indices) != set(x[1].indices)
    same = feat.crossed(grams, ["es", "es"])
    assert (same[0] != same[1]).nnz == 0
    # languages outside the list share one set of columns
    assert (feat.crossed(grams, ["sv", "nl"])[0] != feat.crossed(grams, ["sv", "nl"])[1]).nnz == 0


@pytest.mark.parametrize(
    "text",
    ["I love this, but the delivery was NOT good!!", "not happy at all", "great service thanks :)", "awful"],
)
def test_english_valences_follow_vader(text: str) -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    ours = Valence().scores(text)
    theirs = SentimentIntensityAnalyzer().polarity_scores(text)
    assert ours[0] == pytest.approx(theirs["neg"], abs=0.05)
    assert ours[1] == pytest.approx(theirs["pos"], abs=0.05)
    assert ours[2] - ours[3] == pytest.approx(theirs["compound"], abs=0.05)


def test_english_valences_agree_with_vader_on_the_corpus() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader, ours = SentimentIntensityAnalyzer(), Valence()
    texts = [clean(str(r["text"])) for r in ds.care_corpus() if r["lang"] == "en"][:600]
    a = np.array([ours.scores(t)[2] - ours.scores(t)[3] for t in texts])
    b = np.array([vader.polarity_scores(t)["compound"] for t in texts])
    assert np.corrcoef(a, b)[0, 1] > 0.9  # 0.948 when written
    assert float(np.mean(np.sign(a) == np.sign(b))) > 0.9
