"""The model triager: files that load without code, every field for every message, script and mixed
languages, the urgency wording, the lexicon's negation, priority from the signals, and the CLI."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from caredesk.cli.main import app
from caredesk.routing import priority as prio
from caredesk.triage import langid
from caredesk.triage.base import TriageInput
from caredesk.triage.heads import LinearHead
from caredesk.triage.lexicon import default_lexicon
from caredesk.triage.model import HEAD_NAMES, MODELS, default_triager
from caredesk.triage.text import clean
from caredesk.triage.urgency import find_urgency


def classify(*texts: str) -> list[dict[str, object]]:
    return default_triager().classify([TriageInput(t) for t in texts])


def test_model_files_hold_plain_arrays_only() -> None:
    for name in HEAD_NAMES:
        with zipfile.ZipFile(MODELS / f"{name}.npz") as z:
            assert sorted(z.namelist()) == ["bias.npy", "scale.npy", "weights.npy"]
        with np.load(MODELS / f"{name}.npz", allow_pickle=False) as arrays:
            assert arrays["weights"].dtype == np.int8
            assert arrays["bias"].dtype == np.float32
        head = LinearHead.load(MODELS, name)
        card = json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8"))["card"]
        assert card["training_data"], name  # every model says what it was trained on
        assert len(head.classes) == max(2, head.bias.shape[0])


def test_a_foreign_npz_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    folder = tmp_path  # type: ignore[assignment]
    np.savez(folder / "x.npz", weights=np.zeros((3, 2), dtype=np.float64), scale=np.ones(2), bias=np.zeros(2))
    (folder / "x.json").write_text(json.dumps({"classes": ["a", "b"], "card": {}}))
    with pytest.raises(ValueError, match="not a caredesk linear head"):
        LinearHead.load(folder, "x")  # type: ignore[arg-type]


def test_every_field_for_every_message() -> None:
    texts = [
        "@NordlysCare no signal in Aarhus since this morning, fix it or I cancel my contract!!",
        "Tusind tak for hjælpen, det virker igen 😊",
        "我的订单还没到，太慢了",
        "השירות שלכם גרוע, אני מחכה שבוע",
        "",
        "🙂🙂",
    ]
    results = classify(*texts)
    assert len(results) == len(texts)
    for r in results:
        assert r["sentiment"] in {"negative", "neutral", "positive"}
        for key in ("sentiment_score",):
            assert -1 <= r[key] <= 1  # type: ignore[operator]
        for key in ("anger", "needs_reply", "complaint", "topic_confidence", "sentiment_confidence"):
            assert 0 <= r[key] <= 1, key  # type: ignore[operator]
        assert r["topic"] in {
            "billing", "outage", "delivery", "account", "refund", "cancellation", "technical",
            "product_question", "praise", "other",
        }  # fmt: skip
        assert isinstance(r["urgency"], list)
        assert isinstance(r["pii"], list)
        assert isinstance(r["case_refs"], list)
    first = results[0]
    assert first["language"] == "en"
    assert {u["type"] for u in first["urgency"]} >= {"outage", "churn"}  # type: ignore[attr-defined]
    assert first["complaint"] > 0.5  # type: ignore[operator]
    assert first["needs_reply"] > 0.5  # type: ignore[operator]
    assert [r["language"] for r in results[1:4]] == ["da", "zh", "he"]
    assert results[4]["language"] is None
    assert results[4]["language_confidence"] == 0.0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Where is my parcel? It was due on Monday.", "en"),
        ("Mi pedido no ha llegado todavía, ¿qué pasa?", "es"),
        ("Ma commande n'est toujours pas arrivée, c'est inadmissible", "fr"),
        ("Meine Rechnung ist viel zu hoch, bitte prüfen", "de"),
        ("Il mio ordine non è ancora arrivato", "it"),
        ("Minha encomenda ainda não chegou", "pt"),
        ("Min pakke er stadig ikke kommet, hvad sker der?", "da"),
        ("هل يمكنكم مساعدتي في فاتورتي؟", "ar"),
        ("注文した商品がまだ届きません", "ja"),
        ("मेरा रिचार्ज नहीं हुआ", "hi"),
        ("yaar mera recharge abhi tak nahi hua, kya bakwas hai", "hi"),
    ],
)
def test_languages(text: str, language: str) -> None:
    assert classify(text)[0]["language"] == language


def test_mixed_scripts_report_their_parts() -> None:
    r = classify("我的 iPhone 坏了，屏幕黑屏，怎么办")[0]
    assert r["language"] == "zh"
    parts = {p["language"] for p in r["languages"]}  # type: ignore[attr-defined]
    assert parts == {"zh", "en"}
    assert langid.decide("", None) == (None, 0.0, [])


def test_clear_sentiment_both_ways() -> None:
    neg, pos = classify(
        "This is the worst service ever, totally useless and I am furious 🤬",
        "Thank you so much, amazing help, you made my day! ❤️",
    )
    assert neg["sentiment"] == "negative"
    assert pos["sentiment"] == "positive"
    assert neg["anger"] > pos["anger"]  # type: ignore[operator]
    assert neg["sentiment_score"] < 0 < pos["sentiment_score"]  # type: ignore[operator]


def test_lexicon_negation_stays_in_its_clause() -> None:
    lex = default_lexicon()
    good = lex.score(clean("the app is good"), "en")
    not_good = lex.score(clean("the app is not good"), "en")
    assert good[0] > 0 and good[1] == 0
    assert not_good[1] > 0 and not_good[0] == 0  # flipped to negative
    split = lex.score(clean("not late, but the driver was rude"), "en")
    assert split[1] > 0  # "rude" after "but" is not flipped by the earlier "not"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I'm switching to another provider next week", "churn"),
        ("Jeg opsiger mit abonnement hvis det ikke løses", "churn"),
        ("no internet in the whole street since 8am", "outage"),
        ("Kein Internet seit gestern Abend", "outage"),
        ("I can smell gas near the new meter you fitted", "safety"),
        ("my lawyer will be in touch, and I've reported you to the ombudsman", "legal"),
        ("you useless idiots", "abuse"),
    ],
)
def test_urgency_wording(text: str, kind: str) -> None:
    assert kind in {u["type"] for u in find_urgency(clean(text).lower())}


def test_no_urgency_in_plain_thanks() -> None:
    assert find_urgency("thanks, all sorted now") == []


def test_priority_reads_the_signals_and_the_workspace_weights() -> None:
    calm = prio.PriorityInput(
        is_public=True, is_direct=True, sentiment="positive", waiting_count=1, needs_reply=0.1
    )
    urgent = prio.PriorityInput(
        is_public=True, is_direct=True, sentiment="negative", waiting_count=3, anger=0.8, complaint=0.9,
        needs_reply=0.95, urgency=("churn", "safety"), waited_hours=2.5, followers=250_000,
    )  # fmt: skip
    calm_score, calm_reasons = prio.score(calm)
    urgent_score, reasons = prio.score(urgent)
    assert urgent_score > calm_score
    assert {r["signal"] for r in reasons} >= {
        "negative",
        "anger",
        "complaint",
        "churn",
        "safety",
        "bump",
        "wait",
        "reach",
    }
    assert [r["signal"] for r in calm_reasons] == ["no_reply_needed"]
    assert sum(r["points"] for r in reasons) + prio.DEFAULT_WEIGHTS["base"] >= urgent_score
    gas = prio.PriorityInput(
        is_public=True, is_direct=True, sentiment="neutral", waiting_count=1, urgency=("safety",)
    )
    assert prio.score(gas)[0] == prio.DEFAULT_WEIGHTS["base"] + prio.DEFAULT_WEIGHTS["safety"]
    assert prio.score(gas, {"safety": 5})[0] == prio.DEFAULT_WEIGHTS["base"] + 5
    with pytest.raises(ValueError, match="unknown priority weights"):
        prio.validate_weights({"vip": 5})
    with pytest.raises(ValueError, match="whole number"):
        prio.validate_weights({"churn": 500})


def test_cli_classify_jsonl() -> None:
    lines = [
        json.dumps({"id": 7, "text": "Min regning er forkert, I har trukket to gange"}),
        "not json",
        json.dumps({"id": "b", "text": "Merci beaucoup !", "lang_hint": "fr"}),
        json.dumps({"id": "c", "text": 5}),
    ]
    result = CliRunner().invoke(app, ["triage", "classify"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1  # two bad lines are reported, the good ones still answered
    out = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [o["id"] for o in out] == [7, "b"]
    for o in out:
        assert {"id", "language", "language_confidence", "sentiment", "sentiment_score", "anger",
                "needs_reply", "complaint", "topic", "urgency", "pii", "case_refs"} <= set(o)  # fmt: skip
    assert out[0]["language"] == "da"
    assert out[1]["language"] == "fr"
    assert "line 2" in result.stderr
    assert "line 4" in result.stderr


def test_workspace_topics_from_example_phrases() -> None:
    triager = default_triager()
    triager.set_topics(
        901,
        {
            "roaming": [
                "roaming charges abroad",
                "my data does not work abroad",
                "EU roaming fee on my bill",
            ],
            "esim": ["how do I activate my esim", "esim QR code not working"],
        },
    )
    roaming, esim, other_ws, thanks = triager.classify(
        [
            TriageInput("why was I charged for roaming in France?", workspace_id=901),
            TriageInput("my esim QR code does not work", workspace_id=901),
            TriageInput("my esim QR code does not work", workspace_id=902),
            TriageInput("thanks a lot for your help!", workspace_id=901),
        ]
    )
    assert (roaming["topic"], roaming["topic_source"]) == ("roaming", "workspace")
    assert esim["topic"] == "esim"
    assert "default_topic" in esim
    assert other_ws["topic"] != "esim" and "topic_source" not in other_ws  # another workspace's topics
    # no custom topic is forced on an unrelated message (the corpus labels a closing "thanks" praise or other)
    assert thanks["topic"] in ("praise", "other") and "topic_source" not in thanks
    triager.set_topics(901, {})
    assert (
        triager.classify([TriageInput("roaming charges abroad", workspace_id=901)])[0]["topic"] != "roaming"
    )


def test_anchored_urgency_search_agrees_with_the_patterns() -> None:
    from caredesk.triage import datasets
    from caredesk.triage.urgency import find_urgency_unanchored

    texts = [clean(str(r["text"])).lower() for r in datasets.care_corpus()]
    assert len(texts) > 1000
    for text in texts:
        assert {u["type"] for u in find_urgency(text)} == find_urgency_unanchored(text), text


def test_declared_languages_and_placeholders() -> None:
    triager = default_triager()
    short = "Nordlys mobil er nede"  # short: the network's declared language wins
    da, und, br = triager.classify(
        [TriageInput(short, "da"), TriageInput("Where is my parcel? It was due on Monday.", "und"),
         TriageInput("cadê meu pedido", "pt-BR")]
    )  # fmt: skip
    assert da["language"] == "da"
    assert und["language"] == "en"  # X's "und" is no language and changes nothing
    assert br["language"] == "pt"
