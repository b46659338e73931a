"""The verification worker: takes queued comparisons off the jobs table and runs the face engine.

Off the request path: 开始认证 only writes a `verification_jobs` row; a worker thread (one per
process, holding one warm engine) claims it, compares the faces and records the verdict on the
case, with its event, in one transaction.

Claiming is a short transaction: the row becomes `running` with a lease, and on MySQL/MariaDB
`FOR UPDATE SKIP LOCKED` lets several replicas claim different rows. The comparison runs outside
any transaction. A worker that dies leaves its job `running`; once the lease has passed another
worker takes it over, so a queued verification survives restarts. A job that keeps failing goes
to manual review after `job_max_tries`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import Counter, Histogram
from sqlalchemy import or_, select

from services.identity.adapters import CaseRow, JobRow, JobState, to_case, write_case
from services.identity.domain.case import CaseStatus, IdentityCase, PhotoKind, ReviewReason, photo_kind_of
from services.identity.domain.face import FaceVerification, Outcome
from services.identity.service.common import Deps, publish, timestamp
from zsb.events.v1 import identity_events_pb2 as ev

log = logging.getLogger(__name__)

VERIFICATIONS = Counter("zsb_identity_verifications_total", "automatic verifications finished", ["outcome"])
VERIFY_SECONDS = Histogram(
    "zsb_identity_verification_seconds", "face comparison time per verification", buckets=(0.5, 1, 2, 3, 5, 8, 13, 30)
)
QUEUE_SECONDS = Histogram(
    "zsb_identity_queue_seconds",
    "time from 开始认证 to the worker's claim",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


@dataclass(frozen=True)
class Claimed:
    id: str
    candidate_no: str
    tries: int


class VerificationWorker:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.name = f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    # --- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Load the engine (in this thread: the gRPC server is already serving), then work until `stop`."""
        while not stop.is_set():
            try:
                self.deps.engines.load()
                break
            except Exception:
                log.exception("the face engine could not be loaded; retrying in 30 s")
                stop.wait(30)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("verification worker error")
                busy = False
            if not busy:
                self.deps.wake.wait(self.deps.settings.worker_poll_seconds)
                self.deps.wake.clear()

    def run_once(self) -> bool:
        """Claim and run one due verification; False when there was none."""
        job = self.claim()
        if job is None:
            return False
        try:
            portrait, id_card = self._photos(job)
            engine = self.deps.engines.get(self.deps.settings.engine_wait_seconds)
            with VERIFY_SECONDS.time():
                result = engine.verify(portrait, id_card)
        except Exception as exc:
            log.exception("verification failed to run", extra={"job": job.id, "try": job.tries})
            VERIFICATIONS.labels("error").inc()
            self.fail(job, f"{type(exc).__name__}: {exc}")
            return True
        VERIFICATIONS.labels(result.outcome.value).inc()
        self.finish(job, result)
        return True

    # --- steps (public for tests that drive the worker by hand) ---------------------------------

    def claim(self) -> Claimed | None:
        settings = self.deps.settings
        with self.deps.db.unit_of_work() as session:
            now = self.deps.clock()
            query = (
                select(JobRow)
                .where(
                    or_(
                        (JobRow.state == JobState.QUEUED) & (JobRow.not_before <= now),
                        (JobRow.state == JobState.RUNNING) & (JobRow.lease_until < now),
                    )
                )
                .order_by(JobRow.not_before, JobRow.enqueued_at)
                .limit(1)
            )
            if self.deps.db.is_mysql:
                query = query.with_for_update(skip_locked=True)
            job = session.scalars(query).first()
            if job is None:
                return None
            if job.state == JobState.RUNNING:
                log.warning("taking over a verification whose worker went silent", extra={"job": job.id})
            job.state, job.worker = JobState.RUNNING, self.name
            job.tries += 1
            job.started_at = now
            job.lease_until = now + timedelta(seconds=settings.job_lease_seconds)
            claimed = Claimed(job.id, job.candidate_no, job.tries)
            QUEUE_SECONDS.observe(max((now - job.not_before).total_seconds(), 0.0))
            if job.tries > settings.job_max_tries:
                # Taken over more often than allowed: its worker keeps dying on it.
                self._give_up(session, job, "the verification was interrupted too often")
                return None
            return claimed

    def _photos(self, job: Claimed) -> tuple[bytes, bytes]:
        with self.deps.db.unit_of_work() as session:
            photos = self.deps.repo(session).photos(job.candidate_no)
            keys = (photos[PhotoKind.PORTRAIT].object_key, photos[PhotoKind.ID_CARD_FRONT].object_key)
        return self.deps.photos.get(keys[0]), self.deps.photos.get(keys[1])

    def _owned(self, session, job_id: str) -> JobRow | None:
        """The job, locked, if this worker still holds it (another may have taken it over)."""
        row = self.deps.repo(session).job(job_id, for_update=True)
        if row is None or row.state != JobState.RUNNING or row.worker != self.name:
            log.warning("verification no longer ours; result dropped", extra={"job": job_id})
            return None
        return row

    def finish(self, job: Claimed, result: FaceVerification) -> None:
        """Record the verdict on the job and on the case, with the event, in one transaction."""
        with self.deps.db.unit_of_work() as session:
            row = self._owned(session, job.id)
            if row is None:
                return
            now = self.deps.clock()
            kind = photo_kind_of(result.problem_role) if result.problem_role is not None else None
            row.state, row.finished_at, row.lease_until = JobState.DONE, now, None
            row.outcome = result.outcome.value
            row.distance, row.threshold = result.distance, result.threshold
            row.problem = result.problem.value if result.problem is not None else ""
            row.problem_kind = kind.value if kind is not None else ""
            row.message = result.message[:200]
            case_row, case = self._case(session, job)
            if case_row is None or case is None:
                return
            updated = case.record_result(result.outcome, kind, result.message, self.deps.policy, now)
            write_case(case_row, updated, now)
            self._publish(session, job, result, updated, now)

    def _publish(self, session, job: Claimed, result: FaceVerification, case: IdentityCase, now) -> None:
        at = timestamp(now)
        if result.outcome is Outcome.PASSED:
            assert result.distance is not None
            publish(
                session,
                job.candidate_no,
                ev.IdentityVerified(
                    candidate_no=job.candidate_no,
                    verification_id=job.id,
                    distance=result.distance,
                    threshold=result.threshold,
                    at=at,
                ),
            )
        elif result.outcome is Outcome.FAILED:
            assert result.distance is not None
            publish(
                session,
                job.candidate_no,
                ev.IdentityVerificationFailed(
                    candidate_no=job.candidate_no,
                    verification_id=job.id,
                    distance=result.distance,
                    threshold=result.threshold,
                    at=at,
                ),
            )
        elif case.status is CaseStatus.MANUAL_REVIEW:  # fixable, and no attempts left
            publish(
                session,
                job.candidate_no,
                ev.IdentityManualReviewRequested(
                    candidate_no=job.candidate_no,
                    verification_id=job.id,
                    reason_kind=ReviewReason.RETRIES_EXHAUSTED.value,
                    at=at,
                ),
            )

    def _case(self, session, job: Claimed) -> tuple[CaseRow | None, IdentityCase | None]:
        """The case, locked, if it is still waiting for this job."""
        row = self.deps.repo(session).case(job.candidate_no, for_update=True)
        if row is None or row.current_job != job.id or row.status != CaseStatus.VERIFYING.value:
            log.warning("case no longer waits for this verification", extra={"job": job.id})
            return None, None
        return row, to_case(row)

    def fail(self, job: Claimed, error: str) -> None:
        """The comparison could not run: try again later, or hand the case to a reviewer."""
        settings = self.deps.settings
        with self.deps.db.unit_of_work() as session:
            row = self._owned(session, job.id)
            if row is None:
                return
            row.error = error[:300]
            if row.tries >= settings.job_max_tries:
                self._give_up(session, row, error)
                return
            now = self.deps.clock()
            row.state, row.worker, row.lease_until = JobState.QUEUED, "", None
            row.not_before = now + timedelta(seconds=settings.job_retry_seconds * row.tries)

    def _give_up(self, session, row: JobRow, error: str) -> None:
        now = self.deps.clock()
        row.state, row.finished_at, row.lease_until = JobState.ERROR, now, None
        row.error = error[:300]
        job = Claimed(row.id, row.candidate_no, row.tries)
        case_row, case = self._case(session, job)
        if case_row is None or case is None:
            return
        write_case(case_row, case.record_error(now), now)
        publish(
            session,
            row.candidate_no,
            ev.IdentityManualReviewRequested(
                candidate_no=row.candidate_no,
                verification_id=row.id,
                reason_kind=ReviewReason.SYSTEM_ERROR.value,
                at=timestamp(now),
            ),
        )
