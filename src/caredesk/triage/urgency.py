"""Urgency signals found in the text: churn threats, outages, safety and legal threats, abuse.

Patterns are written for caredesk, per language, and matched on the cleaned, lowercased text. Repeated
contact ("bump") and reach come from the conversation and the author, not the text: the pipeline adds them.
"""

from __future__ import annotations

import re

_PATTERNS: dict[str, list[str]] = {
    "churn": [
        r"\b(switch(ing)?|mov(e|ing)|go(ing)?|port(ing)?) (over )?to (another|a different|@user|\w+ (instead|now))",
        r"\bcancel+(ing|ling)? my (contract|account|subscription|plan|membership|service|policy)",
        r"\b(leav(e|ing)|quit(ting)?|ditch(ing)?|dump(ing)?) (you|your|this|@user)",
        r"\b(close|closing|terminate|terminating) my (account|contract)",
        r"\b(lost|losing) (a|another) customer\b",
        r"\bnever (use|using|fly(ing)?|buy(ing)?|order(ing)?) (you|with you|from you|again)",
        r"\b(taking|take) my (business|money) elsewhere\b",
        r"\bskift(er)? (til|selskab)|\bopsig(e|er) (mit|min|jeres)|\bopsiger\b",
        r"\bk(ü|u)ndig(e|en|ung)\b|\bwechsel(n|e)? (zu|den anbieter)|\banbieter ?wechsel",
        r"\b(me (cambio|voy) a|cancelar (mi|el) (contrato|cuenta|suscripci)|darme de baja|portabilidad)",
        r"\b(je (vais )?(r[ée]silie|change) |r[ée]silier|r[ée]siliation|changer d'op[ée]rateur)",
        r"\b(vou (mudar|trocar|cancelar)|cancelar (meu|minha|o) |portabilidade)",
        r"\b(disdett|passo a |cambio operatore|recedere)",
        r"\b(overstappen|opzeggen|zeg (mijn|het) .{0,20}op)\b",
        r"\b(byter till|säg(a|er) upp)\b",
        r"(解约|退订|换(一家|别的)|注销)|(解約|乗り換え)|(לעזוב|להתנתק|עובר ל)|(إلغاء الاشتراك|سأنتقل|هلغي)",
    ],
    "outage": [
        r"\b(no|zero|lost|without) (signal|service|internet|wifi|wi-fi|connection|network|coverage|power|electricity)\b",
        r"\b(internet|wifi|wi-fi|network|service|site|app|website|broadband|server|signal|tv|power)s? "
        r"(is |are |has been |went |keeps )?(down|out|offline|dead|not working|dropping)",
        r"\boutage\b|\bblackout\b|\bpower cut\b|\bdown again\b|\bis it down\b|\bdown for everyone\b",
        r"\b(nede|udfald|ingen forbindelse|intet signal|strømsvigt)\b",
        r"\b(st(ö|o)rung|ausfall|kein (netz|internet|empfang|signal)|geht nicht)\b",
        r"\b(ca[íi]da|sin (se[ñn]al|internet|servicio|conexi[óo]n|luz)|no funciona)\b",
        r"\b(panne|coupure|pas de (r[ée]seau|connexion|internet)|en d[ée]rangement)\b",
        r"\b(sem (sinal|internet|rede|luz)|fora do ar|queda)\b",
        r"\b(guasto|senza (rete|linea|internet)|disservizio|non funziona)\b",
        r"\b(storing|geen (internet|bereik|verbinding))\b|\b(avbrott|ingen täckning|inget internet)\b",
        r"(断网|没信号|没有信号|宕机|停电|无法连接)|(圏外|繋がらない|障害)|(אין קליטה|אין אינטרנט|תקלה)|(انقطاع|لا يوجد نت|النت فاصل)",
    ],
    "safety": [
        r"\b(smell(s|ing)? (of )?gas|gas (leak|smell)|carbon monoxide|on fire|caught fire|smok(e|ing) from|sparks?)\b",
        r"\b(electric shock|exploded|explosion|overheat(ing|ed)|burn(ed|t|ing)? (my|his|her)|injur(ed|y))\b",
        r"\b(dangerous|unsafe|hazard|emergency|ambulance|hospital|life support|stranded (alone|with)|my (baby|child|kid) (is|was) (alone|stuck))\b",
        r"\b(gaslugt|brand|livsfarlig)\b|\b(gasgeruch|brennt|lebensgefahr|gef(ä|a)hrlich)\b",
        r"\b(olor a gas|incendio|peligro(so)?|se quem[óo])\b|\b(odeur de gaz|incendie|dangereux|br[uû]l[ée])\b",
        r"\b(cheiro de g[áa]s|inc[êe]ndio|perigo(so)?)\b|\b(odore di gas|incendio|pericolos[oa])\b",
        r"(煤气|着火|危险|爆炸)|(ガス漏れ|火事|危険)|(ריח של גז|שריפה|מסוכן)|(رائحة غاز|حريق|خطر)",
    ],
    "legal": [
        r"\b(lawyer|solicitor|attorney|legal action|sue|suing|court|small claims|lawsuit|ombudsman|regulator)\b",
        r"\b(ofcom|ofgem|fcc|ftc|trading standards|consumer (rights|protection|council)|class action|chargeback)\b",
        r"\b(advokat|forbrugerombudsmand|ankenævn|retten)\b|\b(anwalt|klage einreichen|verbraucherzentrale|gericht|bundesnetzagentur)\b",
        r"\b(abogado|demanda|denuncia|tribunal|consumo|omic)\b|\b(avocat|plainte|tribunal|dgccrf|poursuite)\b",
        r"\b(advogado|processo|procon|justi[çc]a|reclame aqui)\b|\b(avvocato|denuncia|tribunale|agcom)\b",
        r"\b(advocaat|rechter|geschillencommissie)\b|\b(advokat|konsumentverket|anmäl)\b",
        r"(律师|起诉|投诉到|消协)|(弁護士|訴え|消費者センター)|(עורך דין|תביעה|בית משפט)|(محامي|مقاضاة|المحكمة|حماية المستهلك)",
    ],
    "abuse": [
        r"\b(idiots?|morons?|stupid (people|company|staff)|useless (idiots|morons|bunch)|scum|clowns|bastards?|wankers?)\b",
        r"\b(f+u+c+k+ (you|off|u)|stfu|piece of (shit|crap)|go to hell|i hope you (die|rot))\b",
        r"\b(i('ll| will) (find|hurt|kill)|watch your back)\b",
        r"\b(idioter|svin|fuck jer)\b|\b(idioten|arschl(ö|o)cher|vollidioten|verpisst)\b",
        r"\b(idiotas|imb[ée]ciles|in[úu]tiles de mierda|hijos de puta)\b|\b(connards?|abrutis|encul[ée]s)\b",
        r"\b(idiotas|imbecis|filhos da puta|lixo de empresa)\b|\b(idioti|incompetenti del cazzo|vaffanculo)\b",
        r"(傻逼|垃圾公司|混蛋)|(バカ|クソ)|(מטומטמים|חארות|בני זונות)|(أغبياء|حقيرة|كلاب)",
    ],
}
# Every pattern above contains one of its kind's anchors; plain substring tests on these skip the regular
# expressions for most messages (tests/triage/test_model.py checks the two agree on the corpus).
_ANCHORS: dict[str, tuple[str, ...]] = {
    "churn": (
        "switch", "mov", "go", "port", "cancel", "leav", "quit", "ditch", "dump", "clos", "termin", "los",
        "never", "tak", "skift", "opsig", "kündig", "kundig", "wechsel", "me cambio", "me voy", "cancelar",
        "baja", "résili", "resili", "change", "vou ", "disdett", "passo a", "cambio", "recedere", "overstap",
        "opzeg", " op", "byter", "säg", "解约", "退订", "换", "注销", "解約", "乗り換え", "לעזוב", "להתנתק",
        "עובר ל", "إلغاء", "سأنتقل", "هلغي",
    ),
    "outage": (
        "no ", "zero", "lost", "without", "down", "out", "offline", "dead", "not working", "dropping",
        "blackout", "power cut", "nede", "udfald", "ingen", "intet", "strømsvigt", "störung", "storung",
        "ausfall", "kein", "geht nicht", "caída", "caida", "sin ", "no funciona", "panne", "coupure", "pas de",
        "dérangement", "derangement", "sem ", "fora do ar", "queda", "guasto", "senza", "disservizio",
        "non funziona", "storing", "geen", "avbrott", "inget", "断网", "信号", "宕机", "停电", "无法连接", "圏外",
        "繋がらない", "障害", "אין", "תקלה", "انقطاع", "لا يوجد", "النت",
    ),
    "safety": (
        "gas", "carbon monoxide", "fire", "smok", "spark", "shock", "explo", "overheat", "burn", "injur",
        "danger", "unsafe", "hazard", "emergency", "ambulance", "hospital", "life support", "stranded",
        "alone", "stuck", "brand", "livsfarlig", "brennt", "lebensgefahr", "gefähr", "gefahr", "incendi",
        "peligro", "quem", "odeur", "dangereux", "brûl", "brul", "cheiro", "perigo", "odore", "pericolos",
        "煤气", "着火", "危险", "爆炸", "ガス漏れ", "火事", "危険", "ריח של גז", "שריפה", "מסוכן", "رائحة غاز",
        "حريق", "خطر",
    ),
    "legal": (
        "lawyer", "solicitor", "attorney", "legal", "sue", "suing", "court", "claims", "lawsuit", "ombudsman",
        "regulator", "ofcom", "ofgem", "fcc", "ftc", "trading standards", "consumer", "class action",
        "chargeback", "advokat", "forbrugerombudsmand", "ankenævn", "retten", "anwalt", "klage",
        "verbraucherzentrale", "gericht", "bundesnetzagentur", "abogado", "demanda", "denuncia", "tribunal",
        "consumo", "omic", "avocat", "plainte", "dgccrf", "poursuite", "advogado", "processo", "procon",
        "justi", "reclame aqui", "avvocato", "agcom", "advocaat", "rechter", "geschillencommissie",
        "konsumentverket", "anmäl", "律师", "起诉", "投诉到", "消协", "弁護士", "訴え", "消費者センター",
        "עורך דין", "תביעה", "בית משפט", "محامي", "مقاضاة", "المحكمة", "حماية المستهلك",
    ),
    "abuse": (
        "idiot", "moron", "stupid", "useless", "scum", "clown", "bastard", "wanker", "fu", "stfu",
        "piece of", "go to hell", "i hope you", "i'll", "i will", "watch your back", "svin", "arschl",
        "verpisst", "imb", "inútiles", "inutiles", "hijos de puta", "connard", "abruti", "encul", "filhos da puta",
        "lixo de empresa", "incompetenti", "vaffanculo", "傻逼", "垃圾公司", "混蛋", "バカ", "クソ",
        "מטומטמים", "חארות", "בני זונות", "أغبياء", "حقيرة", "كلاب",
    ),
}  # fmt: skip
_COMPILED = {kind: re.compile("|".join(f"(?:{p})" for p in pats)) for kind, pats in _PATTERNS.items()}
_ANCHOR_RX = {kind: re.compile("|".join(map(re.escape, anchors))) for kind, anchors in _ANCHORS.items()}
URGENCY_TYPES = tuple(_PATTERNS)


def find_urgency_unanchored(lowered: str) -> set[str]:
    """The kinds the patterns alone find: what the anchored search must agree with."""
    return {kind for kind, rx in _COMPILED.items() if rx.search(lowered)}


def find_urgency(lowered: str) -> list[dict[str, object]]:
    """[{type, cue}] for each signal whose wording appears in the lowercased, cleaned text."""
    found: list[dict[str, object]] = []
    for kind, rx in _COMPILED.items():
        if not _ANCHOR_RX[kind].search(lowered):
            continue
        m = rx.search(lowered)
        if m:
            found.append({"type": kind, "cue": m.group(0)[:60]})
    return found
