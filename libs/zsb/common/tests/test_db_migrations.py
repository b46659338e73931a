"""Unit of work and each service's migrations on SQLite and on MariaDB through PyMySQL."""

import importlib

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, select

from zsb.common.db import Database
from zsb.common.migrations import upgrade_to_head
from zsb.common.settings import SERVICE_NAMES

notes_md = MetaData()
notes = Table("notes", notes_md, Column("id", Integer, primary_key=True), Column("body", String(50)))


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_service_migrates_to_head_twice(service: str, database_url: str) -> None:
    spec = importlib.import_module(f"services.{service}.main").SPEC
    db = Database(database_url)
    upgrade_to_head(spec.migrations_dir, db.engine)
    upgrade_to_head(spec.migrations_dir, db.engine)  # idempotent: nothing left to do
    tables = set(inspect(db.engine).get_table_names())
    assert {"outbox", "processed_events", "alembic_version"} <= tables
    db.dispose()


def test_unit_of_work_commits_and_rolls_back(database_url: str) -> None:
    db = Database(database_url)
    notes_md.create_all(db.engine)
    with db.unit_of_work() as session:
        session.execute(notes.insert().values(id=1, body="kept"))
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        session.execute(notes.insert().values(id=2, body="lost"))
        raise RuntimeError("use case failed")
    with db.unit_of_work() as session:
        assert session.execute(select(notes.c.body)).scalars().all() == ["kept"]
    db.dispose()


def test_unicode_round_trip(database_url: str) -> None:
    db = Database(database_url)
    notes_md.create_all(db.engine)
    with db.unit_of_work() as session:
        session.execute(notes.insert().values(id=1, body="退役（外省学籍，本省入伍）复学人员"))
    with db.unit_of_work() as session:
        assert session.execute(select(notes.c.body)).scalar_one() == "退役（外省学籍，本省入伍）复学人员"
    db.dispose()
