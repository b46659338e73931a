"""Content of the home and guide pages through the API: public reads, province-only edits, audited."""

from __future__ import annotations

import time

import grpc
from sqlalchemy import select

from services.registration.adapters import AuditRow
from services.registration.tests.test_service import Reg, refused
from services.registration.tests.test_service import reg as reg
from zsb.registration.v1 import registration_pb2 as pb


def test_notices_pages_and_hotlines(reg: Reg) -> None:  # noqa: F811
    province, city = reg.staff("province", name="sheng01"), reg.staff("city", "01")
    # Seeded with what the pages showed before.
    process = reg.stub.GetSitePage(pb.GetSitePageRequest(key="process"))
    assert process.title == "报名操作流程" and process.body.splitlines()[0].startswith("考生使用报名点提供的考生号")
    refused(lambda: reg.stub.GetSitePage(pb.GetSitePageRequest(key="secret")), grpc.StatusCode.INVALID_ARGUMENT)

    new = pb.SaveNoticeRequest(notice=pb.SiteNotice(title="关于网上报名的通知", body="3月1日开始报名。"))
    refused(lambda: reg.stub.SaveNotice(new, metadata=city), grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED")
    first = reg.stub.SaveNotice(new, metadata=province)
    pinned = reg.stub.SaveNotice(
        pb.SaveNoticeRequest(notice=pb.SiteNotice(title="置顶：缴费提醒", body="请按时缴费。", pinned=True)),
        metadata=province,
    )
    later = pb.SiteNotice(title="成绩查询安排", body="稍后公布。", published_at=int(time.time()) + 3600)
    future = reg.stub.SaveNotice(pb.SaveNoticeRequest(notice=later), metadata=province)
    refused(
        lambda: reg.stub.SaveNotice(pb.SaveNoticeRequest(notice=pb.SiteNotice(title="", body="x")), metadata=province),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUIRED",
    )
    # The public sees the published ones, pinned first; the province sees the coming one too.
    public = reg.stub.ListNotices(pb.ListNoticesRequest())
    assert [n.id for n in public.notices] == [pinned.id, first.id]
    everything = pb.ListNoticesRequest(all=True)
    refused(lambda: reg.stub.ListNotices(everything, metadata=city), grpc.StatusCode.PERMISSION_DENIED)
    every = reg.stub.ListNotices(pb.ListNoticesRequest(all=True), metadata=province)
    assert {n.id for n in every.notices} == {first.id, pinned.id, future.id}
    edited = pb.SiteNotice(id=first.id, title="关于网上报名的通知（更正）", body="3月2日开始报名。")
    reg.stub.SaveNotice(pb.SaveNoticeRequest(notice=edited), metadata=province)
    reg.stub.DeleteNotice(pb.DeleteNoticeRequest(id=pinned.id), metadata=province)
    public = reg.stub.ListNotices(pb.ListNoticesRequest())
    assert [(n.title, n.body) for n in public.notices] == [("关于网上报名的通知（更正）", "3月2日开始报名。")]

    refused(
        lambda: reg.stub.SaveSitePage(pb.SitePage(key="manual", body="新说明"), metadata=city),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    reg.stub.SaveSitePage(pb.SitePage(key="manual", body="第一段。\n\n第二段。"), metadata=province)
    manual = reg.stub.GetSitePage(pb.GetSitePageRequest(key="manual"))
    assert manual.body == "第一段。\n\n第二段。" and manual.updated_by == "sheng01"

    lines = [
        pb.Hotline(city_code="01", phone="0351-1234567", hours="工作日 8:30-17:30"),
        pb.Hotline(city_code="01", point_code="0113", phone="0351-7654321"),
    ]
    refused(
        lambda: reg.stub.ReplaceHotlines(pb.ReplaceHotlinesRequest(hotlines=lines), metadata=city),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    bad = [*lines, pb.Hotline(city_code="02", point_code="0113", phone="0351-1")]
    err = refused(
        lambda: reg.stub.ReplaceHotlines(pb.ReplaceHotlinesRequest(hotlines=bad), metadata=province),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_POINT",
    )
    assert "第3行" in err.details()
    assert not reg.stub.ListHotlines(pb.ListHotlinesRequest()).hotlines  # nothing half-written
    reg.stub.ReplaceHotlines(pb.ReplaceHotlinesRequest(hotlines=lines), metadata=province)
    shown = reg.stub.ListHotlines(pb.ListHotlinesRequest()).hotlines
    assert [(h.city_name, h.point_name, h.phone) for h in shown] == [
        ("太原市", "", "0351-1234567"),
        ("太原市", "山西工程职业学院", "0351-7654321"),
    ]

    with reg.db.unit_of_work() as session:
        query = select(AuditRow.action).where(AuditRow.actor == "sheng01").order_by(AuditRow.id)
        actions = session.scalars(query).all()
    assert actions == ["notice_saved"] * 4 + ["notice_deleted", "page_saved", "hotlines_replaced"]
