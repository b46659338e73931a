"""Staff statistics of payments: paid count and amount (fen) by city, within the caller's scope.

Counted: orders in state `paid` (a refunded or refunding fee is no longer counted), grouped by the
city of the candidate that paid. Scope as the order list: province all, city its city, point its
point; reviewers see no payments.
"""

from __future__ import annotations

from sqlalchemy import func, select

from services.payment.adapters.tables import CandidateRow, OrderRow
from services.payment.domain.orders import OrderState
from zsb.common.db import Database
from zsb.common.errors import PermissionDenied
from zsb.common.principal import Principal, Role


def paid_by_city(db: Database, principal: Principal) -> list[tuple[str, int, int]]:
    """(city code, paid count, amount in fen), by city code."""
    if principal.role is Role.REVIEWER:
        raise PermissionDenied("无权查看缴费统计", reason="ROLE_REQUIRED")
    query = (
        select(CandidateRow.city_code, func.count(), func.coalesce(func.sum(OrderRow.amount_fen), 0))
        .join(CandidateRow, CandidateRow.candidate_no == OrderRow.candidate_no)
        .where(OrderRow.state == OrderState.PAID.value)
        .group_by(CandidateRow.city_code)
        .order_by(CandidateRow.city_code)
    )
    if principal.role is Role.CITY:
        query = query.where(CandidateRow.city_code == principal.city_code)
    elif principal.role is Role.POINT:
        query = query.where(CandidateRow.point_code == principal.point_code)
    with db.unit_of_work() as session:
        return [(city or "", int(n), int(amount)) for city, n, amount in session.execute(query).all()]
