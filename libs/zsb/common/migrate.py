"""`python -m zsb.common.migrate <service>`: bring one service's database to the newest revision.

Kubernetes runs this as one Job per service before a rollout, so that the Deployments can run
with MIGRATE_ON_START=false and several replicas never race to migrate. It reads the same
settings as the service (DATABASE_URL above all) and exits non-zero with a clear message when
the service is unknown or the database cannot be migrated.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

from zsb.common.db import Database
from zsb.common.logging import configure_logging
from zsb.common.migrations import upgrade_to_head
from zsb.common.settings import SERVICE_NAMES, Settings

log = logging.getLogger(__name__)


def migrations_dir(service: str) -> Path:
    """services/<service>/migrations, found without importing the service (and its heavy deps)."""
    if service not in SERVICE_NAMES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICE_NAMES)}")
    spec = importlib.util.find_spec(f"services.{service}")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package services.{service} is not importable (PYTHONPATH?)")
    path = Path(next(iter(spec.submodule_search_locations))) / "migrations"
    if not (path / "env.py").is_file():
        raise ValueError(f"{path} has no Alembic env.py")
    return path


def migrate(service: str, settings: Settings | None = None) -> None:
    """Upgrade the service's database (idempotent: a database at head is left as it is)."""
    directory = migrations_dir(service)
    settings = settings or Settings(service_name=service)
    db = Database(settings.resolved_database_url())
    try:
        upgrade_to_head(directory, db.engine)
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Migrate one service's database to the newest revision.")
    parser.add_argument("service", help=f"one of: {', '.join(SERVICE_NAMES)}")
    args = parser.parse_args(argv)
    settings = Settings(service_name=args.service)
    configure_logging(f"{args.service}-migrate", settings.log_level)
    try:
        migrate(args.service, settings)
    except ValueError as exc:
        log.error("migration refused", extra={"reason": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        log.exception("migration failed")
        print(f"error: migration of {args.service} failed: {exc}", file=sys.stderr)
        return 1
    log.info("database at head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
