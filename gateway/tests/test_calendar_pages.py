"""The calendar pages: the province sets a phase, city staff cannot, candidates see what is open."""

from __future__ import annotations

from gateway.tests.test_registration_pages import (
    RegStack,
    candidate,
    post,
    read_notices,
    save,
    staff,
    text,
)
from gateway.tests.test_registration_pages import rstack as rstack
from services.registration.adapters import calendar_phases
from services.registration.tests.helpers import form
from zsb.common.calendar import Phase, Window, load_calendar


def registration_phase(stack: RegStack) -> Window:
    """The stored window, read from the registration service's database."""
    with stack.registration.ctx.db.unit_of_work() as session:
        return load_calendar(session, calendar_phases).window(Phase.REGISTRATION)


def test_province_sets_a_phase_and_candidates_see_it(rstack: RegStack) -> None:  # noqa: F811
    city = staff(rstack, "city01", "city", "01")
    page = city.get("/admin/calendar")
    assert page.status_code == 200 and "网上报名开放中" in text(page)
    refused = post(city, "/admin/calendar/registration", {"opens_at": "2099-03-01T09:00"}, page="/admin/calendar")
    assert refused.status_code == 403
    assert registration_phase(rstack) == Window()

    province = staff(rstack, "sheng01", "province")
    bad = post(
        province,
        "/admin/calendar/registration",
        {"opens_at": "2099-03-02T09:00", "closes_at": "2099-03-01T09:00"},
        page="/admin/calendar",
    )
    assert bad.status_code == 400 and "结束时间须晚于开始时间" in text(bad)
    assert post(province, "/admin/calendar/nonsense", {}, page="/admin/calendar").status_code == 404
    saved = post(province, "/admin/calendar/registration", {"opens_at": "2099-03-01T09:00"}, page="/admin/calendar")
    assert saved.status_code == 302
    page = province.get("/admin/calendar")
    assert "网上报名将于2099年3月1日09:00开放" in text(page) and "sheng01" in text(page)
    assert 'value="2099-03-01T09:00"' in text(page)

    client = candidate(rstack)
    home = client.get("/registration")
    assert "下一步：网上报名将于2099年3月1日09:00开放" in text(home)
    read_notices(rstack, client)
    refused_form = save(client, form())
    assert refused_form.status_code == 409 and "网上报名将于2099年3月1日09:00开放" in text(refused_form)

    # Cleared again: open, and the form is accepted.
    assert post(province, "/admin/calendar/registration", {}, page="/admin/calendar").status_code == 302
    assert save(client, form()).status_code == 302
