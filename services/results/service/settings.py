"""The province's admission settings: batch order, control lines, 调档比例, 征集志愿, tie-breaks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.results.adapters.tables import admission_settings, published_scores
from services.results.domain.settings import AdmissionSettings, check, frozen_changes, phase_list, to_json
from services.results.service.common import audit, bump_revision, current_publication, load_settings, published_phases
from zsb.common.clock import utcnow
from zsb.common.errors import FailedPrecondition
from zsb.common.principal import Role, require_staff
from zsb.common.runtime import ServiceContext


@dataclass(frozen=True)
class SettingsView:
    settings: AdmissionSettings
    version: int
    updated_by: str
    updated_at: datetime | None
    subjects: list[str]
    categories: list[str]
    published_batches: int


def _published_batches(session: Session, settings: AdmissionSettings) -> int:
    """How many batches (from the first) have a published phase."""
    published = published_phases(session)
    codes = {p.batch.code for p in phase_list(settings.config) if p.index in published}
    return sum(1 for b in settings.config.batches if b.code in codes)


def _published_facts(session: Session) -> tuple[list[str] | None, list[str]]:
    publication = current_publication(session)
    if publication is None:
        return None, []
    categories = session.execute(
        select(published_scores.c.major_category)
        .where(published_scores.c.publication_id == publication.id)
        .distinct()
        .order_by(published_scores.c.major_category)
    ).scalars()
    return list(json.loads(publication.subjects_json)), list(categories)


class SettingsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def get(self) -> SettingsView:
        require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            settings, version, by, at = load_settings(session)
            subjects, categories = _published_facts(session)
            return SettingsView(
                settings, version, by, at, subjects or [], categories, _published_batches(session, settings)
            )

    def save(self, new: AdmissionSettings) -> None:
        actor = require_staff(Role.PROVINCE)
        with self.ctx.db.unit_of_work() as session:
            row = session.execute(
                select(admission_settings.c.version).where(admission_settings.c.id == 1).with_for_update()
            ).first()
            old, *_ = load_settings(session)
            subjects, _ = _published_facts(session)
            check(new, subjects)
            problems = frozen_changes(old, new, _published_batches(session, old))
            if problems:
                raise FailedPrecondition("；".join(problems), reason="SETTINGS_FROZEN")
            values = {
                "data_json": json.dumps(to_json(new), ensure_ascii=False),
                "updated_by": actor.subject[:40],
                "updated_at": utcnow(),
            }
            version = (row.version if row else 0) + 1
            if row is None:
                session.execute(insert(admission_settings).values(id=1, version=version, **values))
            else:
                session.execute(
                    update(admission_settings).where(admission_settings.c.id == 1).values(version=version, **values)
                )
            order = " → ".join(
                f"{b.name}（调档比例{b.ratio_percent}%"
                f"{'，征集志愿' if b.solicitation else ''}，控制线 "
                + ("、".join(f"{c}:{v}" for c, v in sorted(b.control_lines.items())) or "未设")
                + (f"，其他{b.default_line}" if b.default_line is not None else "")
                + "）"
                for b in new.config.batches
            )
            tie = "、".join(new.config.tie_break) or "无"
            audit(session, actor, "settings_saved", f"settings{version}", f"{order}；同分排序：{tie}")
            bump_revision(session)
