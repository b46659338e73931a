"""The retention job: deletes photos past `IDENTITY_PHOTO_RETENTION_DAYS` (see `domain.case.photo_expired`).

Runs in the service on a timer; tests call `purge(now)` with their own clock. For each candidate
with an expired photo the case is locked, the objects are deleted from the bucket first and then
the rows are marked deleted, so that a failure in between leaves a row pointing at nothing
(shown as deleted) rather than an image that outlives its period. Each deletion is audited.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from services.identity.adapters import PhotoRow
from services.identity.domain.case import CaseStatus, PhotoKind, photo_expired
from services.identity.service.common import Deps, audit

log = logging.getLogger(__name__)

BATCH = 200


class RetentionJob:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def run(self, stop: threading.Event) -> None:
        interval = self.deps.settings.retention_interval_seconds
        while not stop.wait(interval):
            try:
                self.purge()
            except Exception:
                log.exception("photo retention job failed; will run again")

    def purge(self, now: datetime | None = None) -> int:
        """Delete every expired photo; returns how many were deleted."""
        now = now or self.deps.clock()
        days = self.deps.settings.photo_retention_days
        cutoff = now - timedelta(days=days)  # a photo uploaded after this cannot be expired
        deleted = 0
        seen: set[str] = set()
        while True:
            with self.deps.db.unit_of_work() as session:
                query = (
                    select(PhotoRow.candidate_no)
                    .where(PhotoRow.deleted_at.is_(None), PhotoRow.uploaded_at < cutoff)
                    .distinct()
                    .order_by(PhotoRow.candidate_no)
                    .limit(BATCH)
                )
                if seen:
                    query = query.where(PhotoRow.candidate_no > max(seen))
                candidates = list(session.scalars(query))
            for candidate_no in candidates:
                deleted += self._purge_candidate(candidate_no, days, now)
            seen.update(candidates)
            if len(candidates) < BATCH:
                break
        if deleted:
            log.info("expired photos deleted", extra={"count": deleted})
        return deleted

    def _purge_candidate(self, candidate_no: str, days: int, now: datetime) -> int:
        with self.deps.db.unit_of_work() as session:
            case = self.deps.repo(session).case(candidate_no, for_update=True)
            if case is None:
                return 0
            status = CaseStatus(case.status)
            photos = session.scalars(
                select(PhotoRow).where(PhotoRow.candidate_no == candidate_no, PhotoRow.deleted_at.is_(None))
            ).all()
            expired = [p for p in photos if photo_expired(p.uploaded_at, status, case.concluded_at, days, now)]
            for photo in expired:
                self.deps.photos.delete(photo.object_key)
                photo.deleted_at = now
            if expired:
                labels = "、".join(PhotoKind(p.kind).label for p in expired)
                audit(
                    session, "system", "system", "photos_deleted", candidate_no, f"保存期限{days}天已满：{labels}", now
                )
            # The case itself is unchanged: an open case needs new photos before 开始认证 (they are
            # missing now), and a concluded case keeps its result.
            return len(expired)
