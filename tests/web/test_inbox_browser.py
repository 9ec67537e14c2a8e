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

from caredesk.actions import admin, canned
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.domain.types import Presence
from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from caredesk.runtime import Runtime
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


def _login(browser: Any, live: Live, who: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    page.goto(live.url + "/")
    page.fill("input[name=email]", f"{who}@example.com")
    page.fill("input[name=password]", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_selector("#queue-panel")
    return page


def _shot(page: Any, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_the_queue_is_live_and_customer_text_never_runs(browser: Any, live: Live) -> None:
    page = _login(browser, live, "agent")
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
    first = _login(browser, live, "agent")
    first.wait_for_selector("tr[data-conversation]").click()
    first.wait_for_selector("#composer")
    second = _login(browser, live, "agent2")
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
    first.wait_for_selector("#composer-status >> text=Sent privately", timeout=5000)
    deadline = time.monotonic() + 10
    while len(live.chat.posted) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    posted = {p["public"]: p["text"] for p in live.chat.posted}
    assert "+45 20 12 34 56" in posted[False]
    assert posted[True] == "We have sent you a private message."
    first.wait_for_selector(".msg.out >> text=We have sent you a private message.", timeout=5000)
    _shot(first, "conversation")
    assert first.evaluate("window.__pwned") is None and second.evaluate("window.__pwned") is None
