"""Personal-data detection: unit cases per type and the evaluation on the labelled set."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from caredesk.triage.datasets import CORPUS
from caredesk.triage.pii import PII_TYPES, PiiSpan, find_pii, find_pii_batch

# The labelled sets written for the project; the learnt tagger trains on them (train.py).
PII_CORPUS = CORPUS / "pii"
DATA = PII_CORPUS / "pii_labelled.jsonl"
# Written independently of DATA, by someone who had not seen the detector.
HELDOUT = PII_CORPUS / "pii_heldout.jsonl"
# Written blind by someone else in other styles: signatures, label lists, voice-to-text, US addresses.
BLIND = PII_CORPUS / "pii_blind.jsonl"
# The fourth set: written blind, measured untouched (recall 0.841, precision 0.931), then used to improve
# the detector with general rules.
BLIND2 = PII_CORPUS / "pii_blind2.jsonl"
# The fifth: written blind, measured untouched (recall 0.858, precision 0.920), then used to improve the
# detector with general rules.
BLIND3 = PII_CORPUS / "pii_blind3.jsonl"
# The sixth, written blind after those rules and not used to change anything: its figure is the held-out
# one docs/triage.md publishes. Improve the detector from its misses only together with a new blind set,
# measured after the change.
BLIND4 = PII_CORPUS / "pii_blind4.jsonl"
# The seventh, written blind in more languages and styles, also untouched.
BLIND5 = PII_CORPUS / "pii_blind5.jsonl"
# The eighth, written blind in 29 languages (stated passwords and security answers, bank accounts in words).
BLIND6 = PII_CORPUS / "pii_blind6.jsonl"
# Sets four to eight were measured untouched by the rules alone; the learnt tagger then trained on them and
# on `pii_train` (1,760 messages in 37 languages, written for it). The ninth was written blind after that
# and measured once (rules alone 0.649 / 0.935, with the tagger 0.869 / 0.918), then trained on too.
BLIND7 = PII_CORPUS / "pii_blind7.jsonl"
TRAIN = PII_CORPUS / "pii_train.jsonl"
# The tenth, written blind after the tagger's last change and never trained on: the held-out figure
# docs/triage.md publishes. Keep it out of `corpus/pii/` (the tagger trains on everything there) until a
# newer blind set replaces it.
BLIND8 = Path(__file__).parent / "data" / "pii_blind8.jsonl"


def _found(text: str, region_hint: str | None = None) -> list[tuple[str, str]]:
    return [(s.type, s.text) for s in find_pii(text, region_hint=region_hint)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call me on +44 7911 123456 please", ("phone", "+44 7911 123456")),
        ("Ring gerne på +45 31 22 45 67 i dag", ("phone", "+45 31 22 45 67")),
        ("Llámame al +34 612 345 678.", ("phone", "+34 612 345 678")),
        ("Mail: anna.berg+x@example.se.", ("email", "anna.berg+x@example.se")),
        ("Card 4111 1111 1111 1111 declined", ("card", "4111 1111 1111 1111")),
        ("Amex 3782-822463-10005 please", ("card", "3782-822463-10005")),
        ("Refund to DE89 3704 0044 0532 0130 00 thanks", ("iban", "DE89 3704 0044 0532 0130 00")),
        ("IBAN: dk5000400440116243", ("iban", "dk5000400440116243")),
        ("my password is Hunter2!", ("password", "Hunter2!")),
        ("Kodeordet er Sommer2024.", ("password", "Sommer2024")),
        ("Mein Passwort ist Kaffee!22", ("password", "Kaffee!22")),
        ("mi contraseña es Gato77", ("password", "Gato77")),
        ("mon mot de passe est chaton99", ("password", "chaton99")),
        ("The answer to my security question is Rover", ("security_answer", "Rover")),
        ("Min mors pigenavn er Jensen", ("security_answer", "Jensen")),
        ("Mi número de cliente es 300145221", ("account_number", "300145221")),
        ("Kundennummer: 100234567", ("account_number", "100234567")),
        ("Send to 221B Baker Street please", ("address", "221B Baker Street")),
        ("Vesterbrogade 12, 1620 København V", ("address", "Vesterbrogade 12, 1620 København V")),
        ("Envíenlo a Calle Mayor 5", ("address", "Calle Mayor 5")),
        ("au 12 rue de la Paix, 75002 Paris", ("address", "12 rue de la Paix, 75002 Paris")),
        ("an Hauptstraße 5, 10115 Berlin", ("address", "Hauptstraße 5, 10115 Berlin")),
        # passwords without "is"
        ("my password Dragon#2020 doesn't work anymore", ("password", "Dragon#2020")),
        ("pw: hunter22", ("password", "hunter22")),
        ("Pass: Zebra!99 thanks", ("password", "Zebra!99")),
        ("Minha senha Corinthians2012 não funciona", ("password", "Corinthians2012")),
        ("mon mdp c'est Soleil75!", ("password", "Soleil75!")),
        ("Mijn wachtwoord voor de app Fietsen88 werkt niet", ("password", "Fietsen88")),
        ("min adgangskode til appen er Hygge2024", ("password", "Hygge2024")),
        ("パスワードはTokyo2020abです", ("password", "Tokyo2020ab")),
        ("كلمة المرور الخاصة بي هي Cairo!2023", ("password", "Cairo!2023")),
        ("I changed my password to Lemon#Tree5 yesterday", ("password", "Lemon#Tree5")),
        ("forgot my password, I think I entered Bluebird77 when I registered", ("password", "Bluebird77")),
        ("my password is either Rocket12 or rocket2012", ("password", "rocket2012")),
        # security answers
        ("security answer = Lassie", ("security_answer", "Lassie")),
        ("my first pet was Max, can you unlock it", ("security_answer", "Max")),
        ("mum's maiden name is McAllister", ("security_answer", "McAllister")),
        ("mother's maiden name: De la Cruz", ("security_answer", "De la Cruz")),
        ("The answer to my security question is New York", ("security_answer", "New York")),
        ("first school? St Mary's. now please help", ("security_answer", "St Mary's")),
        ("Q: favourite teacher? A: Mrs Brown", ("security_answer", "Mrs Brown")),
        ("security q: street I grew up on → Elm Row", ("security_answer", "Elm Row")),
        ("Respuesta de seguridad: el nombre de mi perro es Toby", ("security_answer", "Toby")),
        ("Risposta di sicurezza: Pippo", ("security_answer", "Pippo")),
        ("Sicherheitsantwort (Geburtsort) ist Bremen", ("security_answer", "Bremen")),
        ("秘密の質問の答えはタマです", ("security_answer", "タマ")),
        ("安全问题答案：我的小名是小黑", ("security_answer", "小黑")),
        ("إجابة سؤال الأمان: مشمش", ("security_answer", "مشمش")),
        ("התשובה לשאלת האבטחה היא בוני", ("security_answer", "בוני")),
        # account numbers
        ("Policy no. PL-2281934 renewal is wrong", ("account_number", "PL-2281934")),
        ("Membership card no. 6011 2281 4470 stopped working", ("account_number", "6011 2281 4470")),
        ("Contrato n.º CT-5512098 sigue activo", ("account_number", "CT-5512098")),
        ("Medlemsnr. 99812 virker ikke", ("account_number", "99812")),
        ("顧客番号12345678の住所変更", ("account_number", "12345678")),
        ("会员号88123456的积分", ("account_number", "88123456")),
        ("رقم الحساب 7781230", ("account_number", "7781230")),
        # national phone numbers next to a phone word
        ("mi celular es 55 1234 5678", ("phone", "55 1234 5678")),
        ("Mein Handy: 0176 12345678", ("phone", "0176 12345678")),
        ("Festnetz 030 1234567", ("phone", "030 1234567")),
        ("携帯：080-1234-5678", ("phone", "080-1234-5678")),
        ("座机021-6234 5678", ("phone", "021-6234 5678")),
        ("رقمي ٠٥٥١٢٣٤٥٦٧", ("phone", "٠٥٥١٢٣٤٥٦٧")),
        ("mijn gsm: 0475 12 34 56", ("phone", "0475 12 34 56")),
        ("rappelez-moi au 514 555-0199", ("phone", "514 555-0199")),
        ("text me at (212–555–0147), after 6pm", ("phone", "212–555–0147")),
        # whole addresses
        ("Send it to 14 Oak Grove, Leeds LS6 2AB", ("address", "14 Oak Grove, Leeds LS6 2AB")),
        ("Flat 3, Marine Court, Brighton BN2 1AB", ("address", "Flat 3, Marine Court, Brighton BN2 1AB")),
        (
            "ship to 88 Queen Street East, Toronto, ON M5C 1S1",
            ("address", "88 Queen Street East, Toronto, ON M5C 1S1"),
        ),
        (
            "adres: Prinsengracht 263-1, 1016 GV Amsterdam",
            ("address", "Prinsengracht 263-1, 1016 GV Amsterdam"),
        ),
        ("Rua do Ouro 45, 3.º Dto, 1100-060 Lisboa", ("address", "Rua do Ouro 45, 3.º Dto, 1100-060 Lisboa")),
        (
            "Avenida Paulista 1000, apto 12, São Paulo - SP, 01310-100",
            ("address", "Avenida Paulista 1000, apto 12, São Paulo - SP, 01310-100"),
        ),
        ("Rue de la Loi 16, 1000 Bruxelles", ("address", "Rue de la Loi 16, 1000 Bruxelles")),
        ("Bor på Sveavägen 44, 113 59 Stockholm", ("address", "Sveavägen 44, 113 59 Stockholm")),
        (
            "Lange Leidsedwarsstraat 12, 1017 NM Amsterdam",
            ("address", "Lange Leidsedwarsstraat 12, 1017 NM Amsterdam"),
        ),
        ("〒530-0001 大阪府大阪市北区梅田3-1-1", ("address", "530-0001 大阪府大阪市北区梅田3-1-1")),
        ("寄到广州市天河区体育西路123弄4号", ("address", "广州市天河区体育西路123弄4号")),
        ("عنواني: شارع الملك فهد 120، الرياض 12345", ("address", "شارع الملك فهد 120، الرياض 12345")),
    ],
)
def test_positive(text: str, expected: tuple[str, str]) -> None:
    assert expected in _found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # account numbers: spoken digits, digit groups, a letter prefix apart, more phrasings
        ("my customer number is 5 5 1 2 0 9 8 3 4 thanks", ("account_number", "5 5 1 2 0 9 8 3 4")),
        ("Kundennummer K 220 117 904 bitte prüfen", ("account_number", "K 220 117 904")),
        ("membership no. is AB 3301 7729", ("account_number", "AB 3301 7729")),
        ("Mi número de cliente es 61 2207 4451.", ("account_number", "61 2207 4451")),
        ("loan agreement number LA-19-220417 please", ("account_number", "LA-19-220417")),
        ("Mon numéro d'adhérent est le 440 118 207", ("account_number", "440 118 207")),
        ("o número da minha conta é 33 1190 2284", ("account_number", "33 1190 2284")),
        ("the account number on the card is ZX-44018822", ("account_number", "ZX-44018822")),
        # phones: signature lines, the North American shape, more call words
        ("Thanks,\nMaria Costa\n(312) 555-0148", ("phone", "(312) 555-0148")),
        ("Regards\nSøren\n42 18 77 90", ("phone", "42 18 77 90")),
        ("reach the office at (617) 555-0123 anytime", ("phone", "(617) 555-0123")),
        ("richiamatemi al 348 112 9034 grazie", ("phone", "348 112 9034")),
        ("mit nr er 28 44 19 07", ("phone", "28 44 19 07")),
        # addresses: US directions and PO boxes, house names, Eircodes, line breaks, more countries
        ("ship to 310 N Oak Ave, Austin, TX 78701 please", ("address", "310 N Oak Ave, Austin, TX 78701")),
        ("P.O. Box 88, Juneau, AK 99801", ("address", "P.O. Box 88, Juneau, AK 99801")),
        ("Suite: 77 Main St #5, Boise, ID 83702", ("address", "77 Main St #5, Boise, ID 83702")),
        (
            "Rose Cottage, Mill Road, Little Eversden, Cambridge CB23 1HN",
            ("address", "Rose Cottage, Mill Road, Little Eversden, Cambridge CB23 1HN"),
        ),
        (
            "Apartment 5, Harbour View, Quay Street, Galway H91 X2E4",
            ("address", "Apartment 5, Harbour View, Quay Street, Galway H91 X2E4"),
        ),
        (
            "Best,\nTom\n12 Park Road\nHeadington\nOxford\nOX3 7LE",
            ("address", "12 Park Road\nHeadington\nOxford\nOX3 7LE"),
        ),
        ("Auf dem Berg 7\n35037 Marburg", ("address", "Auf dem Berg 7\n35037 Marburg")),
        ("Neue Adresse: Berliner Str. 45, 10713 Berlin", ("address", "Berliner Str. 45, 10713 Berlin")),
        (
            "Rua das Flores, 88, apto 4, Savassi, Belo Horizonte - MG, 30140-110",
            ("address", "Rua das Flores, 88, apto 4, Savassi, Belo Horizonte - MG, 30140-110"),
        ),
        (
            "Calle Reforma 222, Col. Juárez, 06600 Ciudad de México",
            ("address", "Calle Reforma 222, Col. Juárez, 06600 Ciudad de México"),
        ),
        (
            "寄到上海市浦东新区世纪大道100号环球金融中心2号楼1203室，200120",
            ("address", "上海市浦东新区世纪大道100号环球金融中心2号楼1203室，200120"),
        ),
        ("地址是高雄市前鎮區中山二路5號12樓", ("address", "高雄市前鎮區中山二路5號12樓")),
        ("العنوان: ٣٥ شارع النيل، الدقي، الجيزة", ("address", "٣٥ شارع النيل، الدقي، الجيزة")),
        ("ممكن التوصيل إلى فيلا 12، شارع 7، البرشاء", ("address", "فيلا 12، شارع 7، البرشاء")),
        # passwords: "now", "@" inside, "it says", Chinese "changed to", a preposition first
        ("Wachtwoord voor de site is nu Fiets#Rood3", ("password", "Fiets#Rood3")),
        ("i gave password Ravi@1987 but it fails", ("password", "Ravi@1987")),
        ("my password is on a note, it says Sunflower77", ("password", "Sunflower77")),
        ("我的密码改为Panda_2020了", ("password", "Panda_2020")),
        ("a senha no cartão: Praia2023", ("password", "Praia2023")),
        # security answers: what was typed or said, the next sentence, asides, more languages
        ("security question (first concert) and I typed Coldplay", ("security_answer", "Coldplay")),
        ("my secret answer below. It is Margaret Hill.", ("security_answer", "Margaret Hill")),
        ("asked for my security answer and I told her it's Dundee", ("security_answer", "Dundee")),
        ("my security question answer is Rotterdam", ("security_answer", "Rotterdam")),
        ("Father's middle name, which the app asked for, is Alfred.", ("security_answer", "Alfred")),
        ("The security answer he put was his cat's name, Mittens.", ("security_answer", "Mittens")),
        ("La pregunta secreta era el nombre de mi abuela: Remedios", ("security_answer", "Remedios")),
        ("密保问题「小学名字」的答案是实验小学", ("security_answer", "实验小学")),
        ("秘密の質問（母の旧姓）の答えは佐藤です", ("security_answer", "佐藤")),
        ("وجواب سؤال الأمان الرياض", ("security_answer", "الرياض")),
        # IBANs of more countries
        ("Transfer to EG380019000500000000263180002 please", ("iban", "EG380019000500000000263180002")),
    ],
)
def test_positive_new_styles(text: str, expected: tuple[str, str]) -> None:
    assert expected in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "My order #45881233 has not arrived",
        "Delivery on 12/03/2024 at 14:30",
        "It cost €1,299.00 and broke",
        "Card 4111 1111 1111 1112 was declined",
        "IBAN GB00 NWBK 6016 1331 9268 19 is rejected",
        "I need a password reset, my password is not working",
        "Jeg vil nulstille min adgangskode",
        "Version 10.0.19045 crashes",
        "I live on Baker Street",
        "Tracking 1Z999AA10123456784 is stuck",
        "Ich bin seit 2015 Kunde",
        "thanks a lot, great help",
        # order and case numbers are not phones
        "order number 0612345678 never arrived",
        "מספר הזמנה 55123412 לא הגיע",
        "הזמנה מספר 88123409 עדיין לא הגיעה",
        "מספר פנייה 55102938",
        "رقم الطلب 0551234567 لم يصل",
        "注文番号090-1234-5678の件",
        "Sagsnummer 2023-44817",
        "Auftragsnummer 4455123 bitte stornieren",
        "ticket 12345678 still open, call me back",
        "reference 0047 1123 9983 — please explain",
        # versions and quantities near phone or street words
        "iPhone 8, Spotify 8.4.28.1104",
        "my phone is on build 14393.321",
        "Via Twitter 2 days ago",
        "@TMobileHelp @115913 8 hours on hold",
        # password and security words without a secret
        "my password reset link is broken",
        "I forgot my password, can you help?",
        "the password manager is great",
        "I need to change my password to something stronger",
        "someone changed my password (hacked).",
        "pretty sure my password is either",
        "boarding pass: 12B",
        "the login is connected to my Facebook",
        "my first car was great",
        "my first pet died last year",
        "What is the answer to this question? It is 42",
        "the security is terrible: 3 breaches this year",
        "contract 2024-2025 renewal",
        # new rules, kept from firing on near misses
        "Meine Bestellung 302-5581920-4417 ist unterwegs",
        "Routing number 021000021 for the transfer",
        "請求書番号 2024-0418 の金額",
        "9 0 1 3 8 3 8 3 2 7",
        "du bist der King Glückwunsch Platz 1 yes!",
        "Order W883412 hasn't shipped",
        "Come posso cambiare la password dell'area clienti?",
        "كيف أغير كلمة المرور في التطبيق؟",
        "my password is on the list of weak ones",
        "Im Januar 2023 war alles gut",
    ],
)
def test_negative(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # security answers: chat turns, labels, typos, asides, answers further on
        (
            "Rep: What was your first school called?\nMe: Hillside Primary",
            ("security_answer", "Hillside Primary"),
        ),
        ("Support: your memorable word please\nUser: pineapple", ("security_answer", "pineapple")),
        ("Agente: ¿respuesta de seguridad?\nCliente: sí, es Valencia", ("security_answer", "Valencia")),
        ("客服：请说一下密保答案？\n用户：李华", ("security_answer", "李华")),
        ("Secret question: my first teacher. Answer: Mrs Doyle", ("security_answer", "Mrs Doyle")),
        ("Sikkerhedsspørgsmål: første bil. Svar: Opel Kadett", ("security_answer", "Opel Kadett")),
        ("密保问题：我的小名。答案是阿福", ("security_answer", "阿福")),
        ("my secuirty answer is Lighthouse", ("security_answer", "Lighthouse")),
        ("my security Q answer: Tipperary", ("security_answer", "Tipperary")),
        ("it's probably Kowalski (mum's maiden name)", ("security_answer", "Kowalski")),
        ("security question is locked again?? I told them, it was Brigid", ("security_answer", "Brigid")),
        ("maiden name Fitzgerald, can you check", ("security_answer", "Fitzgerald")),
        ("the memorable answer we set up was Marigold", ("security_answer", "Marigold")),
        # passwords: typos in the keyword, "logging in with", access codes, PINs, CJK without a link
        ("passwrd: Otter#551", ("password", "Otter#551")),
        ("my pasword for the shop is Kestrel_88", ("password", "Kestrel_88")),
        ("been logging in with Maple2021x all week", ("password", "Maple2021x")),
        ("Le code d'accès est Lyon2022", ("password", "Lyon2022")),
        ("my PIN is 4821", ("password", "4821")),
        ("new pin 7302 doesn't work", ("password", "7302")),
        ("Das Kennwort war eigentlich Sonne#12", ("password", "Sonne#12")),
        ("登录密码abc12345忘了", ("password", "abc12345")),
        # account numbers: typos, consumer numbers, the chat turn after the question
        ("accout number 44019273 is wrong", ("account_number", "44019273")),
        ("Consumer no. 220118734 bill missing", ("account_number", "220118734")),
        ("Agent: Can I take your account number?\nClient: 83302917", ("account_number", "83302917")),
        # phones: the chat turn after the question, a phone word after, Hebrew prefix, call back
        ("Agent: Best phone number?\nCustomer: 0161 496 0831", ("phone", "0161 496 0831")),
        ("07700 900461 (mobile) after six", ("phone", "07700 900461")),
        ("חייגו אליי ל-054-771-2290", ("phone", "054-771-2290")),
        ("请回电139 2233 4455", ("phone", "139 2233 4455")),
        # cards wrapped at a line end; addresses after an introduction, Norwegian streets, Austrian doors
        ("card: 4539-1488-\n0343-6467", ("card", "4539-1488-\n0343-6467")),
        (
            "please deliver to House 7, MG Road, Kochi 682016 thanks",
            ("address", "House 7, MG Road, Kochi 682016"),
        ),
        ("adresse: Bondegata 4, 0563 Oslo", ("address", "Bondegata 4, 0563 Oslo")),
        ("bor i Henrik Ibsens gate 10, 0255 Oslo", ("address", "Henrik Ibsens gate 10, 0255 Oslo")),
        ("Mariahilfer Straße 88/2/7, 1070 Wien", ("address", "Mariahilfer Straße 88/2/7, 1070 Wien")),
        ("العنوان: 9 شارع الهرم، الجيزة، جوال 0101 234 5678", ("address", "9 شارع الهرم، الجيزة")),
    ],
)
def test_positive_general_rules(text: str, expected: tuple[str, str]) -> None:
    assert expected in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        # company lines: toll-free and shared-cost numbers, numbers the customer called, "call you on"
        "I called 0800 123 4567 twice and nobody answered",
        "Your hotline 0345 222 1111 is useless",
        "I tried to call your team on 020 7946 0321 all morning",
        "Llamé al 900 100 200 y nada",
        "Ring 1-888-555-0100 for help",
        "our number is 0161 496 0000",
        # chats and security words without an answer
        "Agent: What's your mother's maiden name?\nCustomer: I don't remember",
        "Agent: Can you answer the security question?\nCustomer: sorry, what?",
        "担当者：秘密の質問の答えをお願いします。",
        # password and address words that give nothing
        "logging in with Google fails",
        "the pin on the plug is loose",
        "send it to my office please",
    ],
)
def test_negative_general_rules(text: str) -> None:
    assert find_pii(text) == []


def test_batch_finds_what_each_message_finds() -> None:
    rows = [json.loads(line) for line in BLIND6.read_text(encoding="utf-8").splitlines()][:120]
    texts = [r["text"] for r in rows]
    assert find_pii_batch(texts) == [find_pii(t) for t in texts]


def test_rules_alone_leave_the_tagger_out() -> None:
    text = "Agent: Which passcode did you set?\nCustomer: Lumikki#2031"
    assert ("password", "Lumikki#2031") in _found(text)
    assert all(s.confidence <= 0.8 for s in find_pii(text) if s.type == "password")
    assert find_pii(text, learnt=False) == []


@pytest.mark.parametrize(
    "text",
    [
        # Read by the tagger as possible data (a day after "security answer ... it's", a bare number a
        # customer types in a chat): a warning to the agent, where the rules alone stay silent.
        "my security answer doesn't work, it's Monday",
        "Customer: 44018822",
    ],
)
def test_negative_for_the_rules_alone(text: str) -> None:
    assert find_pii(text, learnt=False) == []


def test_national_phone_with_region_hint() -> None:
    assert ("phone", "20 30 40 50") in _found("Ring til 20 30 40 50", region_hint="DK")


def test_spans_are_exact_and_disjoint() -> None:
    text = "Mail a@b.dk, card 5555 5555 5555 4444, IBAN NL91 ABNA 0417 1643 00"
    spans = find_pii(text)
    assert {s.type for s in spans} == {"email", "card", "iban"}
    for s in spans:
        assert isinstance(s, PiiSpan)
        assert text[s.start : s.end] == s.text
        assert 0 < s.confidence <= 1
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def evaluate(
    path: Path = DATA, *, learnt: bool = True
) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Per-type gold, recalled gold, predicted and correct predicted counts over a labelled set."""
    gold_n: Counter[str] = Counter()
    recalled: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold = [(g["type"], g["start"], g["end"]) for g in row["pii"]]
        preds = [(p.type, p.start, p.end) for p in find_pii(row["text"], learnt=learnt)]

        def hit(p: tuple[str, int, int], g: tuple[str, int, int]) -> bool:
            return p[0] == g[0] and _overlap(p[1:], g[1:]) >= 0.5 * (g[2] - g[1])

        for g in gold:
            gold_n[g[0]] += 1
            recalled[g[0]] += any(hit(p, g) for p in preds)
        for p in preds:
            pred_n[p[0]] += 1
            correct[p[0]] += any(hit(p, g) for g in gold)
    return gold_n, recalled, pred_n, correct


@pytest.mark.parametrize(
    ("path", "languages"),
    [
        (DATA, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he"}),
        (HELDOUT, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja"}),
        (BLIND, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja"}),
        (BLIND2, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja"}),
        (BLIND3, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja"}),
        (BLIND4, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja", "hi"}),
        (BLIND5, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja", "hi"}),
        (BLIND6, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja", "hi"}),
        (BLIND7, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja", "hi", "ko"}),
        (TRAIN, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja", "hi", "ko"}),
        (BLIND8, {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he", "ar", "ja", "hi", "ko"}),
    ],
)
def test_labelled_set_is_well_formed(path: Path, languages: set[str]) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    assert languages <= {r["lang"] for r in rows}
    counts = Counter(g["type"] for r in rows for g in r["pii"])
    assert set(counts) == PII_TYPES
    assert min(counts.values()) >= 25
    for r in rows:
        for g in r["pii"]:
            assert 0 <= g["start"] < g["end"] <= len(r["text"])


def test_evaluation_recall_and_precision() -> None:
    gold_n, recalled, pred_n, correct = evaluate()
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.95
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.90
    for kind in PII_TYPES:
        assert recalled[kind] / gold_n[kind] >= 0.8, kind


def test_heldout_recall_and_precision() -> None:
    gold_n, recalled, pred_n, correct = evaluate(HELDOUT)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.95
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.90
    for kind in PII_TYPES:
        assert recalled[kind] / gold_n[kind] >= 0.8, kind


def test_blind_recall_and_precision() -> None:
    # Untuned: recall 0.819, precision 0.925; after the general rules: recall 1.00, precision 0.99.
    gold_n, recalled, pred_n, correct = evaluate(BLIND)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.95
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.90
    for kind in PII_TYPES:
        assert recalled[kind] / gold_n[kind] >= 0.9, kind


def test_fourth_set_after_its_rules() -> None:
    # Untouched: recall 0.841, precision 0.931; after the general rules: recall 0.997, precision 1.00.
    gold_n, recalled, pred_n, correct = evaluate(BLIND2)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.99
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.99


def test_fifth_set_after_its_rules() -> None:
    # Untouched: recall 0.858, precision 0.920; after the general rules: recall 0.98, precision 0.99.
    gold_n, recalled, pred_n, correct = evaluate(BLIND3)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.97
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.98


def test_sixth_set_after_the_tagger() -> None:
    # Rules alone, untouched: recall 0.906, precision 0.935; rules and tagger, the tagger trained without
    # this set: 0.966 / 0.947.
    gold_n, recalled, pred_n, correct = evaluate(BLIND4)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.97
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.92


def test_seventh_set_after_the_tagger() -> None:
    # Rules alone, untouched: recall 0.742, precision 0.938; the tagger trained without it: 0.970 / 0.961.
    gold_n, recalled, pred_n, correct = evaluate(BLIND5)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.96
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.93


def test_eighth_set_after_the_tagger() -> None:
    # Rules alone, untouched: recall 0.702, precision 0.934; the tagger trained without it: 0.928 / 0.946.
    gold_n, recalled, pred_n, correct = evaluate(BLIND6)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.96
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.93


def test_held_out_blind_set() -> None:
    # Written blind after the tagger's last change, never trained on, measured once: recall 0.918,
    # precision 0.927 with the tagger (the rules alone: 0.674 / 0.928). The acceptance asks 0.95 / 0.9.
    gold_n, recalled, pred_n, correct = evaluate(BLIND8)
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.91
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.92
    rules = evaluate(BLIND8, learnt=False)
    assert sum(recalled.values()) - sum(rules[1].values()) >= 150  # what the tagger adds: 213 of 874 spans
