"""What the use cases of 表格下载 share: settings, renderer, tokens, photos, the settings row, eligibility."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.registration.adapters import BasicInfoRow, Candidate
from services.registration.documents.config import DocumentsConfig
from services.registration.documents.portraits import IdentityPortraits, PortraitSource
from services.registration.documents.render import Renderer
from services.registration.documents.tables import ArrangementRow, ExamSettingsRow
from services.registration.documents.tokens import TicketTokens
from services.registration.domain import FactStatus, QualificationStatus
from zsb.common.clock import utcnow
from zsb.common.runtime import ServiceContext

DRAFT, PUBLISHED, SUPERSEDED, DISCARDED = "draft", "published", "superseded", "discarded"


@dataclass
class DocumentsDeps:
    """The parts the use cases need, built once per service process."""

    ctx: ServiceContext
    config: DocumentsConfig
    renderer: Renderer
    portraits: PortraitSource
    clock: Callable[[], datetime] = utcnow
    _tokens: TicketTokens | None = None

    @property
    def tokens(self) -> TicketTokens:
        if self._tokens is None:  # read lazily: a missing key fails the ticket, not the service
            self._tokens = TicketTokens.from_settings(self.config.ticket_key, self.ctx.settings.pii_hmac_key)
        return self._tokens

    def verify_url(self, token: str) -> str:
        return f"{self.config.public_base_url.rstrip('/')}/ticket/verify/{token}"

    @classmethod
    def build(cls, ctx: ServiceContext, config: DocumentsConfig | None = None) -> DocumentsDeps:
        config = config or DocumentsConfig()
        return cls(ctx, config, Renderer(config), IdentityPortraits(ctx, config.portrait_timeout_seconds))


_ATTR = "_documents_deps"


def deps_for(ctx: ServiceContext) -> DocumentsDeps:
    """The one set of dependencies of a service context (servicer and tests share it)."""
    deps: DocumentsDeps | None = getattr(ctx, _ATTR, None)
    if deps is None:
        deps = DocumentsDeps.build(ctx)
        setattr(ctx, _ATTR, deps)
    return deps


def attach(ctx: ServiceContext, deps: DocumentsDeps) -> None:
    """Use these dependencies for the context (tests give their own settings, photos, clock)."""
    setattr(ctx, _ATTR, deps)


# --- the settings row (the arrangement's lock) -----------------------------------------------


def settings_row(session: Session, for_update: bool = False) -> ExamSettingsRow:
    query = select(ExamSettingsRow).where(ExamSettingsRow.id == 1)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:  # migration 0003 inserts it; a missing row is a broken installation
        raise RuntimeError("exam_settings row 1 is missing: run the registration migrations")
    return row


def arrangement_with_status(session: Session, status: str) -> ArrangementRow | None:
    """The draft or the published arrangement (there is at most one of each)."""
    return session.scalars(
        select(ArrangementRow).where(ArrangementRow.status == status).order_by(ArrangementRow.id.desc())
    ).first()


# --- who sits the exam ----------------------------------------------------------------------------


def eligible_query() -> Select:
    """Candidates who get a seat: review passed, fee paid (not refunded), identity verified, not abandoned."""
    return (
        select(Candidate.candidate_no, Candidate.city_code, BasicInfoRow.data_json)
        .join(BasicInfoRow, BasicInfoRow.candidate_no == Candidate.candidate_no)
        .where(
            Candidate.abandoned_at.is_(None),
            Candidate.confirmed_at.is_not(None),
            Candidate.review_status == QualificationStatus.APPROVED.value,
            Candidate.identity_status == FactStatus.SUCCEEDED.value,
            Candidate.payment_status == FactStatus.SUCCEEDED.value,
            Candidate.payment_refunded_at.is_(None),
        )
    )


def major_category_of(data_json: str) -> str:
    return str(json.loads(data_json).get("major_category", ""))
