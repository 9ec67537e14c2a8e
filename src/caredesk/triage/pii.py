"""Personal data in customer messages: type and span of each finding, for masking and warnings.

Rule-based and conservative: an agent is warned about what is found, so a false alarm costs attention
while a miss leaks data. Each detector validates what it can (Luhn, IBAN mod-97, phone metadata) and the
others need an introducing phrase ("my password is", "kundenummer"). Phrase lists are written for this
project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

PII_TYPES = frozenset(
    {"phone", "email", "card", "iban", "password", "security_answer", "account_number", "address"}
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    type: str
    start: int
    end: int
    text: str
    confidence: float


# Overlaps keep the more specific finding: validated formats first, then phrase-introduced ones.
_PRIORITY = {
    "email": 0,
    "iban": 1,
    "card": 2,
    "password": 3,
    "security_answer": 3,
    "account_number": 4,
    "phone": 5,
    "address": 6,
}

_DIGIT = re.compile(r"\d")

# --- email -----------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+%-])[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

# --- payment cards ---------------------------------------------------------------------------------
_DIGIT_GROUPS = re.compile(r"(?<![\w.,/])\d+(?:[ -]\d+)*(?![\w/]|[.,]\d)")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _known_iin(d: str) -> bool:
    n = len(d)
    p2, p3, p4, p6 = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if d[0] == "4":
        return n in (13, 16, 19)  # Visa, Visa/Dankort
    if 51 <= p2 <= 55 or 222100 <= p6 <= 272099:
        return n == 16  # Mastercard
    if p2 in (34, 37):
        return n == 15  # American Express
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65:
        return 16 <= n <= 19  # Discover
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19  # JCB
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return 14 <= n <= 19  # Diners
    if p2 == 62:
        return 16 <= n <= 19  # UnionPay
    if p2 == 50 or 56 <= p2 <= 69:
        return 12 <= n <= 19  # Maestro
    return False


def _find_cards(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for m in _DIGIT_GROUPS.finditer(text):
        groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", m.group())]
        i = 0
        while i < len(groups):
            hit = None
            for j in range(len(groups), i, -1):
                digits = "".join(m.group()[s:e] for s, e in groups[i:j])
                if 13 <= len(digits) <= 19 and _luhn_ok(digits) and _known_iin(digits):
                    hit = j
                    break
            if hit is None or i != 0 or hit != len(groups):
                break
            found.append((m.start() + groups[i][0], m.start() + groups[hit - 1][1]))
            i = hit
    return found


# --- IBAN ------------------------------------------------------------------------------------------
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28,
    "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23,
    "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "RS": 22,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}")


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _find_ibans(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        chars = [m.group().upper()]
        count, pos = 4, m.end()
        while count < length and pos < len(text):
            ch = text[pos]
            if ch.isascii() and ch.isalnum():
                chars.append(ch.upper())
                count += 1
                pos += 1
            elif ch in " -" and pos + 1 < len(text) and text[pos + 1].isascii() and text[pos + 1].isalnum():
                pos += 1
            else:
                break
        if count != length or (pos < len(text) and text[pos].isalnum()):
            continue
        if _iban_ok("".join(chars)):
            found.append((m.start(), pos))
    return found


# --- passwords and security answers ----------------------------------------------------------------
_LOGIN_PHRASES = (
    r"(?:password|passcode|passphrase|pwd|pin(?:\s?code)?|login)\s*(?:is|was|=|:)"
    r"|(?:kodeord(?:et)?|adgangskode(?:n)?|password(?:et)?|pinkode(?:n)?)\s*(?:er|var|:|=)"
    r"|(?:passwort|kennwort|pin)\s*(?:ist|lautet|war|:|=)"
    r"|(?:contraseña|contrasena|clave)\s*(?:es|era|:|=)"
    r"|mot\s+de\s+passe\s*(?:est|était|etait|:|=)"
    r"|(?:senha|palavra-passe)\s*(?:é|era|:|=)"
    r"|password\s*(?:è|era|:|=)"
    r"|wachtwoord\s*(?:is|was|:|=)"
    r"|lösenord(?:et)?\s*(?:är|var|:|=)"
    r"|密码(?:是|为|:|：)"
    r"|(?:הסיסמה|הסיסמא|סיסמה|סיסמא)(?:\s*שלי)?\s*(?:היא|הוא|:)"
)
_SECURITY_INTRO = (
    r"(?:answer\s+to\s+(?:my|the)\s+security\s+question\s+is|sec(?:urity|\.)?\s+answer\s*(?:is|:)"
    r"|(?:mother'?s|mum'?s|mom'?s)\s+maiden\s+name\s+(?:is|was)|maiden\s+name\s+(?:is|was)"
    r"|first\s+pet\s+was\s+called|(?:name\s+of\s+)?my\s+first\s+pet(?:'s\s+name)?\s+(?:is|was)"
    r"|memorable\s+word\s*(?:is|:))"
    r"|svaret\s+på\s+(?:mit\s+|mine\s+|min\s+)?sikkerhedsspørgsmål\s+er|sikkerhedssvar(?:et)?\s*(?:er|:)"
    r"|(?:min\s+)?mors\s+pigenavn\s+(?:er|var)"
    r"|antwort\s+auf\s+(?:meine|die)\s+sicherheitsfrage\s+(?:ist|lautet)|sicherheitsantwort\s*(?:ist|lautet|:)"
    r"|(?:mädchenname|geburtsname)\s+meiner\s+mutter\s+(?:ist|lautet|war)"
    r"|respuesta\s+(?:a|de)\s+(?:mi|la)\s+pregunta\s+de\s+seguridad\s+es"
    r"|apellido\s+de\s+soltera\s+de\s+mi\s+madre\s+es"
    r"|réponse\s+à\s+(?:ma|la)\s+question\s+(?:secrète|de\s+sécurité)\s+est"
    r"|nom\s+de\s+jeune\s+fille\s+de\s+ma\s+mère\s+est"
    r"|resposta\s+(?:à|a|da)\s+(?:minha\s+)?pergunta\s+de\s+segurança\s+é"
    r"|nome\s+de\s+solteira\s+da\s+minha\s+mãe\s+é"
    r"|risposta\s+alla\s+(?:mia\s+)?domanda\s+di\s+sicurezza\s+è|cognome\s+da\s+nubile\s+di\s+mia\s+madre\s+è"
    r"|antwoord\s+op\s+(?:mijn|de)\s+beveiligingsvraag\s+is|meisjesnaam\s+van\s+mijn\s+moeder\s+is"
    r"|svaret\s+på\s+(?:min\s+|mitt\s+)?säkerhetsfråga(?:n)?\s+är|(?:min\s+)?mammas\s+flicknamn\s+är"
    r"|安全问题的?答案是|密保(?:问题)?答案是|התשובה\s+לשאלת\s+(?:ה)?אבטחה(?:\s+שלי)?\s+(?:היא|הוא)"
)
_SECRET = r"\s*[\"'“«„‘]?([^\s\"'”»“‘’，。；！？、]+)"  # noqa: S105 - a pattern
_SECRET_PATTERNS = (
    ("security_answer", re.compile(r"(?:" + _SECURITY_INTRO + r")" + _SECRET, re.IGNORECASE)),
    ("password", re.compile(r"(?<![A-Za-z])(?:" + _LOGIN_PHRASES + r")" + _SECRET, re.IGNORECASE)),
)
_SECRET_TRIGGER = re.compile(
    r"pass|pwd|pin|login|kode|kennwort|contrase|clave|senha|wachtwoord|lösenord|密码|密保|答案|סיסמ|אבטחה"
    r"|maiden|pet|memorable|security|sikkerhed|pigenavn|sicherheit|name|seguridad|soltera|question|segurança"
    r"|solteira|sicurezza|nubile|nom|fille|answer|beveiliging|meisjesnaam|säkerhet|flicknamn",
    re.IGNORECASE,
)
# Words that follow "my password is" when no password is being given.
_NOT_SECRETS = frozenset(
    [
        "not",
        "wrong",
        "incorrect",
        "invalid",
        "expired",
        "correct",
        "right",
        "too",
        "still",
        "being",
        "reset",
        "changed",
        "no",
        "none",
        "blocked",
        "locked",
        "the",
        "a",
        "my",
        "your",
        "same",
        "case-sensitive",
        "required",
        "needed",
        "missing",
        "forgotten",
        "working",
        "rejected",
        "weak",
        "ikke",
        "forkert",
        "forkerte",
        "udløbet",
        "låst",
        "nulstillet",
        "nicht",
        "falsch",
        "abgelaufen",
        "gesperrt",
        "zurückgesetzt",
        "korrekt",
        "no",
        "incorrecta",
        "incorrecto",
        "caducada",
        "bloqueada",
        "pas",
        "incorrect",
        "expiré",
        "bloqué",
        "faux",
        "não",
        "errada",
        "incorreta",
        "bloqueada",
        "expirada",
        "non",
        "sbagliata",
        "errata",
        "scaduta",
        "bloccata",
        "niet",
        "fout",
        "onjuist",
        "verlopen",
        "geblokkeerd",
        "inte",
        "fel",
        "felaktigt",
        "utgånget",
        "låst",
        "不对",
        "错误",
        "错了",
        "לא",
        "שגויה",
    ]
)

# --- account / customer numbers ---------------------------------------------------------------------
_ACCOUNT = re.compile(
    r"(?<![A-Za-z0-9])(?:account|acct|customer|cliente|client|member(?:ship)?|subscriber"
    r"|kunde(?:n)?nummer|kundenr|kontonummer|konto|kunde|kundennummer|kundennr|mitgliedsnummer|vertragsnummer"
    r"|n[úu]mero\s+de\s+(?:cliente|cuenta|socio|conta)(?:\s+de\s+cliente)?|n[ºo°]\.?\s+de\s+cliente|número\s+cliente"
    r"|numéro\s+(?:de\s+)?(?:client|compte|d'abonné)|n°\s*client|numero\s+(?:di\s+)?cliente|codice\s+cliente"
    r"|klantnummer|klantnr|kundnummer|kundnr|客户(?:编号|号|号码)|账号|账户号?|מספר\s+(?:לקוח|חשבון))"
    r"(?:\s*(?:number|no\.?|nr\.?|num\.?|id|#|n°|nº))?"
    r"(?:\s*(?:is|er|ist|lautet|es|est|é|è|är|是|为|הוא))?\s*[:#.：]?\s*"
    r"((?:[A-Z]{1,4}-?)?\d[\d-]{3,}\d(?:\s\d{6,10})?)(?![\w@])",
    re.IGNORECASE,
)

# --- postal addresses --------------------------------------------------------------------------------
_CAP = r"[A-ZÀ-ÝÆØÅÄÖÜ][\wÀ-ÿ'’-]*"
_CITY = rf"{_CAP}(?:[ -]{_CAP}){{0,2}}(?:\s[A-Z]\b|\s[CKNSVØ]\b)?"
_NORDIC_GERMANIC = re.compile(
    rf"(?<!\w){_CAP}(?:vej|vejen|gade|gaden|boulevard|boulevarden|allé|alle|vænget|stræde|plads|torv|straße|strasse|str\.|weg|gasse|platz"
    r"|allee|damm|ufer|straat|laan|gracht|plein|kade|singel|dijk|gatan|vägen|väg|gränd|torget|stigen|steig)"
    r"\s\d{1,4}\s?[A-Za-z]?\b(?:,?\s?\d{1,2}\.?\s?(?:tv|th|mf|sal)\.?)?"
    rf"(?:,?\s+(?:D-)?(?:\d{{4}}\s?[A-Z]{{2}}|\d{{3}}\s\d{{2}}|\d{{4,5}})\s+{_CITY})?"
)
_ROMANCE = re.compile(
    r"(?<!\w)(?:Calle|C/|Avenida|Av\.|Avda\.|Paseo|Plaza|Rua|Travessa|Largo|Praça|Via|Viale|Piazza|Corso"
    r"|Carrer|Camino|Ronda)\s+(?:(?:de|del|da|do|dos|das|la|las|los|di|della|dei|delle|degli)\s+)*"
    rf"{_CAP}(?:\s+(?:de|del|da|do|di|della)?\s*{_CAP}){{0,2}},?\s+(?:n[º°o]\.?\s*)?\d{{1,4}}[A-Za-z]?\b"
    rf"(?:,?\s*\d{{1,2}}[º°]\s*[A-Za-z]?)?(?:,?\s+\d{{4,5}}(?:-\d{{3}})?\s+{_CITY})?"
)
_FRENCH = re.compile(
    r"(?<![\w,.])\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse"
    r"|quai|cours|route)\s+(?:de\s+la\s+|de\s+l'|du\s+|des\s+|de\s+|d')?"
    rf"{_CAP}(?:[\s-]+{_CAP}){{0,3}}(?:,?\s+\d{{5}}\s+{_CITY})?"
)
_ENGLISH = re.compile(
    r"(?<![\w,.])\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?"
    r"|Drive|Dr\.?|Boulevard|Blvd\.?|Way|Close|Court|Ct\.?|Place|Pl\.?|Terrace|Crescent|Square|Parkway"
    r"|Gardens|Row|Mews)(?!\w)(?:,?\s*(?:Apt\.?|Flat|Unit|Suite)\s*\w+)?"
    r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?"
    r"(?:,?\s*(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}))?"
)
_UK_POSTCODE = re.compile(r"(?<![\w-])[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}(?![\w-])")
_ADDRESS_WORD = (
    r"(?:address|adresse|adressen|anschrift|dirección|direccion|morada|endereço|indirizzo|adres|adressen"
    r"|adress|wohne\s+in|bor\s+i|bor\s+på|i\s+live\s+(?:at|in))"
)
_POSTCODE_CITY = re.compile(
    rf"{_ADDRESS_WORD}\s*(?:is|er|ist|lautet|es|est|é|è|är)?\s*:?\s*"
    rf"((?:D-|F-)?(?:\d{{4}}\s?[A-Z]{{2}}|\d{{3}}\s\d{{2}}|\d{{4,5}})\s+{_CITY})",
    re.IGNORECASE,
)
_CHINESE = re.compile(
    r"[\u4e00-\u9fff]{0,12}?(?:[\u4e00-\u9fff]{1,6}(?:路|街|大道|巷|胡同))\d{1,5}号(?:\d{1,4}(?:室|楼|单元))*"
)
_CHINESE_LEAD = re.compile(r"^.*(?:地址(?:是|为)?|住在|寄到|送到|[是为在：:])")
_HEBREW = re.compile(
    r"(?:רחוב|רח['׳]|שדרות|שד['׳])\s*[\u0590-\u05ff\"]+(?:\s[\u0590-\u05ff]+)?\s\d{1,4}"
    r"(?:,?\s*(?:\d{7}\s+)?(?:תל אביב|ירושלים|חיפה|[\u0590-\u05ff]{2,}))?"
)
_ADDRESS_PATTERNS = (_NORDIC_GERMANIC, _ROMANCE, _FRENCH, _ENGLISH, _UK_POSTCODE, _HEBREW)

# --- phones ------------------------------------------------------------------------------------------
_DEFAULT_REGIONS = ("US", "GB", "DK", "DE", "FR", "ES", "IT", "NL", "SE", "PT", "BR", "CN", "IL")
_PHONE_CONTEXT = re.compile(
    r"(?:phone|mobile|cell|call|text\s+me|ring|tel|tlf|telefon|mobil|handy|nummer|number|número|numero"
    r"|numéro|portable|appel|whatsapp|sms|llam|ligue|chiama|bel\s+me|cellulare|电话|手机|致电|联系|טלפון|נייד"
    r"|reach\s+me|contact|kontakt|contatto|contacto|móvil|movil|appel|מספר)",
    re.IGNORECASE,
)
_NOT_PHONE_CONTEXT = re.compile(
    r"(?:order|ordre|bestilling|bestell|pedido|commande|encomenda|ordine|bestelling|case|sag|ticket|tracking"
    r"|sendung|invoice|faktura|rechnung|factura|facture|fattura|referen|ref|serial|serie|imei|version"
    r"|parcel|pakke|paket|bestel|beställ|gls|postnord|dhl|ups|fedex|订单|单号|הזמנה|kvittering|receipt|iban|konto|account|customer|kunde)\W*"
    r"(?:(?:no|nr|n°|nº|number|nummer|número|numéro|numero|id)\W*)?(?:is|er|ist|es|est|é|è|är)?\W*$",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def _find_phones(text: str, region_hint: str | None) -> list[tuple[int, int, float]]:
    regions: list[str] = []
    if region_hint:
        regions.append(region_hint.upper())
    regions.extend(r for r in _DEFAULT_REGIONS if r not in regions)
    seen: dict[tuple[int, int], float] = {}
    for index, region in enumerate(regions):
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            start, end, raw = match.start, match.end, match.raw_string
            if (start, end) in seen or _DATE_LIKE.match(raw.strip()):
                continue
            before = text[max(0, start - 40) : start]
            if _NOT_PHONE_CONTEXT.search(before):
                continue
            international = raw.lstrip("(").startswith(("+", "00"))
            if not international:
                hinted = region_hint is not None and index == 0
                if not (_PHONE_CONTEXT.search(before) or hinted):
                    continue
                if not (len(raw) > 8 or _PHONE_CONTEXT.search(before)):
                    continue
            seen[(start, end)] = 0.95 if international else 0.8
    # Numbers the metadata does not know yet (new ranges) still count when written as phones are.
    for match in phonenumbers.PhoneNumberMatcher(text, regions[0], leniency=phonenumbers.Leniency.POSSIBLE):
        start, end, raw = match.start, match.end, match.raw_string
        if any(start < e and end > s for s, e in seen) or _DATE_LIKE.match(raw.strip()):
            continue
        before = text[max(0, start - 40) : start]
        if _NOT_PHONE_CONTEXT.search(before) or len(re.sub(r"\D", "", raw)) < 8:
            continue
        if raw.startswith("+") or (_PHONE_CONTEXT.search(before) and re.search(r"[ -]", raw)):
            seen[(start, end)] = 0.6
    return [(s, e, c) for (s, e), c in seen.items()]


def _secret_span(match: re.Match[str]) -> tuple[int, int] | None:
    start = match.start(1)
    value = match.group(1)
    stripped = value.rstrip(".,;:?)")
    if not stripped or stripped.lower() in _NOT_SECRETS:
        return None
    return start, start + len(stripped)


def find_pii(text: str, *, region_hint: str | None = None) -> list[PiiSpan]:
    """Personal data in `text`, sorted by start; spans never overlap."""
    candidates: list[tuple[str, int, int, float]] = []
    has_digit = _DIGIT.search(text) is not None
    if "@" in text:
        candidates.extend(("email", m.start(), m.end(), 0.99) for m in _EMAIL.finditer(text))
    if _SECRET_TRIGGER.search(text):
        for kind, pattern in _SECRET_PATTERNS:
            for m in pattern.finditer(text):
                span = _secret_span(m)
                if span is not None:
                    candidates.append((kind, span[0], span[1], 0.85))
    if has_digit:
        candidates.extend(("iban", s, e, 0.99) for s, e in _find_ibans(text))
        candidates.extend(("card", s, e, 0.97) for s, e in _find_cards(text))
        candidates.extend(("account_number", *m.span(1), 0.85) for m in _ACCOUNT.finditer(text))
        candidates.extend(("phone", s, e, c) for s, e, c in _find_phones(text, region_hint))
        for pattern in _ADDRESS_PATTERNS:
            candidates.extend(("address", m.start(), m.end(), 0.75) for m in pattern.finditer(text))
        candidates.extend(("address", *m.span(1), 0.7) for m in _POSTCODE_CITY.finditer(text))
        for m in _CHINESE.finditer(text):
            lead = _CHINESE_LEAD.match(m.group())
            offset = lead.end() if lead and lead.end() < len(m.group()) - 2 else 0
            candidates.append(("address", m.start() + offset, m.end(), 0.75))
    candidates.sort(key=lambda c: (_PRIORITY[c[0]], -(c[2] - c[1]), c[1]))
    kept: list[tuple[str, int, int, float]] = []
    for cand in candidates:
        _, start, end, _ = cand
        if end > start and all(end <= k[1] or start >= k[2] for k in kept):
            kept.append(cand)
    kept.sort(key=lambda c: c[1])
    return [PiiSpan(kind, start, end, text[start:end], conf) for kind, start, end, conf in kept]
