"""A Mastodon status's HTML `content` as plain text for agents.

Mastodon sends HTML (its own sanitised subset, but a remote server's markup passes through federation), so
nothing here ever produces markup: tags are dropped, `<script>`/`<style>`-like elements are dropped with their
content, entities are unescaped into characters (an escaped `&lt;script&gt;` becomes the inert text
`<script>`, which the web layer escapes like any other text). Line breaks survive: `<br>` is a new line,
paragraphs are separated by a blank line. A mention link becomes `@acct` with the full `acct` from the
status's `mentions` (so `@jane@social.example`, not the `@jane` Mastodon displays), and the brand's own
mention at the start of a status (what every reply and DM begins with) is left out of the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

# Elements whose content is never text for a person: dropped whole.
_DROPPED = frozenset(
    {"script", "style", "template", "iframe", "object", "embed", "noscript", "svg", "math", "head", "title"}
)
# Elements that end a line (paragraph-like ones end a paragraph).
_PARAGRAPH = frozenset({"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"})
_LINE = frozenset({"div", "li", "tr"})
_SPACE = re.compile(r"[ \t\r\n\f\v]+")


@dataclass(slots=True)
class _Piece:
    text: str
    # "text", "mention", "break" (a new line), "line" (start a line unless at one), "para" (a paragraph end)
    kind: str = "text"
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    id: str
    acct: str
    username: str
    url: str


def _list(value: Any) -> list[Any]:
    """A list field; anything else (a malformed payload) counts as empty."""
    return value if isinstance(value, list) else []


def mentions_of(status: Mapping[str, Any]) -> list[Mention]:
    out = []
    for item in _list(status.get("mentions")):
        if isinstance(item, Mapping) and item.get("id") is not None and item.get("acct"):
            out.append(
                Mention(
                    id=str(item["id"]),
                    acct=str(item["acct"]),
                    username=str(item.get("username") or str(item["acct"]).split("@", 1)[0]),
                    url=str(item.get("url") or ""),
                )
            )
    return out


class _Extractor(HTMLParser):
    def __init__(self, mentions: Sequence[Mention]) -> None:
        super().__init__(convert_charrefs=True)
        self.mentions = mentions
        self.by_url = {m.url: m for m in mentions if m.url}
        self.pieces: list[_Piece] = []
        self.dropped = 0  # depth inside dropped elements
        self.pre = 0
        self.anchor: list[str] | None = None  # text of the <a class="mention"> being read
        self.anchor_href = ""
        self.anchor_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropped += 1
            return
        if self.dropped:
            return
        if tag == "br":
            self.pieces.append(_Piece("\n", "break"))
        elif tag in _PARAGRAPH:
            self.pieces.append(_Piece("", "para"))
            if tag == "pre":
                self.pre += 1
        elif tag in _LINE:
            self.pieces.append(_Piece("", "line"))
        elif tag == "a":
            if self.anchor is not None:
                self.anchor_depth += 1
                return
            values = dict(attrs)
            classes = (values.get("class") or "").split()
            if "mention" in classes and "hashtag" not in classes:
                self.anchor, self.anchor_href, self.anchor_depth = [], values.get("href") or "", 0

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _DROPPED:  # <script/> has no content to drop
            self.dropped = max(0, self.dropped - 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropped = max(0, self.dropped - 1)
            return
        if self.dropped:
            return
        if tag in _PARAGRAPH:
            self.pieces.append(_Piece("", "para"))
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag in _LINE:
            self.pieces.append(_Piece("", "line"))
        elif tag == "a" and self.anchor is not None:
            if self.anchor_depth:
                self.anchor_depth -= 1
                return
            self._close_mention()

    def _close_mention(self) -> None:
        assert self.anchor is not None
        shown = "".join(self.anchor).strip()
        found = self.by_url.get(self.anchor_href)
        if found is None:  # remote servers link profiles in other shapes: match the shown username
            name = shown.lstrip("@").split("@", 1)[0].lower()
            same = [m for m in self.mentions if m.username.lower() == name]
            found = same[0] if len(same) == 1 else None
        if found is not None:
            self.pieces.append(_Piece(f"@{found.acct}", "mention", found.id))
        else:
            self.pieces.append(_Piece(_SPACE.sub(" ", shown)))
        self.anchor = None

    def handle_data(self, data: str) -> None:
        if self.dropped:
            return
        if self.anchor is not None:
            self.anchor.append(data)
            return
        self.pieces.append(_Piece(data if self.pre else _SPACE.sub(" ", data)))

    def close(self) -> None:
        super().close()
        if self.anchor is not None:
            self._close_mention()


def html_to_text(content: str, mentions: Sequence[Mention] = (), *, own_id: str | None = None) -> str:
    """Plain text of a status's HTML. `own_id`: leading mentions of this account are left out."""
    parser = _Extractor(mentions)
    parser.feed(content)
    parser.close()
    pieces = parser.pieces
    if own_id is not None:
        pieces = _without_leading_own_mention(pieces, own_id)
    return _join(pieces)


def _without_leading_own_mention(pieces: list[_Piece], own_id: str) -> list[_Piece]:
    """Drop the brand's mention from the mentions a status starts with (`@acme @bob hi` -> `@bob hi`)."""
    out: list[_Piece] = []
    leading = True
    for piece in pieces:
        if leading:
            if piece.kind == "mention" and piece.account_id == own_id:
                continue
            if piece.kind in {"mention", "para", "line"} or not piece.text.strip():
                out.append(piece)
                continue
            leading = False
        out.append(piece)
    return out


def _join(pieces: list[_Piece]) -> str:
    text = ""
    for piece in pieces:
        if piece.kind == "para":
            text = text.rstrip(" ")
            if text and not text.endswith("\n\n"):
                text += "\n\n" if not text.endswith("\n") else "\n"
        elif piece.kind == "break":
            text = text.rstrip(" ") + "\n"
        elif piece.kind == "line":
            text = text.rstrip(" ")
            if text and not text.endswith("\n"):
                text += "\n"
        elif text.endswith(("\n", " ")) or not text:
            text += piece.text.lstrip(" ")
        else:
            text += piece.text
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def status_text(status: Mapping[str, Any], *, own_id: str | None = None) -> str:
    """What an agent reads for a status: its content warning, its text, and a line per attachment."""
    mentions = mentions_of(status)
    parts: list[str] = []
    spoiler = str(status.get("spoiler_text") or "").strip()
    if spoiler:
        parts.append(f"CW: {spoiler}")  # plain text in the API, not HTML
    body = html_to_text(str(status.get("content") or ""), mentions, own_id=own_id)
    if body:
        parts.append(body)
    attachments = []
    for media in _list(status.get("media_attachments")):
        if not isinstance(media, Mapping):
            continue
        kind = str(media.get("type") or "attachment")
        described = str(media.get("description") or "").strip() or str(media.get("url") or "").strip()
        attachments.append(f"[{kind}: {described}]" if described else f"[{kind}]")
    if attachments:
        parts.append("\n".join(attachments))
    return "\n\n".join(parts) or "[empty status]"
