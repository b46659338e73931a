"""Entry point of the auth service: `python -m services.auth.main`."""

from __future__ import annotations

from pathlib import Path

from services.auth.api import PUBLIC_METHODS, registrars
from services.auth.consumers import subscriptions
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(
    name="auth",
    migrations_dir=Path(__file__).parent / "migrations",
    registrars=registrars,
    subscriptions=subscriptions,
    public_methods=PUBLIC_METHODS,
)

if __name__ == "__main__":
    run_service(SPEC)
