"""Per-request context carried from the gateway through gRPC metadata into Kafka headers."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"

_request_id: ContextVar[str] = ContextVar("request_id", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def get_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> object:
    """Set the current request id; returns a token for `reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


ACCESS_TOKEN_HEADER = "authorization"  # noqa: S105 - a header name, not a secret

_access_token: ContextVar[str] = ContextVar("access_token", default="")


def get_access_token() -> str:
    return _access_token.get()


def set_access_token(value: str) -> object:
    """Set the caller's access token, passed on by gRPC clients; returns a reset token."""
    return _access_token.set(value)


def reset_access_token(token: object) -> None:
    _access_token.reset(token)  # type: ignore[arg-type]
