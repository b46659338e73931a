"""Candidates, exports, statistics and the dashboard through the gateway: scoped, masked, audited."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from gateway.tests.conftest import CANDIDATE
from gateway.tests.test_registration_pages import RegStack, candidate, post, read_notices, save, staff, text
from gateway.tests.test_registration_pages import rstack as rstack
from services.registration.adapters import AuditRow
from services.registration.service.facts import open_registration
from services.registration.tests.helpers import form, make_id

DATONG = "21145102010001"


def rows_of(resp) -> list[list]:
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(resp.get_data()), read_only=True).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_search_export_reveal_and_statistics(rstack: RegStack) -> None:  # noqa: F811
    client = candidate(rstack)  # CANDIDATE of point 0113 (city 01)
    read_notices(rstack, client)
    assert save(client, form()).status_code == 302
    with rstack.registration.ctx.db.unit_of_work() as session:
        open_registration(session, DATONG, "司马导出", "0201")

    point = staff(rstack, "point0113", "point", "01", "0113")
    page = text(point.get("/admin/candidates"))
    assert CANDIDATE in page and DATONG not in page
    assert make_id(131) not in page and "138****5678" in page  # masked on the list

    # The export holds what the page shows: the caller's scope, masked numbers.
    rows = rows_of(point.get("/admin/candidates/export.xlsx"))
    assert rows[0][:3] == ["考生号", "姓名", "地市"]
    ours = [r for r in rows[1:] if r[0] in (CANDIDATE, DATONG)]
    assert [r[0] for r in ours] == [CANDIDATE] and all(r[3] == "山西工程职业学院" for r in rows[1:])
    assert ours[0][4] == "填报中" and ours[0][5].startswith("1401****") and ours[0][6] == "138****5678"
    province = staff(rstack, "sheng01", "province")
    filtered = rows_of(province.get("/admin/candidates/export.xlsx", query_string={"name": "司马导出"}))
    assert [r[:4] for r in filtered[1:]] == [[DATONG, "司马导出", "大同市", "大同煤炭职业技术学院"]]
    review_rows = rows_of(province.get("/admin/reviews/export.xlsx"))
    assert review_rows[0][0] == "考生号"

    # 查看完整信息: a purpose is required; another point's staff cannot; each view is audited.
    assert post(point, f"/admin/candidates/{CANDIDATE}/reveal", {"purpose": ""}, page="/admin").status_code == 400
    other = staff(rstack, "point0102", "point", "01", "0102")
    assert post(other, f"/admin/candidates/{CANDIDATE}/reveal", {"purpose": "x"}, page="/admin").status_code == 403
    shown = post(point, f"/admin/candidates/{CANDIDATE}/reveal", {"purpose": "核对来电"}, page="/admin")
    assert shown.status_code == 200 and make_id(131) in text(shown) and "13812345678" in text(shown)
    assert shown.headers["Cache-Control"] == "no-store"
    with rstack.registration.ctx.db.unit_of_work() as session:
        audited = session.execute(select(AuditRow.actor, AuditRow.subject).where(AuditRow.action == "pii_viewed")).all()
    assert [tuple(a) for a in audited] == [("point0113", CANDIDATE)]

    # Statistics as inline SVG (no script, no CDN) and the dashboard, within the scope.
    stats = text(point.get("/admin/statistics"))
    assert stats.count("<svg") == 5 and "山西工程职业学院" in stats and "大同" not in stats
    assert 'id="payments-unavailable"' in stats  # this stack runs no payment service
    assert 'id="results-unavailable"' in stats  # nor a results service: the page still answers
    assert 'src="http' not in stats and "//cdn" not in stats  # nothing loaded from elsewhere
    home = text(point.get("/admin"))
    assert 'id="dashboard"' in home and "填报中" in home
