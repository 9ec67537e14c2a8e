"""A local OpenID Connect provider, standing in for a company's identity provider (Okta, Entra ID,
Keycloak, Google Workspace) in tests: discovery, the authorization endpoint (it logs in `user` at once,
as a provider does for someone already signed in), the token endpoint (client_secret_basic, single-use
codes bound to the redirect URI, PKCE S256 checked) and the JWKS, with ID tokens signed RS256.

`tamper` makes the next ID tokens wrong in one way, for the relying party's checks: "audience",
"issuer", "expired", "nonce", "key" (signed with a key it does not publish), "none" (unsigned).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response


@dataclass
class FakeOidcProvider:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    user: dict[str, Any] = field(
        default_factory=lambda: {"email": "agent@example.com", "email_verified": True}
    )
    tamper: str | None = None
    issued: list[dict[str, Any]] = field(default_factory=list)  # claims of every ID token handed out

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self._codes: dict[str, dict[str, Any]] = {}
        self.app = self._build()

    def _jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def _id_token(self, issuer: str, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer + ("/other" if self.tamper == "issuer" else ""),
            "sub": "user-" + hashlib.sha256(str(self.user.get("email")).encode()).hexdigest()[:12],
            "aud": "someone-else" if self.tamper == "audience" else grant["client_id"],
            "iat": now - (7200 if self.tamper == "expired" else 0),
            "exp": now + (-3600 if self.tamper == "expired" else 300),
            "nonce": "another-login" if self.tamper == "nonce" else grant["nonce"],
            **self.user,
        }
        self.issued.append(claims)
        if self.tamper == "none":
            return jwt.encode(claims, None, algorithm="none")
        key = self._other if self.tamper == "key" else self._key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake OpenID Connect provider")

        def issuer_of(request: Request) -> str:
            return str(request.base_url).rstrip("/")

        @app.get("/.well-known/openid-configuration")
        def discovery(request: Request) -> dict[str, Any]:
            base = issuer_of(request)
            return {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return self._jwks()

        @app.get("/authorize")
        def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != self.client_id or q.get("redirect_uri") not in self.redirect_uris:
                return JSONResponse({"error": "invalid_client"}, status_code=400)  # never redirect then
            if q.get("response_type") != "code" or "openid" not in (q.get("scope") or "").split():
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return JSONResponse(
                    {"error": "invalid_request", "error_description": "PKCE"}, status_code=400
                )
            code = secrets.token_urlsafe(24)
            self._codes[code] = {
                "client_id": self.client_id, "redirect_uri": q["redirect_uri"], "nonce": q.get("nonce"),
                "challenge": q["code_challenge"],
            }  # fmt: skip
            back = urlencode({"code": code, "state": q.get("state") or ""})
            return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

        @app.post("/token")
        def token(
            request: Request,
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
        ) -> Response:
            basic = request.headers.get("authorization", "")
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if not secrets.compare_digest(basic, f"Basic {expected}"):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self._codes.pop(code, None)  # single use
            if grant_type != "authorization_code" or grant is None or grant["redirect_uri"] != redirect_uri:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(24),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self._id_token(issuer_of(request), grant),
                }
            )

        return app
