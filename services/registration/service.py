"""Use cases of the registration service."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.registration.adapters import Candidate, CandidateRepository
from services.registration.domain import RegistrationStatus
from zsb.common.clock import utcnow
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.principal import current_principal, require_candidate, require_scope
from zsb.common.runtime import ServiceContext


class RegistrationService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def get_candidate(self, candidate_no: str) -> Candidate:
        if not candidate_no or len(candidate_no) > 14:
            raise InvalidArgument("考生号不正确", field="candidate_no")
        caller = current_principal()
        if not caller.is_staff:
            require_candidate(candidate_no)
        with self.ctx.db.unit_of_work() as session:
            candidate = CandidateRepository(session).get(candidate_no)
            if candidate is None:
                raise NotFound("考生不存在", field="candidate_no")
        if caller.is_staff:
            require_scope(candidate.point_code[:2], candidate.point_code)
        return candidate


def open_registration(session: Session, candidate_no: str, name: str, point_code: str) -> None:
    """A new account gets an empty registration; a repeat of the same fact changes nothing."""
    repo = CandidateRepository(session)
    if repo.get(candidate_no) is None:
        repo.add(
            Candidate(
                candidate_no=candidate_no,
                name=name,
                point_code=point_code,
                status=RegistrationStatus.NOT_STARTED,
                created_at=utcnow(),
            )
        )
