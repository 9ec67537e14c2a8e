"""A TCP proxy that breaks connections on purpose, put between caredesk and a fake network.

Each new connection takes the next fault from `faults` (then "pass" once the list is empty):
- "pass": bytes flow both ways untouched;
- "reset": the connection is reset before anything reaches the network (the request never arrives);
- "lost": the request reaches the network, which acts on it, but its answer is dropped and the
  connection reset (the caller cannot know it landed);
- "slow:<seconds>": the answer is held back that long before it flows.
Clients should not reuse connections (`httpx.Limits(max_keepalive_connections=0)`), so that each request
meets the fault meant for it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Awaitable, Callable


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.faults: list[str] = []
        self.seen: list[str] = []  # the fault each connection met, in order
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        assert self._ready.wait(5), "the fault proxy did not start"
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:  # close with RST, not FIN: the caller sees a reset connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self.faults.pop(0) if self.faults else "pass"
        self.seen.append(fault)
        if fault == "reset":
            self._reset(writer)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        delay = float(fault.split(":", 1)[1]) if fault.startswith("slow:") else 0.0

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, hook: Callable[[], Awaitable[bool]]
        ) -> None:
            try:
                while data := await src.read(65536):
                    if not await hook():
                        return
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if not dst.transport.is_closing():
                    dst.close()

        async def to_network() -> bool:
            return True

        async def to_caller() -> bool:
            if fault == "lost":  # the network answered: it acted on the request; the caller never hears
                self._reset(writer)
                return False
            if delay:
                await asyncio.sleep(delay)
            return True

        await asyncio.gather(pump(reader, up_writer, to_network), pump(up_reader, writer, to_caller))
