"""报名统计 with 成绩与录取 through the gateway: score bands and admissions of the staff member's
scope drawn as inline SVG, the dashboard's figures, and the Excel export of the same figures."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from gateway.app import create_app
from gateway.tests.test_registration_pages import RegStack, staff, text
from services.auth.main import SPEC as AUTH
from services.registration.main import SPEC as REGISTRATION
from services.results.tests.support import WITHOUT_CONSUMERS as RESULTS
from services.results.tests.support import Harness
from services.results.tests.test_stats import admit_everyone
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings


class StatsStack(RegStack):
    results: Harness


@pytest.fixture
def sstack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[StatsStack]:
    auth_settings = service_settings("auth", sqlite_url)
    runtimes = [
        ServiceRuntime(AUTH, auth_settings),
        ServiceRuntime(REGISTRATION, service_settings("registration", f"sqlite:///{tmp_path / 'reg.db'}")),
        ServiceRuntime(RESULTS, service_settings("results", f"sqlite:///{tmp_path / 'results.db'}")),
    ]
    ports = [r.start() for r in runtimes]
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=",".join(
                f"{r.spec.name}=127.0.0.1:{port}" for r, port in zip(runtimes, ports, strict=True)
            ),
        )
    )
    app.config["TESTING"] = True
    stack = StatsStack(
        app, runtimes[0], Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer
    )
    stack.registration = runtimes[1]
    stack.results = Harness(runtimes[2], bearer)
    yield stack
    for r in reversed(runtimes):
        r.stop(grace=0)


def sheets(resp) -> dict[str, list[list]]:
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert resp.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(resp.get_data()), read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def test_score_bands_and_admissions_within_the_scope(sstack: StatsStack) -> None:
    point = staff(sstack, "point0113", "point", "01", "0113")
    before = text(point.get("/admin/statistics"))
    assert 'id="scores-unpublished"' in before and 'id="admission-unpublished"' in before

    admit_everyone(sstack.results)  # c1–c3 at point 0113, c4–c6 at 0102 (city 01), c7–c8 at 0201 (city 02)

    # A point's staff: their three candidates only (all placed at 山西大学), drawn on the server.
    mine = text(point.get("/admin/statistics"))
    assert 'id="scored-total">3<' in mine and 'id="participants">3<' in mine
    assert "报考专业类别 01（3人，最高240分）" in mine and "240–249分" in mine
    assert "山西大学" in mine and "太原理工大学" not in mine and "山西财经大学" not in mine
    assert "<td>普通批本科</td><td>2</td><td>2</td><td>0</td>" in mine
    assert mine.count("<svg") == 5 + 1 + 3  # registration, one category's bands, three admission charts
    assert 'src="http' not in mine and "<script" not in mine.split('id="results-statistics"')[1]

    # The export holds the same figures, for the same scope.
    book = sheets(point.get("/admin/statistics/results.xlsx"))
    assert list(book) == ["分数段", "按批次", "按院校", "按专业", "征集志愿"]
    assert book["分数段"] == [
        ["报考专业类别", "分数段", "最低分", "最高分", "人数"],
        ["01", "240–249", 240, 249, 1],
        ["01", "230–239", 230, 239, 2],
    ]
    assert book["按批次"][1:] == [
        ["建档立卡专项批本科", 1, 1, 0],
        ["普通批本科", 2, 2, 0],
        ["普通批本科征集志愿", 0, 0, 0],
    ]
    assert book["按院校"] == [
        ["院校代号", "院校名称", "投档（含院校审核中）", "已录取", "退档"],
        ["10108", "山西大学", 3, 3, 0],
    ]
    assert book["按专业"][1:] == [["10108", "01", "山西大学 计算机科学与技术", 3, 3, 0]]
    assert book["征集志愿"][1:] == [["普通批本科", 1, 0, 0]]

    # The console's home shows the scope's figures.
    home = text(point.get("/admin"))
    assert 'id="dash-scored">3人<' in home and 'id="dash-admitted">3人<' in home and 'id="dash-returned">0人<' in home

    # The province sees everyone: the 退档 at 太原理工大学 and the 征集志愿 placement.
    province = staff(sstack, "sheng01", "province")
    everything = text(province.get("/admin/statistics"))
    assert 'id="scored-total">8<' in everything and "太原理工大学" in everything and "山西财经大学" in everything
    assert "<td>普通批本科</td><td>4</td><td>4</td><td>1</td>" in everything
    assert "<td>普通批本科</td><td>1</td><td>1</td><td>1</td>" in everything  # 征集志愿: vacancies, applicants, placed
    assert "退档人数（按批次）" in everything
    whole = sheets(province.get("/admin/statistics/results.xlsx"))
    assert ["10112", "太原理工大学", 2, 1, 1] in whole["按院校"]
    assert sum(row[4] for row in whole["分数段"][1:]) == 8

    # Another point of another city: its own two candidates, nothing of point 0113's.
    other = staff(sstack, "point0201", "point", "02", "0201")
    theirs = sheets(other.get("/admin/statistics/results.xlsx"))
    assert theirs["按院校"][1:] == [["10112", "太原理工大学", 1, 0, 1]]
    assert "山西大学" not in text(other.get("/admin/statistics"))
