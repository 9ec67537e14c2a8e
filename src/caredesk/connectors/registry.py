"""Which connectors exist. Built-in ones register exactly as a third-party one would."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from caredesk.connectors.base import Connector
from caredesk.domain.errors import InvalidInput

_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    key = cls.spec.key
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"connector {key!r} registered twice")
    _REGISTRY[key] = cls
    return cls


def get(key: str) -> type[Connector]:
    _load_builtins()
    try:
        return _REGISTRY[key]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise InvalidInput(f"unknown connector {key!r} (known: {known})") from None


def all_connectors() -> dict[str, type[Connector]]:
    _load_builtins()
    return dict(_REGISTRY)


_loaded = False


def _load_builtins() -> None:
    """Import every built-in connector package (`connectors/<name>/connector.py`) for its register() call."""
    global _loaded  # noqa: PLW0603  (once per process)
    if _loaded:
        return
    package = Path(__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        if info.ispkg and (package / info.name / "connector.py").exists():
            importlib.import_module(f"caredesk.connectors.{info.name}.connector")
    _loaded = True
