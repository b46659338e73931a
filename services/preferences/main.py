"""Entry point of the preferences service: `python -m services.preferences.main`."""

from __future__ import annotations

from pathlib import Path

from services.preferences.api import registrars
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(name="preferences", migrations_dir=Path(__file__).parent / "migrations", registrars=registrars)

if __name__ == "__main__":
    run_service(SPEC)
