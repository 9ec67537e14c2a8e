"""X webhook security: the CRC answer and the signature on every Account Activity delivery.

Both are base64(HMAC-SHA256(key=consumer_secret, message)): over the `crc_token` for the CRC, over the raw
body for a delivery (header `x-twitter-webhooks-signature: sha256=<base64>`). X signs no timestamp, so a
replayed delivery cannot be told by its signature; the core refuses an identical body a second time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from caredesk.domain.errors import SignatureError

HEADER = "x-twitter-webhooks-signature"
PREFIX = "sha256="


def digest(secret: str, message: bytes) -> str:
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(mac).decode("ascii")


def crc_response(secret: str, crc_token: str) -> str:
    """The `response_token` X expects back from `GET <webhook url>?crc_token=...`."""
    return digest(secret, crc_token.encode())


def sign(secret: str, body: bytes) -> str:
    return digest(secret, body)


def verify(secret: str, header: str | None, body: bytes) -> None:
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    given = header.strip()
    if not given.startswith(PREFIX):
        raise SignatureError(f"{HEADER} is not of the form sha256=<base64>")
    if not hmac.compare_digest(digest(secret, body).encode(), given.encode()):
        raise SignatureError("signature does not match the body")
