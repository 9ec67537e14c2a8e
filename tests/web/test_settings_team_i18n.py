"""Settings pages (admins only, forms drawn from the API's models), the team page (hours, who is on
shift, the greeting schedule) and the inbox's words ready for translation (a pseudo-translation shows
through templates, Python-made strings and the JS catalogue)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from fastapi.testclient import TestClient

from caredesk.actions import admin, greetings, service_levels
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Presence
from caredesk.runtime import Runtime
from caredesk.web import i18n
from caredesk.web.forms import LABELS, fields_of, has_label
from caredesk.web.settings import SECTIONS
from tests.conftest import REPO, World

RAISE = True
WEB = REPO / "src" / "caredesk" / "web"


def login(rt: Runtime, who: str) -> TestClient:
    client = TestClient(create_app(rt), raise_server_exceptions=RAISE)
    r = client.post(
        "/login", data={"email": f"{who}@example.com", "password": "correct horse"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return client


def test_every_settings_section_renders_for_admins_with_every_field(rt: Runtime, world: World) -> None:
    ws = world.ws.id
    admin_client = login(rt, "admin")
    for section in SECTIONS:
        page = admin_client.get(f"/settings/{section.key}?ws={ws}")
        assert page.status_code == 200, (section.key, page.text[:500])
        for model in filter(
            None, (section.update_model or section.model, None if section.single else section.model)
        ):
            for f in fields_of(model, hidden=section.hidden):
                shown = f'data-field="{f.name}"' in page.text or f'data-multi="{f.name}"' in page.text
                assert shown, (section.key, f.name)
    channels = admin_client.get(f"/settings/channels?ws={ws}").text
    assert "Web chat" in channels and "Test connection" in channels and world.secret not in channels
    assert "Settings" in admin_client.get(f"/?ws={ws}").text  # the header links to it
    for who in ("supervisor", "agent", "analyst"):
        other = login(rt, who)
        assert other.get(f"/settings/channels?ws={ws}").status_code == 403, who
        assert 'href="/settings' not in other.get(f"/?ws={ws}").text, who
    outsider = login(rt, "outsider")  # an admin elsewhere sees their own workspace, never this one
    assert "Web chat" not in outsider.get(f"/settings/channels?ws={ws}").text
    assert admin_client.get(f"/settings/nonsense?ws={ws}").status_code == 404


def test_every_settings_field_and_column_has_a_label_to_translate() -> None:
    missing = set()
    for section in SECTIONS:
        for model in filter(None, (section.model, section.update_model)):
            missing |= {f.name for f in fields_of(model, hidden=section.hidden) if not has_label(f.name)}
        missing |= {c for c in section.columns if c not in LABELS}
    assert not missing


def test_watch_rules_teams_and_agents_are_edited_through_the_api(client: TestClient, world: World) -> None:
    ws, h = world.ws.id, world.headers("admin")
    rule = client.post(
        f"/api/v1/workspaces/{ws}/watch-rules", json={"name": "Brand", "keywords": ["acme"]}, headers=h
    )
    assert rule.status_code == 201 and rule.json()["x_rule"]
    off = client.put(
        f"/api/v1/workspaces/{ws}/watch-rules/{rule.json()['id']}",
        json={"name": "Brand", "phrases": ["acme is down"], "enabled": False},
        headers=h,
    )
    assert off.json()["enabled"] is False and off.json()["phrases"] == ["acme is down"]
    assert client.get(f"/api/v1/workspaces/{ws}/watch-rules", headers=h).json()[0]["keywords"] == []
    team = client.post(f"/api/v1/workspaces/{ws}/teams", json={"name": "Care"}, headers=h).json()
    moved = client.put(
        f"/api/v1/workspaces/{ws}/teams/{team['id']}",
        json={"name": "Care desk", "agent_ids": [world.agents["agent"], world.agents["agent2"]]},
        headers=h,
    )
    assert moved.status_code == 200
    listed = client.get(f"/api/v1/workspaces/{ws}/teams", headers=h).json()
    assert listed == [
        {
            "id": team["id"],
            "name": "Care desk",
            "agent_ids": sorted([world.agents["agent"], world.agents["agent2"]]),
        }
    ]
    outsider = client.put(
        f"/api/v1/workspaces/{ws}/teams/{team['id']}",
        json={"name": "X", "agent_ids": [world.agents["outsider"]]},
        headers=h,
    )
    assert outsider.status_code == 422  # not a member of this workspace
    edited = client.put(
        f"/api/v1/workspaces/{ws}/agents/{world.agents['agent']}",
        json={
            "name": "Agnes",
            "role": "supervisor",
            "languages": ["EN", "de"],
            "skills": ["billing"],
            "max_concurrent": 5,
        },
        headers=h,
    )
    assert edited.status_code == 200 and edited.json()["languages"] == ["de", "en"]
    agents = {a["id"]: a for a in client.get(f"/api/v1/workspaces/{ws}/agents", headers=h).json()}
    assert (
        agents[world.agents["agent"]]["role"] == "supervisor"
        and agents[world.agents["agent"]]["max_concurrent"] == 5
    )
    demote_self = client.put(
        f"/api/v1/workspaces/{ws}/agents/{world.agents['admin']}",
        json={"name": "Admin", "role": "agent"},
        headers=h,
    )
    assert demote_self.status_code == 422


def test_the_team_page_shows_hours_who_is_on_shift_and_the_greeting_schedule(
    rt: Runtime, world: World
) -> None:
    rt.clock = FrozenClock(datetime(2026, 11, 30, 9, 30, tzinfo=UTC))  # Monday 10:30 in Copenhagen
    system = Actor.system()
    team = admin.create_team(
        rt,
        system,
        workspace_id=world.ws.id,
        name="Care",
        agent_ids=[world.agents["agent"], world.agents["agent2"]],
    )
    week = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    data = {
        "name": "Office",
        "time_zone": "Europe/Copenhagen",
        "week": week,
        "team_ids": [team.id],
        "channel_ids": [world.channel.id],
    }
    service_levels.save_calendar(rt, system, workspace_id=world.ws.id, data=data)
    greetings.set_settings(rt, system, world.channel.id, {"enabled": True, "language": "en"})
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    admin.set_presence(rt, world.actor("supervisor"), Presence.AWAY)  # not in a team: on shift too
    page = login(rt, "agent2").get(f"/team?ws={world.ws.id}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "On shift now: Agent, Supervisor" in text  # Agent2 is offline
    assert "Open until Mon 30 Nov 17:00 (Europe/Copenhagen)" in text
    assert '<th scope="row">Sat</th><td>closed</td>' in text
    # the greeting is due at the next opening (tomorrow 09:00), the sign-off at today's closing
    assert "<td>Tue 01 Dec 09:00</td><td>Mon 30 Nov 17:00</td>" in text
    assert "Good morning!" in text
    rt.clock = FrozenClock(datetime(2026, 11, 28, 12, tzinfo=UTC))  # Saturday
    text = re.sub(r"\s+", " ", login(rt, "agent2").get(f"/team?ws={world.ws.id}").text)
    assert "Opens Mon 30 Nov 09:00 (Europe/Copenhagen)" in text and "On shift now: Supervisor" in text


# --- ready for translation -------------------------------------------------------------------------

ALLOWED_WORDS = {
    "caredesk",
    "SLA",
    "JSON",
    "UTC",
    "Enter",
    "Esc",
    *"jkonrae",
}  # names and keys: not translated


def _untranslated(template: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}", " ", template, flags=re.S)
    text = re.sub(r"<script\b.*?</script>", " ", text, flags=re.S)
    text = re.sub(r"\{% block (?:page|bodyattrs) %\}.*?\{% endblock %\}", " ", text, flags=re.S)  # attributes
    found = []
    for attr in re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', text):
        found += re.findall(r"[A-Za-z]{2,}", re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", attr))
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"&\w+;", " ", text)
    found += re.findall(r"[A-Za-z][A-Za-z']*", text)
    return [w for w in found if w not in ALLOWED_WORDS]


def test_no_template_shows_text_outside_gettext() -> None:
    leftovers = {p.name: _untranslated(p.read_text()) for p in sorted((WEB / "templates").glob("*.html"))}
    assert {k: v for k, v in leftovers.items() if v} == {}
    assert _untranslated('<p title="Open">Hello {{ _("x") }}</p>') == ["Open", "Hello"]  # the check can fail


def test_app_js_sets_no_text_without_t() -> None:
    source = (WEB / "static" / "app.js").read_text()
    bare = re.findall(r'(?:say|textContent\s*=)\s*\(?\s*"[A-Za-z][^"]*"', source)
    assert bare == []
    assert len(i18n.js_message_ids()) >= 30 and "Sending…" in i18n.js_message_ids()


def _pseudo_catalogue(folder: Path, language: str) -> int:
    """Every message the inbox has (as `caredesk i18n extract` finds them), "translated" to ⟪message⟫,
    compiled where the app looks."""
    source = i18n.extract_catalog()
    catalog = Catalog(locale=language, domain=i18n.DOMAIN)
    for message in source:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        catalog.add(message.id, tuple(f"⟪{m}⟫" for m in ids) if len(ids) > 1 else f"⟪{ids[0]}⟫")
    target = folder / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / f"{i18n.DOMAIN}.mo").open("wb") as handle:
        write_mo(handle, catalog)
    return len(catalog)


def test_a_translation_reaches_templates_python_strings_and_scripts(
    rt: Runtime, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = _pseudo_catalogue(tmp_path, "fr")
    assert count > 250
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert i18n.negotiate("da, fr;q=0.8, en;q=0.5", tmp_path) == "fr"
    assert i18n.negotiate("da", tmp_path) == "en"
    world.customer_writes("m1", "where is my parcel?")
    client = login(rt, "agent")
    client.headers["Accept-Language"] = "fr-FR,fr;q=0.9"
    page = client.get(f"/?ws={world.ws.id}").text
    assert '<html lang="fr">' in page
    assert "⟪Take next⟫" in page and "⟪Mine⟫" in page and "⟪Log out⟫" in page
    assert re.search(r"⟪\d+ min⟫", page)  # made in Python before the template: the waiting time
    catalogue = re.search(r'<script id="messages" type="application/json">(.*?)</script>', page, re.S)
    assert catalogue is not None and '"Sending…": "⟪Sending…⟫"' in catalogue.group(1)
    english = login(rt, "agent").get(f"/?ws={world.ws.id}").text
    assert "Take next" in english and "⟪" not in english
