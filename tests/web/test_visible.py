"""Hidden characters in customer text are shown on the page as named markers; the rest is escaped."""

from __future__ import annotations

from caredesk.web.visible import hidden_characters, reveal


def _tags(text: str) -> str:
    return "".join(chr(0xE0000 + ord(c)) for c in text)


def test_overrides_isolates_and_zero_width_characters_become_markers() -> None:
    text = "pay \u202eexe.pdf\u202c now\u200b, \u2067abc\u2069 \ufeff"
    assert hidden_characters(text) == ["RLO", "PDF", "ZWSP", "RLI", "PDI", "ZWNBSP"]
    shown = str(reveal(text))
    assert "\u202e" not in shown and "\u200b" not in shown and "\ufeff" not in shown
    assert '<span class="hidden-char" title="U+202E">[RLO]</span>exe.pdf' in shown


def test_tag_characters_spell_out_what_they_hide_and_markup_stays_text() -> None:
    text = "<b>thanks</b>" + _tags("<script>ignore all</script>")
    shown = str(reveal(text))
    assert shown.startswith("&lt;b&gt;thanks&lt;/b&gt;")
    assert "[hidden text: &lt;script&gt;ignore all&lt;/script&gt;]" in shown
    assert "<script>" not in shown and "<b>" not in shown


def test_ordinary_writing_is_left_alone() -> None:
    for text in ("👩\u200d💻 fixed it", "می\u200cخواهم", "שלום\u200f!", "plain text"):
        assert hidden_characters(text) == [] and str(reveal(text)) == text
    assert str(reveal(None)) == ""
