"""Entry point of the payment service: `python -m services.payment.main`."""

from __future__ import annotations

from pathlib import Path

from services.payment.api import registrars
from zsb.common.runtime import ServiceSpec, run_service

SPEC = ServiceSpec(name="payment", migrations_dir=Path(__file__).parent / "migrations", registrars=registrars)

if __name__ == "__main__":
    run_service(SPEC)
