"""Rich-text facets for outgoing Bluesky text: mentions, links and hashtags with UTF-8 byte offsets.

Bluesky does not parse text on the server: a client must say where each mention, link and tag is, as
`byteStart` (inclusive) / `byteEnd` (exclusive) indices into the UTF-8 encoding of the text. The patterns
follow the official client's `detectFacets` (bluesky-social/atproto,
`packages/api/src/rich-text/detection.ts`), with two simplifications: links need an explicit `http://`
or `https://` (bare domains would need the full TLD list), and a mention is kept only when its handle
resolves to a DID (otherwise it stays plain text, as the official client does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex

# "@handle" at the start, after whitespace or "(": a domain-shaped handle.
_MENTION = regex.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9])")
_HANDLE = regex.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]$"
)
_LINK = regex.compile(r"(?:^|(?<=[\s(]))(https?://\S+)", regex.IGNORECASE)
_TAG_START = r"[\p{L}\p{Emoji_Presentation}\p{Emoji_Modifier_Base}\p{Extended_Pictographic}]"
_TAG_REST = r"[\p{L}\p{Emoji_Presentation}\p{Emoji_Modifier_Base}\p{Extended_Pictographic}\d_-]*"
_TAG = regex.compile(rf"(?:^|(?<=\s))(#{_TAG_START}{_TAG_REST}\p{{P}}*)")
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
MAX_TAG_GRAPHEMES = 64

FACET = "app.bsky.richtext.facet"


def byte_index(text: str, char_index: int) -> int:
    """The UTF-8 byte offset of the character at `char_index` (a Python str index)."""
    return len(text[:char_index].encode("utf-8"))


def _facet(text: str, start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": FACET,
        "index": {"byteStart": byte_index(text, start), "byteEnd": byte_index(text, end)},
        "features": [feature],
    }


def detect_facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Facets for `text`, in text order. `resolve_handle(handle)` returns the handle's DID, or None."""
    found: list[tuple[int, dict[str, Any]]] = []
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".")
        if not _HANDLE.match(handle):
            continue
        did = resolve_handle(handle.lower())
        if not did:
            continue
        start = match.start(1) - 1  # the "@"
        feature = {"$type": f"{FACET}#mention", "did": did}
        found.append((start, _facet(text, start, match.start(1) + len(handle), feature)))
    for match in _LINK.finditer(text):
        uri = match.group(1)
        start, end = match.start(1), match.end(1)
        if uri[-1] in ".,;!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        found.append((start, _facet(text, start, end, {"$type": f"{FACET}#link", "uri": uri})))
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))
        if len(regex.findall(r"\X", tag)) - 1 > MAX_TAG_GRAPHEMES:
            continue
        start = match.start(1)
        feature = {"$type": f"{FACET}#tag", "tag": tag[1:]}
        found.append((start, _facet(text, start, start + len(tag), feature)))
    found.sort(key=lambda item: item[0])
    return [facet for _, facet in found]
