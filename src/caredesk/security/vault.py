"""Network credentials and webhook secrets, encrypted at rest.

Keys come from CAREDESK_SECRET_KEYS (comma-separated Fernet keys, newest first) or from a key file
(created with mode 0600 on first use in the data folder). Rotation: put a new key first; every key in
the list still decrypts, and `rotate()` re-encrypts with the newest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from caredesk.domain.errors import CaredeskError


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise CaredeskError("no secret key configured")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_environment(cls, key_file: Path) -> SecretBox:
        env = os.environ.get("CAREDESK_SECRET_KEYS", "").strip()
        if env:
            return cls([k.strip().encode() for k in env.split(",") if k.strip()])
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        keys = [line.strip() for line in key_file.read_bytes().splitlines() if line.strip()]
        return cls(keys)

    def encrypt(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def decrypt(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise CaredeskError("stored credentials cannot be decrypted with the configured keys") from exc
        return data

    def rotate(self, token: str) -> str:
        """The same secret, encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise CaredeskError("a stored secret cannot be decrypted with the configured keys") from exc
