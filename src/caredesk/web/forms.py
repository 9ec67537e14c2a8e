"""Settings forms drawn from the API's own request models, so a form can never ask for less or more
than the endpoint it posts to accepts.

`fields_of(Model)` reads the model's JSON schema and gives one `FormField` per input: text, long text,
password, number, checkbox, yes/no/unset, a choice of fixed values, a list (one item per line) or, for
shapes a plain input cannot carry (a week of opening windows, texts per language), JSON. Nested models
become dotted names ("match.channel_ids"). static/app.js turns the filled form back into the JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from caredesk.web.i18n import N_, gettext

SECRET_NAMES = ("password", "secret", "credentials")
# What a person reads for each field or column name; tests/web/test_settings.py checks every field of every
# settings form and every column has one, so each is ready for translation.
LABELS: dict[str, str] = {
    "active": N_("Active"),
    "agent_ids": N_("Members"),
    "agents": N_("Per agent"),
    "business_hours": N_("Count business hours only"),
    "calendar_id": N_("Calendar"),
    "channel": N_("Channel"),
    "channel_ids": N_("Channels"),
    "closed_dates": N_("Closed dates (YYYY-MM-DD)"),
    "config": N_("Settings"),
    "connector": N_("Network"),
    "credentials": N_("Credentials"),
    "email": N_("Email"),
    "enabled": N_("Enabled"),
    "escalation": N_("Escalation"),
    "events": N_("Events"),
    "exclusions": N_("Exclude"),
    "first_reply_minutes": N_("First reply (minutes)"),
    "folder": N_("Folder"),
    "greeting": N_("Greeting"),
    "holiday_country": N_("Public holidays of (country code)"),
    "holiday_subdivision": N_("Region (subdivision code)"),
    "keywords": N_("Keywords"),
    "language": N_("Language"),
    "languages": N_("Languages"),
    "last_error": N_("Last error"),
    "match": N_("Applies to"),
    "max_concurrent": N_("Conversations at once"),
    "members": N_("Members"),
    "min_priority": N_("Minimum priority"),
    "mode": N_("Approval for agents"),
    "name": N_("Name"),
    "network_weights": N_("Weight per network"),
    "next_reply_minutes": N_("Next reply (minutes)"),
    "notify_supervisors": N_("Notify supervisors"),
    "offline_texts": N_("Texts when nobody is online"),
    "own_account_id": N_("Own account id"),
    "password": N_("Password"),
    "patterns": N_("Patterns (regular expressions)"),
    "phrases": N_("Phrases"),
    "position": N_("Position"),
    "presence": N_("Presence"),
    "priority_weights": N_("Priority weights"),
    "public": N_("Public only (yes) or private only (no)"),
    "raise_priority": N_("Raise priority by"),
    "reassign": N_("Reassign"),
    "resolution_minutes": N_("Resolution (minutes)"),
    "role": N_("Role"),
    "rotate_secret": N_("Rotate the signing secret"),
    "secret": N_("Signing secret"),
    "shortcut": N_("Shortcut"),
    "sign_off": N_("Sign-off"),
    "signature": N_("Signature"),
    "skills": N_("Skills"),
    "strategy": N_("Strategy"),
    "team_id": N_("Team"),
    "team_ids": N_("Teams"),
    "texts": N_("Texts per language"),
    "ticketing": N_("Receives escalations (ticket system)"),
    "time_zone": N_("Time zone"),
    "topics": N_("Topics"),
    "url": N_("URL"),
    "warn_before_minutes": N_("Warn before (minutes)"),
    "week": N_("Opening hours per weekday"),
    "when_nobody_online": N_("Also when nobody is online"),
    "words": N_("Words"),
    "x_rule": N_("As an X rule"),
}


@dataclass(frozen=True)
class FormField:
    name: str  # dotted path into the JSON body
    kind: str  # text | textarea | password | number | checkbox | tristate | select | list | intlist | json
    required: bool = False
    options: tuple[str, ...] = ()
    nullable: bool = False
    default: Any = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def label_of(name: str) -> str:
    """The label of a field or column in the page's language; a nested field's names its parent
    ("Applies to · Channels")."""
    return " · ".join(gettext(LABELS[p]) if p in LABELS else p.replace("_", " ") for p in name.split("."))


def has_label(name: str) -> bool:
    return all(p in LABELS for p in name.split("."))


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return dict(defs[ref.rsplit("/", 1)[-1]])
    return node


def _unwrap(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its `| None`, and whether None is allowed."""
    node = _resolve(node, defs)
    options = node.get("anyOf")
    if isinstance(options, list):
        real = [_resolve(o, defs) for o in options if o.get("type") != "null"]
        if len(real) == 1:
            merged = {**real[0], **{k: v for k, v in node.items() if k not in ("anyOf", "title")}}
            return merged, len(real) < len(options)
    return node, False


def _kind(name: str, node: dict[str, Any], nullable: bool) -> tuple[str, tuple[str, ...]]:
    if "enum" in node:
        return "select", tuple(str(v) for v in node["enum"])
    if "const" in node:
        return "select", (str(node["const"]),)
    kind = node.get("type")
    if kind == "boolean":
        return ("tristate" if nullable else "checkbox"), ()
    if kind in ("integer", "number"):
        return "number", ()
    if kind == "string":
        if any(word in name for word in SECRET_NAMES):
            return "password", ()
        return ("textarea" if (node.get("maxLength") or 0) > 300 else "text"), ()
    if kind == "array" and "prefixItems" not in node:
        items = node.get("items") or {}
        if items.get("type") == "string" and "enum" not in items:
            return "list", ()
        if items.get("type") == "integer":
            return "intlist", ()
    return "json", ()


def fields_of(model: type[BaseModel], *, hidden: tuple[str, ...] = ()) -> list[FormField]:
    schema = model.model_json_schema()
    return _fields(schema, schema.get("$defs", {}), "", hidden)


def _fields(
    schema: dict[str, Any], defs: dict[str, Any], prefix: str, hidden: tuple[str, ...]
) -> list[FormField]:
    required = set(schema.get("required") or ())
    out: list[FormField] = []
    for key, raw in (schema.get("properties") or {}).items():
        name = prefix + key
        if name in hidden:
            continue
        node, nullable = _unwrap(raw, defs)
        if node.get("type") == "object" and "properties" in node:
            out.extend(_fields(node, defs, name + ".", hidden))
            continue
        kind, options = _kind(name, node, nullable)
        out.append(
            FormField(
                name=name,
                kind=kind,
                required=key in required,
                options=options,
                nullable=nullable,
                default=raw.get("default", node.get("default")),
                max_length=node.get("maxLength"),
                minimum=node.get("minimum"),
                maximum=node.get("maximum"),
            )
        )
    return out
