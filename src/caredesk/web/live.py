"""Live updates for the inbox: a server-sent event stream per logged-in browser (`GET /live`).

The stream listens on the process's bus (bus.py) and passes on only what concerns the agent's own
workspaces: `changed` (conversation ids whose rows or messages changed: the page fetches the fresh
partial), `presence` (who is viewing or typing in a conversation), `notice` (to this agent alone: an
approval decided), `sla` (a warning or breach), `agents` (presence or capacity of the agents) and
`spike` (a spike alert of one of the agent's workspaces raised or closed). A
comment every 15 s keeps proxies from closing it; the browser reconnects by itself (`retry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from caredesk.api.deps import RtDep, session_agent
from caredesk.runtime import Runtime
from caredesk.storage import models as m

live = APIRouter(include_in_schema=False)

KEEPALIVE_SECONDS = 15.0
MAX_QUEUED = 2000  # a browser that stops reading loses old events, never the server's memory
EVENT_NAMES = {
    "conversations.changed": "changed",
    "conversations.presence": "presence",
    "agent.notice": "notice",
    "sla.warning": "sla",
    "sla.breached": "sla",
    "agents.changed": "agents",
    "spike": "spike",
}


def _workspaces_of(rt: Runtime, agent_id: int) -> set[int]:
    with rt.db.read() as session:
        return set(
            session.scalars(sa.select(m.Membership.workspace_id).where(m.Membership.agent_id == agent_id))
        )


def _conversation_ids(payload: dict[str, Any]) -> list[int]:
    ids = [int(i) for i in payload.get("ids") or [] if isinstance(i, int)]
    for key in ("id", "conversation_id"):
        if isinstance(payload.get(key), int):
            ids.append(int(payload[key]))
    return ids


def visible(
    rt: Runtime, agent_id: int, workspaces: set[int], batch: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """The events of `batch` this agent may see, as (SSE event name, data); changes are merged into one."""
    wanted = {i for topic, payload in batch if topic in EVENT_NAMES for i in _conversation_ids(payload)}
    where: dict[int, int] = {}
    if wanted:
        with rt.db.read() as session:
            where = dict(
                session.execute(
                    sa.select(m.Conversation.id, m.Conversation.workspace_id).where(
                        m.Conversation.id.in_(wanted)
                    )
                ).all()
            )
    changed: set[int] = set()
    out: list[tuple[str, dict[str, Any]]] = []
    for topic, payload in batch:
        name = EVENT_NAMES.get(topic)
        if name is None:
            continue
        if name == "notice":
            if payload.get("agent_id") == agent_id:
                out.append((name, payload))
            continue
        if name == "agents":
            out.append((name, {"ids": list(payload.get("ids") or [])}))
            continue
        if name == "spike":
            if payload.get("workspace_id") in workspaces:
                data = {"workspace_id": payload["workspace_id"], "open": bool(payload.get("open"))}
                out.append((name, data))
            continue
        mine = [i for i in _conversation_ids(payload) if where.get(i) in workspaces]
        if not mine:
            continue
        if name == "changed":
            changed.update(mine)
        elif name == "presence":
            out.append((name, {"id": mine[0], "present": payload.get("present") or []}))
        else:
            out.append((name, {"conversation_id": mine[0], "kind": topic, "clock": payload.get("clock")}))
    if changed:
        out.insert(0, ("changed", {"ids": sorted(changed)}))
    return out


def _frame(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


@live.get("/live")
async def stream(request: Request, rt: RtDep) -> Response:
    found = await run_in_threadpool(session_agent, rt, request)
    if found is None:
        return JSONResponse({"detail": "log in first"}, status_code=401)
    agent_id = found[0].id
    workspaces = await run_in_threadpool(_workspaces_of, rt, agent_id)
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=MAX_QUEUED)
    loop = asyncio.get_running_loop()

    def put(item: tuple[str, dict[str, Any]]) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(item)

    def listener(topic: str, payload: dict[str, Any]) -> None:
        if topic in EVENT_NAMES:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the stream is gone
                loop.call_soon_threadsafe(put, (topic, payload))

    unsubscribe = rt.bus.subscribe(listener)

    async def frames() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                try:
                    first = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                await asyncio.sleep(0.05)  # let a burst of changes arrive, then send them as one
                batch = [first]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                for name, data in await run_in_threadpool(visible, rt, agent_id, workspaces, batch):
                    yield _frame(name, data)
        finally:
            unsubscribe()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)
