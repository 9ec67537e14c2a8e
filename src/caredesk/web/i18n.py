"""The web inbox's words, ready for translation.

Every string a person reads goes through gettext: in templates `{{ _("Queue") }}` (Jinja's i18n
extension, new style: `_("%(n)s waiting", n=count)`), in Python `gettext(...)` or, for strings defined
before a request has a language, the marker `N_(...)` translated where shown; in static/app.js
`t("...")`, served from a catalogue the page embeds (`js_catalogue`), whose message ids are read from
app.js itself. Catalogues live in `web/locale/<lang>/LC_MESSAGES/caredesk.mo`; the language is the
best match of the browser's Accept-Language among those present (English, the source language,
otherwise). `caredesk i18n extract caredesk.pot` writes the template translators start from
(`extract_catalog`); compile a translation with `pybabel compile -D caredesk -d src/caredesk/web/locale`.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.templating import Jinja2Templates

from caredesk.web.visible import reveal

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
DOMAIN = "caredesk"
SOURCE_LANGUAGE = "en"

_SOURCE = NullTranslations()  # English, the source language: message ids are the text
_current: ContextVar[NullTranslations] = ContextVar("caredesk_translations", default=_SOURCE)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


# Values the pages show as words (`{{ _(c.status) }}`): statuses, presence, sentiment, delivery states.
VALUE_WORDS = (
    N_("open"), N_("pending"), N_("snoozed"), N_("resolved"), N_("all"),
    N_("online"), N_("away"), N_("offline"),
    N_("negative"), N_("neutral"), N_("positive"),
    N_("queued"), N_("sending"), N_("sent"), N_("failed"), N_("held"), N_("approval"), N_("rejected"),
)  # fmt: skip


def gettext(message: str, **values: Any) -> str:
    text = _current.get().gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = _current.get().ngettext(singular, plural, n)
    return text % {"num": n, **values}


def available(locale_dir: Path | None = None) -> list[str]:
    folder = locale_dir or LOCALE_DIR
    found = (
        [p.name for p in folder.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()]
        if folder.is_dir()
        else []
    )
    return sorted({SOURCE_LANGUAGE, *found})


def negotiate(accept_language: str, locale_dir: Path | None = None) -> str:
    """The best of the languages we have for an Accept-Language header ("da, en;q=0.8")."""
    wanted = []
    for part in accept_language.split(",")[:20]:
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if tag:
            wanted.append((weight, tag.strip().replace("-", "_")))
    wanted.sort(key=lambda w: -w[0])
    have = available(locale_dir)
    try:
        best = Locale.negotiate([tag for _, tag in wanted], have, sep="_")
    except (UnknownLocaleError, ValueError):
        best = None
    return str(best) if best is not None and str(best) in have else SOURCE_LANGUAGE


@cache
def translations_for(language: str, locale_dir: Path = LOCALE_DIR) -> NullTranslations:
    if language == SOURCE_LANGUAGE and not (locale_dir / language).is_dir():
        return NullTranslations()
    return Translations.load(str(locale_dir), [language], DOMAIN)


_JS_CALL = re.compile(
    r'\bt\("((?:[^"\\]|\\.)*)"'
)  # t("...") with a double-quoted literal, as app.js writes them


@cache
def js_message_ids() -> tuple[str, ...]:
    """Every `t("...")` in static/app.js (Babel's JavaScript lexer misses some inside template literals)."""
    source = (HERE / "static" / "app.js").read_text(encoding="utf-8")
    return tuple(sorted({json.loads(f'"{m}"') for m in _JS_CALL.findall(source)}))


def extract_catalog() -> Catalog:
    """Every message of the web inbox: templates, Python (`gettext`, `N_`) and app.js, for translators."""
    catalog = Catalog(domain=DOMAIN, project="caredesk")
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, line, message, comments, _context in extract_from_dir(
        str(HERE), method_map, options, keywords
    ):
        catalog.add(message, locations=[(f"web/{filename}", line)], auto_comments=comments)
    for message in js_message_ids():
        catalog.add(message, locations=[("web/static/app.js", 0)])
    return catalog


def js_catalogue() -> str:
    """The JS strings in the page's language, as JSON for a `<script type="application/json">`."""
    translations = _current.get()
    text = json.dumps({msg: translations.gettext(msg) for msg in js_message_ids()}, ensure_ascii=False)
    return text.replace("<", "\\u003c")  # never a "</script>" inside the script element


async def set_language(request: Request) -> None:
    """Router dependency: the request's language for strings made in Python before a template renders
    (async, so the value reaches the endpoint's thread)."""
    use_language(request)


def use_language(request: Request) -> dict[str, Any]:
    """Context processor: picks the request's language before its template renders."""
    language = negotiate(request.headers.get("accept-language", ""), LOCALE_DIR)
    _current.set(translations_for(language, LOCALE_DIR))
    return {"language": language}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: _current.get().gettext(message),
        lambda singular, plural, n: _current.get().ngettext(singular, plural, n),
        newstyle=True,
    )
    env.globals["js_catalogue"] = js_catalogue
    env.filters["reveal"] = reveal  # customer text: hidden characters shown (web/visible.py)
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": str}  # datetimes as ISO text
    return env


templates = Jinja2Templates(env=_environment(), context_processors=[use_language])
