"""Kafka event handlers of the results service: its projections of registration and preferences.

One subscription reads both topics, so one thread updates the projections per replica.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.results.adapters.tables import calendar_phases
from services.results.service import facts
from zsb.common.calendar import apply_phase_changed
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import preferences_events_pb2 as pref_ev
from zsb.events.v1 import registration_events_pb2 as reg_ev

GROUP = "results"


def subscriptions(_ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group=GROUP, topics=[topic_for("registration"), topic_for("preferences")])

    @sub.on(reg_ev.RegistrationConfirmed)
    def confirmed(session: Session, e: reg_ev.RegistrationConfirmed, _env: Envelope) -> None:
        facts.on_confirmed(session, e)

    @sub.on(reg_ev.RegistrationAbandoned)
    def abandoned(session: Session, e: reg_ev.RegistrationAbandoned, _env: Envelope) -> None:
        facts.on_abandoned(session, e)

    @sub.on(reg_ev.CalendarPhaseChanged)
    def calendar(session: Session, e: reg_ev.CalendarPhaseChanged, _env: Envelope) -> None:
        apply_phase_changed(session, calendar_phases, e)  # our copy, for the 成绩查询 phase

    @sub.on(reg_ev.QualificationApproved)
    def approved(session: Session, e: reg_ev.QualificationApproved, _env: Envelope) -> None:
        facts.on_qualification_approved(session, e)

    @sub.on(pref_ev.PreferencesSubmitted)
    def submitted(session: Session, e: pref_ev.PreferencesSubmitted, _env: Envelope) -> None:
        facts.on_preferences_submitted(session, e)

    @sub.on(pref_ev.PreferencesWithdrawn)
    def withdrawn(session: Session, e: pref_ev.PreferencesWithdrawn, _env: Envelope) -> None:
        facts.on_preferences_withdrawn(session, e)

    @sub.on(pref_ev.EnrollmentPlanPublished)
    def plan(session: Session, e: pref_ev.EnrollmentPlanPublished, _env: Envelope) -> None:
        facts.on_plan_published(session, e)

    @sub.on(pref_ev.EnrollmentBatchesChanged)
    def batches(session: Session, e: pref_ev.EnrollmentBatchesChanged, _env: Envelope) -> None:
        facts.on_batches_changed(session, e)

    return [sub]
