"""History imports: TWCS replay and generic JSONL. Both go through the spool and the same pipeline as
live traffic, so an import is threaded, triaged and counted exactly like the real thing, and importing
the same file twice changes nothing."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError

from caredesk.actions import admin, intake
from caredesk.actions.base import Actor, require
from caredesk.connectors.twcs import parse as twcs
from caredesk.connectors.webhook.format import ImportLine, describe_validation_error
from caredesk.domain.errors import CaredeskError, InvalidInput
from caredesk.domain.types import InboundEvent, Role
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m

MAX_LINE = 1_000_000


@dataclass(slots=True)
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    processed: int = 0
    dead: int = 0
    workspaces: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _slug(brand: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", brand.lower()).strip("-")[:63]
    return slug or "brand"


def import_twcs(rt: Runtime, path: Path, *, process: bool = True) -> ImportReport:
    """Each brand becomes a workspace with an X channel; brand tweets become agent replies."""
    planned = twcs.plan(twcs.read_tweets(path))
    report = ImportReport(errors=[f"tweet {t} has no brand in its thread; skipped" for t in planned.unplaced])
    per_brand: dict[str, list[InboundEvent]] = defaultdict(list)
    for p in planned.events:
        per_brand[p.brand].append(p.event)
    for brand in twcs.iter_brands(planned):
        ws = admin.ensure_workspace(rt, slug=_slug(brand), name=brand)
        channel_id = _ensure_channel(rt, ws.id, brand)
        result = intake.accept(rt, channel_id, per_brand[brand])
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.workspaces.append(ws.slug)
    if process:
        done = Pipeline(rt).drain()
        report.processed, report.dead = done.processed, done.dead
    return report


def _ensure_channel(rt: Runtime, workspace_id: int, brand: str) -> int:
    name = f"@{brand}"
    with rt.db.read() as session:
        found = session.scalar(
            sa.select(m.Channel.id).where(m.Channel.workspace_id == workspace_id, m.Channel.name == name)
        )
    if found is not None:
        return int(found)
    channel = admin.create_channel(
        rt, Actor.system(), workspace_id=workspace_id, connector="twcs", name=name, own_account_id=brand
    )
    return channel.id


def import_jsonl(
    rt: Runtime, actor: Actor, path: Path, *, channel_id: int | None, process: bool = True
) -> ImportReport:
    """Lines of the generic message format; a line's "channel" overrides --channel. Bad lines are reported
    with their line number and nothing of them is written; good lines go in."""
    report = ImportReport()
    per_channel: dict[int, list[InboundEvent]] = defaultdict(list)
    usable: dict[int, str | None] = {}  # channel -> None if lines may go there, else why not
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    if len(raw) > MAX_LINE:
                        raise InvalidInput(f"line longer than {MAX_LINE} bytes")
                    data = json.loads(raw.decode("utf-8"))
                    if not isinstance(data, dict):
                        raise InvalidInput("each line holds one message object")
                    msg = ImportLine.model_validate(data)
                except UnicodeDecodeError:
                    report.errors.append(f"line {number}: not valid UTF-8")
                    continue
                except json.JSONDecodeError as exc:
                    report.errors.append(f"line {number}: not valid JSON ({exc.msg})")
                    continue
                except ValidationError as exc:
                    report.errors.append(f"line {number}: {describe_validation_error(exc)}")
                    continue
                except CaredeskError as exc:
                    report.errors.append(f"line {number}: {exc.message}")
                    continue
                target = msg.channel or channel_id
                if target is None:
                    report.errors.append(f'line {number}: no channel (give --channel or a "channel" field)')
                    continue
                if target not in usable:
                    usable[target] = _may_import(rt, actor, target)
                if usable[target] is not None:
                    report.errors.append(f"line {number}: {usable[target]}")
                    continue
                per_channel[target].append(msg.to_event())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    for target, events in per_channel.items():
        result = intake.accept(rt, target, events)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
    if process:
        done = Pipeline(rt).drain()
        report.processed, report.dead = done.processed, done.dead
    return report


def _may_import(rt: Runtime, actor: Actor, channel_id: int) -> str | None:
    with rt.db.read() as session:
        channel = session.get(m.Channel, channel_id)
        if channel is None:
            return f"channel {channel_id} does not exist"
        try:
            require(session, actor, channel.workspace_id, Role.ADMIN)
        except CaredeskError as exc:
            return f"channel {channel_id}: {exc.message}"
    return None
