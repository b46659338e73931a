"""Shared by the preferences service's and the gateway's tests: a plan, eligible candidates, windows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from services.preferences.main import SPEC
from services.preferences.service import eligibility
from zsb.common.db import Database
from zsb.events.v1 import payment_events_pb2 as payment_ev
from zsb.events.v1 import registration_events_pb2 as registration_ev
from zsb.preferences.v1 import preferences_pb2 as pb

# The shared topics hold other tests' events about the same 考生号s (e.g. an abandonment of
# 21145101130001): tests that feed the projection themselves run the service without consumers.
WITHOUT_CONSUMERS = replace(SPEC, subscriptions=lambda _ctx: [])

CANDIDATE = "21145101130001"
OTHER = "21145101130002"
FAR = "21145102050001"  # city 02, point 0205

# (batch, 院校代号, 院校名称, 专业代号, 专业名称, 报考专业类别, 计划数)
PLAN: list[tuple[str, str, str, str, str, str, str]] = [
    ("普通批本科", "10108", "山西大学", "01", "会计学", "01", "30"),
    ("普通批本科", "10108", "山西大学", "02", "财务管理", "01", "20"),
    ("普通批本科", "10108", "山西大学", "03", "汉语言文学", "03", "25"),
    ("普通批本科", "10112", "太原理工大学", "01", "计算机科学与技术", "08", "40"),
    ("普通批本科", "10112", "太原理工大学", "02", "财务管理", "01", "15"),
    ("普通批本科", "10125", "山西财经大学", "01", "会计学", "01", "50"),
    ("普通批本科", "10125", "山西财经大学", "02", "金融学", "01", "30"),
    ("普通批本科", "10125", "山西财经大学", "03", "市场营销", "02", "20"),
    ("普通批本科", "10126", "运城学院", "01", "会计学", "01", "10"),
    ("普通批本科", "10126", "运城学院", "02", "金融学", "01", "10"),
    ("普通批本科", "10126", "运城学院", "03", "财务管理", "01", "10"),
    ("普通批本科", "11242", "太原学院", "01", "会计学", "01", "12"),
    ("建档立卡专项批本科", "10108", "山西大学", "01", "会计学", "01", "5"),
    ("jdlk", "10125", "山西财经大学", "01", "会计学", "01", "5"),
]
# Eight distinct category-01 choices of the ordinary batch, A to H.
EIGHT = [
    ("10108", "01"),
    ("10108", "02"),
    ("10112", "02"),
    ("10125", "01"),
    ("10125", "02"),
    ("10126", "01"),
    ("10126", "02"),
    ("10126", "03"),
]


def plan_rows(lines: list[tuple[str, ...]] | None = None) -> list[pb.PlanRow]:
    fields = ("batch", "institution_code", "institution_name", "major_code", "major_name", "major_category", "places")
    return [pb.PlanRow(**dict(zip(fields, line, strict=True))) for line in (lines or PLAN)]


def choices(*pairs: tuple[str, str], start: str = "A") -> list[pb.Choice]:
    letters = "ABCDEFGH"[letters_index(start) :]
    return [pb.Choice(slot=s, institution_code=i, major_code=m) for s, (i, m) in zip(letters, pairs, strict=False)]


def letters_index(letter: str) -> int:
    return "ABCDEFGH".index(letter)


def key() -> str:
    return uuid.uuid4().hex


def make_eligible(
    db: Database,
    candidate_no: str = CANDIDATE,
    *,
    category: str = "01",
    poverty: bool = False,
    identity: bool = True,
    paid: bool = True,
    qualified: bool = True,
) -> None:
    """Feed the projection the facts other services publish, through the consumers' own handlers."""
    with db.unit_of_work() as session:
        eligibility.on_confirmed(
            session,
            registration_ev.RegistrationConfirmed(
                candidate_no=candidate_no,
                name="张晓明",
                candidate_category="1",
                major_category=category,
                poverty_registered=poverty,
                city_code=candidate_no[6:8],
                point_code=candidate_no[6:10],
            ),
        )
        if identity:
            eligibility.on_identity(session, candidate_no, True, None)
        if paid:
            eligibility.on_paid(
                session, payment_ev.PaymentSucceeded(candidate_no=candidate_no, order_no=f"o{candidate_no}")
            )
        if qualified:
            eligibility.on_qualification(session, candidate_no, True, None)


def window(hours_from: float = -1, hours_to: float = 1) -> tuple[int, int]:
    """(opens_at, closes_at) in unix seconds, relative to now."""
    now = time.time()
    return int(now + hours_from * 3600), int(now + hours_to * 3600)


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
