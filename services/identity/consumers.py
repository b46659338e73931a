"""Kafka event handlers of the identity service; each runs inside the consumer's transaction.

registration: `RegistrationSubmitted` (city and point while the form may change),
`RegistrationConfirmed` (身份认证 opens; name, city and point fixed), `RegistrationAbandoned`,
`CalendarPhaseChanged` (our copy of the calendar: 身份认证 runs from 信息确认 to the end of 网上支付).
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.identity.adapters import calendar_phases
from services.identity.service.projection import record_abandoned, record_confirmed, record_submitted
from zsb.common.calendar import apply_phase_changed
from zsb.common.clock import utcnow
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import registration_events_pb2 as reg

GROUP = "identity"


def _at(ts: Timestamp):
    """The fact's own time; the handling time when the producer left it unset."""
    return ts.ToDatetime() if ts.seconds or ts.nanos else utcnow()


def subscriptions(_ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group=GROUP, topics=[topic_for("registration")])

    @sub.on(reg.RegistrationSubmitted)
    def on_submitted(session: Session, event: reg.RegistrationSubmitted, _env: Envelope) -> None:
        record_submitted(session, event.candidate_no, event.city_code, event.point_code)

    @sub.on(reg.RegistrationConfirmed)
    def on_confirmed(session: Session, event: reg.RegistrationConfirmed, _env: Envelope) -> None:
        record_confirmed(session, event.candidate_no, event.name, event.city_code, event.point_code, _at(event.at))

    @sub.on(reg.RegistrationAbandoned)
    def on_abandoned(session: Session, event: reg.RegistrationAbandoned, _env: Envelope) -> None:
        record_abandoned(session, event.candidate_no, event.city_code, event.point_code, _at(event.at))

    @sub.on(reg.CalendarPhaseChanged)
    def on_calendar(session: Session, event: reg.CalendarPhaseChanged, _env: Envelope) -> None:
        apply_phase_changed(session, calendar_phases, event)

    return [sub]
