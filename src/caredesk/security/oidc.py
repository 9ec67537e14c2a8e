"""OpenID Connect single sign-on, the relying party's side (OpenID Connect Core 1.0, authorization code
flow, with PKCE S256 and a nonce).

1. `begin()` makes the provider's authorization URL with a fresh `state`, `nonce` and PKCE verifier; the
   web layer keeps the three in a short-lived HttpOnly cookie of the browser that started.
2. The provider sends the browser back with `code` and `state`; `finish()` checks the state against the
   cookie's, exchanges the code at the token endpoint (client_secret_basic, the PKCE verifier), and
   validates the ID token: signed by a key of the provider's JWKS (RS256/ES256/PS256, never `none` or an
   HMAC), issued by the configured issuer, for this client, not expired, carrying the nonce. Returns the
   verified email (an `email_verified: false` claim is refused).

Accounts are not created here: the email must belong to an agent an admin added (actions/sessions.py).
Discovery and the JWKS are fetched with the process's HTTP client and cached for `CACHE_SECONDS`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from caredesk.domain.errors import NotConfigured, Unauthorized

CACHE_SECONDS = 3600
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]  # asymmetric only
LEEWAY_SECONDS = 60
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str  # caredesk's /login/oidc/callback, as registered with the provider
    label: str = "single sign-on"


@dataclass(frozen=True, slots=True)
class Pending:
    """What the browser keeps between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str

    def cookie(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def from_cookie(cls, value: str | None) -> Pending | None:
        parts = (value or "").split(".")
        return cls(*parts) if len(parts) == 3 and all(parts) else None


_cache: dict[str, tuple[float, Any]] = {}


def _get_json(http: httpx.Client, url: str) -> Any:
    cached = _cache.get(url)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        response = http.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        value = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise NotConfigured(f"the sign-on provider cannot be reached ({type(exc).__name__})") from None
    _cache[url] = (time.monotonic(), value)
    return value


def discovery(http: httpx.Client, provider: Provider) -> dict[str, Any]:
    doc = _get_json(http, provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri", "issuer")
    if not isinstance(doc, dict) or any(not isinstance(doc.get(k), str) for k in needed):
        raise NotConfigured("the sign-on provider's discovery document is incomplete")
    if doc["issuer"].rstrip("/") != provider.issuer.rstrip("/"):
        raise NotConfigured("the sign-on provider's discovery document names another issuer")
    return doc


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def begin(http: httpx.Client, provider: Provider) -> tuple[str, Pending]:
    """The authorization URL to send the browser to, and what to keep until it comes back."""
    doc = discovery(http, provider)
    pending = Pending(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": provider.redirect_uri,
        "scope": "openid email profile",
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": _challenge(pending.verifier),
        "code_challenge_method": "S256",
    }
    return f"{doc['authorization_endpoint']}?{urlencode(query)}", pending


def finish(
    http: httpx.Client, provider: Provider, pending: Pending | None, *, code: str | None, state: str | None
) -> str:
    """Check the provider's answer and return the verified email it vouches for."""
    if pending is None or not state or not secrets.compare_digest(state, pending.state):
        raise Unauthorized("the sign-on answer does not belong to this browser's login (start again)")
    if not code:
        raise Unauthorized("the sign-on provider did not log you in")
    doc = discovery(http, provider)
    try:
        response = http.post(
            doc["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": provider.redirect_uri,
                  "code_verifier": pending.verifier},
            auth=(provider.client_id, provider.client_secret),
            timeout=TIMEOUT,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        raise NotConfigured(f"the sign-on provider cannot be reached ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise Unauthorized(f"the sign-on provider refused the login ({response.status_code})")
    try:
        token = response.json().get("id_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str):
        raise Unauthorized("the sign-on provider sent no ID token")
    claims = _verified(http, doc, provider, token)
    if claims.get("nonce") != pending.nonce:
        raise Unauthorized("the ID token was not made for this login (nonce)")
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Unauthorized("the sign-on provider did not say who you are (no email)")
    if claims.get("email_verified") is False:
        raise Unauthorized("the sign-on provider has not verified this email address")
    return email.strip().lower()


def _verified(http: httpx.Client, doc: dict[str, Any], provider: Provider, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("the ID token is not a signed token") from None
    if header.get("alg") not in ALGORITHMS:
        raise Unauthorized(f"the ID token's algorithm {header.get('alg')!r} is not accepted")
    try:
        keys = jwt.PyJWKSet.from_dict(_get_json(http, doc["jwks_uri"]))
    except jwt.PyJWTError:
        raise NotConfigured("the sign-on provider's keys (JWKS) cannot be read") from None
    kid = header.get("kid")
    key = next((k for k in keys.keys if kid is None or k.key_id == kid), None)
    if key is None:
        _cache.pop(doc["jwks_uri"], None)  # keys rotated at the provider: fetch them afresh next time
        raise Unauthorized("the ID token is signed with a key the provider does not publish")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key=key, algorithms=ALGORITHMS, audience=provider.client_id, issuer=doc["issuer"],
            leeway=LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the ID token is not valid: {exc}") from None
    return claims
