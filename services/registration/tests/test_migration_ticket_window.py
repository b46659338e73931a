"""Migration 0006 on SQLite and MariaDB: a ticket window set the old way (exam_settings) becomes
the calendar's 准考证打印 phase, the columns go, and a downgrade brings both back."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import DateTime, column, inspect, select, table, text

from services.registration.adapters import calendar_phases
from services.registration.main import SPEC
from zsb.common.calendar import Phase, Window, load_calendar
from zsb.common.db import Database
from zsb.common.migrations import alembic_config

OPENS, CLOSES = datetime(2027, 4, 10, 1, 0), datetime(2027, 4, 18, 9, 0)
WINDOW = {"o": OPENS, "c": CLOSES}


def migrate(db: Database, revision: str, down: bool = False) -> None:
    cfg = alembic_config(SPEC.migrations_dir, db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def settings_columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("exam_settings")}


def test_the_old_ticket_window_moves_into_the_calendar_and_back(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate(db, "0005")
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE exam_settings SET ticket_open_at = :o, ticket_close_at = :c WHERE id = 1"),
                {"o": OPENS, "c": CLOSES},
            )
        migrate(db, "head")
        assert not {"ticket_open_at", "ticket_close_at"} & settings_columns(db)
        with db.unit_of_work() as session:
            assert load_calendar(session, calendar_phases).window(Phase.TICKET_PRINTING) == Window(OPENS, CLOSES)

        migrate(db, "0005", down=True)
        assert {"ticket_open_at", "ticket_close_at"} <= settings_columns(db)
        old = table("exam_settings", column("ticket_open_at", DateTime), column("ticket_close_at", DateTime))
        with db.engine.connect() as conn:
            row = conn.execute(select(old.c.ticket_open_at, old.c.ticket_close_at)).one()
        assert (row.ticket_open_at, row.ticket_close_at) == (OPENS, CLOSES)
    finally:
        db.dispose()


def test_a_phase_already_set_on_the_calendar_wins(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate(db, "0005")
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE exam_settings SET ticket_open_at = :o, ticket_close_at = :c"), {"o": OPENS, "c": CLOSES}
            )
            conn.execute(
                text(
                    "INSERT INTO calendar_phases (phase, opens_at, closes_at, version, updated_at, updated_by) "
                    "VALUES ('ticket_printing', :o, NULL, 7, :o, 'sheng')"
                ),
                {"o": CLOSES},
            )
        migrate(db, "head")
        with db.unit_of_work() as session:
            assert load_calendar(session, calendar_phases).window(Phase.TICKET_PRINTING) == Window(CLOSES, None)
    finally:
        db.dispose()
