"""Concurrency on MariaDB: tabs submitting at once, and retries racing each other."""

from __future__ import annotations

import threading

from sqlalchemy import select

from services.preferences.adapters import HeadRow, VersionRow
from services.preferences.tests.conftest import Prefs
from services.preferences.tests.helpers import CANDIDATE, EIGHT, choices, key, make_eligible, plan_rows
from zsb.common.tables import outbox
from zsb.events.v1 import preferences_events_pb2 as ev
from zsb.preferences.v1 import preferences_pb2 as pb

TABS = 6
ROUNDS = 3


def at_once(n: int, fn) -> list:
    """Run fn(i) in n threads released together; returns the results by i."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def setup(prefs: Prefs) -> None:
    assert not prefs.stub.ImportPlan(pb.ImportPlanRequest(rows=plan_rows()), metadata=prefs.province()).errors
    prefs.open("ordinary")
    make_eligible(prefs.db, CANDIDATE)


def test_tabs_submitting_at_once_leave_one_current_version_the_last_confirmed(prefs_mariadb: Prefs) -> None:
    prefs = prefs_mariadb
    setup(prefs)
    for _ in range(ROUNDS):
        # Each tab sends different preferences: tab i puts EIGHT[i] first.
        responses = at_once(TABS, lambda i: prefs.submit(choices(EIGHT[i], EIGHT[7]), key()))
        assert all(not r.errors for r in responses)
    numbers = sorted(r.version.number for r in responses)
    assert numbers == list(range(TABS * (ROUNDS - 1) + 1, TABS * ROUNDS + 1))
    with prefs.db.unit_of_work() as session:
        heads = session.scalars(select(HeadRow)).all()
        versions = session.scalars(select(VersionRow).order_by(VersionRow.number)).all()
        published = [
            ev.PreferencesSubmitted.FromString(p)
            for p in session.scalars(
                select(outbox.c.payload).where(outbox.c.ce_type == "zsb.events.v1.PreferencesSubmitted")
            )
        ]
    assert [v.number for v in versions] == list(range(1, TABS * ROUNDS + 1))
    # Exactly one current version, and it is the last one confirmed (the highest number) ...
    assert len(heads) == 1 and heads[0].number == TABS * ROUNDS
    assert heads[0].current_version_id == versions[-1].id
    # ... whose content is what that tab sent, and which the page reads back.
    last = next(r for r in responses if r.version.number == TABS * ROUNDS)
    listed = prefs.stub.ListVersions(pb.ListVersionsRequest(batch_code="ordinary"), metadata=prefs.candidate())
    current = [v for v in listed.versions if v.current]
    assert len(current) == 1 and current[0].id == last.version.id
    assert [(i.institution_code, i.major_code) for i in current[0].items] == [
        (i.institution_code, i.major_code) for i in last.version.items
    ]
    assert sorted(e.version for e in published) == list(range(1, TABS * ROUNDS + 1))


def test_retries_racing_each_other_save_one_version(prefs_mariadb: Prefs) -> None:
    prefs = prefs_mariadb
    setup(prefs)
    same = key()
    responses = at_once(TABS, lambda _i: prefs.submit(choices(EIGHT[0], EIGHT[1]), same))
    assert len({r.version.id for r in responses}) == 1
    assert sorted(r.replayed for r in responses) == [False] + [True] * (TABS - 1)
    with prefs.db.unit_of_work() as session:
        assert len(session.scalars(select(VersionRow)).all()) == 1
