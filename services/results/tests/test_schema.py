"""The migrations create exactly the tables the code declares (SQLite and MariaDB)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.results.adapters.tables import md
from services.results.main import SPEC
from zsb.common.db import Database
from zsb.common.migrations import upgrade_to_head
from zsb.common.tables import common_metadata


def test_migrations_match_the_tables(database_url: str) -> None:
    db = Database(database_url)
    upgrade_to_head(SPEC.migrations_dir, db.engine)
    with db.engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), md)
    common = set(common_metadata.tables) | {"alembic_version"}

    def ours(change) -> bool:
        item = change[1] if isinstance(change, tuple) else None
        table = getattr(item, "table", item)
        return getattr(table, "name", "") not in common

    assert [c for c in found if ours(c)] == []
    db.dispose()
