"""The notice shown before the first upload (what is collected, why, for how long) and its version.

The text lives beside its version so that the recorded consent always names the words the
candidate read; change `CONSENT_VERSION` whenever the text changes (candidates then consent again).
"""

from __future__ import annotations

from dataclasses import dataclass

CONSENT_VERSION = "2026.1"


@dataclass(frozen=True)
class ConsentNotice:
    version: str
    title: str
    sections: tuple[tuple[str, str], ...]  # (heading, text)


def consent_notice(retention_days: int) -> ConsentNotice:
    """The notice with the retention period in force (a setting)."""
    return ConsentNotice(
        version=CONSENT_VERSION,
        title="照片采集与使用说明",
        sections=(
            (
                "采集哪些信息",
                "您的证件照（近期免冠正面照片）、居民身份证人像面照片和国徽面照片，"
                "以及上传时间、人脸比对结果和审核记录。",
            ),
            (
                "为什么采集",
                "核验报考人与身份证持有人为同一人，防止替考。系统将证件照中的人脸与身份证人像面中的人脸自动比对；"
                "比对未通过、无法自动比对或您申请人工审核时，由招生考试机构工作人员人工核对照片。"
                "比对时计算的人脸特征仅在比对过程中使用，不保存。",
            ),
            (
                "谁能看到",
                "您本人，以及负责您所在报名点、地市和省招生考试管理中心的审核人员；工作人员每次查看均有记录。"
                "照片保存在专用存储中，不对外公开。",
            ),
            (
                "保存多久",
                f"照片保存至身份认证结束（通过或审核结论作出）后{retention_days}天，期满由系统自动删除；"
                f"未完成认证的照片自上传之日起保存{retention_days}天。比对结果和审核记录按考试档案管理规定保存。",
            ),
            (
                "不同意怎么办",
                "不同意则无法在线完成身份认证，请联系您的报名点办理现场身份核验。",
            ),
        ),
    )
