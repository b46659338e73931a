"""`python -m zsb.common.migrate <service>`: what each Kubernetes migration Job runs."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect

from zsb.common.migrate import migrations_dir
from zsb.common.settings import REPO_ROOT, SERVICE_NAMES


def run_migrate(*args: str, database_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT / 'libs'}{os.pathsep}{REPO_ROOT}",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }
    return subprocess.run(
        [sys.executable, "-m", "zsb.common.migrate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_migrations_dir_is_the_one_the_service_runs(service: str) -> None:
    assert migrations_dir(service) == importlib.import_module(f"services.{service}.main").SPEC.migrations_dir


def test_job_brings_a_database_to_head_and_a_second_run_changes_nothing(database_url: str) -> None:
    first = run_migrate("registration", database_url=database_url)
    assert first.returncode == 0, first.stderr
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert {"outbox", "processed_events", "alembic_version"} <= tables
    with engine.connect() as conn:
        head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    second = run_migrate("registration", database_url=database_url)
    assert second.returncode == 0, second.stderr
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == head
    engine.dispose()


def test_unknown_service_is_refused_with_the_reason() -> None:
    out = run_migrate("billing", database_url="sqlite://")
    assert out.returncode == 2
    assert "unknown service 'billing'" in out.stderr


def test_unreachable_database_fails_the_job() -> None:
    out = run_migrate("auth", database_url="mysql+pymysql://nobody:x@127.0.0.1:9/none")
    assert out.returncode == 1
    assert "migration of auth failed" in out.stderr
