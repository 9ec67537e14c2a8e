"""Single sign-on with OpenID Connect, against a local provider speaking the protocol: an agent an admin
added logs in through the provider and gets a session; a forged, expired, misaddressed, replayed or
unsigned answer, an unverified email, another browser's answer or an unknown person gets none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.api.app import create_app
from caredesk.api.deps import SESSION_COOKIE
from caredesk.fakes.oidc import FakeOidcProvider
from caredesk.fakes.webhook_network import ServerThread
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

CALLBACK = "http://testserver/login/oidc/callback"


@dataclass
class Sso:
    rt: Runtime
    world: World
    provider: FakeOidcProvider
    client: TestClient

    def sign_in(self, client: TestClient | None = None) -> httpx.Response:
        """Click "Log in with…", pass the provider, come back: caredesk's last answer."""
        client = client or self.client
        left = client.get("/login/oidc", follow_redirects=False)
        assert left.status_code == 303, left.text
        at_provider = httpx.get(left.headers["location"], follow_redirects=False)
        assert at_provider.status_code == 302, at_provider.text
        back = at_provider.headers["location"]
        assert back.startswith(CALLBACK)
        return client.get(back, follow_redirects=False)


@pytest.fixture
def sso(rt: Runtime, world: World) -> Iterator[Sso]:
    provider = FakeOidcProvider(
        client_id="caredesk", client_secret="oidc-client-secret", redirect_uris=[CALLBACK]
    )
    server = ServerThread(provider.app).start()
    rt.settings = replace(
        rt.settings, public_url="http://testserver", oidc_issuer=server.url, oidc_client_id="caredesk",
        oidc_client_secret="oidc-client-secret", oidc_label="Acme SSO",
    )  # fmt: skip
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield Sso(rt, world, provider, client)
    server.stop()


def test_an_agent_logs_in_through_the_provider(sso: Sso) -> None:
    page = sso.client.get("/")
    assert "Log in with Acme SSO" in page.text and 'href="/login/oidc"' in page.text
    done = sso.sign_in()
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert SESSION_COOKIE in done.cookies
    inbox = sso.client.get("/")
    assert inbox.status_code == 200 and 'id="queue-panel"' in inbox.text
    with sso.rt.db.read() as s:
        login = s.scalars(sa.select(m.Event).where(m.Event.kind == "agent.login")).one()
    assert login.actor_id == sso.world.agents["agent"] and login.data["method"] == "oidc"
    claims = sso.provider.issued[-1]
    assert claims["aud"] == "caredesk" and claims["nonce"]  # the nonce caredesk sent came back


@pytest.mark.parametrize("tamper", ["audience", "issuer", "expired", "nonce", "key", "none"])
def test_a_wrong_id_token_gives_no_session(sso: Sso, tamper: str) -> None:
    sso.provider.tamper = tamper
    refused = sso.sign_in()
    assert refused.status_code == 401, (tamper, refused.status_code)
    assert SESSION_COOKIE not in refused.cookies
    assert 'name="password"' in refused.text  # back on the login page, with the reason
    assert sso.client.get("/partials/queue").status_code == 401


def test_unknown_people_and_unverified_emails_are_refused(sso: Sso) -> None:
    sso.provider.user = {"email": "stranger@example.com", "email_verified": True}
    unknown = sso.sign_in()
    assert unknown.status_code == 401 and "no caredesk account" in unknown.text
    sso.provider.user = {"email": "agent@example.com", "email_verified": False}
    unverified = sso.sign_in()
    assert unverified.status_code == 401 and "not verified" in unverified.text
    assert SESSION_COOKIE not in unknown.cookies and SESSION_COOKIE not in unverified.cookies


def test_an_answer_meant_for_another_browser_or_used_twice_is_refused(sso: Sso) -> None:
    left = sso.client.get("/login/oidc", follow_redirects=False)
    back = httpx.get(left.headers["location"], follow_redirects=False).headers["location"]
    with TestClient(create_app(sso.rt), raise_server_exceptions=False) as attacker:  # no pending login
        stolen = attacker.get(back, follow_redirects=False)
    assert stolen.status_code == 401 and SESSION_COOKIE not in stolen.cookies
    first = sso.client.get(back, follow_redirects=False)
    assert first.status_code == 303
    again = sso.client.get(back, follow_redirects=False)  # the state was good for one login
    assert again.status_code == 401


def test_without_a_provider_there_is_no_sign_on(rt: Runtime, world: World) -> None:
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        assert "/login/oidc" not in client.get("/").text
        assert client.get("/login/oidc", follow_redirects=False).status_code == 404
