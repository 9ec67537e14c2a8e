"""Readers for the public data sets beside the project (`../shared/data`) and the project's own corpus.

Each reader says which licence use it allows: `train` sets may shape the shipped models; `eval` sets
(the complaints, TWCS, Chinese reviews) are read only by `caredesk triage eval` and the tests.
"""

from __future__ import annotations

import csv
import json
import os
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
XLMT_LANGS = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}
SENTIMENTS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    language: str | None = None
    label: str | None = None
    source: str = ""


def data_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--data`, else CAREDESK_SHARED_DATA, else ../shared/data relative to the working directory."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CAREDESK_SHARED_DATA")
    return Path(env) if env else Path("..") / "shared" / "data"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def xlmt(root: Path, split: str) -> Iterator[Example]:
    """XLM-T sentiment (Apache-2.0, train/eval): labels 0 negative, 1 neutral, 2 positive."""
    for folder, code in XLMT_LANGS.items():
        texts = _lines(root / "xlm-t" / folder / f"{split}_text.txt")
        labels = _lines(root / "xlm-t" / folder / f"{split}_labels.txt")
        if len(texts) != len(labels):
            raise ValueError(f"xlm-t/{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
        for text, label in zip(texts, labels, strict=True):
            yield Example(text, code, SENTIMENTS[int(label)], f"xlm-t/{code}")


def hebrew(root: Path, split: str) -> Iterator[Example]:
    """Hebrew Facebook comments (MIT, train/eval): 0 positive, 1 negative, 2 neutral or off-topic."""
    names = {"0": "positive", "1": "negative", "2": "neutral"}
    with (root / "hebrew" / f"{split}.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            yield Example(row["comment"], "he", names[row["label"].strip()], "hebrew")


def danish(root: Path, which: str) -> Iterator[Example]:
    """Leipzig Danish sentences (CC BY, train/eval). `newscrawl` trains the language head; `mixed` is
    kept for evaluating it."""
    name = {"newscrawl": "dan_newscrawl_2011_10K-sentences.csv", "mixed": "dan_mixed_2014_10K-sentences.csv"}
    with (root / "danish" / name[which]).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            yield Example(row[2], "da", None, f"danish/{which}")


def ibm_customer_turns(root: Path) -> Iterator[Example]:
    """IBM care conversations (Apache-2.0, train/eval): the customer's messages, all written to a brand's
    care handle (and answered by it)."""
    for conv in json.loads((root / "conversations" / "ibm_care_dev.json").read_text(encoding="utf-8")):
        for turn in conv["dialogContent"]:
            yield Example(turn["message"], "en", None, "ibm")


def bitext(root: Path) -> Iterator[Example]:
    """Bitext customer-service utterances (CDLA-Sharing-1.0, train/eval), label = intent."""
    path = (
        root / "intents" / "bitext" / "cs_training_8k" / "Bitext_Sample_Customer_Service_Training_Dataset.csv"
    )
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            yield Example(row["utterance"], "en", row["intent"], "bitext")


def bitext_20k(root: Path) -> Iterator[Example]:
    """Bitext's larger customer-support sample (CDLA-Sharing-1.0, train/eval): 21,534 utterances of the same
    27 intents (`check_invoices` where the 8k file says `check_invoice`), label = intent."""
    path = root / "intents" / "bitext" / "cs_20k_utterances" / "TrainingdatasetBitextsample.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            intent = "check_invoice" if row["intent"] == "check_invoices" else row["intent"]
            yield Example(row["utterance"], "en", intent, "bitext-20k")


def banking77(root: Path) -> Iterator[Example]:
    """PolyAI banking77 (CC-BY-4.0, train/eval), label = intent."""
    with (root / "intents" / "banking77" / "train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            yield Example(row["text"], "en", row["category"], "banking77")


def care_corpus() -> list[dict[str, object]]:
    """The project's own labelled care messages (written for caredesk; ships with it)."""
    rows: list[dict[str, object]] = []
    for path in sorted(CORPUS.glob("care_*.jsonl")):
        rows.extend(json.loads(line) for line in _lines(path) if line.strip())
    return rows


def held_out(row_id: str) -> bool:
    """One care-corpus message in five is kept out of training to measure the heads on it."""
    return zlib.crc32(row_id.encode()) % 5 == 0


def complaints(root: Path) -> Iterator[tuple[str, int]]:
    """Complaint tweets with adjudicated labels (no licence stated: eval only, never trained on)."""
    folder = root / "complaints" / "labels" / "3_final_labels"
    for name in sorted(folder.glob("*_finalLabels.csv")):
        with name.open(encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh):
                label = (row.get("finalLabel") or "").strip()
                if label:
                    yield row["text"], int(float(label))


def twcs_inbound(root: Path) -> Iterator[dict[str, str]]:
    """Inbound tweets of the TWCS pool (CC BY-NC-SA: eval only) with whether the brand answered."""
    with (root / "twcs" / "pool.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (root / "twcs" / "first_reply_pairs.csv").open(encoding="utf-8", newline="") as fh:
        paired = {r["inbound_tweet_id"] for r in csv.DictReader(fh)}
    by_id = {r["tweet_id"]: r for r in rows}
    for r in rows:
        if r["inbound"] != "True":
            continue
        replies = [by_id.get(t) for t in r["response_tweet_id"].split(",") if t]
        answered = r["tweet_id"] in paired or any(x is not None and x["inbound"] == "False" for x in replies)
        yield {
            "id": r["tweet_id"],
            "text": r["text"],
            "created_at": r["created_at"],
            "answered": str(answered),
        }


def chinese_sample(root: Path, n: int = 500) -> list[str]:
    """A fixed sample of the Chinese food-delivery reviews (eval only), for the language figure."""
    with (root / "chinese" / "waimai_10k.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r["review"] for r in csv.DictReader(fh)]
    random.Random(4).shuffle(rows)
    return rows[:n]


def danish_sample(root: Path, n: int = 500) -> list[str]:
    rows = [e.text for e in danish(root, "mixed")]
    random.Random(4).shuffle(rows)
    return rows[:n]
