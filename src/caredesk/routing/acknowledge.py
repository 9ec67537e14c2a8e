"""Silence never happens: the automatic acknowledgement sent when nobody can answer now.

Outside the working hours of the conversation's calendar (its channel's, else its team's), or when no
agent of the workspace is online, the first customer message of a conversation in that closed period
gets one automatic reply in the customer's language saying when a person will answer. A closed period is
named by the next opening ("closed:<instant>") or, with nobody online during working hours, by the last
presence change of the workspace's agents ("offline:<instant>"): a conversation is acknowledged at most
once per name. The reply is marked automatic, so it never counts as a first or next reply.

Settings (`workspace.settings["auto_ack"]`): `enabled` (default false), `when_nobody_online` (default
true), and `texts` / `offline_texts`: {language: text} overriding the defaults below; `{next_open}` is
the next opening, written in the customer's language and the calendar's time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_datetime

from caredesk.domain.calendar import BusinessCalendar

CLOSED_TEXTS = {
    "en": "Thanks for your message. Our team is away right now and will answer you from {next_open}.",
    "da": "Tak for din besked. Vores team er ikke til stede lige nu og svarer dig fra {next_open}.",
    "sv": "Tack för ditt meddelande. Vårt team är inte här just nu och svarar dig från {next_open}.",
    "nl": "Bedankt voor je bericht. Ons team is er nu niet en antwoordt je vanaf {next_open}.",
    "de": "Danke für Ihre Nachricht. Unser Team ist gerade nicht da und antwortet Ihnen ab {next_open}.",
    "fr": "Merci pour votre message. Notre équipe est absente pour le moment et vous répondra dès "
    "{next_open}.",
    "es": "Gracias por tu mensaje. Nuestro equipo no está disponible ahora y te responderá a partir del "
    "{next_open}.",
    "pt": "Obrigado pela sua mensagem. A nossa equipa não está disponível agora e responde a partir de "
    "{next_open}.",
    "it": "Grazie per il messaggio. Il nostro team ora non è disponibile e ti risponderà da {next_open}.",
    "he": "תודה על הפנייה. הצוות שלנו אינו זמין כרגע ויענה לך החל מ{next_open}.",
    "ar": "شكرًا على رسالتك. فريقنا غير متاح الآن وسيرد عليك ابتداءً من {next_open}.",
    "zh": "感谢您的留言。我们的团队现在不在线，将于{next_open}起回复您。",
    "ja": "メッセージありがとうございます。現在担当者が不在のため、{next_open}以降にご返信します。",
    "hi": "आपके संदेश के लिए धन्यवाद। हमारी टीम अभी उपलब्ध नहीं है और {next_open} से आपको जवाब देगी।",
}
OFFLINE_TEXTS = {
    "en": "Thanks for your message. All our agents are busy right now; a person will answer you as soon as "
    "one is free.",
    "da": "Tak for din besked. Alle vores medarbejdere er optaget lige nu; en person svarer dig, så snart "
    "en er ledig.",
    "sv": "Tack för ditt meddelande. Alla våra medarbetare är upptagna just nu; en person svarar dig så "
    "snart någon är ledig.",
    "nl": "Bedankt voor je bericht. Al onze medewerkers zijn nu bezet; iemand antwoordt je zodra er een "
    "vrij is.",
    "de": "Danke für Ihre Nachricht. Gerade sind alle unsere Mitarbeitenden beschäftigt; sobald jemand frei "
    "ist, antworten wir Ihnen.",
    "fr": "Merci pour votre message. Tous nos conseillers sont occupés ; une personne vous répondra dès que "
    "possible.",
    "es": "Gracias por tu mensaje. Todos nuestros agentes están ocupados; una persona te responderá en "
    "cuanto haya uno libre.",
    "pt": "Obrigado pela sua mensagem. Todos os nossos agentes estão ocupados; uma pessoa responde assim "
    "que houver alguém livre.",
    "it": "Grazie per il messaggio. Tutti i nostri operatori sono occupati; una persona ti risponderà "
    "appena possibile.",
    "he": "תודה על הפנייה. כל הנציגים שלנו עסוקים כרגע; נציג יענה לך ברגע שיתפנה.",
    "ar": "شكرًا على رسالتك. جميع موظفينا مشغولون الآن؛ سيرد عليك أحدهم فور أن يتفرغ.",
    "zh": "感谢您的留言。我们的客服目前都在忙，有空后会尽快人工回复您。",
    "ja": "メッセージありがとうございます。ただいま担当者が対応中のため、手が空き次第ご返信します。",
    "hi": "आपके संदेश के लिए धन्यवाद। हमारे सभी एजेंट अभी व्यस्त हैं; कोई खाली होते ही आपको जवाब देगा।",
}


def settings_of(workspace_settings: dict[str, Any]) -> dict[str, Any]:
    raw = dict(workspace_settings.get("auto_ack") or {})
    return {
        "enabled": bool(raw.get("enabled", False)),
        "when_nobody_online": bool(raw.get("when_nobody_online", True)),
        "texts": {**CLOSED_TEXTS, **dict(raw.get("texts") or {})},
        "offline_texts": {**OFFLINE_TEXTS, **dict(raw.get("offline_texts") or {})},
    }


def when_text(at: datetime, now: datetime, calendar: BusinessCalendar, language: str) -> str:
    """The next opening in the customer's language: "Monday 09:00", or with the date when a week away."""
    local = at.astimezone(calendar.tz)
    pattern = "EEEE HH:mm" if at - now < timedelta(days=6) else "EEEE d MMMM HH:mm"
    try:
        return str(format_datetime(local, pattern, locale=language))
    except (ValueError, LookupError):
        return str(format_datetime(local, pattern, locale="en"))


def decide(
    *,
    at: datetime,
    now: datetime,
    calendar: BusinessCalendar | None,
    anyone_online: bool,
    last_presence_change: datetime | None,
    language: str | None,
    settings: dict[str, Any],
) -> tuple[str, str] | None:
    """(period name, text) when a message written at `at` is to be acknowledged, else None."""
    if not settings["enabled"]:
        return None
    lang = language if language is not None and language in settings["texts"] else "en"
    if calendar is not None and not calendar.is_open(at):
        opens = calendar.next_open(at)
        if opens is None:
            return "closed:never", settings["offline_texts"].get(lang, settings["offline_texts"]["en"])
        text = str(settings["texts"].get(lang, settings["texts"]["en"]))
        return f"closed:{opens.isoformat()}", text.replace(
            "{next_open}", when_text(opens, now, calendar, lang)
        )
    if settings["when_nobody_online"] and not anyone_online:
        since = last_presence_change.isoformat() if last_presence_change else "start"
        return f"offline:{since}", str(settings["offline_texts"].get(lang, settings["offline_texts"]["en"]))
    return None
