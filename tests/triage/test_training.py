"""`caredesk triage train` rebuilds the shipped heads: retrained from the public data into a temporary
folder, a sample of heads has the same classes and, but for rounding at the int8 step, the same weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from caredesk.triage import pii_tagger
from caredesk.triage.heads import LinearHead
from caredesk.triage.model import HEAD_NAMES, MODELS
from caredesk.triage.train import train
from tests.conftest import shared_file


@pytest.mark.slow
def test_training_reproduces_the_shipped_models(tmp_path: Path) -> None:
    root = shared_file("xlm-t").parent
    shared_file("intents/bitext")
    # One head of each kind of input and data mix (n-grams only; the full features over the corpus, the
    # intents and the tweets; the corpus alone), and the personal-data tagger: retraining all sixteen
    # (`caredesk triage train`) takes about four minutes on a slow CI machine, and they share this code path.
    sample = ("language", "complaint", "urgency_churn", pii_tagger.NAME)
    assert set(sample) <= {*HEAD_NAMES, pii_tagger.NAME}
    train(Path(root), tmp_path, log=lambda _line: None, only=sample)
    for name in sample:
        shipped, rebuilt = LinearHead.load(MODELS, name), LinearHead.load(tmp_path, name)
        assert rebuilt.classes == shipped.classes, name
        assert rebuilt.card["training_data"] == shipped.card["training_data"], name
        assert rebuilt.weights.shape == shipped.weights.shape, name
        off = np.abs(rebuilt.weights.astype(np.int16) - shipped.weights.astype(np.int16))
        # OpenBLAS picks its kernels by CPU, so another machine's solver takes a slightly different path:
        # on one of ours about 1% of the language head's weights landed one int8 step away and the biases
        # moved by up to 0.05 (logits of magnitude 0.2 to 3). A head trained on other data or with other
        # settings differs in most of its weights.
        assert off.max() <= 2, name
        assert (off > 0).mean() < 0.03, name
        np.testing.assert_allclose(rebuilt.bias, shipped.bias, atol=0.1, err_msg=name)
