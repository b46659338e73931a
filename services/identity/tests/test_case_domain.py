"""The identity case (pure): consent, photos, the verdicts, the retry limit, manual review, retention."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.identity.domain.case import (
    CasePolicy,
    CaseStatus,
    IdentityCase,
    PhotoKind,
    ReviewReason,
    guidance,
    photo_expired,
)
from services.identity.domain.consent import CONSENT_VERSION, consent_notice
from services.identity.domain.face import Outcome
from zsb.common.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 3, 6, 2, 0)
POLICY = CasePolicy(max_automatic_attempts=3)
ALL = frozenset(PhotoKind)


def consented() -> IdentityCase:
    return IdentityCase().give_consent(CONSENT_VERSION, POLICY, NOW)


def reason(fn) -> str:
    with pytest.raises((FailedPrecondition, InvalidArgument)) as err:
        fn()
    return err.value.reason


def test_consent_comes_first_and_names_the_text_read() -> None:
    case = IdentityCase()
    assert reason(lambda: case.photo_uploaded(PhotoKind.PORTRAIT, POLICY)) == "CONSENT_REQUIRED"
    assert reason(lambda: case.give_consent("2019.1", POLICY, NOW)) == "CONSENT_OUTDATED"
    given = consented()
    assert given.consent_at == NOW and given.consent_version == CONSENT_VERSION
    assert given.give_consent(CONSENT_VERSION, POLICY, NOW + timedelta(days=1)).consent_at == NOW  # kept
    # A new notice text needs a new consent.
    newer = CasePolicy(consent_version="2027.1")
    assert not given.has_consent(newer)
    assert reason(lambda: given.photo_uploaded(PhotoKind.PORTRAIT, newer)) == "CONSENT_REQUIRED"


def test_start_needs_all_three_photos() -> None:
    case = consented()
    with pytest.raises(FailedPrecondition) as err:
        case.start({PhotoKind.PORTRAIT}, POLICY)
    assert err.value.reason == "PHOTOS_MISSING" and "身份证人像面、身份证国徽面" in err.value.message
    started = case.start(ALL, POLICY)
    assert started.status is CaseStatus.VERIFYING
    assert reason(lambda: started.photo_uploaded(PhotoKind.PORTRAIT, POLICY)) == "VERIFYING"
    assert reason(lambda: started.start(ALL, POLICY)) == "VERIFYING"


def test_pass_is_final() -> None:
    passed = consented().start(ALL, POLICY).record_result(Outcome.PASSED, None, "身份认证通过", POLICY, NOW)
    assert passed.status is CaseStatus.PASSED and passed.status.final and passed.concluded_at == NOW
    assert reason(lambda: passed.photo_uploaded(PhotoKind.PORTRAIT, POLICY)) == "ALREADY_VERIFIED"
    assert reason(lambda: passed.request_review(ALL, "想人工", POLICY, NOW)) == "ALREADY_VERIFIED"
    assert guidance(passed, POLICY).message == "身份认证通过"


def test_different_faces_go_to_manual_review_and_the_candidate_is_told() -> None:
    failed = consented().start(ALL, POLICY).record_result(Outcome.FAILED, None, "", POLICY, NOW)
    assert failed.status is CaseStatus.MANUAL_REVIEW and failed.review_reason is ReviewReason.FACES_DIFFER
    advice = guidance(failed, POLICY)
    assert advice.message.startswith("身份认证失败") and "人工审核" in advice.message
    assert "审核人员" in advice.next_step


def test_fixable_problems_ask_for_the_flagged_photo_until_the_attempts_run_out() -> None:
    case = consented()
    for attempt in (1, 2):
        case = case.start(ALL, POLICY).record_result(
            Outcome.FIXABLE, PhotoKind.PORTRAIT, "证件照中检测到多张人脸", POLICY, NOW
        )
        assert (case.status, case.attempts, case.retake_kind) == (CaseStatus.RETAKE, attempt, PhotoKind.PORTRAIT)
        assert f"还可自动认证{3 - attempt}次" in guidance(case, POLICY).next_step
        # Starting again with the same photo would fail the same way: the flagged photo first.
        assert reason(lambda c=case: c.start(ALL, POLICY)) == "RETAKE_REQUIRED"
        assert case.photo_uploaded(PhotoKind.ID_CARD_BACK, POLICY).status is CaseStatus.RETAKE
        case = case.photo_uploaded(PhotoKind.PORTRAIT, POLICY)
        assert case.status is CaseStatus.COLLECTING and case.attempts == attempt
    last = case.start(ALL, POLICY).record_result(Outcome.FIXABLE, PhotoKind.PORTRAIT, "x", POLICY, NOW)
    assert last.status is CaseStatus.MANUAL_REVIEW and last.review_reason is ReviewReason.RETRIES_EXHAUSTED
    assert "3次上限" in guidance(last, POLICY).message


def test_a_verdict_without_a_verification_in_progress_is_refused() -> None:
    assert reason(lambda: consented().record_result(Outcome.PASSED, None, "", POLICY, NOW)) == "NOT_VERIFYING"
    assert reason(lambda: consented().record_error(NOW)) == "NOT_VERIFYING"
    errored = consented().start(ALL, POLICY).record_error(NOW)
    assert errored.review_reason is ReviewReason.SYSTEM_ERROR


def test_manual_review_on_request_needs_a_reason_and_the_photos() -> None:
    case = consented()
    assert reason(lambda: case.request_review(ALL, "  ", POLICY, NOW)) == "REASON_REQUIRED"
    assert reason(lambda: case.request_review(ALL, "字" * 201, POLICY, NOW)) == "REASON_TOO_LONG"
    assert reason(lambda: case.request_review({PhotoKind.PORTRAIT}, "面部有疤痕", POLICY, NOW)) == "PHOTOS_MISSING"
    requested = case.request_review(ALL, " 面部 有疤痕 ", POLICY, NOW)
    assert (requested.status, requested.review_reason, requested.request_reason) == (
        CaseStatus.MANUAL_REVIEW,
        ReviewReason.REQUESTED,
        "面部 有疤痕",
    )
    assert requested.review_since == NOW


def test_decisions_need_a_reason_and_a_rejection_reopens_the_case() -> None:
    exhausted = consented()
    for _ in range(3):
        exhausted = exhausted.start(ALL, POLICY).record_result(
            Outcome.FIXABLE, PhotoKind.ID_CARD_FRONT, "x", POLICY, NOW
        )
        exhausted = exhausted.photo_uploaded(PhotoKind.ID_CARD_FRONT, POLICY) if exhausted.status.open else exhausted
    assert exhausted.status is CaseStatus.MANUAL_REVIEW and exhausted.attempts == 3
    assert reason(lambda: exhausted.decide(True, "", "rev", NOW)) == "REASON_REQUIRED"
    approved = exhausted.decide(True, "已核对身份证原件", "rev", NOW)
    assert (approved.status, approved.decided_by, approved.decision_reason) == (
        CaseStatus.APPROVED,
        "rev",
        "已核对身份证原件",
    )
    assert reason(lambda: approved.decide(False, "x", "rev", NOW)) == "NOT_UNDER_REVIEW"
    rejected = exhausted.decide(False, "证件照不是本人", "rev", NOW)
    assert rejected.status is CaseStatus.REJECTED and rejected.attempts == 0 and rejected.status.open
    assert "证件照不是本人" in guidance(rejected, POLICY).message
    again = rejected.start(ALL, POLICY)
    # The last decision stays on record until the next review replaces it.
    assert again.status is CaseStatus.VERIFYING and again.decision_reason == "证件照不是本人"
    assert again.record_result(Outcome.FAILED, None, "", POLICY, NOW).decision_reason == ""


def test_retention_counts_from_the_later_of_upload_and_conclusion_and_spares_pending_work() -> None:
    uploaded = NOW
    day = timedelta(days=1)
    assert not photo_expired(uploaded, CaseStatus.COLLECTING, None, 180, uploaded + 180 * day)
    assert photo_expired(uploaded, CaseStatus.COLLECTING, None, 180, uploaded + 181 * day)
    assert not photo_expired(uploaded, CaseStatus.PASSED, uploaded + 30 * day, 180, uploaded + 200 * day)
    assert photo_expired(uploaded, CaseStatus.PASSED, uploaded + 30 * day, 180, uploaded + 211 * day)
    for pending in (CaseStatus.VERIFYING, CaseStatus.MANUAL_REVIEW):
        assert not photo_expired(uploaded, pending, None, 180, uploaded + 1000 * day)
    # A photo uploaded after a rejection counts from its own upload.
    assert not photo_expired(uploaded + 50 * day, CaseStatus.REJECTED, uploaded, 180, uploaded + 200 * day)


def test_the_notice_says_what_why_who_and_how_long() -> None:
    notice = consent_notice(90)
    headings = [h for h, _ in notice.sections]
    assert headings[:4] == ["采集哪些信息", "为什么采集", "谁能看到", "保存多久"]
    assert "90天" in dict(notice.sections)["保存多久"] and notice.version == CONSENT_VERSION


def test_nonsense_policy_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        CasePolicy(max_automatic_attempts=0)
