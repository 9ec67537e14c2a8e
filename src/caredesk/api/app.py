"""The web application: REST API, signed webhooks, and the inbox pages. Errors become clear 4xx answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from caredesk.web.team import team_pages
from caredesk.workers.loop import Workers

log = logging.getLogger(__name__)


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
    app.include_router(live)
    app.include_router(settings_pages)
    app.include_router(team_pages)
    app.include_router(report_pages)
    app.mount("/static", StaticFiles(directory=str(Path(web.__file__).parent / "static")), name="static")

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        limit = rt.settings.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            return JSONResponse({"detail": f"request body larger than {limit} bytes"}, status_code=413)
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()  # chunked upload: read it here, bounded
            if len(body) > limit:
                return JSONResponse({"detail": f"request body larger than {limit} bytes"}, status_code=413)
        return await call_next(request)

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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    def openapi() -> dict[str, Any]:
        """The generated spec, with the error bodies the handlers above really send: {"detail": text}."""
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = spec.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = {
                    "title": "Error",
                    "type": "object",
                    "properties": {"detail": {"title": "Detail", "type": "string"}},
                    "required": ["detail"],
                }
                schemas.pop("ValidationError", None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
