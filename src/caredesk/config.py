"""Settings from the command line and the environment. Read once, passed down; never read inside models."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool = False  # set CAREDESK_SECURE_COOKIES=1 behind HTTPS
    max_body_bytes: int = 1_000_000
    public_url: str = "http://127.0.0.1:8000"
    streaming: bool = False  # run STREAM connectors' streams (workers/streamer.py) instead of polling them
    poll_seconds: int | None = None  # at most this long between two polls of a channel (default: connector's)
    # OpenID Connect single sign-on (security/oidc.py): on when the issuer and the client id are set
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str = ""
    oidc_label: str = "single sign-on"
    bus: str = "postgresql"  # live updates between processes on PostgreSQL (bus.py); "local": one process

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"


def default_data_dir() -> Path:
    return Path(os.environ.get("CAREDESK_DATA_DIR", "data")).resolve()


def load_settings(database_url: str | None = None, data_dir: Path | None = None) -> Settings:
    data = data_dir or default_data_dir()
    url = database_url or os.environ.get("CAREDESK_DATABASE_URL") or f"sqlite:///{data / 'caredesk.db'}"
    host = os.environ.get("CAREDESK_HOST", "127.0.0.1")
    port = int(os.environ.get("CAREDESK_PORT", "8000"))
    return Settings(
        database_url=url,
        data_dir=data,
        host=host,
        port=port,
        secure_cookies=os.environ.get("CAREDESK_SECURE_COOKIES", "") == "1",
        public_url=os.environ.get("CAREDESK_PUBLIC_URL", f"http://{host}:{port}"),
        streaming=os.environ.get("CAREDESK_STREAMING", "") == "1",
        poll_seconds=int(poll) if (poll := os.environ.get("CAREDESK_POLL_SECONDS")) else None,
        oidc_issuer=os.environ.get("CAREDESK_OIDC_ISSUER") or None,
        oidc_client_id=os.environ.get("CAREDESK_OIDC_CLIENT_ID") or None,
        oidc_client_secret=os.environ.get("CAREDESK_OIDC_CLIENT_SECRET", ""),
        oidc_label=os.environ.get("CAREDESK_OIDC_LABEL", "single sign-on"),
        bus=os.environ.get("CAREDESK_BUS", "postgresql"),
    )
