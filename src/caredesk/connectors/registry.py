"""Which connectors exist. Built-in ones register exactly as a third-party one would."""

from __future__ import annotations

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


def _load_builtins() -> None:
    # Imported for their register() side effect.
    from caredesk.connectors.twcs import connector as _twcs  # noqa: F401, PLC0415
    from caredesk.connectors.webhook import connector as _webhook  # noqa: F401, PLC0415
