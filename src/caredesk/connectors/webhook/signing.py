"""HMAC-SHA256 signatures for the generic webhook channel, both directions.

Header: `X-Caredesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
The timestamp bounds replays: a signature older than `tolerance` seconds is refused; a replay inside
that window changes nothing because intake is idempotent on the message id.
"""

from __future__ import annotations

import hashlib
import hmac

from caredesk.domain.errors import SignatureError

HEADER = "X-Caredesk-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: str, header: str | None, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS
) -> None:
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError(f"{HEADER} has no valid timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"{HEADER} timestamp is outside the {tolerance} s window (replayed or clock skew)"
        )
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise SignatureError("signature does not match the body")
