"""A local receiver for caredesk's outgoing webhooks, standing in for a CRM or a ticket system.

It does what docs/webhooks.md asks of a receiver: checks `X-Caredesk-Signature` with its secret (401 when
it does not match), keeps the first copy of each `X-Caredesk-Delivery` id and acknowledges repeats, and,
as a ticket system, answers `conversation.escalated` with the ticket it opened. It can be told to fail
first (`fail_next`: HTTP statuses, 0 for "hang past the sender's timeout"). `report_status` plays the
ticket system calling back when a ticket changes. Used by the tests and the demo.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from caredesk.connectors.webhook import signing
from caredesk.domain.errors import SignatureError


@dataclass
class Received:
    delivery: str
    event: str
    body: dict[str, Any]
    status: int  # what the receiver answered
    signature_ok: bool


@dataclass
class FakeHookReceiver:
    secret: str
    now: Callable[[], float] = time.time  # the receiver's clock, for the signature's time window
    fail_next: list[int] = field(default_factory=list)
    hang_seconds: float = 3.0
    retry_after: str = "0"
    received: list[Received] = field(default_factory=list)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticket id -> the escalation body

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._seen: dict[str, Any] = {}
        self.app = self._build()

    def accepted(self, event: str | None = None) -> list[dict[str, Any]]:
        """First copies of the deliveries it accepted (2xx), optionally of one event type."""
        out, seen = [], set()
        for r in self.received:
            if 200 <= r.status < 300 and r.delivery not in seen and (event is None or r.event == event):
                seen.add(r.delivery)
                out.append(r.body)
        return out

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake webhook receiver")

        @app.post("/events")
        async def receive(request: Request) -> JSONResponse:
            body = await request.body()
            delivery = request.headers.get("x-caredesk-delivery", "")
            event = request.headers.get("x-caredesk-event", "")
            try:
                signing.verify(self.secret, request.headers.get(signing.HEADER), body, self.now())
                ok = True
            except SignatureError:
                ok = False
            payload: dict[str, Any] = json.loads(body) if ok else {}
            with self._lock:
                status = 401 if not ok else (self.fail_next.pop(0) if self.fail_next else 200)
                self.received.append(Received(delivery, event, payload, status if status else 504, ok))
            if status == 0:
                await asyncio.sleep(self.hang_seconds)  # the sender gives up first
                return JSONResponse({"error": "too slow"}, status_code=504)
            if status == 401:
                return JSONResponse({"error": "signature does not match"}, status_code=401)
            if status != 200:
                headers = {"Retry-After": self.retry_after} if status in (429, 503) else {}
                return JSONResponse({"error": "injected failure"}, status_code=status, headers=headers)
            with self._lock:
                if delivery in self._seen:  # a repeat: the first answer again, nothing done twice
                    return JSONResponse(self._seen[delivery])
                answer: dict[str, Any] = {"ok": True}
                if event == "conversation.escalated":
                    ticket_id = f"T-{next(self._ids)}"
                    self.tickets[ticket_id] = payload
                    answer = {
                        "ticket_id": ticket_id,
                        "status": "open",
                        "url": f"https://tickets.example/{ticket_id}",
                    }
                self._seen[delivery] = answer
            return JSONResponse(answer)

        @app.get("/events")
        def list_received() -> JSONResponse:
            return JSONResponse(self.accepted())

        return app

    def signed_status(
        self, conversation_id: int, ticket_id: str, status: str, *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The ticket system's status callback: its body and headers, signed (with another `secret` to play
        a forger)."""
        body = json.dumps(
            {"conversation_id": conversation_id, "ticket_id": ticket_id, "status": status}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            signing.HEADER: signing.sign(secret or self.secret, body, int(self.now())),
        }
        return body, headers

    def report_status(
        self, callback_url: str, conversation_id: int, ticket_id: str, status: str
    ) -> httpx.Response:
        """Tell caredesk at `callback_url` (its /hooks/tickets/<webhook id>) that a ticket changed."""
        body, headers = self.signed_status(conversation_id, ticket_id, status)
        with httpx.Client(timeout=10) as client:
            return client.post(callback_url, content=body, headers=headers)
