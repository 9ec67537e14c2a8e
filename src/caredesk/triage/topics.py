"""A workspace's own topics, each learnt from a handful of example phrases: the centroid of the examples'
n-gram features; a message takes the nearest custom topic whose cosine similarity clears the bar, and
otherwise keeps the default taxonomy's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from caredesk.triage.embeddings import SentenceEncoder
from caredesk.triage.features import Featurizer
from caredesk.triage.text import clean

MIN_SIMILARITY = 0.30  # unrelated care messages sit near 0.1-0.25 on the n-gram features
MIN_SIMILARITY_EMBEDDED = 0.45  # sentence embeddings of unrelated texts sit near 0.1-0.3
MAX_TOPICS = 50
MAX_EXAMPLES = 50


@dataclass(frozen=True)
class CustomTopics:
    names: tuple[str, ...]
    centroids: sp.csr_matrix  # one unit-length row per topic, over the n-gram columns
    embedded: np.ndarray | None = None  # with an embedding backend: one unit-length row per topic


def validate(topics: dict[str, list[str]]) -> dict[str, list[str]]:
    """Names of 1 to 40 letters, digits, _ or -; 1 to 50 examples of 2 to 300 characters each."""
    if not isinstance(topics, dict) or len(topics) > MAX_TOPICS:
        raise ValueError(f"topics must be an object of at most {MAX_TOPICS} names")
    out: dict[str, list[str]] = {}
    for name, examples in topics.items():
        if not (
            isinstance(name, str) and 1 <= len(name) <= 40 and all(c.isalnum() or c in "_-" for c in name)
        ):
            raise ValueError(f"topic name {name!r}: 1-40 letters, digits, _ or -")
        if not isinstance(examples, list) or not 1 <= len(examples) <= MAX_EXAMPLES:
            raise ValueError(f"topic {name!r} needs 1 to {MAX_EXAMPLES} example phrases")
        cleaned = [e.strip() for e in examples if isinstance(e, str)]
        if len(cleaned) != len(examples) or any(not 2 <= len(e) <= 300 for e in cleaned):
            raise ValueError(f"topic {name!r}: each example is a text of 2-300 characters")
        out[name.lower()] = cleaned
    return out


def build(
    featurizer: Featurizer, topics: dict[str, list[str]], encoder: SentenceEncoder | None = None
) -> CustomTopics:
    names = tuple(sorted(topics))
    rows = []
    for name in names:
        grams = featurizer.ngrams([clean(e) for e in topics[name]])
        centroid = np.asarray(grams.mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centroid)) or 1.0
        rows.append(sp.csr_matrix(centroid / norm))
    matrix = sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, featurizer.n_sparse))
    embedded = None
    if encoder is not None and names:
        centroids = np.vstack([encoder.encode(topics[name]).mean(axis=0) for name in names])
        embedded = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return CustomTopics(names, matrix, embedded)


def nearest(
    custom: CustomTopics, grams: sp.csr_matrix, embedded: np.ndarray | None = None
) -> list[tuple[str, float] | None]:
    """For each message: (topic, similarity) of the nearest custom topic, or None. With the embedding
    backend, `embedded` holds the messages' unit-length embeddings and the topics' centroids are used."""
    if not custom.names:
        return [None] * grams.shape[0]
    if embedded is not None and custom.embedded is not None:
        sims = embedded @ custom.embedded.T
        bar = MIN_SIMILARITY_EMBEDDED
    else:
        # the two unit-length blocks make each row's norm sqrt(2)
        sims = np.asarray((grams @ custom.centroids.T).todense()) / np.sqrt(2.0)
        bar = MIN_SIMILARITY
    out: list[tuple[str, float] | None] = []
    for row in sims:
        k = int(np.argmax(row))
        out.append((custom.names[k], float(row[k])) if row[k] >= bar else None)
    return out
