"""The agent's signature, appended to a reply in the channel's style (the dash below is an en dash).

An agent signs when they have a `signature` (their initials, e.g. "CK"). Each channel may set its own
format (`config["signature_format"]`, "" to never sign); otherwise the network's custom applies:

| network | format | example |
|---|---|---|
| X, Mastodon, Bluesky | `" ^{signature}"` | `… back on shortly ^CK` |
| Facebook, Instagram, webhook (chat) | `"\\n– {first_name}"` | `…\\n– Claire` |
| email | `"\\n\\n{name}\\n{workspace}"` | `…\\n\\nClaire Kim\\nNordlys Mobile` |

Placeholders: `{signature}`, `{first_name}`, `{name}`, `{workspace}`. A reply that already ends with the
signature, or with `^<initials>` in any style, is left as it is.
"""  # noqa: RUF002 (the en dash is the format)

from __future__ import annotations

from dataclasses import dataclass

from caredesk.domain.errors import InvalidInput

DEFAULT_FORMATS = {
    "x": " ^{signature}",
    "mastodon": " ^{signature}",
    "bluesky": " ^{signature}",
    "facebook": "\n– {first_name}",
    "instagram": "\n– {first_name}",
    "webhook": "\n– {first_name}",
    "email": "\n\n{name}\n{workspace}",
}
PLACEHOLDERS = ("signature", "first_name", "name", "workspace")
MAX_FORMAT = 200


@dataclass(frozen=True, slots=True)
class Signer:
    signature: str  # the agent's initials; empty: the agent does not sign
    name: str
    workspace: str


def check_format(fmt: str) -> str:
    """Refuse a channel format with unknown placeholders or too long."""
    if len(fmt) > MAX_FORMAT:
        raise InvalidInput(f"signature_format: at most {MAX_FORMAT} characters")
    try:
        fmt.format(**dict.fromkeys(PLACEHOLDERS, "x"))
    except (KeyError, IndexError, ValueError):
        raise InvalidInput(
            f"signature_format: placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        ) from None
    return fmt


def suffix(signer: Signer, network: str, channel_format: str | None) -> str:
    """What is appended for this agent on this channel ("" when nothing is)."""
    if not signer.signature.strip():
        return ""
    fmt = channel_format if channel_format is not None else DEFAULT_FORMATS.get(network, "")
    if not fmt:
        return ""
    first = signer.name.split()[0] if signer.name.split() else signer.name
    return fmt.format(
        signature=signer.signature.strip(), first_name=first, name=signer.name, workspace=signer.workspace
    )


def sign(text: str, signer: Signer, network: str, channel_format: str | None) -> str:
    """The text with the signature appended, unless it is already signed."""
    tail = suffix(signer, network, channel_format)
    if not tail:
        return text
    stripped = text.rstrip()
    if stripped.endswith(tail.strip()) or stripped.endswith(f"^{signer.signature.strip()}"):
        return text
    return stripped + tail
