"""The password rule and the lockout arithmetic."""

from datetime import datetime, timedelta

import pytest

from services.auth.domain.passwords import check_new_password
from services.auth.domain.throttle import (
    ACCOUNT_LIMIT,
    IP_LIMIT,
    account_blocked_until,
    blocked_until,
    hourly_cap_until,
)
from zsb.common.errors import InvalidArgument

NOW = datetime(2026, 3, 1, 8, 0, 0)


@pytest.mark.parametrize("password", ["Abcdef12345!", "Zz9_Zz9_Zz9_", "aB3#" * 4, "Qw1&qwertyuiop"])
def test_good_passwords(password: str) -> None:
    check_new_password(password, username="21145101130001", old="Old1!password")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Abc12345!", "12-16位"),
        ("Abcdefgh12345!xyz", "12-16位"),
        ("abcdefgh123!", "大写字母"),
        ("ABCDEFGH123!", "小写字母"),
        ("Abcdefghijk!", "数字"),
        ("Abcdefgh1234", "特殊字符"),
        ("Abcdefg 123!", "只能包含"),
        ("Abcdefgh123$", "只能包含"),
        ("Abcdefgh123！", "只能包含"),
        ("Abcdefgh12中!", "只能包含"),
        ("", "12-16位"),
    ],
)
def test_bad_passwords_name_the_rule(password: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as err:
        check_new_password(password, username="21145101130001")
    assert err.value.field == "new_password"


def test_not_the_old_password_nor_the_username() -> None:
    with pytest.raises(InvalidArgument, match="原密码"):
        check_new_password("Abcdefgh123!", username="u", old="Abcdefgh123!")
    with pytest.raises(InvalidArgument, match="考生号"):
        check_new_password("Abcdefgh123!", username="Abcdefgh123!")


def minutes_ago(*ms: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in ms]


def test_four_failures_do_not_lock() -> None:
    assert account_blocked_until(minutes_ago(1, 2, 3, 4), NOW) is None


def test_fifth_failure_in_fifteen_minutes_locks_for_fifteen_minutes() -> None:
    until = account_blocked_until(minutes_ago(10, 8, 6, 4, 2), NOW)
    assert until == NOW - timedelta(minutes=2) + ACCOUNT_LIMIT.lock


def test_failures_spread_over_more_than_the_window_do_not_lock() -> None:
    assert account_blocked_until(minutes_ago(40, 30, 20, 10, 1), NOW) is None


def test_lock_ends() -> None:
    assert account_blocked_until(minutes_ago(20, 19, 18, 17, 16), NOW) is None
    assert account_blocked_until(minutes_ago(20, 19, 18, 17, 14), NOW) is not None


def test_hourly_cap_of_one_hundred() -> None:
    failures = [NOW - timedelta(seconds=30 * i + 1) for i in range(100)]
    until = hourly_cap_until(failures, NOW)
    assert until == min(failures) + timedelta(hours=1)
    assert hourly_cap_until(failures[:99], NOW) is None


def test_ip_limit_is_thirty_in_fifteen_minutes() -> None:
    assert blocked_until(minutes_ago(*[i * 0.4 for i in range(29)]), IP_LIMIT, NOW) is None
    assert blocked_until(minutes_ago(*[i * 0.4 for i in range(30)]), IP_LIMIT, NOW) is not None
