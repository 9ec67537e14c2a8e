"""Personal data in customer messages: type and span of each finding, for masking and warnings.

Rule-based and conservative: an agent is warned about what is found, so a false alarm costs attention
while a miss leaks data. Each detector validates what it can (Luhn, IBAN mod-97, phone metadata) and the
others need an introducing phrase ("my password is", "kundenummer"). Phrase lists are written for this
project.

Most messages carry no personal data, so every detector sits behind a cheap pre-check (a digit, an '@',
a run of seven digits, a trigger word) and the costly ones (phone metadata) only see candidates.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import phonenumbers

from caredesk.triage.pii_tagger import PiiTagger, Tagged

MODELS = Path(__file__).parent / "models"

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


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Scripts written without spaces: a value may touch the words around it.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")

# --- email -----------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+%-])[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# A company's role address ("support@", "no-reply@", "kundeservice@") names a desk, not a person.
_ROLE_MAILBOX = re.compile(
    r"(?:no-?reply|do-?not-?reply|support|service|services|customerservice|customer[._-]?(?:service|care|support)"
    r"|care|help|helpdesk|info|information|contact|contacto|kontakt|hello|hallo|hola|orders?|bestellung|billing"
    r"|invoices?|press|media|sales|returns?|retour|refunds?|enquiries|inquiries|feedback|complaints?"
    r"|reclamaciones|reclamations?|kundeservice|kundenservice|kundendienst|kundtjanst|klantenservice|servicio"
    r"|atencion|atendimento|sac|assistenza|servizioclienti|serviceclient|service-client|news|newsletter|marketing"
    r"|notifications?|alerts?|team|office|admin|webmaster|postmaster|mailer-daemon|bounce|privacy|dpo|legal"
    r"|security|abuse|jobs|careers|kefu|kf)@",
    re.IGNORECASE,
)

# --- payment cards ---------------------------------------------------------------------------------
_LONG_DIGITS = re.compile(r"\d(?:(?:  ?|[.-]|-?\n)?\d){11}")
# Groups apart by a space or a dash, or wrapped at a line end ("4916-3382-\n7720-1199").
_DIGIT_GROUPS = re.compile(r"(?<![A-Za-z0-9_,/])(?<!\d\.)\d+(?:(?:  ?|-|-?\n)\d+)*(?![A-Za-z0-9_/]|[.,]\d)")


_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


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
    if 2200 <= p4 <= 2204:
        return n == 16  # Mir
    if p4 == 9792:
        return n == 16  # Troy
    return False


def _card_grouping(sizes: list[int]) -> bool:
    """Cards are printed in one run, in fours (the last group shorter), or 4-6-4/4-6-5 (Amex, Diners)."""
    if len(sizes) == 1:
        return True
    if all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4:
        return True
    return sizes in ([4, 6, 4], [4, 6, 5])


_DOTTED_CARD = re.compile(r"(?<![\w.,])\d{4}\.\d{4}\.\d{4}\.\d{1,7}(?![\w]|[.,]\d)")


def _find_cards(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for m in _DOTTED_CARD.finditer(text):  # "4263.9826.4026.9299"
        digits = m.group().replace(".", "")
        if _luhn_ok(digits) and _known_iin(digits):
            found.append(m.span())
    for m in _DIGIT_GROUPS.finditer(text):
        groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", m.group())]
        i = 0
        while i < len(groups):
            hit = None
            for j in range(len(groups), i, -1):
                digits = "".join(m.group()[s:e] for s, e in groups[i:j]).translate(_FULL_WIDTH)
                if digits.isascii() and 13 <= len(digits) <= 19 and _luhn_ok(digits) and _known_iin(digits):
                    hit = j
                    break
            if hit is None or i != 0 or hit != len(groups):
                break
            if not _card_grouping([e - s for s, e in groups[i:hit]]):
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
    "AL": 28, "AZ": 28, "BY": 28, "CR": 22, "DO": 28, "EG": 29, "GE": 22, "GT": 28, "IQ": 23, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LY": 25, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MU": 30,
    "PK": 24, "PS": 29, "QA": 29, "SC": 31, "SD": 18, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "VG": 24,
    "XK": 20, "BI": 27, "DJ": 27, "SO": 23, "NI": 28, "MN": 20, "OM": 23, "FK": 18, "YE": 30, "VA": 22,
    "RU": 33, "HN": 28,
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
        if count != length or (pos < len(text) and text[pos].isascii() and text[pos].isalnum()):
            continue
        if _iban_ok("".join(chars)):
            found.append((m.start(), pos))
    return found


# --- passwords -------------------------------------------------------------------------------------
# "full" keywords may be followed straight by a password-shaped value ("password Foo1"); "short" ones need
# a connector ("pw is", "pin:"); "pass" and "login" are everyday words, so their value must look like a
# password.
_PASSWORD_WORD = re.compile(
    r"(?<![A-Za-z])(?:"
    r"(?P<full>passwor[dt](?:et|s)?|passcode|passphrase|kodeord(?:et)?|adgangskode(?:n)?|pinkode(?:n)?"
    # typed in a hurry: "pasword", "passwrd", "paswd", "passowrd", "pssword"
    r"|pas?s?w(?:or|ro|r|o|er|ir)d[st]?|passowrd|pss?word|passwd|paswd"
    r"|code\s+d['’]acc[eè]s|access\s+code|zugangscode|código\s+de\s+acceso|codice\s+di\s+accesso|toegangscode"
    r"|kennwort|contraseña|contrasena|mot\s+de\s+passe|mdp|senha|palavra-passe|wachtwoord|lösenord(?:et)?"
    r"|密码|パスワード|暗証番号|(?:ה)?סיסמ[הא]|كلمة\s+(?:المرور|السر))"
    r"|(?P<pin>pin(?:\s?code|\s?number|\s?no)?|الرقم\s+السري|الرقم\s+السرّي|رمز\s+(?:PIN|السري)"
    r"|支付密码|交易密码|取款密码)"
    # "the code is 7731": a code stated after "is", never "error code 1234"
    r"|(?P<code>(?<!error\s)(?<!fehler\s)(?<!promo\s)(?<!discount\s)(?:the\s+)?code|koden|הקוד|el\s+código"
    r"|le\s+code|der\s+code|il\s+codice|de\s+code|o\s+código)(?!\s+d['’]acc|\s+de\s+acceso|\s+di\s+accesso)"
    r"|(?P<short>pwd|pw|ww|clave)"
    r"|(?P<pass>pass|login)"
    # "tried logging in with hunter2hunter2": the value must look like a password
    r"|(?P<with>log(?:ging|ged)?\s*in\s+with|sign(?:ing|ed)?\s*in\s+with|logged\s+on\s+with)"
    r")(?:(?<=[\u3040-\u30ff\u3400-\u9fff])|(?![A-Za-z]))",
    re.IGNORECASE,
)
_STRONG_LINK = _words("is was = : ： er var ist lautet war es era est était etait é è är היא הוא هي هو")
_WEAK_LINK = _words("as to til zu auf para en op à a naar till som als")
_POSSESSIVES = _words("שלי الخاصة بي خاصتي بتاعتي بتاعي تبعي حقي")
# Prepositions that may follow the keyword before the value ("a senha no papel: X"), never a refusal.
_PREPOSITIONS = _words("no na nos nas em in on en op auf im dans sur su nel nella på i")
_OR = _words("or eller oder o ou of and og und y et en e och")
_PIN_VALUE = re.compile(r"\d{4,8}")
# A password straight after a CJK keyword, with no connector: "密码lily19900101".
_CJK_VALUE = re.compile(r"[!-~]{4,}")
_HEDGES = _words(
    "either now still just probably prob literally actually currently simply basically like maybe "
    "definitely def set changed now nu jetzt maintenant ahora agora ora nå nyt neu nuevo nova "
    "btw fyi übrigens eigentlich noch immer d'ailleurs aussi también también también além aliás "
    "trouwens förresten forresten iøvrigt"
)
_ENTRY = re.compile(
    r"\b(?:typed|entered|used|put\s+in|chose|picked|set\s+it\s+(?:to|as)|(?:it\s+)?says|reads|tecleé|escribí|digitei|tastet|"
    r"eingegeben|tapé|ingevoerd|skrev)\s+(?:in\s+)?(?:(?:it\s+)?as\s+)?",
    re.IGNORECASE,
)
_CJK_LINK = re.compile(
    r"\s*(?:(?:改成|改为|改為|设为|設為|设置为|設置為|换成|換成|变成|變成|更改为)了?|は|が|を|:|：|是|为|為)\s*([!-~]+)"
)
_TOKEN = re.compile(r"\S+")
_LATER_PASSWORD = re.compile(
    r"(?<!\w)(?:was|is|war|ist|lautet|était|etait|era|es|er|var|é|è|är)\s+(\S+)", re.IGNORECASE
)
_OPEN_QUOTES = "\"'“«„‘‹(["
_CLOSE_PUNCT = ".,;:?)]\"'”»’›؟،。"
_WORD_END = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef\u3000-\u303f、。，！？；]")
# Symbols people put in passwords; apostrophes and hyphens inside words ("dell'area") are not among them.
_SYMBOL = re.compile(r"[!-&(-,./:-@\[-`{-~]")
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
# Words that follow "my password is" when no password is being given.
_NOT_SECRETS = _words("""
    not wrong incorrect invalid expired correct right too still being reset changed no none blocked locked
    the a an my your his her our their same case-sensitive required needed missing forgotten working
    rejected weak either neither something anything nothing what which that this it there here too short
    long different also and or but if so then because when how why ok okay fine
    ikke forkert forkerte udløbet låst nulstillet nicht falsch abgelaufen gesperrt zurückgesetzt korrekt
    incorrecta incorrecto caducada bloqueada pas expiré bloqué faux não errada incorreta expirada non
    sbagliata errata scaduta bloccata niet fout onjuist verlopen geblokkeerd inte fel felaktigt utgånget
    不对 错误 错了 לא שגויה لا خطأ
    """)


def _clean_token(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _OPEN_QUOTES:
        start += 1
    cut = _WORD_END.search(text, start, end)
    if cut:
        end = cut.start()
    while end > start and text[end - 1] in _CLOSE_PUNCT:
        end -= 1
    return start, end


def _password_like(value: str) -> bool:
    """Shaped like a chosen password, for values without an explicit "is": letters and digits or symbols."""
    if len(value) < 6 or _EMAIL_LIKE.fullmatch(value) or "://" in value or value[0] in "#@":
        return False
    has_alpha = any(c.isalpha() for c in value)
    has_other = any(c.isdigit() for c in value) or _SYMBOL.search(value) is not None
    return has_alpha and has_other


def _password_after(text: str, start: int, kind: str) -> list[tuple[int, int]]:
    """Passwords given after a password keyword that ends at `start`."""
    if _CJK.match(text, start - 1):
        cjk = _CJK_LINK.match(text, start)
        if cjk:
            s, e = _clean_token(text, cjk.start(1), cjk.end(1))
            if e > s and text[s:e].lower() not in _NOT_SECRETS:
                return [(s, e)]
        bare = _CJK_VALUE.match(text, start)
        if bare:
            s, e = _clean_token(text, *bare.span())
            if _password_like(text[s:e]):
                return [(s, e)]
    window_end = min(len(text), start + 100)
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text, start, window_end)]
    link = ""  # the connector just read: "strong" (is, :), "weak" (as, to) or none
    filler = 0
    for index, (ts, te) in enumerate(tokens):
        raw = text[ts:te]
        if index == 0 and len(raw) > 1 and raw[0] in ":=：":
            # "password:Foo1", no space after the colon
            raw, link = raw[1:], "colon"
        word = raw.lower()
        if raw in (":", "=", "：") or word in _STRONG_LINK:
            link = "colon" if raw in (":", "=", "：") else "strong"
            continue
        if link and word in _HEDGES:
            continue
        if word in _POSSESSIVES:
            continue
        s, e = _clean_token(text, te - len(raw), te)
        value = text[s:e]
        if not value:
            break
        if value.lower() in _NOT_SECRETS and (link or (filler == 0 and value.lower() not in _PREPOSITIONS)):
            return []
        if link in ("colon", "strong") and value.lower() in _PREPOSITIONS and not _password_like(value):
            break  # "my password is on a note, it says X"
        direct = filler == 0 and kind not in ("pass", "with") and link in ("colon", "strong")
        if direct and value.isalpha() and value.islower() and index + 1 < len(tokens):
            # "Kennwort war übrigens Wien!Prater7": a word before the password-shaped one is no password
            s2, e2 = _clean_token(text, *tokens[index + 1])
            if _password_like(text[s2:e2]):
                direct = False
        if (
            index + 2 < len(tokens)
            and text[tokens[index + 1][0] : tokens[index + 1][1]] == "/"
            and (link or filler == 0)
        ):
            # "login is admin / Tr0ub4dor&3": a user name, then the password
            s2, e2 = _clean_token(text, *tokens[index + 2])
            if _password_like(text[s2:e2]):
                return [(s2, e2)]
        if _PIN_VALUE.fullmatch(value) and (
            (kind == "pin" and filler == 0) or (kind in ("pin", "code") and link in ("colon", "strong"))
        ):
            direct = True  # "PIN 4821", "the PIN for the mailbox is 9090", "koden er 7731"
        elif kind == "code":
            break
        if direct or ((kind in ("full", "with") or link) and _password_like(value)):
            found = [(s, e)]
            rest = tokens[index + 1 : index + 3]
            if len(rest) == 2 and text[rest[0][0] : rest[0][1]].lower() in _OR:
                s2, e2 = _clean_token(text, *rest[1])
                if _password_like(text[s2:e2]):
                    found.append((s2, e2))
            return found
        stated = link in ("colon", "strong")
        if stated or kind not in ("full", "pin", "code") or raw[-1] in ".?!;," or filler >= 4:
            break
        link = "strong" if raw.endswith(":") else "weak" if word in _WEAK_LINK else ""
        filler += 1
    # "... my password? I think I typed letmein2024 when I set it up"
    if kind == "full":
        # "passwort vergessen, das alte war Sonnenblume77": stated later in the same sentence
        later = _LATER_PASSWORD.search(text, start, min(len(text), start + 70))
        if later and not re.search(r"[.!?\n]", text[start : later.start()]):
            s, e = _clean_token(text, *later.span(1))
            value = text[s:e]
            if _password_like(value) and any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
                return [(s, e)]
        entry = _ENTRY.search(text, start, window_end)
        if entry:
            m = _TOKEN.match(text, entry.end())
            if m:
                s, e = _clean_token(text, m.start(), m.end())
                if _password_like(text[s:e]):
                    return [(s, e)]
    return []


def _find_passwords(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for m in _PASSWORD_WORD.finditer(text):
        found.extend(_password_after(text, m.end(), m.lastgroup or "full"))
    return found


# --- security answers ------------------------------------------------------------------------------
# "security" as typed in a hurry: "secuirty", "securty", "sercurity".
_SEC = r"(?:security|secuirty|securty|secruity|secutiry|securtiy|sercurity|secuity|secirity|securiy)"
# How people report what they typed or said as the answer: "and I typed X", "I told him it's X",
# "she put was X"; shared by answer phrases and named questions.
_ENTERED = (
    r"(?:\s*[\"”'’])?(?:\s*\([^)]{0,40}\))?,?\s+(?:and\s+)?(?:(?:I|i|she|he|they|we|you)\s+)?"
    r"(?:put|typed|entered|wrote|answered|gave|said|told\s+(?:him|her|them|you|the\s+\w+))"
    r"(?:\s+(?:in|it\s+as|as|was|is))?(?:\s+(?:it'?s|it\s+is|it\s+was|that))?(?!\w)"
)
# The answer as the next sentence: "my secret answer here. It is Shirley Temple."
_NEXT_SENTENCE = r"(?:\s+(?:here|below|now))?[.!:]?\s+(?:it'?s|it\s+is|it\s+was|c'est)(?!\w)"
# An introducing phrase, then a separator, then the answer: "security answer: X", "Sikkerhedssvaret er X".
_ANSWER_INTRO = re.compile(
    r"(?<!\w)(?:"
    rf"(?:the\s+)?answer\s+to\s+(?:my|the|your)\s+(?:{_SEC}|secret|memorable)\s+question|sec(?:urity|\.)?\s+answer"
    rf"|(?:{_SEC}|secret|verification)\s+(?:question\s+|q\.?\s+)?(?:answer|word)|memorable\s+(?:word|answer)"
    r"|answer\s+to\s+(?=[\"“'‘])|recovery\s+answer|(?:secret|hidden)\s+answer|geheime\s+antwort"
    r"|respuesta\s+secreta|risposta\s+segreta|resposta\s+secreta|réponse\s+secrète|hemliga\s+svaret"
    r"|hemmelige\s+svar(?:et)?|geheime\s+antwoord"
    r"|svar(?:et)?\s+på\s+(?:mit\s+|mine\s+|min\s+|mitt\s+)?(?:sikkerhedsspørgsmål(?:et)?|säkerhetsfråga(?:n)?)"
    r"|sikkerhedssvar(?:et)?|säkerhetssvar(?:et)?"
    r"|antwort\s+auf\s+(?:meine|die)\s+sicherheitsfrage|sicherheitsantwort"
    r"|respuesta\s+(?:a|de)\s+(?:mi|la)\s+pregunta\s+(?:de\s+seguridad|secreta)|respuesta\s+de\s+seguridad"
    r"|réponse\s+à\s+(?:ma|la)\s+question\s+(?:secrète|de\s+sécurité)|réponse\s+de\s+sécurité"
    r"|resposta\s+(?:à|a|da)\s+(?:minha\s+)?pergunta\s+(?:de\s+segurança|secreta)|resposta\s+de\s+segurança"
    r"|risposta\s+alla\s+(?:mia\s+)?domanda\s+(?:di\s+sicurezza|segreta)|risposta\s+di\s+sicurezza"
    r"|antwoord\s+op\s+(?:mijn|de)\s+(?:beveiligingsvraag|geheime\s+vraag|veiligheidsvraag)|beveiligingsantwoord"
    r"|(?:安全问题|密保(?:问题)?|秘密の質問)(?:\s*[“\"「（(][^”\"」）)]{1,30}[”\"」）)])?\s*(?:的|の)?(?:答案|答え|回答)"
    r"|[וש]?ה?תשובה\s+לשאלת\s+(?:ה)?אבטחה(?:\s+שלי)?"
    r"|و?(?:جواب|إجابة|اجابة)\s+(?:على\s+)?سؤال\s+(?:الأمان|الامان|الأمن)"
    r")",
    re.IGNORECASE,
)
# A security question named, the answer given after it: "security q: city where ... → Galway".
_QUESTION_INTRO = re.compile(
    rf"(?<!\w)(?:{_SEC}\s+q(?:uestion)?|secret\s+question|{_SEC}(?=\s*:)"
    r"|sikkerhedsspørgsmål(?:et)?|sicherheitsfrage|pregunta\s+de\s+seguridad|question\s+(?:secrète|de\s+sécurité)"
    r"|pergunta\s+de\s+segurança|domanda\s+di\s+sicurezza|beveiligingsvraag|säkerhetsfråga(?:n)?"
    r"|pregunta\s+secreta|pergunta\s+secreta|domanda\s+segreta|verification\s+question)"
    r"(?P<rest>\s*(?:is|was|er|var|ist|war|es|era|est|était|é|è|är|:)?\s*"
    r"(?:[\"“'‘„«][^\"”'’“»]{1,60}[\"”'’“»]|[^.!?:=→—–\n]{0,60}?)"
    r"(?:\s*[:=→]|\s+[—–-]\s*(?:it'?s|it\s+is|c'est|es|é)?|,?\s*it'?s"
    rf"|{_ENTERED}|{_NEXT_SENTENCE}"
    r"|,?\s*(?:og|and|y|et|und|en|e|och)?\s*(?:svaret|the\s+answer|la\s+respuesta|la\s+réponse|die\s+antwort"
    r"|het\s+antwoord|a\s+resposta|la\s+risposta)\s+(?:er|is|es|est|c'est|c'était|ist|är|é|è)))",
    re.IGNORECASE,
)
# "the answer is X" counts only in a message about security questions.
_ANSWER_CUE = re.compile(
    r"(?<!\w)(?:the\s+answer|svaret|la\s+respuesta|la\s+réponse|die\s+antwort|het\s+antwoord|a\s+resposta"
    r"|la\s+risposta)\s*(?:is|was|er|var|es|era|est|était|c'est|c'était|ist|war|är|é|è)(?!\w)",
    re.IGNORECASE,
)
# Searched in the lower-cased text.
_SECURITY_CONTEXT = re.compile(
    r"secur|secuirty|securty|sercurity|sécurité|secret|sikkerhed|sicherheit|seguridad|segurança|sicurezza"
    r"|beveilig|säkerhet|verif|memorable|geheime|question|frage|spørgsmål|pregunta|vraag|fråga|domanda|pergunta"
    r"|密保|安全问题|秘密の質問|質問|سؤال|אבטחה|שאלת"
)

# "Answer: Lindqvist", "答え: ポチ", "answer Larch Avenue": a labelled answer, in a message about security
# questions.
_ANSWER_LABEL = re.compile(
    r"(?<!\w)(?:(?:the\s+|my\s+)?answer|antwort|antwoord|svar(?:et)?|réponse|respuesta|resposta|risposta"
    r"|ال(?:جواب|إجابة|اجابة)|ה?תשובה)"
    r"(?:\s*[:=：→]|\s+[—–-]\s|\s+(?-i:(?=[A-ZÀ-Ý])))"
    r"|(?:答案|答え|回答)\s*(?:[:：]|(?:是|为|為|は)(?!什么|什麼|何))",
    re.IGNORECASE,
)
# Questions people are asked to verify themselves; the ones on the first line are only ever that.
_TOPIC_STRONG = (
    r"(?:(?:mother|mum|mom|mam)'?s\s+)?maiden\s+name|first\s+pet(?:'s\s+name)?"
    r"|name\s+of\s+(?:my|your)\s+first\s+(?:pet|dog|cat)"
    r"|(?:mors|mammas|moders)\s+(?:pigenavn|flicknamn)|(?:mädchenname|geburtsname)\s+(?:der|meiner)\s+mutter"
    r"|apellido\s+de\s+soltera\s+de\s+mi\s+madre|nom\s+de\s+jeune\s+fille\s+de\s+ma\s+mère"
    r"|nome\s+de\s+solteira\s+da\s+minha\s+mãe|cognome\s+da\s+nubile\s+di\s+mia\s+madre"
    r"|meisjesnaam\s+van\s+mijn\s+moeder"
    r"|(?:nombre\s+de\s+)?mi\s+primera\s+mascota|(?:nome\s+do\s+)?meu\s+primeiro\s+animal"
    r"|(?:nom\s+de\s+)?mon\s+premier\s+animal|(?:name\s+)?(?:meines|des)\s+ersten\s+haustiers?"
    r"|mit\s+første\s+kæledyr|mitt\s+första\s+husdjur|mijn\s+eerste\s+huisdier|il\s+mio\s+primo\s+animale"
)
_TOPIC_WEAK = (
    r"(?:first|favou?rite|childhood)\s+(?:car|school|teacher|film|movie|book|street|job|concert"
    r"|band|song|team|holiday|friend|city|toy|colou?r|food|animal|sport|dog|cat|subject|nickname)(?:'s\s+name)?"
    r"|(?:primary|elementary|junior)\s+school(?:'s\s+name)?"
    r"|(?:grand(?:mother|ma|father|pa)|granny|nan|mother|father|mum|dad)'?s\s+(?:first|middle)\s+name"
    r"|(?:town|city|place)\s+(?:where\s+)?I\s+was\s+born(?:\s+in)?|birthplace|place\s+of\s+birth"
)
_TOPIC = re.compile(
    rf"(?<!\w)(?:(?P<strong>{_TOPIC_STRONG})|(?P<weak>{_TOPIC_WEAK}))"
    r"(?:\s*\([^)]{0,40}\)|,[^,.;:!?\n]{1,60},)?"
    rf"(?:{_NEXT_SENTENCE}|{_ENTERED}|"
    r"\s*(?:[?:=→—–]|(?<=[\w),])\s+(?:was\s+called|called|is|was|er|var|hed|ist|war|hieß|lautet|es|era"
    r"|est|était|é|è|är|hette|heette|se\s+llamaba|s'appelait|chamava-se|si\s+chiamava)(?!\w))"
    # "maiden name Smith": a name straight after the question that can only be answered by one
    r"|(?:(?<=name)|(?<=pet))\s+(?-i:(?=[A-ZÀ-Ý][a-zà-ÿ'’])))",
    re.IGNORECASE,
)
# A question named, its answer further on: "my security answer over DM ... I gave it anyway, it was Rexford",
# "... maiden name question answer is wrong on file. It should be Papadopoulos".
_ANSWER_TOPIC = re.compile(
    rf"(?<!\w)(?:{_SEC}|secret|memorable)\s+(?:answer|question|q|word)|{_TOPIC_STRONG}|{_TOPIC_WEAK}",
    re.IGNORECASE,
)
_LATER_ANSWER = re.compile(
    r"(?<!\w)(?:it|that|the\s+(?:right|correct)\s+(?:answer|one))(?:'s|’s|\s+is|\s+was|\s+should\s+(?:be|say|read))"
    r"(?:\s+(?:actually|definitely|probably|just|really|still))?\s+",
    re.IGNORECASE,
)
# The question as an aside after its answer: "it's probably Smith (mum's maiden name)",
# "Rexford (my first dog)".
_ASIDE_TOPIC = re.compile(
    r"\s*\(\s*(?:(?:my|the|his|her|our|their|your|min|mit|mi|mein|meine|mon|ma|mijn|meu|minha|mio|mia)\s+)?"
    rf"(?:{_TOPIC_STRONG}|{_TOPIC_WEAK}|(?:{_SEC}|secret)\s+(?:answer|question|q)|memorable\s+word"
    r"|(?:mother|mum|mom|mam)'?s\s+maiden(?:\s+name)?)[^()\n]{0,30}\)",
    re.IGNORECASE,
)
_BEFORE_ASIDE = re.compile(
    r"(?:(?<!\w)(?:it'?s|it’s|is|was|er|var|es|est|ist|war|é|è|är|era|typed|put|entered|answered|said|gave|used"
    r"|probably|maybe|think|prob)"
    r"|[:=\-–—,])\s+[\"“']?((?-i:[A-ZÀ-Ý][\w'’-]*)(?:\s(?-i:[A-ZÀ-Ý][\w'’-]*)){0,2})[\"”']?$",
    re.IGNORECASE,
)
_NOT_NAMES = _words(
    "I I'm Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June "
    "July August September October November December Please Thanks Yes No Not None Wrong Correct OK Ok"
)
_QA = re.compile(r"(?<!\w)Q\s*[:.]\s*[^\n]{1,60}?\s+A\s*[:.]")
_ANSWER_SEPARATOR = re.compile(
    r"(?:\s*\([^)]{0,60}\)|\s*[\"“«'‘][^\"”»'’]{1,60}[\"”»'’]|\s+(?:for|on|of|to|de|für|til|för|da|di|van)"
    r"\s+(?:\w+\s+)?\w+)?"
    # "the security answer I set is Mr Whiskers"
    r"(?:\s+(?:I|we|you|he|she)\s+(?:\w+\s+)?(?:set|chose|picked|gave|use|used|registered|have|had|made|put)"
    r"(?:\s+up|\s+on\s+file)?(?=\s+(?:is|was)\s))?"
    r"(?:\s*[:=：→]|\s+[—–-](?=\s)|\s+(?:is|was|er|var|ist|lautet|war|es|era|est|était|c'était|c'est|é|è|är"
    rf"|היא|הוא|هو|هي)(?!\w)|(?<=[\u3040-\u9fff])\s*(?:是|为|は)|{_ENTERED}|{_NEXT_SENTENCE})",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[^.;!?\n(,،؛。，！？；]{1,80}")
_INNER_SEPARATOR = re.compile(
    r"\s*(?:[=→:–—]|\s-\s)\s*|\s(?:is|was|es|era|er|var|ist|war|lautet|est|était|é|è|är|هو|هي|היא|הוא)\s"
)
_CJK_COPULA = re.compile(r"[是为為は](?!.*[是为為は])")
_RESTATING = _words(
    "the my your her his their our name nombre nome nom naam navn namn el la le il o a mi meu minha mon ma "
    "mein meine min mit mijn town city what which where اسم"
)
_JOINABLE_STOP = _words(
    "I I'm If But And Or So Now Can Please Thanks Thank Kan Und Y Et Og Och En E Is It The My Mein Min "
    "Was Who Why How When Then That This Also Pls"
)
_NAME_PARTICLES = _words("de la del van von der den da di du le dos das")
_LATIN_TOKEN = re.compile(r"[^\s,.;:!?()\"”»“«\[\]{}]+(?:\.(?=\s[A-Z]))?")
_A_LABEL = re.compile(
    r"(?:A\s*[:.]|(?:answer|antwort|antwoord|svar|réponse|respuesta|resposta|risposta)\s*[:=])\s*",
    re.IGNORECASE,
)
_JA_COPULA = re.compile(r"(?:です|でした|だよ|だ)$")
# A question or a request, not an answer: "答えをお願いします", "答案是什么".
_CJK_NOT_ANSWER = re.compile(r"^[をがにでもへと]|什么|什麼|多少|哪|吗|嗎|お願い|教えて|ですか|ください|请|請")
# Who speaks in a chat transcript: "Customer:", "Agent :", "客户", "العميل:".
_SPEAKER = re.compile(r"[^\W\d_][^\s:：\d]{0,19}(?:[ \t][^\W\d_][^\s:：\d]{0,11})?[ \t]?[:：][ \t]*")
_PEOPLE_LABELS = _words(
    "customer client cliente kunde kund klant member subscriber abonné abonnent socio user"
)
# Around a short reply: "yes, it's Wolverhampton", "Vauxhall Corsa lol".
_REPLY_LEAD = re.compile(
    r"(?:(?:yes|yeah|yep|sure|ok|okay|sí|si|oui|ja|sim|um+|uh+|erm)\b[,.!]?\s*)?"
    r"(?:(?:it'?s|it’s|it\s+is|it\s+was|its|that'?s|c'est|es|é|è|ist|er|är|is|was)\s+)?",
    re.IGNORECASE,
)
_REPLY_TAIL = re.compile(
    r"(?:[\s,.!;:]+(?:lol|haha+|hehe|thanks|thank\s+you|thx|ty|pls|please|merci|danke|gracias|obrigad[oa]|grazie"
    r"|bedankt|tack|tak|:\)|:D|🙂|😊|😅))*[\s,.!;:)]*$",
    re.IGNORECASE,
)
_REFUSALS = _words(
    "i i'm im i've ive no not nope sorry what which why how can could hmm idk dunno don't dont wait hold one "
    "just let please pls never yes yeah ok okay thanks thank"
)
_CLAUSE_END = re.compile(r"[\n，。！？；]|[.!?;,](?=\s|$)")


def _is_speaker_label(text: str, start: int, value_start: int) -> bool:
    """ "Customer: 31190027" in a chat: the word that names who speaks introduces no customer number."""
    line_start = text.rfind("\n", 0, start) + 1
    head = text[start:value_start].rstrip()
    if text[line_start:start].strip() or not head.endswith((":", "：")):
        return False
    return head[:-1].strip().lower() in _PEOPLE_LABELS


def _short_answer(text: str, pos: int, end: int) -> tuple[int, int] | None:
    """A whole short reply up to `end`, as a chat turn or after "Answer:": at most four words."""
    while pos < end and (text[pos].isspace() or text[pos] in _OPEN_QUOTES):
        pos += 1
    pos = _REPLY_LEAD.match(text, pos, end).end()  # type: ignore[union-attr]
    tail = _REPLY_TAIL.search(text, pos, end)
    stop = tail.start() if tail else end
    while stop > pos and text[stop - 1] in _CLOSE_PUNCT:
        stop -= 1
    value = text[pos:stop]
    words = value.split()
    if not words or len(words) > 4 or len(value) > 40 or any(c in value for c in "?？؟"):
        return None
    if words[0].lower().strip(",.!") in _REFUSALS or value.lower() in _NOT_SECRETS:
        return None
    if _CJK.match(value):
        return _answer_at(text, pos, need_cap=False)
    return pos, stop


def _answer_at(text: str, pos: int, *, need_cap: bool) -> tuple[int, int] | None:
    """The answer that starts at `pos`: up to three capitalised words, or a restated question's answer."""
    while pos < len(text) and (text[pos].isspace() or text[pos] in _OPEN_QUOTES):
        pos += 1
    if pos > 0 and text[pos - 1] == "\n":
        # the answer in the next chat turn: "...maiden name?\nCustomer: O'Sullivan"
        speaker = _SPEAKER.match(text, pos)
        if speaker:
            pos = speaker.end()
    label = _A_LABEL.match(text, pos)
    if label:
        pos = label.end()
    if pos >= len(text):
        return None
    if _CJK.match(text, pos):
        run = re.match(r"[^\s，。、！？；,.!?;:：（(]+", text[pos:])
        if not run:
            return None
        value = run.group()
        copula = _CJK_COPULA.search(value)
        offset = copula.end() if copula and copula.end() < len(value) else 0
        value = _JA_COPULA.sub("", value[offset:])
        if not value or _CJK_NOT_ANSWER.search(value):
            return None
        return pos + offset, pos + offset + len(value)
    clause = _CLAUSE.match(text, pos)
    if not clause:
        return None
    words = clause.group().split()
    if words[0].lower() in _RESTATING or (words[0][0].islower() and len(words) > 2):
        # A restated question, the answer last: "el nombre de mi primera mascota es Canela".
        splits = list(_INNER_SEPARATOR.finditer(text, pos, clause.end()))
        appositive = re.match(r",\s+(?=[A-ZÀ-Ý])", text[clause.end() : clause.end() + 3])
        if splits:
            pos = splits[-1].end()
        elif appositive:
            # "her dog's name, Peanut"
            pos = clause.end() + appositive.end()
        elif words[0].lower() in _RESTATING and not words[0][0].isupper():
            pos = text.rindex(words[-1], pos, clause.end())
    token = _LATIN_TOKEN.match(text, pos)
    if not token:
        return None
    start, end = _clean_token(text, token.start(), token.end())
    value = text[start:end]
    if not value or value.lower() in _NOT_SECRETS or value.lower() in _REFUSALS:
        return None
    if need_cap and value[0].islower():
        return None
    joined = 1
    # "Ford Fiesta", "De la Cruz": further capitalised words, and name particles between them.
    while value[0].isupper() and joined < 4 and end < len(text) and text[end] == " ":
        nxt = _LATIN_TOKEN.match(text, end + 1)
        if not nxt or nxt.group() in _JOINABLE_STOP:
            break
        if not nxt.group()[0].isupper():
            after = _LATIN_TOKEN.match(text, nxt.end() + 1)
            if nxt.group() not in _NAME_PARTICLES or not after or not after.group()[0].isupper():
                break
        _, end = _clean_token(text, nxt.start(), nxt.end())
        joined += 1
    return start, end


def _find_security_answers(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for m in _ANSWER_INTRO.finditer(text):
        sep = _ANSWER_SEPARATOR.match(text, m.end())
        if sep:
            span = _answer_at(text, sep.end(), need_cap=False)
        elif m.group().lower().endswith("word"):
            span = _answer_at(text, m.end(), need_cap=True)
        elif not m.group()[-1].isascii():
            # scripts without capitals: "وجواب سؤال الأمان العين"
            span = _answer_at(text, m.end(), need_cap=False)
        else:
            span = None
        if span:
            found.append(span)
    for m in _QUESTION_INTRO.finditer(text):
        span = _answer_at(text, m.end(), need_cap=True)
        if span:
            found.append(span)
    labels = list(_ANSWER_LABEL.finditer(text))
    cues = list(_ANSWER_CUE.finditer(text))
    context = bool(labels or cues) and _SECURITY_CONTEXT.search(text.lower()) is not None
    if context:
        for m in labels:
            # "Answer = Oasis at Knebworth": the whole short clause; else the answer as elsewhere
            stop = _CLAUSE_END.search(text, m.end())
            span = _short_answer(text, m.end(), stop.start() if stop else len(text))
            if span is None and m.group()[-1] in ":=：→":
                span = _answer_at(text, m.end(), need_cap=False)
            if span:
                found.append(span)
    later_cues = list(_LATER_ANSWER.finditer(text))
    for m in _ANSWER_TOPIC.finditer(text, 0, later_cues[-1].start()) if later_cues else ():
        later = next((c for c in later_cues if m.end() <= c.start() < m.end() + 120), None)
        if later and "\n\n" not in text[m.end() : later.start()]:
            span = _answer_at(text, later.end(), need_cap=True)
            if span and text[span[0] : span[1]] not in _NOT_NAMES:
                found.append(span)
    for m in _ASIDE_TOPIC.finditer(text) if "(" in text else ():
        before = _BEFORE_ASIDE.search(text, max(0, m.start() - 60), m.start())
        if before:
            value = before.group(1).split()
            while value and value[0] in _JOINABLE_STOP | _NOT_NAMES:
                value.pop(0)
            if value:
                found.append((before.end(1) - len(" ".join(value)), before.end(1)))
    if cues and context:
        for m in cues:
            span = _answer_at(text, m.end(), need_cap=True)

            if span:
                found.append(span)
    for m in _TOPIC.finditer(text):
        span = _answer_at(text, m.end(), need_cap=m.group("strong") is None)
        if span:
            found.append(span)
    for m in _QA.finditer(text):
        span = _answer_at(text, m.end(), need_cap=False)
        if span:
            found.append(span)
    return found


# --- account / customer numbers ---------------------------------------------------------------------
_ACCOUNT = re.compile(
    r"(?<![A-Za-z0-9])(?:account|acct|a/c|customer|cliente|client|member(?:ship)?(?:\s+card)?|subscriber"
    # typed fast: "acount no", "accout", "acc number"
    r"|ac+ou?n?t|accnt|acc(?=\.?\s*(?:number|no\b|nr\b|num\b|#|:?\s*\d{5}))|consumer(?=\.?\s*(?:number|no\b|nr\b|id\b|#))"
    r"|contract|policy|loyalty(?:\s+card)?|rewards?\s+card|membership"
    r"|(?:loan\s+)?agreement(?=\s*(?:number|no|nr|#))|loan(?=\s*(?:account|number|no|nr|#))"
    r"|kunde(?:n)?nummer|kundenr|kontonummer|kontonr|konto|kunde|kundennummer|kundennr|medlemsnummer|medlemsnr"
    r"|aftalenummer|policenummer|abonnementsnummer|mitgliedsnummer|vertragsnummer|versicherungsnummer"
    r"|policennummer|kundenkonto|versichertennummer|versicherungsnr|abonnentennummer"
    r"|n[úu]mero\s+(?:de|da|do)\s+(?:cliente|cuenta|conta|socio|sócio|contrato|póliza|apólice|abonado)"
    r"(?:\s+de\s+cliente)?|n[úu]mero\s+(?:da|de|do)\s+(?:minha|mi|meu)\s+(?:conta|cuenta|contrato|apólice)"
    r"|n[ºo°]\.?\s*(?:de\s+|d')?(?:cliente|client|contrat|contrato|compte|conta|cuenta|abonné|socio|póliza|police)"
    r"|número\s+cliente|contrato|póliza|apólice"
    r"|numéro\s+(?:de\s+|d')?(?:client|compte|contrat|adhérent|abonné|police|fidélité)|n°\s*client"
    r"|contrat|carte\s+(?:de\s+)?fidélité"
    r"|numero\s+(?:di\s+)?(?:cliente|contratto|polizza|tessera(?:\s+fedeltà)?)|codice\s+cliente"
    r"|tessera(?:\s+fedeltà)?"
    r"|contratto|polizza"
    r"|klantnummer|klantnr|lidnummer|lidnr|contractnummer|polisnummer|rekeningnummer|klantenkaart"
    r"|kundnummer|kundnr|avtalsnummer|medlemskort|försäkringsnummer|forsikringsnummer"
    r"|客户(?:编号|号|号码)|会员(?:编号|卡号|号码|号)|账号|账户号码|账户号?|合同号|保单号"
    r"|会員番号|お客様番号|顧客番号|契約番号|口座番号|証券番号"
    r"|מספר\s+(?:ה)?(?:לקוח|חשבון|מנוי|חבר|פוליסה)"
    r"|رقم\s+(?:العميل|الحساب|حسابي|العضوية|الاشتراك|العقد|الوثيقة))"
    r"(?:\s*(?:number|no\.?|nr\.?|num\.?|id|#|n\.?\s?[º°o]\.?|n\.|nummer|número|numéro|numero|ref(?:erence)?\.?))?"
    r"(?:\s+(?:الخاص\s+بي|שלי))?"
    # "account number on the bill is X"
    r"(?:\s+(?:on|in|from|for)\s+(?:the|my|your|this)\s+\w+)?"
    r"(?:\s*(?:is|was|er|var|ist|lautet|es|est|é|è|är|c'est|是|为|הוא|هو|は)(?:\s+(?:le|la|el|o))?)?\s*[:#.：]?\s*"
    # A letter prefix, then digits in one run, in groups ("K 100 482 773", "55 0021 9938") or spoken one
    # by one ("8 4 9 3 3 0 2 1 7").
    r"((?:(?-i:[A-Z]{1,4})[ -]?)?(?:\d{3}(?:\.\d{3}){2,3}|\d[\d-]{3,}\d(?:[ ]\d{2,10}){0,3}"
    r"|\d{2,4}(?:[ -]\d{2,6}){1,4}"
    r"|\d(?:[ ]\d){5,15}))"
    r"(?![A-Za-z0-9@]|[ -]\d)",
    re.IGNORECASE,
)


# Year ranges and dates after "contract" or "policy" are periods, not numbers.
_YEARS_OR_DATE = re.compile(r"(?:19|20)\d\d[-/](?:19|20)?\d\d$|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


# --- postal addresses --------------------------------------------------------------------------------
_CAP = r"[A-ZÀ-ÝÆØÅÄÖÜ][\wÀ-ÿ'’-]*"
_CITY = (
    rf"{_CAP}(?:[ -](?:(?:de|do|da|dos|das|del|di|la|sur|am|upon)\s)?"
    r"(?!(?:Tlf|Tel|Fax|Mail|Email|Telefon|Phone|Mobil)\b)[A-ZÀ-ÝÆØÅÄÖÜ][a-zà-ÿæøå'’]+){0,2}"
    r"(?:\s[A-Z]\b|\s[CKNSVØ]\b)?"
)
# A number followed by a unit is a quantity ("Via Twitter 2 days ago"), not a house number.
_NOT_QUANTITY = (
    r"(?!\s*(?:%|€|\$|£|x\b|(?:days?|hours?|weeks?|months?|years?|mins?|minutes?|times?|dias?|días|giorni"
    r"|jours|tage|dagen|dagar|dage|horas|ore|heures|stunden|uur|timer|timmar|meses|mois|monate|maanden)\b))"
)
# "146/5/12": house, staircase and door, as Austrians write them.
_HOUSE_NUMBER = (
    rf"(?!(?:19|20)\d\d(?!\d))\d{{1,4}}(?:\s?[A-Za-z]\b|-(?:[A-Za-z]{{1,4}}|\d{{1,3}})\b|(?:/\d{{1,3}}){{1,3}})?"
    rf"{_NOT_QUANTITY}"
)
# Words that begin many street names ("Store Kongensgade", "Van Woustraat", "Lange Leidsedwarsstraat").
_STREET_PREFIX = (
    r"(?:Van|De|Den|Der|Ter|Sint|Sankt|St\.|Store|Lille|Gamle|Nye?|Nørre|Søndre|Østre|Vestre|Lange|Korte"
    r"|Nieuwe|Oude|Große|Grosse|Kleine|Alte|Neue|Obere|Untere|Norra|Södra|Östra|Västra|Stora|Lilla|Gamla"
    r"|Nya|Dr\.|Prof\.)"
)
_NORDIC_GERMANIC = re.compile(
    # an adjective in -er before the street ("Landstraßer Hauptstraße"), a first name before a genitive
    # ("Thorvald Meyers gate")
    rf"(?<!\w)(?:{_STREET_PREFIX}\s+|[A-Z][a-z]+\s+(?:van|de|der|den|ter|het)\s+|[A-ZÄÖÜ][a-zäöüß]+er\s+"
    r"|[A-ZÆØÅ][a-zæøå]+\s+(?=[A-ZÆØÅ][a-zæøå]+s\s(?:gate|gata|vei|veg|gade|vej|plass|plads)\s))?"
    rf"{_CAP}(?:vej|vejen|gade|gaden|boulevard|boulevarden|allé|alle|vænget|vænge|stræde|plads|torv|bakken|toften"
    r"|straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|chaussee|steig|pfad"
    r"|straat|laan|gracht|plein|kade|singel|dijk|dreef|steeg"
    r"|gatan|vägen|väg|gränd|gränden|torget|stigen|avenyen|allén|backen|leden|esplanaden"
    r"|gata|gate|gaten|veien|vei|vegen|veg|plass|plassen|torg"
    # Norwegian and Danish streets named in the genitive, apart: "Thorvald Meyers gate 52B"
    r"|(?<=s)\s(?:gate|gata|vei|veg|gade|vej|plass|plads)"
    # apart: "Kölner Str. 112", "Frankfurter Allee 3" (after an adjective in -er: all nouns are capitalised)
    r"|\s(?:Straße|Strasse|Str\.)|(?<=er)\s(?:Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Chaussee))"
    rf"\s{_HOUSE_NUMBER}(?:,?\s?\d{{1,2}}\.?\s?(?:tv|th|mf|sal)\.?|\s(?:bis|ter|lgh\.?\s?\d{{3,4}}|hs|huis))?"
    rf"(?:,?\s+(?:D-)?(?:\d{{4}}\s?[A-Z]{{2}}|\d{{3}}\s\d{{2}}|\d{{4,5}})\s+{_CITY})?"
)
_ROMANCE = re.compile(
    r"(?<!\w)(?:Calle|C/|Avenida|Av\.|Avda\.|Paseo|Plaza|Rua|Travessa|Largo|Praça|Via|Viale|Piazza|Corso"
    r"|Carrer|Camino|Ronda|Alameda|Estrada|Rodovia|Rue|Avenue|Boulevard|Chaussée|Place|Quai|Chemin|Allée)"
    r"\s+(?:(?:de|del|da|do|dos|das|la|las|los|di|della|dei|delle|degli|du|des|le)\s+|[dl]['’])*"
    rf"{_CAP}(?:\s+(?:de|del|da|do|di|della|du|des|la)?\s*{_CAP}){{0,2}},?\s+"
    rf"(?:n[º°o]\.?\s*)?\d{{1,4}}[A-Za-z]?\b{_NOT_QUANTITY}"
    r"(?:,?\s*(?:apto\.?|apt\.?|ap\.?|apartamento|bloco|casa|sala|piso|puerta|planta|esc\.?|int\.?|interno"
    r"|scala)\s*\w{1,5}"
    r"|,?\s*\d{1,2}\.?\s?[º°ª]\s*(?:Esq|Dto|Dta|Dir|Izq|Izda|Dcha|Drcha|[A-Za-z])?\.?)*"
    rf"(?:(?:,\s*(?:(?:Col|Colonia|Bairro|Barrio|Quartier)\.?\s+)?{_CITY}){{0,2}}?"
    rf"(?:,?\s+\d{{4,5}}(?:-\d{{3}})?\s+{_CITY}(?:\s\(?[A-Z]{{2}}\)?(?!\w))?"
    rf"|,\s*{_CITY}\s*[-–/]\s*[A-Z]{{2}}(?:,?\s*\d{{5}}-?\d{{3}})?))?"
)
_GERMAN_PREPOSITION = re.compile(
    r"(?<!\w)(?:Am|An\s+der|An\s+den|Im|In\s+der|In\s+den|Auf\s+dem|Auf\s+der|Zum|Zur|Unter\s+den|Hinter\s+der)"
    rf"\s+{_CAP}(?:\s{_CAP})?\s{_HOUSE_NUMBER},?\s+(?:D-|A-|CH-)?\d{{4,5}}\s+{_CITY}"
)
_FRENCH = re.compile(
    r"(?<![\w,.])\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse"
    r"|quai|cours|route)\s+(?:de\s+la\s+|de\s+l'|du\s+|des\s+|de\s+|d')?"
    rf"{_CAP}(?:[\s-]+{_CAP}){{0,3}}(?:,?\s+\d{{5}}\s+{_CITY})?"
)
_UK_PC = r"[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}"
_CA_PC = r"[A-Z]\d[A-Z]\s?\d[A-Z]\d"
_EIRCODE = r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s[0-9AC-FHKNPRTV-Y]{4}"
_POSTCODES = rf"(?:[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?|{_UK_PC}|{_EIRCODE}|(?:[A-Z]{{2}}\s+)?{_CA_PC})"
# Parts of an address are separated by commas or, in a signature, by line breaks.
_PART = r"(?:,\s*|[ \t]*\n[ \t]*)"
_STREET_TYPES = (
    r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|Blvd\.?|Way|Close|Court|Ct\.?"
    r"|Place|Pl\.?|Terrace|Crescent|Square|Parkway|Gardens|Row|Mews|Grove|Green|Hill|Walk|View|Rise|Vale"
    r"|Parade|Highway|Hwy\.?|Circle|Cir\.?|Trail|Broadway|Wharf|Quay|Esplanade|Promenade|Yard|Heights)"
)
_WORDS = r"[A-Z][a-z'’]+(?:[ -][A-Z][a-z'’]+){0,3}"
_DIRECTION = r"(?:North|South|East|West|N|S|E|W|NE|NW|SE|SW)\.?"
_ENGLISH = re.compile(
    # "1902 E Cherry St", "P.O. Box 1423"
    rf"(?:(?<![\w,.])\d{{1,5}}[A-Za-z]?\s+(?:{_DIRECTION}\s+)?(?:[A-Z][a-z]+\s+){{1,3}}{_STREET_TYPES}(?!\w)"
    rf"(?:\s+{_DIRECTION}(?!\w))?"
    r"(?:,?\s*(?:Apt\.?|Apartment|Flat|Unit|Suite|Ste\.?|#)\s*\w+)?"
    r"|(?<!\w)(?:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box)\s+\d{1,6})"
    # then the town and a state, ZIP or postcode, on the same line or on the next ones
    rf"(?:(?:{_PART}{_WORDS}(?:\s\d{{1,2}})?){{0,3}}(?:{_PART}|\s+){_POSTCODES}(?![\w-])|,\s*{_WORDS})?"
)
# A UK or Canadian postcode closes an address that a house number or "Unit 4" opens.
# A house name ("The Old Rectory, Church Lane, ...") may stand where the number is.
_POSTCODE_ENDED = re.compile(
    r"(?<![\w,.])(?:(?:Unit|Flat|Apartment|Apt\.?|Suite|Floor)\s+\w{1,5},?\s+|\d{1,5}[A-Za-z]?,?\s+|(?=[A-Z]))"
    rf"{_WORDS}(?:\s\d{{1,2}})?(?:{_PART}{_WORDS}(?:\s\d{{1,2}})?){{0,4}}(?:{_PART}|\s+)"
    rf"(?:{_UK_PC}|{_EIRCODE}|(?:[A-Z]{{2}}\s+)?{_CA_PC})(?![\w-])"
)
_UK_POSTCODE = re.compile(rf"(?<![\w-]){_UK_PC}(?![\w-])")
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
    r"[\u4e00-\u9fff]{0,12}?(?:[\u4e00-\u9fff]{1,6}(?:路|街|大道|巷|胡同))(?:[一二三四五六七八九十\d]{1,2}段)?"
    r"\d{1,5}(?:弄|号|號)(?:\d{1,5}(?:号|號))?"
    # a building named after the street number: "SOHO现代城3号楼"
    r"(?:[A-Za-z\u4e00-\u9fff]{1,10}?\d{1,5}(?:号楼|號樓|栋|棟|座|单元|單元))?"
    r"(?:\d{1,4}(?:室|楼|樓|单元|單元|栋|棟|座|层|層|F))*(?:[，,]\s*\d{6}(?!\d))?"
)
_JAPANESE = re.compile(
    r"(?:\d{3}-\d{4}\s*)?[\u4e00-\u9fff\u3040-\u30ff]{1,3}?(?:都|道|府|県)"
    r"[\u4e00-\u9fff\u3040-\u30ff]{1,16}?\d{1,4}(?:(?:-|−|－|丁目|番地?|号)\d{1,4}){1,3}(?:号)?"
)
_CJK_LEAD = re.compile(r"^.*(?:地址(?:是|为)?|住所(?:は|:|：)?|住在|寄到|送到|[是为在：:はにへ])")
_HEBREW_CITY = (
    r"(?:תל[ -]אביב(?:-יפו)?|ירושלים|חיפה|באר שבע|ראשון לציון|פתח תקו?וה|אשדוד|נתניה|חולון|בני ברק|רמת גן"
    r"|רחובות|הרצליה|כפר סבא|רעננה|אילת|בת ים|מודיעין|אשקלון|נצרת|עכו|טבריה|הוד השרון)"
)
_HEBREW = re.compile(
    r"(?:(?:רחוב|שדרות)(?![\u05d0-\u05ea])|רח['׳]|שד['׳])\s*[\u0590-\u05ff\"]+(?:\s[\u0590-\u05ff]+)?\s\d{1,4}"
    r"(?:,?\s*דירה\s*\d{1,4})?"
    r"(?:,?\s*(?:\d{7}\s+)?(?:תל אביב|ירושלים|חיפה|[\u0590-\u05ff]{2,})(?:\s+\d{7})?)?"
    # a street without the word "street", closed by a town: "לדיזנגוף 180, תל אביב-יפו"
    rf"|(?<![\u0590-\u05ff])[\u05d0-\u05ea\"]{{3,}}(?:\s[\u05d0-\u05ea]{{2,}})?\s\d{{1,4}}"
    rf"(?:,?\s*דירה\s*\d{{1,4}})?,?\s*{_HEBREW_CITY}(?:\s+\d{{7}})?"
)
_ARABIC = re.compile(
    # an optional villa or flat first ("فيلا 27، "); the number after the street, before it, or as its name
    r"(?:(?:فيلا|شقة|مبنى|بناية|عمارة|منزل)\s+\d{1,5}\s*[،,]\s*)?"
    r"(?:(?:شارع|طريق|ش\.)\s+(?:[\u0621-\u064a]+(?:\s[\u0621-\u064a]+)?\s+\d{1,5}|\d{1,5}(?!\d))"
    r"|\d{1,5}\s+(?:شارع|طريق)\s+[\u0621-\u064a]+(?:\s[\u0621-\u064a]+)?)"
    r"(?:\s*[،,]\s*(?!(?:موبايل|هاتف|جوال|تليفون|تلفون|رقم|واتساب)(?![\u0621-\u064a]))"
    r"[\u0621-\u064a]{2,}(?:\s[\u0621-\u064a]{2,})?(?:\s+\d{1,5})?){0,3}"
)
# An address after "address to", "deliver to", "Adres:" as comma-separated parts that end on a postcode, in
# forms the patterns above do not know: "Flat 302, Sai Residency, 14th Cross, Indiranagar, Bengaluru 560038",
# "B-12, Sector 18, Noida, Uttar Pradesh 201301", "Meir 78, 2000 Antwerpen".
_ADDRESS_PART = r"[A-Z0-9][\w'’./-]*(?:[ ][A-Z0-9][\w'’./-]*){0,3}"
_INTRODUCED_ADDRESS = re.compile(
    r"(?i:(?<![A-Za-z])(?:(?:new\s+)?address(?:\s+(?:is|to|as))?|adres|adresse|anschrift|dirección|direccion"
    r"|morada|endereço|indirizzo|adress)\s*[:\-–]?\s*"
    r"|(?<![A-Za-z])(?:deliver|ship|send|skicka|sende|schick|envo|envi|invia|stuur|lever)\w*"
    r"(?:\s+\w+){0,3}?\s+(?:to|till|til|an|à|a|para|naar|nach)\s+)"
    rf"(?P<addr>(?=[^,\n]{{0,12}}\d){_ADDRESS_PART}(?:,\s*{_ADDRESS_PART}){{0,5}}?,?\s+"
    rf"(?:\d{{6}}|\d{{4,5}}\s+{_CITY}))(?![\w-])"
)
_INTRODUCED_TRIGGER = re.compile(
    r"addr|adres|anschrift|direcc|morada|endereço|indirizzo|deliver|ship|send|skicka|sende|schick|envo|envi|invia"
    r"|stuur|lever"
)
_FOUR_DIGITS = re.compile(r"\d{4}")
_ADDRESS_PATTERNS = (_NORDIC_GERMANIC, _ROMANCE, _FRENCH, _GERMAN_PREPOSITION, _ENGLISH, _UK_POSTCODE)
# Pre-checks for the costlier patterns: a postcode to end on, Hebrew or Arabic letters.
_ANY_POSTCODE = re.compile(rf"{_UK_PC}|{_EIRCODE}|{_CA_PC}")
_HEBREW_OR_ARABIC = re.compile(r"[\u05d0-\u05ea\u0621-\u064a]")


def _find_addresses(text: str, lower: str) -> list[tuple[int, int, float]]:
    found: list[tuple[int, int, float]] = []
    patterns = list(_ADDRESS_PATTERNS)
    if _ANY_POSTCODE.search(text):
        patterns.append(_POSTCODE_ENDED)
    if _HEBREW_OR_ARABIC.search(text):
        patterns.extend((_HEBREW, _ARABIC))
    for pattern in patterns:
        found.extend((m.start(), m.end(), 0.75) for m in pattern.finditer(text))
    if _ADDRESS_WORD_TRIGGER.search(lower):
        found.extend((*m.span(1), 0.7) for m in _POSTCODE_CITY.finditer(text))
    if _INTRODUCED_TRIGGER.search(lower) and _FOUR_DIGITS.search(text):
        found.extend((*m.span("addr"), 0.7) for m in _INTRODUCED_ADDRESS.finditer(text))
    if _CJK.search(text):
        for pattern in (_CHINESE, _JAPANESE):
            for m in pattern.finditer(text):
                lead = _CJK_LEAD.match(m.group())
                offset = lead.end() if lead and lead.end() < len(m.group()) - 2 else 0
                found.append((m.start() + offset, m.end(), 0.75))
    return found


# --- phones ------------------------------------------------------------------------------------------
_DEFAULT_REGIONS = (
    "US", "GB", "DK", "DE", "FR", "ES", "IT", "NL", "SE", "PT", "BR", "CN", "IL", "JP", "BE", "SA", "AE",
    "EG", "CA", "IE", "CH", "AT", "NO", "AU", "MX", "AR",
)  # fmt: skip
# Digits written the way phone numbers are: 7 to 15 of them, grouped by spaces, dashes, dots or brackets.
_PHONE_SHAPE = re.compile(
    r"(?:(?<![A-Za-z0-9+\-/.,@#\d])|(?<=/)(?=\+)|(?<=\s-)|(?<=[\u05d0-\u05ea]-))"
    r"(?:\+|\(\+?)?\d(?:(?:[ \u00a0.\-–/\uff0d\u2010\u2011]|\)\s?|\s?\()?\d){6,16}(?![A-Za-z0-9]|[.,]\d)"
)
# Latin words must start a word: "iphone 8.4.20" and "katalognummer" are no phone context.
_PHONE_CONTEXT = re.compile(
    r"(?<![A-Za-z])(?:rufnummer|rappel|rufen|bellen|bel\s|ringa|chiamat|richiam|contatt|llamar|ligar|phone|(?:mit|min|my|mein|mijn|mi|mio|meu|mon)\s+(?:nr|no)\b|mobile|cell|call|text\s+me|ring|tel|tlf|telefon|mobil|handy|nummer|number|número|numero"
    r"|numéro|portable|appel|whatsapp|sms|llam|ligue|chiama|bel\s+me|cellulare|celular|gsm|festnetz|rückruf"
    r"|anruf|erreichbar|fixo|fijo|fisso|fixe|vaste|reach\s+me|contact|kontakt|contatto|contacto|móvil|movil"
    r"|terugbel|zurückruf|rappeler|llám|ringe?\s+mig|ring\s+mig|折り返し|الاتصال|اتصال"
    r"|电话|手机|致电|联系|座机|号码|回电|回電|打给我|携帯|電話|番号|טלפון|נייד|פלאפון|מספר|תתקשר|להתקשר|התקשר|חייג|رقمي|رقم|جوال|جوالي|هاتف|موبايل|اتصل|واتساب)",
    re.IGNORECASE,
)
_NOT_PHONE_CONTEXT = re.compile(
    r"(?<![A-Za-z])(?:order|ordre|bestilling|bestell|pedido|commande|encomenda|ordine|bestelling|case|sag|ticket|tracking"
    r"|sendung|invoice|faktura|rechnung|factura|facture|fattura|referen|ref|serial|serie|imei|version"
    r"|parcel|pakke|paket|bestel|beställ|gls|postnord|dhl|ups|fedex|kvittering|receipt|iban|konto|account"
    r"|customer|kunde|confirmation|booking|reserv|voucher|coupon|pratica|dossier|expediente|protocolo"
    r"|routing|sort\s*code|bsb|aba|swift|bic|meter|zähler|måler|mätar|請求"
    r"|订单|单号|工单|快递|运单|发票|注文|問い合わせ|受付|伝票|追跡|予約"
    r"|הזמנה|פנייה|פניה|משלוח|חשבונית|אסמכתא|הפנייה|طلب|الطلب|شحنة|الشحنة|فاتورة|الفاتورة|حجز"
    r"|card|kort|karte|tarjeta|carte|cartão|carta|kaart|卡号|カード|כרטיס|بطاقة|auftrag|vorgang|ärende|zaak)\w*\W*"
    r"(?:(?:my|mine|mon|ma|mi|mein|meine|min|mitt|mijn|meu|minha|mio|mia|שלי|الخاص\s+بي|我的)\W+)?"
    r"(?:(?:no|nr|n°|nº|number|nummer|número|numéro|numero|id|מספר|رقم|番号|号码|编号|号)\W*)?"
    r"(?:is|er|ist|es|est|é|è|är|は|是)?\W*$"
    r"|(?<![A-Za-z])ser\.?\s*(?:no|nr|n°|#)\W*$",
    re.IGNORECASE,
)
# A phone word just after the number: "090-1234-5678に折り返し", "07700 900123 (mobile)".
_PHONE_CONTEXT_AFTER = re.compile(
    r"\s*(?:に|へ|まで)?(?:折り返し|お電話|电话联系|联系我|\(?(?:mobile|mob|cell|home|work|handy|mobil|portable)\b"
    r"|is\s+my\s+(?:number|phone|mobile|cell))",
    re.IGNORECASE,
)
# The company's own lines are no personal data: numbers the customer called, "your hotline", "call us on".
_COMPANY_BEFORE = re.compile(
    r"(?<![A-Za-z])(?:(?:called|rang|dialled|dialed|phoned|llamé|llame|liguei|telefonei|chiamato|appelé|angerufen"
    r"|gebeld|ringde|ringede|ringt)(?:\s+(?:you(?:\s+guys)?|them|it|back|your\s+\w+|the\s+\w+))?"
    r"|(?:call|ring|phone|calling|ringing|contact|reach|text)\s+(?:you(?:\s+guys)?|us|your\s+\w+(?:\s+\w+)?)"
    r"|(?:our|their)\s+(?:\w+\s+)?(?:number|no|line|lines|hotline|helpline|número|numéro|numero|nummer|línea"
    r"|linha|linea|ligne)"
    r"|(?:your|su|sua|votre|vostro|ihre|eure|jeres|deres|jullie)\s+(?:\w+\s+)?(?:line|lines|hotline|helpline"
    r"|línea|linha|linea|ligne|(?:service|support|care|help)\s+(?:number|no))"
    r"|hot\s*line|help\s*line|service\s*line|support\s*line|care\s*line|24/7\s*line|free\s*phone"
    r"|toll[- ]?free|numero\s+verde|n[úu]mero\s+gratuito|customer\s+(?:service|care|support)|service\s+client"
    r"|kunden(?:service|dienst)|kundeservice|kundtjänst|klantenservice|servizio\s+clienti|atención\s+al\s+cliente"
    r"|خدمة\s+العملاء|שירות\s+(?:ה)?לקוחות|客服|カスタマー|コールセンター)\W*(?:(?:is|at|on|to|al|para|au|auf"
    r"|unter|på|op|naar|till|hos|a|en|é|est|es|ist|er|är)\W+){0,2}$"
    r"|(?:^|[.!?]\s+)calling\s+$"
    r"|(?<![A-Za-z])(?:call\s*cent(?:re|er)|llamado|llamando|ringet|ringede|ringt|says\s+(?:to\s+)?call|calling\s+me\s+from"
    r"|atención|atencion|liguei|telefonei|اتصلت|اتصلنا|客服电话|客服热线|热线|服务热线)"
    r"\W*(?:(?:til|to|al|a|o|ao|para|the|el|la|le|au|op|naar|på|no|bij|on|at|بالرقم|الرقم|على|number|nummer"
    r"|número|numéro|numero)\W+){0,3}$",
    re.IGNORECASE,
)
_SECOND_PERSON = re.compile(r"(?<!\w)(?:you|dich|dig|vous|te|ti|je|jou|u|dir|lhe|le)(?!\w)", re.IGNORECASE)
_COMPANY_AFTER = re.compile(
    r"\s*(?:\(\s*|,\s*)?(?:(?:your|su|sua|votre|vostro|ihre|jeres|deres|jullie|our)\s+\w*\s*(?:line|línea|linha|linea"
    r"|ligne|hotline|helpline|nummer|número|numéro|numero)|from\s+abroad|hotline|helpline"
    # "... as you say": the number the company gives out
    r"|,?\s*(?:as\s+)?(?:you|they)\s+say|siger\s+I\b|säger\s+ni|sagen\s+Sie|sagt\s+ihr|zeggen\s+jullie"
    r"|(?:como\s+)?(?:dicen|dizem|dicono)\b|comme\s+vous\s+dites)",
    re.IGNORECASE,
)
# Toll-free, premium-rate, shared-cost and "universal access" numbers belong to companies.
_COMPANY_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)
# "(214) 360-4477": the North American way of writing a phone number, a phone without any phone word.
_EMAIL_BEFORE = re.compile(
    r"@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}\s*(?:[,;/|]|\s(?:or|ou|o|oder|of|eller|y|e|og|och|and|und|et))\s*$"
)
_NANP_SHAPE = re.compile(r"\(\d{3}\)\s?\d{3}[-.\s]\d{4}")
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_GROUP_SPLIT = re.compile(r"[ \u00a0.\-–/()\uff0d\u2010\u2011]+")


def _regions(region_hint: str | None) -> list[str]:
    """The countries a national number is read in: the hinted one first, then the defaults."""
    first = [region_hint.upper()] if region_hint else []
    return first + [r for r in _DEFAULT_REGIONS if r not in first]


def _version_like(raw: str) -> bool:
    """Dots that group like a version or a decimal ("8.4.28.1104", "14393.321"), not like "06.12.34.56.78"."""
    parts = raw.split(".")
    return len(parts) > 1 and (len(parts) < 3 or any(sum(c.isdigit() for c in p) < 2 for p in parts))


def _phone_number_ok(raw: str, regions: list[str]) -> tuple[bool, bool]:
    """(valid in some region, possible in some region) for a national or international number."""
    possible = False
    for region in regions if not raw.startswith("+") else [None]:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True, True
        possible = possible or phonenumbers.is_possible_number(number)
    return False, possible


def _company_number(raw: str, regions: list[str], region_hint: str | None) -> bool:
    """A toll-free or shared-cost number: in its country, or, read nationally, in most countries it fits."""
    types = []
    for region in regions if not raw.startswith("+") else [None]:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            types.append(phonenumbers.number_type(number) in _COMPANY_TYPES)
            if region is None or region == (region_hint or "").upper():
                return types[-1]
    return bool(types) and types[0] and 2 * sum(types) > len(types)


def _find_phones(
    text: str, region_hint: str | None, *, in_reply: bool = False, brand: bool = False
) -> list[tuple[int, int, float]]:
    regions = _regions(region_hint)
    found: list[tuple[int, int, float]] = []
    for m in _PHONE_SHAPE.finditer(text):
        start, end = m.span()
        if m.group().count("(") > m.group().count(")"):
            # "0701 (24 hours" or "(800-692-7753": an unclosed bracket is not part of the number
            opening = text.rindex("(", start, end)
            if opening == start:
                start += 1
            else:
                end = opening
                while text[end - 1] in " \u00a0":
                    end -= 1
        raw = text[start:end]
        if _DATE_LIKE.match(raw) or _version_like(raw):
            continue
        # Context is read on the number's own line: "Tel.: 912 348 771\nAv. da Boavista 1450, 4100-114 Porto".
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        own_line = (
            "\n" in text
            and not text[line_start:start].strip()
            and not text[end : len(text) if line_end < 0 else line_end].strip()
        )
        before = text[max(0, start - 40, line_start if not own_line else 0) : start]
        company = _COMPANY_BEFORE.search(before)
        if company and not (brand and _SECOND_PERSON.search(company.group())):
            continue  # the company's own line; in the brand's own text, "call you on" is the customer's
        if _NOT_PHONE_CONTEXT.search(before) and not (
            # "new phone number for my account: (415) 555-0132"
            _NANP_SHAPE.fullmatch(raw) and _PHONE_CONTEXT.search(before)
        ):
            continue
        if _COMPANY_AFTER.match(text, end):
            continue
        prefix_00 = raw.lstrip("(").startswith("00")
        international = prefix_00 or raw.lstrip("(").startswith("+")
        context = (
            _PHONE_CONTEXT.search(before) is not None
            # a grouped number alone on its line, as in a signature, or written the North American way
            or (own_line and _GROUP_SPLIT.search(raw) is not None)
            or _NANP_SHAPE.fullmatch(raw) is not None
            or _PHONE_CONTEXT_AFTER.match(text, end) is not None
            # listed with the customer's email: "priya@mail.co.uk, 07812 900461"
            or _EMAIL_BEFORE.search(before) is not None
            or in_reply
        )
        if not international and not context and not region_hint:
            continue
        tried = regions if international or context else regions[:1]
        # Try the whole run, then without trailing groups ("call 0151 2394887 2 times").
        cuts = [end] + [g.start() for g in reversed(list(_GROUP_SPLIT.finditer(text, start, end)))]
        for cut in cuts:
            candidate = text[start:cut].lstrip("(")
            if prefix_00:
                candidate = "+" + candidate[2:]
            digits = sum(ch.isdigit() for ch in candidate)
            if digits < (8 if international else 7):
                break
            valid, possible = _phone_number_ok(candidate, tried)
            if valid:
                if not _company_number(candidate, tried, region_hint):
                    found.append((start, cut, 0.95 if international else 0.8))
                break
            # Numbers the metadata does not know yet (new ranges) still count when written as phones are.
            grouped = _GROUP_SPLIT.search(candidate) is not None
            if cut == end and possible and digits >= 8 and (international or (context and grouped)):
                found.append((start, cut, 0.6))
                break
    return found


# --- chat transcripts --------------------------------------------------------------------------------
# "Agent: And your security word?\nCustomer: marmalade": what one speaker asks for, the other's next turn
# gives.
_TURN = re.compile(
    r"^[ \t]*(?P<who>[^\W\d_][^\s:：\d]{0,19}(?:[ \t][^\W\d_][^\s:：\d]{0,11})?)[ \t]?[:：][ \t]*"
    r"(?P<say>[^\n]*)",
    re.MULTILINE,
)
_ASKING = re.compile(
    r"[?？؟]|please|pls|bitte|por\s+favor|s'il\s+vous\s+pla[iî]t|per\s+favore|alsjeblieft|お願い|请|請|من\s+فضلك|בבקשה",
    re.IGNORECASE,
)
_SECURITY_ASK = re.compile(
    rf"{_SEC}|secret|secrète|segret|memorable|maiden|{_TOPIC_WEAK}|first\s+(?:pet|dog|cat)|premier\s+animal"
    r"|primeir[ao]\s+animal|primera\s+mascota|erstes?\s+haustier|sicherheit|beveilig|geheime\s+vraag|säkerhet"
    r"|sikkerhed|seguridad|segurança|sicurezza|sécurité|pigenavn|flicknamn|mädchenname|meisjesnaam"
    r"|jeune\s+fille|soltera|solteira|nubile|密保|安全问题|秘密の質問|سؤال\s+(?:الأمان|الامان|الأمن)|אבטחה"
    r"|grew\s+up|husdjur|kæledyr|huisdier|haustier|mascota|animale|animal\s+de\s+estima|primeira\s+escola"
    r"|prima\s+scuola|première\s+école|primera\s+escuela|erste\s+schule|första\s+skola|første\s+skole"
    r"|eerste\s+school|مدرست|حيوان\w*\s+(?:ال)?أليف|חיית\s+(?:ה)?מחמד|בית\s+(?:ה)?ספר\s+(?:ה)?ראשון|ペット"
    r"|小学校|宠物|小学",
    re.IGNORECASE,
)
# Security checks that ask for other data: "For security, confirm your postcode".
_OTHER_ASK = re.compile(
    r"address|post\s*code|zip|date\s+of\s+birth|birthday|dob\b|e-?mail|phone|digits|card|iban|number|passw",
    re.IGNORECASE,
)
_ACCOUNT_ASK = re.compile(
    r"account|acct|(?:customer|member(?:ship)?|policy|contract|subscri\w*|client)\s+(?:number|no\b|id\b)"
    r"|kunde\w*nummer|kundenummer|klantnummer|kundnummer|medlemsnummer|vertragsnummer|kundennr"
    r"|n[úu]mero\s+de\s+(?:cliente|cuenta|conta|contrato|socio|sócio|abonado)|numéro\s+(?:de\s+|d')?(?:client|compte"
    r"|contrat|abonné|adhérent)|numero\s+(?:di\s+)?(?:cliente|contratto)|codice\s+cliente"
    r"|客户(?:编号|号)|会员号|账号|会員番号|お客様番号|顧客番号|契約番号"
    r"|رقم\s+(?:العميل|الحساب|العضوية|الاشتراك|العقد)|מספר\s+(?:ה)?(?:לקוח|חשבון|מנוי|חבר)",
    re.IGNORECASE,
)
_PHONE_ASK = re.compile(
    r"phone|mobile|cell|tel\b|contact\s+number|number\s+to\s+call|telefon|handy|mobil|portable|téléphone|teléfono"
    r"|telefone|celular|móvil|cellulare|gsm|电话|手机|電話|携帯|هاتف|جوال|موبايل|טלפון|נייד",
    re.IGNORECASE,
)
_REPLY_ACCOUNT = re.compile(r"(?<![\w])(?:[A-Z]{1,4}[ -]?)?\d[\d -]{3,}\d(?![\w])")


def _find_in_transcript(text: str, region_hint: str | None) -> list[tuple[str, int, int]]:
    """Values given as the reply to an agent's question in a chat transcript."""
    turns = list(_TURN.finditer(text))
    if len(turns) < 2 or len({t.group("who").lower() for t in turns}) < 2:
        return []
    found: list[tuple[str, int, int]] = []
    for ask, reply in itertools.pairwise(turns):
        if ask.group("who").lower() == reply.group("who").lower() or not _ASKING.search(ask.group("say")):
            continue
        said = ask.group("say")
        if text[ask.end() : reply.start()].strip():
            continue  # the reply is the very next turn
        start, end = reply.span("say")
        if _SECURITY_ASK.search(said) and not _OTHER_ASK.search(said):
            span = _short_answer(text, start, end)
            if span:
                found.append(("security_answer", *span))
        elif _ACCOUNT_ASK.search(said):
            m = _REPLY_ACCOUNT.search(text, start, end)
            if m and sum(c.isdigit() for c in m.group()) >= 5:
                found.append(("account_number", m.start(), m.end()))
        elif _PHONE_ASK.search(said):
            for s, e, _ in _find_phones(text[start:end], region_hint, in_reply=True):
                found.append(("phone", start + s, start + e))
    return found


# --- cheap pre-checks ------------------------------------------------------------------------------
# Searched in the lower-cased text without IGNORECASE, which is about ten times faster.
_PASSWORD_TRIGGER = re.compile(
    r"pass|pw|pin|login|kode|kennwort|contrase|clave|senha|mdp|wachtwoord|lösenord|密码|パスワード|暗証|סיסמ|كلمة"
    r"|pasw|pssw|psword|log(?:ging|ged)?\s*in|sign(?:ing|ed)?\s*in|logged\s+on|code\s+d|access\s+code|zugangscode"
    r"|acceso|accesso|toegangscode|ww\s|code|koden|السري|הקוד"
)
_SECURITY_TRIGGER = re.compile(
    r"answer|secu|secr|sercu|segret|verif|memorable|maiden|pet|first|favou?rite|childhood|name|born|birth|school"
    r"|antwo|geheim|svar|répons|respu|respost|rispost|答え|回答|安全问题|جواب|إجابة|اجابة|sikkerhed|pigenavn"
    r"|sicherheit|mädchen|seguridad|soltera|mascota|sécurité|secrète|segurança|solteira|animal|sicurezza"
    r"|nubile|beveilig|meisjesnaam|säkerhet|flicknamn|haustier|kæledyr|husdjur|huisdier|fille|mère|madre"
    r"|mãe|moeder|mutter|mors|mamma|答案|密保|質問|אבטחה|תשובה|سؤال|q\s*[:.]"
)
_ACCOUNT_TRIGGER = re.compile(
    r"acc|acou|consum|a/c|cust|client|member|subscri|contra|polic|loyal|reward|kund|konto|medlem|aftale|abonne"
    r"|mitglied|agreem|loan"
    r"|vertrag|versicher|n[úu]mero|numéro|numero|n[º°]|póliza|apólice|fidél|codice|tessera|polizza|klant"
    r"|lidn|polis|rekening|avtal|客户|会员|账|合同|保单|会員|お客様|顧客|契約|口座|証券|מספר|رقم"
)
_ADDRESS_WORD_TRIGGER = re.compile(r"addr|adres|anschrift|direcc|morada|endereço|indirizzo|wohne|bor |live")
_PHONE_TRIGGER = re.compile(r"\d(?:[ \u00a0.\-–/()\uff0d\u2010\u2011]{0,2}\d){6}")


def find_pii(
    text: str, *, region_hint: str | None = None, brand: bool = False, learnt: bool = True
) -> list[PiiSpan]:
    """Personal data in `text`, sorted by start; spans never overlap. `brand`: the text is the brand's own
    (a reply), so "we will call you on ..." names the customer's number, not the company's. `learnt`:
    weigh the rules' findings with the learnt tagger (`pii_tagger.py`) and add what it finds where no rule
    fired."""
    tagged = learnt_tagger().tag_batch([text])[0] if learnt else None
    return _merge(text, _rule_candidates(text, region_hint, brand), tagged, region_hint, brand)


def find_pii_batch(texts: list[str]) -> list[list[PiiSpan]]:
    """`find_pii` for many texts, with the tagger run once over the whole batch."""
    tagged = learnt_tagger().tag_batch(texts)
    return [
        _merge(t, _rule_candidates(t, None, False), tg, None, False)
        for t, tg in zip(texts, tagged, strict=True)
    ]


@cache
def learnt_tagger() -> PiiTagger:
    return PiiTagger.load(MODELS)


# A rule's address that the tagger gives less than this (the brand's shop in "is your store at 12 High
# Street open?") is dropped; chosen by leaving one labelled set out at a time (docs/triage.md).
ADDRESS_SUPPORT = 0.1


def _relabelled(candidate: tuple[str, int, int, float], tagged: Tagged) -> tuple[str, int, int, float]:
    """A run of digits the phone rules accept that the tagger reads as an account number ("electricity
    account 3001 2288 4419") is one."""
    kind, start, end, conf = candidate
    if kind == "phone":
        account = tagged.mean("account_number", start, end)
        if account >= 0.5 and account > tagged.mean("phone", start, end):
            return "account_number", start, end, round(min(conf, account), 3)
    return candidate


def _vetted(
    text: str, tagged: list[tuple[str, int, int, float]], region_hint: str | None, brand: bool
) -> list[tuple[str, int, int, float]]:
    """The tagger's phones pass the rules' checks: a number the metadata can place, not the company's own
    line (toll-free, shared cost, "our number is")."""
    kept = []
    for kind, start, end, conf in tagged:
        if kind == "phone":
            raw = text[start:end]
            regions = _regions(region_hint)
            before = text[max(0, start - 40, text.rfind("\n", 0, start) + 1) : start]
            company = _COMPANY_BEFORE.search(before)
            if (
                _DATE_LIKE.match(raw)
                or _version_like(raw)
                or (company and not (brand and _SECOND_PERSON.search(company.group())))
                or _COMPANY_AFTER.match(text, end)
                or not _phone_number_ok(raw, regions)[1]
                or _company_number(raw, regions, region_hint)
            ):
                continue
        elif kind == "account_number" and (
            _version_like(text[start:end]) or _DATE_LIKE.match(text[start:end])
        ):
            continue  # "Spotify 8.4.28.1104"
        kept.append((kind, start, end, round(min(conf, 0.8), 3)))
    return kept


def _rule_candidates(text: str, region_hint: str | None, brand: bool) -> list[tuple[str, int, int, float]]:
    candidates: list[tuple[str, int, int, float]] = []
    lower = text.lower()
    if "@" in text:
        candidates.extend(
            ("email", m.start(), m.end(), 0.99)
            for m in _EMAIL.finditer(text)
            if not _ROLE_MAILBOX.match(m.group())
        )
    if _PASSWORD_TRIGGER.search(lower):
        candidates.extend(("password", s, e, 0.85) for s, e in _find_passwords(text))
    if _SECURITY_TRIGGER.search(lower):
        candidates.extend(("security_answer", s, e, 0.85) for s, e in _find_security_answers(text))
    if _DIGIT.search(text):
        candidates.extend(("iban", s, e, 0.99) for s, e in _find_ibans(text))
        if _LONG_DIGITS.search(text):
            candidates.extend(("card", s, e, 0.97) for s, e in _find_cards(text))
        if _ACCOUNT_TRIGGER.search(lower):
            candidates.extend(
                ("account_number", *m.span(1), 0.85)
                for m in _ACCOUNT.finditer(text)
                if not _YEARS_OR_DATE.match(m.group(1))
                and len(_DIGIT.findall(m.group(1))) >= 5
                and not _is_speaker_label(text, m.start(), m.start(1))
            )

        if _PHONE_TRIGGER.search(text):
            candidates.extend(("phone", s, e, c) for s, e, c in _find_phones(text, region_hint, brand=brand))
        candidates.extend(("address", s, e, c) for s, e, c in _find_addresses(text, lower))
    if "\n" in text and (":" in text or "：" in text):
        candidates.extend((kind, s, e, 0.8) for kind, s, e in _find_in_transcript(text, region_hint))
    return candidates


def _merge(
    text: str,
    candidates: list[tuple[str, int, int, float]],
    tagged: Tagged | None,
    region_hint: str | None,
    brand: bool,
) -> list[PiiSpan]:
    """Overlaps keep the rules' more specific finding; the tagger's spans fill in where no rule fired, and
    extend a rule's address it overlaps; neighbouring parts of one address become one span."""
    if tagged is not None:
        candidates = [
            _relabelled(c, tagged)
            for c in candidates
            if c[0] != "address" or tagged.support("address", c[1], c[2]) >= ADDRESS_SUPPORT
        ]
    candidates.sort(key=lambda c: (_PRIORITY[c[0]], -(c[2] - c[1]), c[1]))
    extra = _vetted(text, tagged.spans, region_hint, brand) if tagged is not None else []
    kept: list[tuple[str, int, int, float]] = []
    for candidate in [*candidates, *extra]:
        kind, start, end, conf = candidate
        if kind == "address":
            # An address that runs into a phone or a number found before ends where that begins.
            clash = [k[1] for k in kept if k[1] < end and start < k[2] and k[0] != "address"]
            if clash and min(clash) > start:
                end = min(clash)
                while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:-–،"):
                    end -= 1
                if end - start < 10:
                    continue
            same = [k for k in kept if k[0] == "address" and k[1] < end and start < k[2]]
            others = [k for k in kept if k[0] != "address" and k[1] < end and start < k[2]]
            if same and not others:  # the tagger's reading of an address a rule found part of
                for k in same:
                    kept.remove(k)
                start, end = min(start, *(k[1] for k in same)), max(end, *(k[2] for k in same))
                conf = max(conf, *(k[3] for k in same))
        if end > start and all(end <= k[1] or start >= k[2] for k in kept):
            kept.append((kind, start, end, conf))

    kept.sort(key=lambda c: c[1])
    joined: list[tuple[str, int, int, float]] = []
    for k in kept:
        last = joined[-1] if joined else None
        if last and last[0] == k[0] == "address" and _ADDRESS_JOIN.fullmatch(text, last[2], k[1]):
            joined[-1] = ("address", last[1], k[2], max(last[3], k[3]))
        else:
            joined.append(k)
    return [PiiSpan(kind, start, end, text[start:end], conf) for kind, start, end, conf in joined]


_ADDRESS_JOIN = re.compile(r"[ \t]*[,\n][ \t]*\n?[ \t]*")
