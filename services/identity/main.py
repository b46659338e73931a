"""Entry point of the identity service: `python -m services.identity.main`."""

from __future__ import annotations

from pathlib import Path

from services.identity.api import registrars
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(name="identity", migrations_dir=Path(__file__).parent / "migrations", registrars=registrars)

if __name__ == "__main__":
    run_service(SPEC)
