"""Bulk inserts that stay bulk. Imports nothing of caredesk, so the session listeners (analytics/facts.py)
can use it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def insert_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in one executemany: the ORM's bulk INSERT splits rows into a statement per
    pattern of missing values, often one per row; here every row gets every column named in any row
    (None where absent). Goes through the session, so its listeners (outgoing webhooks) see the rows."""
    if not rows:
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    session.execute(model.__table__.insert(), [{k: row.get(k) for k in keys} for row in rows])
