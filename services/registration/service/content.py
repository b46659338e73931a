"""Content of the home and guide pages (2.6): anyone reads, the province edits; each edit audited.

Notices show from their publication time on, pinned first then newest; the province also sees
those not yet published. The 咨询电话 list names cities and points from the reference data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from services.registration.adapters import HotlineRow, SiteNoticeRow, SitePageRow
from services.registration.domain.content import (
    BODY_MAX,
    HOTLINES_MAX,
    PAGE_MAX,
    PAGE_TITLES,
    SEED_PAGES,
    TITLE_MAX,
    check_phone,
    check_text,
    page_key,
)
from services.registration.service.common import audit, load_reference
from zsb.common.clock import utcnow
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.principal import Role, require_staff
from zsb.common.runtime import ServiceContext

MAX_NOTICES = 100


@dataclass(frozen=True)
class NoticeInput:
    id: int
    title: str
    body: str
    published_at: datetime | None  # None: now
    pinned: bool


@dataclass(frozen=True)
class HotlineInput:
    city_code: str
    point_code: str
    phone: str
    hours: str


@dataclass(frozen=True)
class HotlineView:
    row: HotlineRow
    city_name: str
    point_name: str


class ContentService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- notices -----------------------------------------------------------------------------

    def list_notices(self, include_unpublished: bool, limit: int) -> list[SiteNoticeRow]:
        if include_unpublished:
            require_staff(Role.PROVINCE)
        query = select(SiteNoticeRow).order_by(
            SiteNoticeRow.pinned.desc(), SiteNoticeRow.published_at.desc(), SiteNoticeRow.id.desc()
        )
        if not include_unpublished:
            query = query.where(SiteNoticeRow.published_at <= utcnow())
        with self.ctx.db.unit_of_work() as session:
            return list(session.scalars(query.limit(min(max(limit or 20, 1), MAX_NOTICES))))

    def save_notice(self, data: NoticeInput) -> SiteNoticeRow:
        p = require_staff(Role.PROVINCE)
        title = check_text(data.title, "title", "标题", TITLE_MAX)
        body = check_text(data.body, "body", "正文", BODY_MAX)
        now = utcnow().replace(microsecond=0)
        with self.ctx.db.unit_of_work() as session:
            if data.id:
                row = session.get(SiteNoticeRow, data.id)
                if row is None:
                    raise NotFound("公告不存在", reason="NO_NOTICE", field="id")
            else:
                row = SiteNoticeRow()
                session.add(row)
            row.title, row.body, row.pinned = title, body, data.pinned
            row.published_at = data.published_at or now
            row.updated_at, row.updated_by = now, p.subject[:40]
            session.flush()
            audit(session, p, "notice_saved", f"notice-{row.id}", title)
            return row

    def delete_notice(self, notice_id: int) -> None:
        p = require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            row = session.get(SiteNoticeRow, notice_id)
            if row is None:
                raise NotFound("公告不存在", reason="NO_NOTICE", field="id")
            audit(session, p, "notice_deleted", f"notice-{row.id}", row.title)
            session.delete(row)

    # --- 报名操作流程, 考生使用说明 -------------------------------------------------------------------

    def get_page(self, key: str) -> SitePageRow:
        key = page_key(key)
        with self.ctx.db.unit_of_work() as session:
            row = session.get(SitePageRow, key)
            if row is None:  # only before the seed migration ran
                return SitePageRow(key=key, title=PAGE_TITLES[key], body=SEED_PAGES[key], updated_by="")
            return row

    def save_page(self, key: str, body: str) -> SitePageRow:
        p = require_staff(Role.PROVINCE)
        key = page_key(key)
        text = check_text(body, "body", "正文", PAGE_MAX)
        now = utcnow().replace(microsecond=0)
        with self.ctx.db.unit_of_work() as session:
            row = session.get(SitePageRow, key)
            if row is None:
                row = SitePageRow(key=key, title=PAGE_TITLES[key])
                session.add(row)
            row.body, row.updated_at, row.updated_by = text, now, p.subject[:40]
            audit(session, p, "page_saved", key, f"{len(text)}字")
            session.flush()
            return row

    # --- 网上报名咨询电话 ----------------------------------------------------------------------------

    def list_hotlines(self) -> list[HotlineView]:
        with self.ctx.db.unit_of_work() as session:
            reference = load_reference(session).data
            order = (HotlineRow.city_code, HotlineRow.point_code, HotlineRow.id)
            rows = session.scalars(select(HotlineRow).order_by(*order))
            out = []
            for row in rows:
                city, point = reference.cities.get(row.city_code), reference.points.get(row.point_code)
                names = (city.name if city else row.city_code, point.name if point else row.point_code)
                out.append(HotlineView(row, *names))
            return out

    def replace_hotlines(self, lines: list[HotlineInput]) -> list[HotlineView]:
        """The whole list at once (the province edits it as a table); every line checked first."""
        p = require_staff(Role.PROVINCE)
        if len(lines) > HOTLINES_MAX:
            raise InvalidArgument(f"电话不能超过{HOTLINES_MAX}条", reason="TOO_MANY", field="hotlines")
        with self.ctx.db.unit_of_work() as session:
            reference = load_reference(session).data
            rows = []
            for n, line in enumerate(lines, start=1):
                city, point = line.city_code.strip(), line.point_code.strip()
                if city not in reference.cities:
                    raise InvalidArgument(f"第{n}行：地市代码不正确", reason="BAD_CITY", field="city_code")
                if point and (point not in reference.points or reference.points.get(point).city_code != city):
                    raise InvalidArgument(f"第{n}行：报名点不属于该地市", reason="BAD_POINT", field="point_code")
                try:
                    phone = check_phone(line.phone)
                    hours = check_text(line.hours, "hours", "接听时间", 60, required=False)
                except InvalidArgument as err:
                    raise InvalidArgument(f"第{n}行：{err.message}", reason=err.reason, field=err.field) from None
                rows.append(HotlineRow(city_code=city, point_code=point, phone=phone, hours=hours))
            session.execute(delete(HotlineRow))
            session.add_all(rows)
            audit(session, p, "hotlines_replaced", "hotlines", f"{len(rows)}条")
        return self.list_hotlines()
