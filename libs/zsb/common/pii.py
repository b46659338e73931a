"""Protection of personal data: AES-GCM encryption at rest, HMAC blind indexes, masking.

A stored value is `v1:` + base64(nonce || ciphertext); the HMAC column holds a keyed hash
of the normalised value, for lookups and uniqueness without decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


def _key(b64: str, name: str) -> bytes:
    try:
        key = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} is not valid base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must be 32 bytes (base64), got {len(key)}")
    return key


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class PiiProtector:
    def __init__(self, encryption_key_b64: str, hmac_key_b64: str) -> None:
        self._aead = AESGCM(_key(encryption_key_b64, "PII_ENCRYPTION_KEY"))
        self._mac_key = _key(hmac_key_b64, "PII_HMAC_KEY")

    def encrypt(self, value: str, context: str = "") -> str:
        """Encrypt; `context` (e.g. the column name) is bound as associated data."""
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, value.encode(), context.encode())
        return _PREFIX + base64.b64encode(nonce + ct).decode()

    def decrypt(self, token: str, context: str = "") -> str:
        if not token.startswith(_PREFIX):
            raise ValueError("unknown ciphertext version")
        raw = base64.b64decode(token[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def blind_index(self, value: str, context: str = "") -> str:
        """Keyed hash of the upper-cased, trimmed value (so '...x' and '...X' match)."""
        msg = f"{context}\x00{value.strip().upper()}".encode()
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """140105199001011238 -> 1401**********1234."""
    v = value.strip()
    return v[:4] + "*" * max(len(v) - 8, 0) + v[-4:] if len(v) > 8 else "*" * len(v)


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678."""
    v = value.strip()
    return v[:3] + "****" + v[-4:] if len(v) >= 11 else "*" * len(v)


def mask_name(value: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*."""
    v = value.strip()
    if len(v) <= 1:
        return v
    if len(v) == 2:
        return v[0] + "*"
    return v[0] + "*" * (len(v) - 2) + v[-1]
