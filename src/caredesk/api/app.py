"""The web application: REST API, signed webhooks, and the inbox pages. Errors become clear 4xx answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caredesk import __version__, web
from caredesk.actions.reply_checks import ChecksFailed
from caredesk.api.routes import api, hooks
from caredesk.api.workflow_routes import ticket_hooks, workflow
from caredesk.domain.errors import CaredeskError, TooManyAttempts
from caredesk.runtime import Runtime
from caredesk.web.live import live
from caredesk.web.pages import pages
from caredesk.web.reports import report_pages
from caredesk.web.settings import settings_pages
from caredesk.web.sso import sso_pages
from caredesk.web.team import team_pages
from caredesk.workers.loop import Workers

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER = 5  # seconds
# What any operation may answer besides its success, always as {"detail": text} (domain/errors.py).
ERROR_ANSWERS = {
    400: "Bad request",
    401: "Not authenticated, or a webhook's signature is missing or wrong",
    403: "The caller's role or token scope does not allow this",
    404: "Not found, or not in one of the caller's workspaces",
    409: "Conflicts with the current state (already done, changed meanwhile, a replayed webhook)",
    413: "The request body is too large",
    422: "Invalid input",
    429: "Too many attempts; Retry-After says when to try again",
    502: "The network refused or failed",
    503: "The database or a setting is unavailable; Retry-After says when to try again",
}


def _routes(routes: Iterable[Any]) -> Iterator[BaseRoute]:
    """Every route, inside included routers too (FastAPI wraps each included router in one route)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        elif isinstance(route, BaseRoute):
            yield route


def _methods_matching(route: BaseRoute, request: Request) -> set[str]:
    match, _ = route.matches({**request.scope, "method": "GET"})
    methods = getattr(route, "methods", None)
    return set(methods or ()) if match != Match.NONE else set()


class BodyLimit:
    """Refuses a request body larger than `limit` with 413 before any route reads it: by its
    Content-Length, or, for a chunked upload, by reading it here (bounded) and handing it on. A plain
    ASGI middleware: it costs a header lookup per request."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        replay = iter(messages)

        async def buffered() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, buffered, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body larger than {self.limit} bytes"}, status_code=413)
        await response(scope, receive, send)


def create_app(rt: Runtime, *, run_workers: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = Workers(rt) if run_workers else None
        if workers:
            workers.start()
        try:
            yield
        finally:
            if workers:
                workers.stop()

    app = FastAPI(
        title="caredesk",
        version=__version__,
        lifespan=lifespan,
        description="Social customer care desk: one team inbox for every network.",
    )
    app.state.rt = rt
    app.include_router(api)
    app.include_router(workflow)
    app.include_router(hooks)
    app.include_router(ticket_hooks)
    app.include_router(pages)
    app.include_router(sso_pages)
    app.include_router(live)
    app.include_router(settings_pages)
    app.include_router(team_pages)
    app.include_router(report_pages)
    app.mount("/static", StaticFiles(directory=str(Path(web.__file__).parent / "static")), name="static")

    app.add_middleware(BodyLimit, limit=rt.settings.max_body_bytes)

    @app.exception_handler(CaredeskError)
    async def domain_error(_request: Request, exc: CaredeskError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.message}
        if isinstance(exc, ChecksFailed):
            body["checks"] = [f.view() for f in exc.findings]
        body.update(exc.details or {})
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse({"detail": "invalid request: " + "; ".join(problems)}, status_code=422)

    @app.exception_handler(OverflowError)
    async def out_of_range(_request: Request, _exc: OverflowError) -> JSONResponse:
        # an id or number beyond the database's 64-bit integers (SQLite refuses to bind it)
        return JSONResponse({"detail": "invalid request: a number is out of range"}, status_code=422)

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is down, unreachable, full or busy: 503 with Retry-After, so a network redelivers
        # its webhook and a client tries again; the transaction was rolled back, nothing is half-written.
        # Logged without the statement's parameters (they may hold customer text).
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()[0][:200]
        log.warning("database unavailable during %s %s: %s", request.method, request.url.path, reason)
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )

    for unavailable in (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError):
        app.add_exception_handler(unavailable, database_unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:  # Allow: every method of the path, not only the first route's
            methods = {m for route in _routes(app.routes) for m in _methods_matching(route, request)}
            headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    def openapi() -> dict[str, Any]:
        """The generated spec, with the error bodies the handlers above really send: {"detail": text}."""
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            error = {
                "title": "Error",
                "type": "object",
                "properties": {"detail": {"title": "Detail", "type": "string"}},
                "required": ["detail"],
            }
            schemas["Error"] = error
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = error
                schemas.pop("ValidationError", None)
            body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    for code, meaning in ERROR_ANSWERS.items():
                        responses.setdefault(str(code), {"description": meaning, "content": body})
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
