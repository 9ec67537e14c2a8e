"""Language of a message: writing systems first, then the trained head for Latin-script text, and Lingua
(a packaged detector, no download) when the head is unsure or the language is outside what it knows."""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

# Scripts that settle the language (or the short list) by themselves.
_SCRIPT_LANG: tuple[tuple[str, str], ...] = (
    ("HEBREW", "he"),
    ("ARABIC", "ar"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CJK", "zh"),
    ("DEVANAGARI", "hi"),
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("THAI", "th"),
    ("BENGALI", "bn"),
    ("TAMIL", "ta"),
    ("GUJARATI", "gu"),
    ("GURMUKHI", "pa"),
    ("TELUGU", "te"),
    ("GEORGIAN", "ka"),
    ("ARMENIAN", "hy"),
)
_FALLBACK_LANGUAGES = [
    "ENGLISH",
    "SPANISH",
    "FRENCH",
    "GERMAN",
    "ITALIAN",
    "PORTUGUESE",
    "DANISH",
    "DUTCH",
    "SWEDISH",
    "BOKMAL",
    "FINNISH",
    "POLISH",
    "TURKISH",
    "INDONESIAN",
    "MALAY",
    "TAGALOG",
    "ROMANIAN",
    "CATALAN",
    "CZECH",
    "HUNGARIAN",
    "VIETNAMESE",
    "CROATIAN",
    "SLOVAK",
    "ESTONIAN",
    "LATVIAN",
    "LITHUANIAN",
    "SLOVENE",
    "ALBANIAN",
    "ICELANDIC",
    "IRISH",
    "WELSH",
    "BASQUE",
    "SWAHILI",
    "AFRIKAANS",
    "RUSSIAN",
    "UKRAINIAN",
    "BULGARIAN",
    "SERBIAN",
    "MACEDONIAN",
    "BELARUSIAN",
    "KAZAKH",
    "MONGOLIAN",
    "ARABIC",
    "PERSIAN",
    "URDU",
]
_CYRILLIC_OR_ARABIC = {"ru", "ar"}
_IDEOGRAPHIC = {"zh", "ja", "ko"}


def script_counts(text: str) -> tuple[dict[str, int], int]:
    """Letters per settled-script language, and how many letters are Latin."""
    counts: dict[str, int] = {}
    if text.isascii():
        return counts, sum(1 for ch in text if ch.isalpha())
    latin = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if ch.isascii():
            latin += 1
            continue
        name = unicodedata.name(ch, "")
        if "LATIN" in name:
            latin += 1
            continue
        for marker, lang in _SCRIPT_LANG:
            if marker in name:
                # a Chinese or Japanese character carries about as much as a short Latin word
                counts[lang] = counts.get(lang, 0) + (3 if lang in _IDEOGRAPHIC else 1)
                break
    if counts.get("ja") and "zh" in counts:  # kana among kanji: Japanese
        counts["ja"] += counts.pop("zh")
    return counts, latin


@cache
def _lingua() -> Any:
    from lingua import Language, LanguageDetectorBuilder  # noqa: PLC0415

    langs = [getattr(Language, n) for n in _FALLBACK_LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*langs).with_low_accuracy_mode().build()


def lingua_guess(text: str) -> tuple[str | None, float]:
    detector = _lingua()
    values = detector.compute_language_confidence_values(text)
    if not values:
        return None, 0.0
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    return ("no" if code == "nb" else code), float(best.value)


def decide(
    text: str, head_probs: dict[str, float] | None, threshold: float = 0.6
) -> tuple[str | None, float, list[dict[str, Any]]]:
    """(language, confidence, parts): `parts` lists each language with its share of the letters when a
    message mixes writing systems (a Chinese sentence with English product names, say)."""
    counts, latin = script_counts(text)
    letters = latin + sum(counts.values())
    if letters == 0:
        return None, 0.0, []
    latin_lang, latin_conf = None, 0.0
    if latin and counts and latin < 12:
        latin_lang, latin_conf = "en", 0.5  # a few Latin letters among another script: names, brands, codes
    elif latin:
        if head_probs:
            latin_lang, latin_conf = max(head_probs.items(), key=lambda kv: kv[1])
        if latin_conf < threshold and latin >= 12:
            guess, conf = lingua_guess(text)
            if guess is not None and (latin_lang is None or conf > latin_conf):
                latin_lang, latin_conf = guess, max(conf, latin_conf)
        if latin_lang is None:
            latin_lang, latin_conf = "en", 0.3
    shares: dict[str, float] = {k: v / letters for k, v in counts.items()}
    if latin:
        shares[latin_lang or "en"] = shares.get(latin_lang or "en", 0.0) + latin / letters
    best, share = max(shares.items(), key=lambda kv: kv[1])
    parts = [
        {"language": k, "share": round(v, 3)}
        for k, v in sorted(shares.items(), key=lambda kv: -kv[1])
        if v >= 0.15
    ]
    if best == latin_lang:
        confidence = latin_conf * (0.5 + 0.5 * share)
    elif best in _CYRILLIC_OR_ARABIC and counts.get(best, 0) >= 12:
        guess, conf = lingua_guess(text)  # Cyrillic and Arabic script each serve several languages
        if guess is not None:
            best, confidence = guess, conf
        else:
            confidence = 0.7
    else:
        confidence = min(0.99, 0.6 + 0.4 * share)
    return best, round(float(confidence), 3), parts if len(parts) > 1 else []
