"""Conversation timing fields, recomputed from the conversation's messages.

Recomputing (instead of nudging counters) keeps them right when messages arrive out of order, when
conversations merge, and when a reply's publication time is written back. Definitions: docs/metrics.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.storage import models as m

_CHUNK = 500


def refresh(session: Session, conversation_ids: Iterable[int]) -> None:
    ids = sorted(set(conversation_ids))
    if not ids:
        return
    session.flush()
    for start in range(0, len(ids), _CHUNK):
        _refresh_chunk(session, ids[start : start + _CHUNK])


def _refresh_chunk(session: Session, ids: list[int]) -> None:
    msg = m.Message
    # A reply counts once the network has it (sent_at); imported history has no delivery state.
    published = sa.or_(msg.delivery.is_(None), msg.delivery == "sent")
    rows = session.execute(
        sa.select(
            msg.conversation_id,
            msg.direction,
            sa.and_(~msg.is_automatic, published).label("counts_as_reply"),
            msg.created_at,
            sa.func.coalesce(msg.sent_at, msg.created_at).label("reply_at"),
        ).where(msg.conversation_id.in_(ids))
    ).all()
    inbound: dict[int, list[datetime]] = defaultdict(list)
    replies: dict[int, list[datetime]] = defaultdict(list)
    last_any: dict[int, datetime] = {}
    count: dict[int, int] = defaultdict(int)
    for cid, direction, counts_as_reply, created_at, reply_at in rows:
        count[cid] += 1
        last_any[cid] = max(last_any.get(cid, created_at), created_at)
        if direction == "in":
            inbound[cid].append(created_at)
        elif counts_as_reply:
            replies[cid].append(reply_at)

    for conv in session.scalars(sa.select(m.Conversation).where(m.Conversation.id.in_(ids))):
        ins = sorted(inbound[conv.id])
        outs = sorted(replies[conv.id])
        first_in = ins[0] if ins else None
        last_reply = outs[-1] if outs else None
        conv.first_inbound_at = first_in
        conv.last_inbound_at = ins[-1] if ins else None
        conv.last_outbound_at = last_reply
        conv.first_reply_at = next((t for t in outs if first_in is not None and t >= first_in), None)
        waiting = [t for t in ins if last_reply is None or t > last_reply]
        conv.waiting_since = waiting[0] if waiting else None
        conv.waiting_count = len(waiting)
        conv.message_count = count[conv.id]
        if conv.id in last_any:
            conv.last_message_at = last_any[conv.id]
