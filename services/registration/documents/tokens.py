"""The signed token in a ticket's QR code: which ticket it is, and that we issued it.

`base64url(version ‖ serial ‖ tag)`: a 12-byte random serial (stored with the seat), and the first
16 bytes of HMAC-SHA256 over the version and serial. 39 characters, so the QR code stays small
enough to scan from paper. The tag lets the public verification page refuse a forged code before
any lookup; the serial says which seat assignment the ticket was printed from, so a ticket of an
arrangement that was replaced is recognised as outdated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
SERIAL_BYTES = 12
TAG_BYTES = 16
TOKEN_LENGTH = 39  # base64url of 29 bytes, unpadded
_HKDF_INFO = b"zsb registration ticket token v1"


def new_serial() -> str:
    return secrets.token_hex(SERIAL_BYTES)


class TicketTokens:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the ticket key must have at least 32 bytes")
        self._key = key

    @classmethod
    def from_settings(cls, ticket_key_b64: str, pii_hmac_key_b64: str) -> TicketTokens:
        """DOCUMENTS_TICKET_KEY, or a key derived from PII_HMAC_KEY for this purpose only."""
        if ticket_key_b64.strip():
            return cls(base64.b64decode(ticket_key_b64.strip(), validate=True))
        if not pii_hmac_key_b64.strip():
            raise RuntimeError("DOCUMENTS_TICKET_KEY (or PII_HMAC_KEY) must be set to sign admission tickets")
        master = base64.b64decode(pii_hmac_key_b64.strip(), validate=True)
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(master)
        return cls(derived)

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"zsb-ticket\x00" + body, hashlib.sha256).digest()[:TAG_BYTES]

    def sign(self, serial: str) -> str:
        raw = bytes.fromhex(serial)
        if len(raw) != SERIAL_BYTES:
            raise ValueError("a ticket serial has 12 bytes")
        body = bytes([VERSION]) + raw
        return base64.urlsafe_b64encode(body + self._tag(body)).rstrip(b"=").decode()

    def verify(self, token: str) -> str | None:
        """The serial of a token we signed; None for anything else (malformed, altered, other key)."""
        text = (token or "").strip()
        if len(text) != TOKEN_LENGTH or not text.isascii():
            return None
        try:
            data = base64.urlsafe_b64decode(text + "=")
        except (binascii.Error, ValueError):
            return None
        if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
            return None  # one spelling per token: no stray characters, no unused low bits
        body, tag = data[: 1 + SERIAL_BYTES], data[1 + SERIAL_BYTES :]
        if len(tag) != TAG_BYTES or body[0] != VERSION or not hmac.compare_digest(tag, self._tag(body)):
            return None
        return body[1:].hex()
