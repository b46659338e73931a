"""The fee schedule: read by everyone signed in, set by the province (audited)."""

from __future__ import annotations

from sqlalchemy import select

from services.payment.adapters.tables import FeeRow
from services.payment.domain.fees import parse_fee, yuan_text
from services.payment.service import audit
from services.payment.service.context import Deps


class FeesService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def list(self) -> list[FeeRow]:
        with self.deps.db.unit_of_work() as session:
            return list(session.scalars(select(FeeRow).order_by(FeeRow.category_code)))

    def set(self, actor: str, category_code: str, category_name: str, amount_fen: int) -> FeeRow:
        """Set one category's fee; orders already made keep the amount they were made with."""
        fee = parse_fee(category_code, category_name, amount_fen)
        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            row = session.get(FeeRow, fee.category_code)
            before = f"{yuan_text(row.amount_fen)}元" if row else "未设置"
            if row is None:
                row = FeeRow(category_code=fee.category_code)
                session.add(row)
            row.category_name = fee.category_name
            row.amount_fen = fee.amount_fen
            row.updated_at = now
            row.updated_by = actor[:40]
            audit.record(
                session,
                "fee_set",
                actor,
                f"{fee.category_name}({fee.category_code}) 报名费 {before} → {yuan_text(fee.amount_fen)}元",
            )
        return row
