"""Entry point of the registration service: `python -m services.registration.main`."""

from __future__ import annotations

from pathlib import Path

from services.registration.api import PUBLIC_METHODS, registrars
from services.registration.consumers import subscriptions
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(
    name="registration",
    migrations_dir=Path(__file__).parent / "migrations",
    registrars=registrars,
    subscriptions=subscriptions,
    public_methods=PUBLIC_METHODS,
)

if __name__ == "__main__":
    run_service(SPEC)
