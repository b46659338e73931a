"""Who may fill preferences: a registration confirmed, identity passed, the fee paid and not
refunded, the qualification approved, and not abandoned. The facts come from other services'
events; when two events about the same fact arrive out of order, the later `at` wins."""

from __future__ import annotations

from dataclasses import dataclass

from services.preferences.domain.batches import BatchDef

ABANDONED = "已放弃报名"
NOT_POVERTY = "建档立卡专项批仅限建档立卡贫困家庭考生填报"


@dataclass(frozen=True)
class Facts:
    confirmed: bool = False
    abandoned: bool = False
    identity_passed: bool = False
    paid: bool = False
    qualification_approved: bool = False
    poverty_registered: bool = False
    major_category: str = ""

    def missing(self) -> list[str]:
        """What stands between the candidate and filling, in the order of the registration steps."""
        if self.abandoned:
            return [ABANDONED]
        out = []
        if not self.confirmed:
            out.append("尚未完成报名信息确认")
        if not self.identity_passed:
            out.append("身份验证尚未通过")
        if not self.paid:
            out.append("报名费尚未缴纳")
        if not self.qualification_approved:
            out.append("报考资格审核尚未通过")
        return out

    @property
    def eligible(self) -> bool:
        return not self.missing()

    def refusal(self, batch: BatchDef) -> str:
        """'' when this candidate may fill `batch`, else why not."""
        missing = self.missing()
        if missing:
            return "暂不能填报志愿：" + "；".join(missing)
        if batch.poverty_only and not self.poverty_registered:
            return NOT_POVERTY
        return ""
