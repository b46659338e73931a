"""Entry point of the preferences service: `python -m services.preferences.main`."""

from __future__ import annotations

from pathlib import Path

from services.preferences.api import registrars
from services.preferences.consumers import subscriptions
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(
    name="preferences",
    migrations_dir=Path(__file__).parent / "migrations",
    registrars=registrars,
    subscriptions=subscriptions,
)

if __name__ == "__main__":
    run_service(SPEC)
