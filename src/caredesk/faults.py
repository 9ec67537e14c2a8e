"""Fault injection for the crash tests (tests/test_crash.py): a named point where a process can be made
to stop and wait to be killed. Inert unless CAREDESK_FAULT_PAUSE is set."""

from __future__ import annotations

import os
import time
from pathlib import Path

_checkpoint_hits: dict[str, int] = {}


def checkpoint(name: str) -> None:
    """Fault injection for crash tests: CAREDESK_FAULT_PAUSE=<point>:<marker file>:<seconds>[:<nth>].

    The nth time (default: first) the named point is reached, the marker file is written and the process
    sleeps, so a test can SIGKILL it in the middle of a batch. Unset in production: one lookup per point.
    """
    spec = os.environ.get("CAREDESK_FAULT_PAUSE")
    if not spec:
        return
    point, marker, seconds, *nth = spec.split(":")
    if point != name:
        return
    _checkpoint_hits[name] = _checkpoint_hits.get(name, 0) + 1
    if _checkpoint_hits[name] == int(nth[0] if nth else 1):
        Path(marker).write_text(str(os.getpid()))
        time.sleep(float(seconds))
