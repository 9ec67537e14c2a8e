"""A local stand-in for a network behind the generic webhook channel.

It does what the message-format document asks of a real endpoint: checks each reply's signature, drops
a repeated Idempotency-Key (answering with the first id), and returns the new message's id. It can also
play the customer: `inject` signs a message and pushes it to caredesk's /hooks/<channel id>, exactly as a
real integration would. Used by the demo (so a newcomer sees replies land) and by the tests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from caredesk.connectors.webhook import signing
from caredesk.domain.errors import SignatureError


@dataclass
class FakeChannel:
    secret: str
    hook_url: str  # caredesk's /hooks/<channel id>
    posted: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)
    # Answers to give before succeeding: HTTP status codes, or 0 for "hang past the client's timeout".
    fail_next: list[int] = field(default_factory=list)
    hang_seconds: float = 3.0
    keys_received: list[str] = field(default_factory=list)  # every Idempotency-Key posted, repeats included


class FakeWebhookNetwork:
    def __init__(self) -> None:
        self.channels: dict[str, FakeChannel] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = self._build()

    def add_channel(self, key: str, *, secret: str, hook_url: str) -> FakeChannel:
        channel = FakeChannel(secret=secret, hook_url=hook_url)
        self.channels[key] = channel
        return channel

    def inject(
        self, key: str, message: dict[str, Any], *, http: httpx.Client | None = None
    ) -> httpx.Response:
        """Push one customer message (generic format) to caredesk, signed with the channel's secret."""
        channel = self.channels[key]
        body = json.dumps(message).encode()
        headers = {
            "Content-Type": "application/json",
            signing.HEADER: signing.sign(channel.secret, body, int(time.time())),
        }
        client = http or httpx.Client(timeout=10)
        try:
            return client.post(channel.hook_url, content=body, headers=headers)
        finally:
            if http is None:
                client.close()

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake webhook network")

        @app.post("/channels/{key}/replies")
        async def receive(key: str, request: Request) -> JSONResponse:
            channel = self.channels.get(key)
            if channel is None:
                return JSONResponse({"error": "unknown channel"}, status_code=404)
            body = await request.body()
            try:
                signing.verify(channel.secret, request.headers.get(signing.HEADER), body, time.time())
            except SignatureError as exc:
                return JSONResponse({"error": exc.message}, status_code=401)
            payload = json.loads(body)
            if payload.get("type") == "ping":
                return JSONResponse({"ok": True})
            with self._lock:
                status = channel.fail_next.pop(0) if channel.fail_next else None
            if status == 0:
                await asyncio.sleep(channel.hang_seconds)  # the caller gives up first; nothing is recorded
                return JSONResponse({"error": "too slow"}, status_code=504)
            if status is not None:
                headers = {"Retry-After": "0"} if status == 429 else {}
                return JSONResponse({"error": "injected failure"}, status_code=status, headers=headers)
            with self._lock:
                key_header = request.headers.get("idempotency-key", "")
                channel.keys_received.append(key_header)
                if key_header and key_header in channel.by_key:
                    return JSONResponse({"id": channel.by_key[key_header], "duplicate": True})
                message_id = f"net-{next(self._ids)}"
                if key_header:
                    channel.by_key[key_header] = message_id
                channel.posted.append({"id": message_id, "at": datetime.now(UTC).isoformat(), **payload})
            return JSONResponse({"id": message_id}, status_code=201)

        @app.get("/channels/{key}/replies")
        def list_posted(key: str) -> JSONResponse:
            channel = self.channels.get(key)
            if channel is None:
                return JSONResponse({"error": "unknown channel"}, status_code=404)
            return JSONResponse(channel.posted)

        @app.post("/channels/{key}/inject")
        async def inject(key: str, request: Request) -> JSONResponse:
            if key not in self.channels:
                return JSONResponse({"error": "unknown channel"}, status_code=404)
            message = await request.json()
            response = self.inject(key, message)
            return JSONResponse(response.json(), status_code=response.status_code)

        @app.get("/", response_class=HTMLResponse)
        def home() -> str:
            from html import escape  # noqa: PLC0415

            rows = []
            for key, channel in self.channels.items():
                for p in reversed(channel.posted[-50:]):
                    kind = "public" if p.get("public") else "private"
                    rows.append(f"<li><b>{escape(key)}</b> · {kind} · {escape(str(p.get('text', '')))}</li>")
            return (
                "<!doctype html><meta charset=utf-8><title>Fake network</title>"
                "<h1>What caredesk published on the fake network</h1><ul>" + "".join(rows) + "</ul>"
            )

        return app


class ServerThread:
    """Runs an ASGI app with uvicorn in a background thread (demo and tests)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        # open streams (the inbox's live updates) get 2 s to end when the server stops, then are cut
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="fake-network")

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
