"""The web inbox in a real headless Chromium (Debian's, driven by Playwright): live queue, two agents in
one conversation, canned responses, the personal-data check with "move to private", and script
injection that never runs. Screenshots go to test-artifacts/screens/ (not committed)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from caredesk.actions import admin, approvals, canned, erasure, service_levels
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.domain.types import Presence
from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from caredesk.fakes.x import FakeX
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import REPO, World

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENS = REPO / "test-artifacts" / "screens"
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make setup)")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed: run scripts/install-system-deps"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


class Live:
    """caredesk serving with its workers, the fake web chat network, and a workspace to work in."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.net = FakeWebhookNetwork()
        self.net_server = ServerThread(self.net.app).start()
        self.world = World(rt, outbound_url=f"{self.net_server.url}/channels/chat/replies")
        self.app_server = ServerThread(create_app(rt, run_workers=True)).start()
        self.url = self.app_server.url
        self.chat = self.net.add_channel(
            "chat", secret=self.world.secret, hook_url=f"{self.url}/hooks/{self.world.channel.id}"
        )
        for who in ("agent", "agent2", "supervisor"):
            admin.set_presence(rt, self.world.actor(who), Presence.ONLINE)

    def customer(
        self, external_id: str, text: str, *, name: str = "Claire Dubois", public: bool = True
    ) -> None:
        r = self.net.inject(
            "chat",
            {
                "id": external_id,
                "created_at": datetime.now(UTC).isoformat(),
                "text": text,
                "author": {"id": f"c-{name}", "name": name},
                "public": public,
            },
        )
        assert r.status_code == 202, r.text

    def stop(self) -> None:
        self.app_server.stop()
        self.net_server.stop()


@pytest.fixture
def live(sqlite_rt: Runtime) -> Iterator[Live]:
    served = Live(sqlite_rt)
    yield served
    served.stop()


def _login(browser: Any, url: str, who: str, *, width: int = 1280, height: int = 720) -> Any:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url + "/")
    page.fill("input[name=email]", f"{who}@example.com")
    page.fill("input[name=password]", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_selector("#queue-panel")
    return page


def _shot(page: Any, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_the_queue_is_live_and_customer_text_never_runs(browser: Any, live: Live) -> None:
    page = _login(browser, live.url, "agent")
    assert page.locator("tr[data-conversation]").count() == 0
    live.customer("m1", f"My bill is wrong {XSS}", name=f"Mallory {XSS}")
    started = time.monotonic()
    row = page.wait_for_selector("tr[data-conversation]", timeout=2000)  # no reload
    arrived = time.monotonic() - started
    assert arrived < 2.0
    assert "Mallory <img" in row.inner_text()  # shown as text...
    assert page.evaluate("window.__pwned") is None  # ...never run
    assert page.locator("#queue-panel img").count() == 0
    live.customer("m2", "Internet down since this morning, please help", name="Bob Berg")
    page.wait_for_function("document.querySelectorAll('tr[data-conversation]').length === 2", timeout=2000)
    page.keyboard.press("j")
    assert page.locator("tr.selected").count() == 1
    _shot(page, "agent-queue")
    page.keyboard.press("Enter")
    page.wait_for_selector("#composer")
    assert page.evaluate("window.__pwned") is None


def test_hidden_characters_are_shown_and_an_erased_conversation_says_so(browser: Any, live: Live) -> None:
    page = _login(browser, live.url, "agent")
    live.customer(
        "h1", "refund for invoice\u202efdp.exe please\u200b\U000e0061\U000e0062", name="Eve\u2066 Hale"
    )
    row = page.wait_for_selector("tr[data-conversation]", timeout=5000)
    assert "[RLO]" in row.inner_text() and "Eve[LRI] Hale" in row.inner_text()
    with live.rt.db.read() as s:
        msg = s.scalars(sa.select(m.Message).where(m.Message.external_id == "h1")).one()
    page.goto(f"{live.url}/c/{msg.conversation_id}")
    shown = page.inner_text("#thread-body")
    assert "invoice[RLO]fdp.exe please[ZWSP][hidden text: ab]" in shown
    assert "\u202e" not in shown and "\u200b" not in shown  # the characters themselves never reach the page
    assert msg.text.endswith("\u200b\U000e0061\U000e0062")  # stored as the network sent it

    erasure.erase_contact(live.rt, Actor.system(), int(msg.contact_id or 0))
    page.reload()
    shown = page.inner_text("#thread-body")
    assert "personal data erased" in shown and "invoice" not in shown
    assert "Eve" not in page.inner_text("main")


def test_two_agents_one_conversation_canned_response_and_move_to_private(browser: Any, live: Live) -> None:
    canned.save(
        live.rt,
        Actor.system(),
        workspace_id=live.world.ws.id,
        data={
            "name": "Call me",
            "shortcut": "call",
            "texts": {"en": f"Hi {{customer.first_name}}, {XSS} call me on"},
        },
    )
    live.customer("p1", "My phone has no signal since the update", name="Claire Dubois")
    first = _login(browser, live.url, "agent")
    first.wait_for_selector("tr[data-conversation]").click()
    first.wait_for_selector("#composer")
    second = _login(browser, live.url, "agent2")
    second.goto(first.url)
    second.wait_for_selector("#composer")
    # Each sees the other; typing shows as typing.
    first.wait_for_selector("#present >> text=Agent2 is viewing", timeout=8000)
    second.click("#reply-text")
    second.keyboard.type("Looking")
    first.wait_for_selector("#present >> text=Agent2 is typing", timeout=8000)
    second.fill("#reply-text", "")
    # A canned response goes in with the customer's name; its markup stays text.
    first.click("#canned-q")
    first.keyboard.type("call")
    first.wait_for_selector("[data-canned]").click()
    value = first.input_value("#reply-text")
    assert value.startswith("Hi Claire, <img src=x") and first.evaluate("window.__pwned") is None
    first.fill("#reply-text", "Hi Claire, please call me on +45 20 12 34 56 so we can sort it out")
    fix = first.wait_for_selector("[data-fix=move_to_private]", timeout=5000)
    assert "personal data" in first.inner_text("#checks")
    _shot(first, "composer-checks")
    fix.click()
    first.wait_for_selector("#composer-status >> text=Sent privately", timeout=10000)
    deadline = time.monotonic() + 10
    while len(live.chat.posted) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    posted = {p["public"]: p["text"] for p in live.chat.posted}
    assert "+45 20 12 34 56" in posted[False]
    assert posted[True] == "We have sent you a private message."
    first.wait_for_selector(".msg.out >> text=We have sent you a private message.", timeout=5000)
    _shot(first, "conversation")
    assert first.evaluate("window.__pwned") is None and second.evaluate("window.__pwned") is None


def test_an_x_mention_answered_privately_from_the_browser(browser: Any, sqlite_rt: Runtime) -> None:
    """The whole path on X: a mention pushed by the fake X server shows in the queue without a reload
    within 2 s; the agent opens it, inserts a canned response, is warned about the phone number in a
    public reply, moves it to a private message, and the fake X server shows the public note and the DM."""
    rt = sqlite_rt
    x = FakeX(brand_username="acme_care", brand_id="1600000000000000001")
    x_server = ServerThread(x.app).start()
    world = World(rt)
    channel = admin.create_channel(
        rt,
        Actor.system(),
        workspace_id=world.ws.id,
        connector="x",
        name="X @acme_care",
        config={"base_url": x_server.url, "user_id": x.brand.id},
        credentials={
            "bearer_token": x.bearer_token,
            "user_token": x.user_token,
            "consumer_secret": x.consumer_secret,
        },
        own_account_id=x.brand.id,
    )
    canned.save(
        rt,
        Actor.system(),
        workspace_id=world.ws.id,
        data={
            "name": "Call back",
            "shortcut": "callback",
            "texts": {
                "en": "Hi {customer.first_name}, sorry about that. We will call you on [[phone number]]."
            },
        },
    )
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    app_server = ServerThread(create_app(rt, run_workers=True)).start()
    try:
        page = _login(browser, app_server.url, "agent")
        claire = x.user("claire_d", name="Claire Dubois")
        tweet = x.post(claire.id, "@acme_care my phone has had no signal since the update this morning")
        started = time.monotonic()
        pushed = x.push(tweet.id, f"{app_server.url}/hooks/{channel.id}")
        assert pushed.status_code in (200, 202), pushed.text
        page.wait_for_selector("tr[data-conversation] >> text=Claire Dubois", timeout=2000)
        assert time.monotonic() - started < 2.0
        assert page.locator("tr[data-conversation] .net-x").count() == 1
        page.click("tr[data-conversation] >> text=Claire Dubois")
        page.wait_for_selector("#composer")
        page.click("#canned-q")
        page.keyboard.type("callback")
        page.wait_for_selector("[data-canned]").click()
        assert page.input_value("#reply-text").startswith("Hi Claire, sorry about that.")
        page.wait_for_selector("[data-check=fill_in]", timeout=5000)  # the field to fill in blocks sending
        # The agent fills in the field with the number: personal data in a public reply.
        page.keyboard.type("+45 20 12 34 56")
        fix = page.wait_for_selector("[data-fix=move_to_private]", timeout=5000)
        assert page.locator("[data-check=fill_in]").count() == 0
        fix.click()
        page.wait_for_selector("#composer-status >> text=Sent privately", timeout=5000)
        deadline = time.monotonic() + 10
        while len(x.published()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        published = {p["kind"]: p for p in x.published()}
        assert "+45 20 12 34 56" in published["dm"]["text"] and published["dm"]["recipient"] == claire.id
        assert published["post"]["text"] == "@claire_d We have sent you a private message."
        assert published["post"]["in_reply_to"] == tweet.id
    finally:
        app_server.stop()
        x_server.stop()


def test_the_supervisor_sees_the_queue_and_slas_change_live(browser: Any, live: Live) -> None:
    service_levels.save_policy(
        live.rt,
        Actor.system(),
        workspace_id=live.world.ws.id,
        data={"name": "Chat", "first_reply_minutes": 10},
    )
    page = _login(browser, live.url, "supervisor")
    page.click("text=Supervisor view")
    page.wait_for_selector("#supervisor-panel")
    figure = lambda name: page.inner_text(f"[data-figure={name}] .figure")  # noqa: E731
    assert (figure("waiting"), figure("on_time"), figure("at_risk")) == ("0", "0", "0")
    live.customer("s1", "Hello, is anyone there? My order never arrived", name="Dana Fox")
    page.wait_for_function(
        "document.querySelector('[data-figure=waiting] .figure').textContent === '1'", timeout=3000
    )
    assert figure("at_risk") == "1"  # due in 10 minutes: within the 15-minute risk window
    assert "Dana Fox" in page.inner_text("[aria-label='SLAs at risk and breached']")
    live.customer("s2", "Second customer, my router blinks red", name="Eli Grey")
    page.wait_for_function(
        "document.querySelector('[data-figure=waiting] .figure').textContent === '2'", timeout=3000
    )
    agents = page.inner_text("[aria-label=Agents]")
    assert "Agent" in agents and "/ 12" in agents
    _shot(page, "supervisor")


def test_a_held_reply_is_approved_in_the_browser_and_published_once(browser: Any, live: Live) -> None:
    approvals.set_rules(live.rt, Actor.system(), live.world.ws.id, {"mode": "public"})
    live.customer("a1", "Is the outage in Aarhus fixed yet?", name="Ida Holm")
    agent = _login(browser, live.url, "agent")
    agent.wait_for_selector("tr[data-conversation]").click()
    agent.wait_for_selector("#composer")
    agent.fill("#reply-text", "Yes, it was fixed at noon. Sorry for the trouble!")
    agent.click("#send")
    agent.wait_for_selector("#composer-status >> text=Waiting for a supervisor's approval", timeout=5000)
    assert live.chat.posted == []  # nothing goes out before the review
    supervisor = _login(browser, live.url, "supervisor")
    supervisor.goto(f"{live.url}/supervise?ws={live.world.ws.id}")
    supervisor.wait_for_selector("[data-figure=approvals] .figure >> text=1")
    supervisor.click("[data-figure=approvals]")
    supervisor.wait_for_selector("[data-approve]")
    assert "Yes, it was fixed at noon." in supervisor.inner_text(".approval")
    _shot(supervisor, "approvals")
    supervisor.click("[data-approve]")
    supervisor.wait_for_selector("[data-outcome] >> text=Approved", timeout=5000)
    deadline = time.monotonic() + 10
    while not live.chat.posted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p["text"] for p in live.chat.posted] == ["Yes, it was fixed at noon. Sorry for the trouble!"]
    agent.wait_for_selector("#composer-status >> text=Your reply was approved.", timeout=5000)


def test_an_admin_sets_up_the_desk_in_the_settings_pages(browser: Any, live: Live) -> None:
    rt, ws = live.rt, live.world.ws.id
    page = _login(browser, live.url, "admin")
    page.click("header nav.pages >> text=Settings")
    page.wait_for_selector("h2#section-title >> text=Channels")
    row = page.locator("tr", has_text="Web chat")
    row.locator("[data-action]").click()  # test connection: the fake network answers the ping
    row.locator("[data-row-status] >> text=OK").wait_for(timeout=5000)
    # A team with two members, picked by name.
    page.click("nav.side >> text=Teams")
    form = page.locator("#create-form")
    form.locator("[data-field=name]").fill("Care")
    form.locator("label.check", has_text="Agent2").locator("input").check()
    form.locator("label.check", has_text="Supervisor").locator("input").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector("tr:has-text('Care') >> text=Agent2, Supervisor")
    # Editing it fills the form with what is set; a clash is refused with the API's reason.
    page.click("tr:has-text('Care') >> [data-edit]")
    edit = page.locator("#edit-form")
    assert edit.locator("label.check", has_text="Agent2").locator("input").is_checked()
    edit.locator("[data-field=name]").fill("Care desk")
    edit.locator("label.check", has_text="Agent2").locator("input").uncheck()
    edit.locator("button[type=submit]").click()
    page.wait_for_selector("tr:has-text('Care desk') >> td:text-is('Supervisor')")
    form = page.locator("#create-form")
    form.locator("[data-field=name]").fill("Care desk")
    form.locator("button[type=submit]").click()
    form.locator("[data-form-status] >> text=exists already").wait_for(timeout=5000)
    # An SLA policy with a nested match and a yes/no/default choice.
    page.click("nav.side >> text=SLA policies")
    form = page.locator("#create-form")
    form.locator("[data-field=name]").fill("Public within 30 minutes")
    form.locator("[data-field=first_reply_minutes]").fill("30")
    form.locator("[data-field='match.public']").select_option("yes")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("tr:has-text('Public within 30 minutes')")
    policy = service_levels.list_policies(rt, Actor.system(), ws)[0]
    assert (policy["first_reply_minutes"], policy["match"]) == (30, {"public": True})
    # Policy words (one object per workspace): saved, then a public reply with one is stopped.
    page.click("nav.side >> text=Policy words")
    page.fill("[data-field=words]", "guaranteed refund\nlawsuit")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-form [data-field=words]")
    page.wait_for_function("document.querySelector('[data-field=words]').value.includes('lawsuit')")
    live.customer("w1", "Where is my money?", name="Hal Ibsen")
    deadline = time.monotonic() + 5
    conv_id = None
    while conv_id is None and time.monotonic() < deadline:
        time.sleep(0.1)
        with rt.db.read() as session:
            conv_id = session.scalar(sa.select(m.Conversation.id).where(m.Conversation.workspace_id == ws))
    assert conv_id is not None
    found = conv_actions.check_reply(
        rt, live.world.actor("agent"), conv_id, "A guaranteed refund!", public=True
    )
    assert [f["check"] for f in found["findings"] if f["check"] == "policy"] == ["policy"]
    # A canned response: a bad JSON field is caught before sending; markup in it stays text.
    page.click("nav.side >> text=Canned responses")
    form = page.locator("#create-form")
    form.locator("[data-field=name]").fill(f"Sorry {XSS}")
    form.locator("[data-field=texts]").fill("{not json")
    form.locator("button[type=submit]").click()
    form.locator("[data-form-status] >> text=not valid JSON").wait_for()
    form.locator("[data-field=texts]").fill('{"en": "Sorry, {customer.first_name}!"}')
    form.locator("button[type=submit]").click()
    page.wait_for_selector("tr:has-text('Sorry <img')")
    assert page.evaluate("window.__pwned") is None and page.locator("table img").count() == 0
    _shot(page, "settings")


def test_the_team_page_is_live_and_the_inbox_fits_a_phone(browser: Any, live: Live) -> None:
    rt, world = live.rt, live.world
    admin.create_team(
        rt, Actor.system(), workspace_id=world.ws.id, name="Care", agent_ids=[world.agents["agent2"]]
    )
    page = _login(browser, live.url, "agent")
    page.click("header nav.pages >> text=Team")
    page.wait_for_selector("#team-panel")
    assert "On shift now:" in page.inner_text("[data-on-shift]") and "Agent2" in page.inner_text(
        "[data-on-shift]"
    )
    assert "always open" in page.inner_text("[data-team=Care]")
    admin.set_presence(rt, world.actor("agent2"), Presence.OFFLINE)  # a presence change arrives live
    page.wait_for_function(
        "!document.querySelector('[data-team=Care]').textContent.includes('on shift')", timeout=3000
    )
    _shot(page, "team")
    live.customer("ph1", "My parcel went to the wrong address, order 55123, please help", name="Jo Kay")
    phone = _login(browser, live.url, "agent", width=390, height=844)
    phone.wait_for_selector("tr[data-conversation]", timeout=3000)
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert phone.evaluate(fits)
    _shot(phone, "phone-queue")
    phone.click("tr[data-conversation] a.customer")
    phone.wait_for_selector("#composer")
    assert phone.evaluate(fits)
    _shot(phone, "phone-conversation")


def test_the_report_page_draws_its_charts_and_names_never_run(browser: Any, live: Live) -> None:
    rt, world = live.rt, live.world
    team = admin.create_team(
        rt, Actor.system(), workspace_id=world.ws.id, name=XSS, agent_ids=[world.agents["agent"]]
    )
    for n in range(3):
        live.customer(f"r{n}", f"Where is my order {n}?", name=f"Reader {n}")
    with rt.db.read() as s:  # wait for the pipeline to take them in
        deadline = time.monotonic() + 10
        while (
            s.scalar(sa.select(sa.func.count()).select_from(m.Conversation)) < 3
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
            s.expire_all()
        first = s.scalar(sa.select(sa.func.min(m.Conversation.id)))
    conv_actions.assign(rt, world.actor("supervisor"), first, agent_id=world.agents["agent"], team_id=team.id)
    page = _login(browser, live.url, "analyst")
    page.click("header nav.pages >> text=Reports")
    page.wait_for_selector("#reports")
    page.click("nav.ranges >> text=Today")  # the last 7 whole days by default: today is not in them
    page.wait_for_selector("nav.ranges a[aria-current=page]:has-text('Today')")
    assert page.inner_text("[data-figure=conversations] .figure") == "3"
    drawn = "[...document.querySelectorAll('img[data-chart]')].every(i => i.complete && i.naturalWidth > 300)"
    page.wait_for_function(drawn, timeout=15000)
    assert page.locator("img[data-chart]").count() == 4
    assert XSS in page.inner_text("[aria-label=Team]")  # the team's name, shown as text
    assert page.evaluate("window.__pwned") is None
    page.click("nav.ranges >> text=Business hours")
    page.wait_for_selector("nav.ranges a[data-bh='1']")
    page.wait_for_function(drawn, timeout=15000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _shot(page, "reports")
