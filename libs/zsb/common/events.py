"""Event envelope: topic names, CloudEvents binary-mode headers and protobuf payloads."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import symbol_database
from google.protobuf.message import DecodeError, Message

CONTENT_TYPE = "application/protobuf"

# Set once per process from KAFKA_TOPIC_PREFIX; empty in production. A test run gives its
# platform a prefix of its own, so that its consumers do not replay other runs' history.
_topic_prefix = ""


def configure_topics(prefix: str) -> None:
    global _topic_prefix
    _topic_prefix = prefix


def topic_for(service: str, prefix: str | None = None) -> str:
    """One topic per producing service (under this process's prefix unless one is given)."""
    return f"{_topic_prefix if prefix is None else prefix}zsb.{service}.v1.events"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def source_for(service: str) -> str:
    return f"/zsb/{service}"


@dataclass(frozen=True)
class Envelope:
    """A received event: CloudEvents attributes and the raw payload."""

    ce_id: str
    ce_type: str
    ce_source: str
    ce_time: str
    request_id: str
    payload: bytes

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]] | None, payload: bytes) -> Envelope:
        h = {k: (v or b"").decode("utf-8", "replace") for k, v in (headers or [])}
        return cls(
            ce_id=h.get("ce_id", ""),
            ce_type=h.get("ce_type", ""),
            ce_source=h.get("ce_source", ""),
            ce_time=h.get("ce_time", ""),
            request_id=h.get("x-request-id", ""),
            payload=payload or b"",
        )


def build_headers(ce_id: str, ce_type: str, service: str, ce_time: str, request_id: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_source", source_for(service).encode()),
        ("ce_time", ce_time.encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("x-request-id", request_id.encode()),
    ]


class UndecodableEvent(Exception):
    """The payload cannot be read as the message its ce_type names: a poison message."""


def decode(ce_type: str, payload: bytes) -> Message:
    """Parse the payload as the protobuf message named by ce_type (its full name)."""
    try:
        cls = symbol_database.Default().GetSymbol(ce_type)
    except KeyError as exc:
        raise UndecodableEvent(f"unknown event type {ce_type!r}") from exc
    msg = cls()
    try:
        msg.ParseFromString(payload)
    except DecodeError as exc:
        raise UndecodableEvent(f"malformed {ce_type} payload: {exc}") from exc
    return msg
