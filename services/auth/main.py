"""Entry point of the auth service: `python -m services.auth.main`."""

from __future__ import annotations

from pathlib import Path

from services.auth.api import registrars
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(name="auth", migrations_dir=Path(__file__).parent / "migrations", registrars=registrars)

if __name__ == "__main__":
    run_service(SPEC)
