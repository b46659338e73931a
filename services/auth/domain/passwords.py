"""The password rule the manual shows on the change-password page (2.4)."""

from __future__ import annotations

import string

from zsb.common.errors import InvalidArgument

MIN_LENGTH = 12
MAX_LENGTH = 16
SPECIALS = "!@#%&*_"
ALLOWED = set(string.ascii_letters + string.digits + SPECIALS)


def check_new_password(new: str, *, username: str, old: str | None = None) -> None:
    """Raise InvalidArgument (field new_password) naming the first rule the password breaks."""

    def fail(message: str) -> None:
        raise InvalidArgument(message, reason="WEAK_PASSWORD", field="new_password")

    if not MIN_LENGTH <= len(new) <= MAX_LENGTH:
        fail(f"密码长度须为{MIN_LENGTH}-{MAX_LENGTH}位")
    if set(new) - ALLOWED:
        fail(f"密码只能包含字母、数字和特殊字符 {SPECIALS}")
    if not any(c.isupper() for c in new):
        fail("密码须包含大写字母")
    if not any(c.islower() for c in new):
        fail("密码须包含小写字母")
    if not any(c.isdigit() for c in new):
        fail("密码须包含数字")
    if not any(c in SPECIALS for c in new):
        fail(f"密码须包含特殊字符（{SPECIALS}）")
    if new == username:
        fail("密码不能与考生号相同")
    if old is not None and new == old:
        fail("新密码不能与原密码相同")
