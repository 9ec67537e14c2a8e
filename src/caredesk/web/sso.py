"""Single sign-on pages: `/login/oidc` leaves for the OpenID Connect provider, `/login/oidc/callback`
comes back from it with a session (security/oidc.py has the protocol). Off unless CAREDESK_OIDC_ISSUER
and CAREDESK_OIDC_CLIENT_ID are set; password login stays available beside it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from caredesk.actions.sessions import start_sso_session
from caredesk.api.deps import RtDep
from caredesk.config import Settings
from caredesk.domain.errors import CaredeskError, NotFound
from caredesk.security import oidc
from caredesk.web.i18n import templates
from caredesk.web.pages import logged_in

sso_pages = APIRouter(include_in_schema=False)
PENDING_COOKIE = "caredesk_oidc"
PENDING_SECONDS = 600  # to log in at the provider
CALLBACK = "/login/oidc/callback"


def provider_of(settings: Settings) -> oidc.Provider | None:
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return None
    return oidc.Provider(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        redirect_uri=settings.public_url.rstrip("/") + CALLBACK,
        label=settings.oidc_label,
    )


def _provider(rt: RtDep) -> oidc.Provider:
    provider = provider_of(rt.settings)
    if provider is None:
        raise NotFound("single sign-on is not set up")
    return provider


@sso_pages.get("/login/oidc")
def leave(rt: RtDep) -> Response:
    url, pending = oidc.begin(rt.http, _provider(rt))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        PENDING_COOKIE, pending.cookie(), max_age=PENDING_SECONDS, path="/login/oidc", httponly=True,
        samesite="lax", secure=rt.settings.secure_cookies,
    )  # fmt: skip
    return response


@sso_pages.get(CALLBACK)
def come_back(request: Request, rt: RtDep, code: str | None = None, state: str | None = None) -> Response:
    provider = _provider(rt)
    pending = oidc.Pending.from_cookie(request.cookies.get(PENDING_COOKIE))
    try:
        email = oidc.finish(rt.http, provider, pending, code=code, state=state)
        new = start_sso_session(rt, email)
    except CaredeskError as exc:
        page = templates.TemplateResponse(
            request, "login.html", {"error": exc.message}, status_code=exc.status_code
        )
        page.delete_cookie(PENDING_COOKIE, path="/login/oidc")
        return page
    response = logged_in(rt, new)
    response.delete_cookie(PENDING_COOKIE, path="/login/oidc")  # a state is good for one login
    return response
