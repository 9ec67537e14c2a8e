"""Triage speed: messages per second on one core for the whole triage stage and for each of its parts,
and the resident memory the models add. Prints figures; asserts nothing.

    python bench/triage.py [--n 20000] [--batch 500]

Texts: the corpus shipped with caredesk, repeated with numbered variations (so the cost of real,
varied text is measured, not of one cached string).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from collections.abc import Callable


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # one core: the figure is per core (set before numpy loads)
    before = rss_mb()

    import numpy as np  # noqa: PLC0415

    from caredesk.triage import (  # noqa: PLC0415
        datasets,
        langid,
        pii_tagger,
    )
    from caredesk.triage.base import TriageInput  # noqa: PLC0415
    from caredesk.triage.caserefs import find_case_refs  # noqa: PLC0415
    from caredesk.triage.model import ModelTriager  # noqa: PLC0415
    from caredesk.triage.pii import MODELS as pii_tagger_models  # noqa: PLC0415
    from caredesk.triage.pii import find_pii  # noqa: PLC0415
    from caredesk.triage.text import clean  # noqa: PLC0415
    from caredesk.triage.urgency import find_urgency  # noqa: PLC0415

    imported = rss_mb()
    triager = ModelTriager()
    langid.lingua_guess("warm the fallback detector up")
    loaded = rss_mb()
    base = [str(r["text"]) for r in datasets.care_corpus()]
    texts = [f"{base[i % len(base)]} #{i}" for i in range(args.n)]
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("threads: one (the figures are per core)")
    print(f"messages: {len(texts)} in batches of {args.batch}")

    def timed(name: str, fn: Callable[[list[str]], object]) -> None:
        start = time.perf_counter()
        for b in batches:
            fn(b)
        seconds = time.perf_counter() - start
        per = seconds * 1e6 / len(texts)
        print(f"  {name:<34} {len(texts) / seconds:>10,.0f} msg/s   ({per:7.1f} µs/msg)")

    print("whole triage stage (every field):")
    timed("ModelTriager.classify", lambda b: triager.classify([TriageInput(t) for t in b]))
    cleaned_batches = {id(b): [clean(t) for t in b] for b in batches}
    feats = triager.features
    print("parts:")
    timed("clean", lambda b: [clean(t) for t in b])
    timed("n-gram features", lambda b: feats.ngrams(cleaned_batches[id(b)]))
    grams = {id(b): feats.ngrams(cleaned_batches[id(b)]) for b in batches}
    lang = triager.heads["language"]
    timed("language head", lambda b: lang.proba(grams[id(b)][:, : feats.n_char]))
    timed(
        "language decision (scripts, Lingua)",
        lambda b: [langid.decide(t, None, threshold=0.0) for t in cleaned_batches[id(b)]],
    )
    langs = {id(b): [r["language"] for r in triager.classify([TriageInput(t) for t in b])] for b in batches}
    first = batches[0]
    timed(
        "dense (lexicon, VADER, shape)",
        lambda b: feats.dense(cleaned_batches[id(b)], langs[id(b)]),
    )
    timed("per-language n-grams", lambda b: feats.crossed(grams[id(b)], langs[id(b)]))
    f = triager.featurize([TriageInput(t) for t in first])
    others = [n for n in triager.heads if n != "language"]
    timed(
        "other heads (matrix products)",
        lambda b: [triager.heads[n].proba(triager.inputs(f, n)) for n in others],
    )
    timed("urgency wording", lambda b: [find_urgency(t.lower()) for t in cleaned_batches[id(b)]])
    timed("personal data, rules", lambda b: [find_pii(t, learnt=False) for t in b])
    tagger = pii_tagger.PiiTagger.load(pii_tagger_models)
    timed("personal data, learnt tagger", tagger.tag_batch)
    timed("case references", lambda b: [find_case_refs(t) for t in b])
    print(f"resident memory: {before:.0f} MB at start, {imported:.0f} MB with the libraries,")
    added = loaded - imported
    print(f"  {loaded:.0f} MB with the models (they and the fallback detector add {added:.0f} MB),")
    print(f"  {rss_mb():.0f} MB after the run")
    sizes = sum(h.weights.nbytes for h in triager.heads.values()) / 1e6
    in_use = sizes * np.float32().nbytes
    print(f"head weights: {sizes:.1f} MB as int8 on disk, {in_use:.1f} MB as float32 in use")


if __name__ == "__main__":
    main()
