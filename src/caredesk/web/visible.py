"""Customer text shown as it is, tricks included: invisible characters that could change how a text reads
are replaced, on the page, by a visible marker naming them.

A right-to-left override can make "gpj.exe" read as "exe.jpg"; a zero-width space can split a word the
policy check looks for; Unicode "tag" characters can carry a hidden sentence an agent never sees (and a
language model would read). Stored texts are left as the network sent them; only the page shows the
markers (the `reveal` template filter). Joiners (ZWJ, ZWNJ) and the left-to-right / right-to-left marks are
part of ordinary emoji, Persian, Indic and Hebrew writing and are left alone.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

NAMES = {
    "\u202a": "LRE",  # left-to-right embedding
    "\u202b": "RLE",
    "\u202c": "PDF",  # pop directional formatting
    "\u202d": "LRO",  # left-to-right override
    "\u202e": "RLO",
    "\u2066": "LRI",  # isolates
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u200b": "ZWSP",  # zero-width space
    "\u2060": "WJ",  # word joiner
    "\ufeff": "ZWNBSP",  # zero-width no-break space (byte order mark)
    "\u180e": "MVS",  # Mongolian vowel separator (formerly a space)
    "\u2061": "FA",  # invisible mathematical operators
    "\u2062": "IT",
    "\u2063": "IS",
    "\u2064": "IP",
}
_TAGS = "\U000e0000-\U000e007f"
HIDDEN = re.compile(f"[{''.join(NAMES)}]|[{_TAGS}]+")


def hidden_characters(text: str) -> list[str]:
    """The names of the tricks in `text`, in order (TAG for a run of tag characters)."""
    return [NAMES.get(m.group(), "TAG") for m in HIDDEN.finditer(text or "")]


def _marker(match: re.Match[str]) -> str:
    found = match.group()
    if found in NAMES:
        code = f"U+{ord(found):04X}"
        return f'<span class="hidden-char" title="{code}">[{NAMES[found]}]</span>'
    # tag characters mirror ASCII: show what they spell
    spelt = "".join(chr(ord(c) - 0xE0000) for c in found if 0x20 <= ord(c) - 0xE0000 < 0x7F)
    return f'<span class="hidden-char" title="hidden tag characters">[hidden text: {escape(spelt)}]</span>'


def reveal(text: object) -> Markup:
    """Escape `text` for HTML, with every hidden character replaced by its visible marker."""
    if text is None:
        return Markup("")
    escaped = str(escape(str(text)))
    return Markup(HIDDEN.sub(_marker, escaped))  # noqa: S704 (escaped above; markers are fixed HTML)
