"""Rules of registration (pure, no I/O).

Modules (field validators live in `zsb.common.validators`): `reference`
(the province's drop-down lists and their seed), `form` (填写基本信息 and its validation),
`steps` (the step machine of 我的报考), `documents` (materials and the qualification review).
The names below are re-exported so callers can import from `services.registration.domain`.
"""

from __future__ import annotations

from services.registration.domain.documents import (
    DocumentKind,
    QualificationReview,
    QualificationStatus,
    required_documents,
)
from services.registration.domain.form import (
    FIELD_LABELS,
    BasicInfo,
    FormErrors,
    ResumeRow,
    check_basic_info,
    parse_basic_info,
)
from services.registration.domain.reference import SEED, ReferenceData
from services.registration.domain.steps import (
    NOTICE_MIN_READING,
    NOTICE_ORDER,
    REPORT_LOCK_MESSAGE,
    STEP_ORDER,
    Fact,
    FactStatus,
    Notice,
    NoticeReading,
    Registration,
    RegistrationStatus,
    Step,
    StepState,
    StepView,
    check_reading_time,
    is_report_locked,
)
from zsb.common.validators import IdNumber, Sex, parse_id_number, parse_phone

__all__ = [
    "FIELD_LABELS",
    "NOTICE_MIN_READING",
    "NOTICE_ORDER",
    "REPORT_LOCK_MESSAGE",
    "SEED",
    "STEP_ORDER",
    "BasicInfo",
    "DocumentKind",
    "Fact",
    "FactStatus",
    "FormErrors",
    "IdNumber",
    "Notice",
    "NoticeReading",
    "QualificationReview",
    "QualificationStatus",
    "ReferenceData",
    "Registration",
    "RegistrationStatus",
    "ResumeRow",
    "Sex",
    "Step",
    "StepState",
    "StepView",
    "check_basic_info",
    "check_reading_time",
    "is_report_locked",
    "parse_basic_info",
    "parse_id_number",
    "parse_phone",
    "required_documents",
]
