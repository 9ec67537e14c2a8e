"""Errors the product raises on purpose. The API turns each into a 4xx with its message."""

from __future__ import annotations


class CaredeskError(Exception):
    """Base class: a clear message for a person, safe to show (never holds secrets)."""

    status_code = 400
    details: dict[str, object] | None = None  # extra fields of the API's error answer

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CaredeskError):
    status_code = 422


class NotFound(CaredeskError):
    status_code = 404


class Forbidden(CaredeskError):
    status_code = 403


class Unauthorized(CaredeskError):
    status_code = 401


class Conflict(CaredeskError):
    status_code = 409


class TooLarge(CaredeskError):
    status_code = 413


class TooManyAttempts(CaredeskError):
    """Throttled (failed logins): the API answers 429 with a Retry-After header."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.details = {"retry_after": retry_after}


class NotConfigured(CaredeskError):
    """The deployment is missing a setting (a channel without its secret): not the caller's fault."""

    status_code = 503


class ConnectorError(CaredeskError):
    """The network refused or failed. `retryable` says whether the sender may try again."""

    status_code = 502

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class SignatureError(CaredeskError):
    """A pushed webhook whose signature is missing, forged or too old."""

    status_code = 401
