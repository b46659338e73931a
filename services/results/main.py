"""Entry point of the results service: `python -m services.results.main`."""

from __future__ import annotations

from pathlib import Path

from services.results.api import registrars
from services.results.consumers import subscriptions
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(
    name="results",
    migrations_dir=Path(__file__).parent / "migrations",
    registrars=registrars,
    subscriptions=subscriptions,
)

if __name__ == "__main__":
    run_service(SPEC)
