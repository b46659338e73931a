"""The candidate's 身份认证 (manual 2.8.4): consent, the three photos, 开始认证, 申请人工审核."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select

from services.identity.adapters import (
    CandidateRow,
    CaseRow,
    JobRow,
    JobState,
    PhotoRow,
    Repository,
    to_case,
    write_case,
)
from services.identity.domain.case import IdentityCase, PhotoKind, ReviewReason, parse_photo_kind
from services.identity.service.calendar import IdentityWindow, require_window, window
from services.identity.service.common import Deps, ineligibility, publish, require_eligible, timestamp
from zsb.common.errors import InvalidArgument
from zsb.common.principal import require_candidate
from zsb.common.uploads import check_upload
from zsb.events.v1 import identity_events_pb2 as ev

log = logging.getLogger(__name__)


@dataclass
class MyIdentity:
    """A candidate's case as their page shows it, read in one transaction."""

    candidate_no: str
    candidate: CandidateRow | None
    case: IdentityCase
    photos: dict[PhotoKind, PhotoRow] = field(default_factory=dict)
    current: JobRow | None = None
    queue_position: int = 0
    window: IdentityWindow = field(default_factory=lambda: IdentityWindow(True, ""))  # 身份认证's span

    @property
    def ineligible(self) -> str:
        return ineligibility(self.candidate)


def queue_position(repo: Repository, job: JobRow | None) -> int:
    """Verifications queued or running ahead of this one."""
    if job is None or job.state != JobState.QUEUED:
        return 0
    ahead = repo.session.scalar(
        select(func.count())
        .select_from(JobRow)
        .where(JobRow.state.in_([JobState.QUEUED, JobState.RUNNING]), JobRow.enqueued_at < job.enqueued_at)
    )
    return int(ahead or 0)


class CandidateService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _snapshot(self, repo: Repository, candidate_no: str, row: CaseRow | None) -> MyIdentity:
        current = repo.job(row.current_job) if row is not None else None
        return MyIdentity(
            window=window(repo.session, self.deps.clock()),
            candidate_no=candidate_no,
            candidate=repo.candidate(candidate_no),
            case=to_case(row) if row is not None else IdentityCase(),
            photos=repo.photos(candidate_no, include_deleted=True),
            current=current,
            queue_position=queue_position(repo, current),
        )

    def view(self) -> MyIdentity:
        me = require_candidate()
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            return self._snapshot(repo, me.subject, repo.case(me.subject))

    def consent(self, version: str) -> MyIdentity:
        me, now = require_candidate(), self.deps.clock()
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            require_eligible(repo.candidate(me.subject))
            require_window(session, now)
            row = repo.case_or_new(me.subject, now)
            case = to_case(row)
            case.check_open()
            consented = case.give_consent(version, self.deps.policy, now)
            if consented is not case:
                row.consent_retention_days = self.deps.settings.photo_retention_days
                write_case(row, consented, now)
            return self._snapshot(repo, me.subject, row)

    def upload(self, kind_value: str, filename: str, declared_type: str, data: bytes) -> tuple[PhotoRow, MyIdentity]:
        me, kind = require_candidate(), parse_photo_kind(kind_value)
        policy, settings = self.deps.policy, self.deps.settings
        with self.deps.db.unit_of_work() as session:  # refuse early, before the costly checks
            repo = self.deps.repo(session)
            require_eligible(repo.candidate(me.subject))
            require_window(session, self.deps.clock())
            row = repo.case(me.subject)
            (to_case(row) if row is not None else IdentityCase()).check_can_upload(policy)
        checked = check_upload(data, filename, declared_type, settings.upload_limits())
        assert checked.width is not None and checked.height is not None
        if min(checked.width, checked.height) < settings.photo_min_side:
            raise InvalidArgument(
                f"{kind.label}尺寸过小（{checked.width}×{checked.height}），短边至少需要{settings.photo_min_side}像素",
                reason="IMAGE_TOO_SMALL",
                field="file",
            )
        role = kind.face_role
        if role is not None:
            # The photo rules at once, so that the candidate retakes the photo now, not after 开始认证.
            engine = self.deps.engines.get(settings.engine_wait_seconds)
            problem = engine.inspect(checked.data, role).problem
            if problem is not None:
                raise InvalidArgument(problem.message(role), reason=f"PHOTO_{problem.value.upper()}", field="file")
        photo_id = uuid.uuid4().hex
        key = f"{me.subject}/{kind.value}-{photo_id}{checked.kind.extension}"
        # The object first: a row must never point at nothing. A crash in between leaves an
        # unreferenced object in the private bucket, shown to no one.
        self.deps.photos.put(key, checked.data, checked.content_type)
        replaced = ""
        try:
            with self.deps.db.unit_of_work() as session:
                repo = self.deps.repo(session)
                now = self.deps.clock()
                require_eligible(repo.candidate(me.subject))
                require_window(session, now)  # again: the window may have closed during the checks
                row = repo.case_or_new(me.subject, now)
                case = to_case(row).photo_uploaded(kind, policy)
                old = repo.photos(me.subject, include_deleted=True).get(kind)
                if old is not None:
                    replaced = old.object_key if old.deleted_at is None else ""
                    session.delete(old)
                    session.flush()  # the unique (candidate, kind) row goes before the new one comes
                photo = PhotoRow(
                    id=photo_id,
                    candidate_no=me.subject,
                    kind=kind.value,
                    object_key=key,
                    content_type=checked.content_type,
                    size=checked.size,
                    sha256=checked.sha256,
                    width=checked.width,
                    height=checked.height,
                    mismatch=checked.mismatch[:200],
                    uploaded_at=now,
                )
                session.add(photo)
                write_case(row, case, now)
                session.flush()
                snapshot = self._snapshot(repo, me.subject, row)
        except BaseException:
            self.deps.photos.delete(key)
            raise
        if replaced:
            try:
                self.deps.photos.delete(replaced)
            except Exception:  # the new photo is in place; a leftover object is only space
                log.exception("could not delete a replaced photo", extra={"key": replaced})
        return photo, snapshot

    def start(self) -> MyIdentity:
        """开始认证: queue the comparison for the worker; the page then polls for the result."""
        me = require_candidate()
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            now = self.deps.clock()
            require_eligible(repo.candidate(me.subject))
            require_window(session, now)
            row = repo.case_or_new(me.subject, now)
            photos = repo.photos(me.subject)
            case = to_case(row).start(set(photos), self.deps.policy)
            job = JobRow(
                id=uuid.uuid4().hex,
                candidate_no=me.subject,
                state=JobState.QUEUED,
                enqueued_at=now,
                not_before=now,
                portrait_sha256=photos[PhotoKind.PORTRAIT].sha256,
                id_card_sha256=photos[PhotoKind.ID_CARD_FRONT].sha256,
            )
            session.add(job)
            row.current_job = job.id
            write_case(row, case, now)
            session.flush()
            snapshot = self._snapshot(repo, me.subject, row)
        self.deps.wake.set()
        return snapshot

    def request_review(self, reason: str) -> MyIdentity:
        """申请人工审核 with the candidate's reason; a reviewer compares the photos by eye."""
        me = require_candidate()
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            now = self.deps.clock()
            require_eligible(repo.candidate(me.subject))
            require_window(session, now)
            row = repo.case_or_new(me.subject, now)
            case = to_case(row).request_review(set(repo.photos(me.subject)), reason, self.deps.policy, now)
            write_case(row, case, now)
            publish(
                session,
                me.subject,
                ev.IdentityManualReviewRequested(
                    candidate_no=me.subject,
                    verification_id=row.current_job or "",
                    reason_kind=ReviewReason.REQUESTED.value,
                    at=timestamp(now),
                ),
            )
            return self._snapshot(repo, me.subject, row)
