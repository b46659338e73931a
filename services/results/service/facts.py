"""What other services' events tell the results service: its own projections.

- registration: the candidate's category, 建档立卡, city and point (RegistrationConfirmed),
  放弃报名 (RegistrationAbandoned), bonus points granted by the review (QualificationApproved);
- preferences: the plan and batches, and each candidate's preferences (the highest version of
  each batch's snapshot wins; a withdrawal voids the version it names and those before).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from services.results.adapters.tables import SLOTS, batches, candidates, plan_lines, plan_state, preferences, programmes
from services.results.service.common import bump_revision
from zsb.common.clock import utcnow
from zsb.events.v1 import preferences_events_pb2 as pref_ev
from zsb.events.v1 import registration_events_pb2 as reg_ev


def candidate_id(session: Session, candidate_no: str) -> int:
    """The candidate's surrogate id, creating a placeholder row when first heard of."""
    found = session.execute(select(candidates.c.id).where(candidates.c.candidate_no == candidate_no)).scalar()
    if found is not None:
        return int(found)
    result = session.execute(insert(candidates).values(candidate_no=candidate_no, updated_at=utcnow()))
    return int(result.inserted_primary_key[0])


def on_confirmed(session: Session, e: reg_ev.RegistrationConfirmed) -> None:
    cid = candidate_id(session, e.candidate_no)
    session.execute(
        update(candidates)
        .where(candidates.c.id == cid)
        .values(
            name=e.name[:60],
            candidate_category=e.candidate_category[:4],
            major_category=e.major_category[:4],
            jdlk=e.poverty_registered,
            city_code=e.city_code[:2],
            point_code=e.point_code[:10],
            confirmed=True,
            updated_at=utcnow(),
        )
    )


def on_abandoned(session: Session, e: reg_ev.RegistrationAbandoned) -> None:
    cid = candidate_id(session, e.candidate_no)
    session.execute(update(candidates).where(candidates.c.id == cid).values(abandoned=True, updated_at=utcnow()))
    bump_revision(session)


def on_qualification_approved(session: Session, e: reg_ev.QualificationApproved) -> None:
    cid = candidate_id(session, e.candidate_no)
    points = max(0, min(int(e.bonus_points), 100))
    session.execute(update(candidates).where(candidates.c.id == cid).values(bonus_points=points, updated_at=utcnow()))


def programme_id(session: Session, institution: str, major: str, institution_name: str, major_name: str) -> int:
    """The institution-major's id, created on first sight; names follow the latest event."""
    row = session.execute(
        select(programmes.c.id, programmes.c.institution_name, programmes.c.major_name).where(
            programmes.c.institution_code == institution, programmes.c.major_code == major
        )
    ).first()
    if row is None:
        values = {
            "institution_code": institution,
            "major_code": major,
            "institution_name": institution_name[:100],
            "major_name": major_name[:100],
        }
        return int(session.execute(insert(programmes).values(**values)).inserted_primary_key[0])
    if (institution_name and institution_name != row.institution_name) or (major_name and major_name != row.major_name):
        session.execute(
            update(programmes)
            .where(programmes.c.id == row.id)
            .values(
                institution_name=(institution_name or row.institution_name)[:100],
                major_name=(major_name or row.major_name)[:100],
            )
        )
    return int(row.id)


def on_preferences_submitted(session: Session, e: pref_ev.PreferencesSubmitted) -> None:
    cid = candidate_id(session, e.candidate_no)
    known = session.execute(select(candidates.c.confirmed).where(candidates.c.id == cid)).scalar()
    if not known:  # the registration's own event is the authority; this only fills the gap
        session.execute(
            update(candidates)
            .where(candidates.c.id == cid)
            .values(
                major_category=e.major_category[:4],
                jdlk=e.poverty_registered,
                city_code=e.city_code[:2],
                point_code=e.point_code[:10],
                updated_at=utcnow(),
            )
        )
    stored = session.execute(
        select(preferences.c.version).where(preferences.c.candidate_id == cid, preferences.c.batch_code == e.batch_code)
    ).scalar()
    if stored is not None and stored >= e.version:
        return  # an older snapshot arriving late (or a redelivery)
    slots = {f"slot_{s}": 0 for s in SLOTS}
    for item in e.items:
        letter = item.slot.strip().lower()
        if len(letter) == 1 and letter in SLOTS:
            slots[f"slot_{letter}"] = programme_id(
                session, item.institution_code, item.major_code, item.institution_name, item.major_name
            )
    values = {"version": e.version, "withdrawn": False, **slots}
    if stored is None:
        session.execute(insert(preferences).values(candidate_id=cid, batch_code=e.batch_code[:16], **values))
    else:
        session.execute(
            update(preferences)
            .where(preferences.c.candidate_id == cid, preferences.c.batch_code == e.batch_code)
            .values(**values)
        )
    bump_revision(session)


def on_preferences_withdrawn(session: Session, e: pref_ev.PreferencesWithdrawn) -> None:
    cid = candidate_id(session, e.candidate_no)
    session.execute(
        update(preferences)
        .where(
            preferences.c.candidate_id == cid,
            preferences.c.batch_code == e.batch_code,
            preferences.c.version <= e.version,
        )
        .values(withdrawn=True)
    )
    bump_revision(session)


def _save_batches(session: Session, items: Iterable[pref_ev.EnrollmentBatch]) -> None:
    for b in items:
        values = {"name": b.name[:40], "position": b.position, "poverty_only": b.poverty_only}
        if session.execute(select(batches.c.code).where(batches.c.code == b.code)).first() is None:
            session.execute(insert(batches).values(code=b.code[:16], **values))
        else:
            session.execute(update(batches).where(batches.c.code == b.code).values(**values))


def on_plan_published(session: Session, e: pref_ev.EnrollmentPlanPublished) -> None:
    current = session.execute(select(plan_state.c.version).where(plan_state.c.id == 1)).scalar()
    if current is not None and current >= e.version:
        return
    _save_batches(session, e.batches)
    session.execute(delete(plan_lines))
    lines: dict[tuple[str, int, str], int] = {}
    for line in e.lines:
        pid = programme_id(session, line.institution_code, line.major_code, line.institution_name, line.major_name)
        lines[(line.batch_code[:16], pid, line.major_category[:4])] = max(0, line.places)
    if lines:
        session.execute(
            insert(plan_lines),
            [{"batch_code": b, "programme_id": p, "major_category": c, "places": n} for (b, p, c), n in lines.items()],
        )
    values = {"version": e.version, "actor": e.actor[:40], "received_at": utcnow()}
    if current is None:
        session.execute(insert(plan_state).values(id=1, **values))
    else:
        session.execute(update(plan_state).where(plan_state.c.id == 1).values(**values))
    bump_revision(session)


def on_batches_changed(session: Session, e: pref_ev.EnrollmentBatchesChanged) -> None:
    _save_batches(session, e.batches)
