"""Mastodon's streaming API (server-sent events) as a wake-up call for `fetch`, with polling as the fallback.

`GET /api/v1/streaming/user/notification` pushes `event: notification` frames and `:thump` heartbeats. A
pushed notification is not turned into an event directly: it triggers the ordinary `fetch(cursor)`. Mastodon
does not stream filtered notifications (DMs from strangers) nor the brand's own statuses, and advancing the
cursor past a filtered notification nobody read would lose it; `fetch` reads both. So the stream only cuts
the delay, and while it is connected a fetch still runs every `poll_seconds` (on a heartbeat) for what it
does not carry. While it is down (refused, dropped, silent past `read_timeout`) the runner polls every
`poll_seconds` and reconnects with a growing delay.

The stream host is `urls.streaming_api` of `GET /api/v1/instance` (`wss://` read as `https://`), else the
instance's own address.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from caredesk.connectors.base import FetchResult
from caredesk.connectors.mastodon.api import MastodonApi, error_for
from caredesk.domain.errors import ConnectorError

log = logging.getLogger(__name__)

STREAM_PATH = "/api/v1/streaming/user/notification"
MAX_RECONNECT = 300.0
MIN_HEALTHY = 10.0  # a stream that ends sooner than this counts as a failure (no reconnect storm)


@dataclass(frozen=True, slots=True)
class Frame:
    event: str
    data: str


def parse_sse(lines: Iterable[str]) -> Iterator[Frame | None]:
    """Server-sent events from text lines; None for each comment line (Mastodon's `:thump` heartbeats)."""
    event, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield Frame(event, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            yield None
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)


class Streamer:
    """Runs until `stop` is set: catch up, then listen (or poll while the stream is down)."""

    def __init__(
        self,
        api: MastodonApi,
        fetch: Callable[[dict[str, Any]], FetchResult],
        deliver: Callable[[FetchResult], None],
        stop: threading.Event,
        *,
        poll_seconds: float,
        read_timeout: float = 90.0,
    ) -> None:
        self.api = api
        self._fetch = fetch
        self.deliver = deliver
        self.stop = stop
        self.poll_seconds = poll_seconds
        self.read_timeout = read_timeout
        self.cursor: dict[str, Any] = {}
        self.connected = False
        self._stream_base: str | None = None

    def run(self, cursor: dict[str, Any]) -> dict[str, Any]:
        self.cursor = dict(cursor)
        self.catch_up()
        failures = 0
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.listen()
                # Ended cleanly (a server restart): reconnect at once, unless it keeps ending right away.
                failures = failures + 1 if time.monotonic() - began < MIN_HEALTHY else 0
            except ConnectorError as exc:
                if not exc.retryable:
                    raise
                failures += 1
                log.warning("Mastodon stream down (%s); polling meanwhile", exc.message)
            finally:
                self.connected = False
            if failures and not self.stop.is_set():
                self._poll_for(min(MAX_RECONNECT, 5.0 * 2 ** (failures - 1)))
        return self.cursor

    def catch_up(self) -> None:
        """Fetch until the instance has nothing more, handing each result over as it comes."""
        for _ in range(100):
            result = self._fetch(self.cursor)
            if result.events or result.cursor != self.cursor:
                self.deliver(result)
            self.cursor = result.cursor
            if not result.more:
                return

    def _poll_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.stop.wait(min(self.poll_seconds, left)):
                return
            try:
                self.catch_up()
            except ConnectorError as exc:
                if not exc.retryable:
                    raise
                log.warning("Mastodon poll failed while the stream is down: %s", exc.message)

    def stream_base(self) -> str:
        if self._stream_base is None:
            base = self.api.base_url
            try:
                response = self.api.call("GET", "/api/v1/instance", doing="finding the streaming host")
                urls = self.api.json(response, doing="finding the streaming host").get("urls") or {}
                found = str(urls.get("streaming_api") or "")
            except (ConnectorError, AttributeError):
                found = ""
            parts = urlsplit(found)
            if parts.scheme in ("ws", "wss", "http", "https") and parts.netloc:
                scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
                base = f"{scheme}://{parts.netloc}"
            self._stream_base = base.rstrip("/")
        return self._stream_base

    def listen(self) -> None:
        url = self.stream_base() + STREAM_PATH
        headers = {"Authorization": f"Bearer {self.api.token}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(10.0, read=self.read_timeout)
        doing = "listening to the notification stream"
        try:
            with self.api.http.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_for(response, self.api.clock.now(), doing=doing)
                self.connected = True
                last_fetch = time.monotonic()
                for frame in parse_sse(response.iter_lines()):
                    if self.stop.is_set():
                        return
                    due = time.monotonic() - last_fetch >= self.poll_seconds
                    if (frame is not None and frame.event == "notification") or due:
                        self.catch_up()
                        last_fetch = time.monotonic()
        except httpx.TimeoutException:
            raise ConnectorError(
                f"Mastodon stream silent for {self.read_timeout:.0f} s", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise ConnectorError(f"Mastodon stream broke: {type(exc).__name__}", retryable=True) from None
