"""Alembic, one history per service: programmatic upgrade and the shared env.py body."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData


def alembic_config(migrations_dir: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    # Alembic's ini interpolation treats '%' specially; URL-encoded passwords contain it.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_to_head(migrations_dir: Path, engine: Engine) -> None:
    """Bring the service's database to the newest revision (idempotent)."""
    cfg = alembic_config(migrations_dir, engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    from alembic import context
    from sqlalchemy import create_engine

    cfg = context.config
    conn = cfg.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(cfg.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
