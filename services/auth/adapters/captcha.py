"""Captcha images drawn on the server with the `captcha` library."""

from __future__ import annotations

import secrets

from captcha.image import ImageCaptcha

# No 0/O, 1/I/L: the answer is compared case-insensitively, so keep only unambiguous glyphs.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 4

_IMAGE = ImageCaptcha(width=160, height=60)


def new_challenge() -> tuple[str, bytes]:
    """(answer, PNG bytes) of a new challenge."""
    answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return answer, _IMAGE.generate(answer, format="png").getvalue()
