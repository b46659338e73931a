"""Every row of the identity staff audit is published as IdentityStaffAction in its transaction,
for the platform's audit log (the auth service collects them)."""

from __future__ import annotations

from services.identity.tests.harness import CANDIDATE, Harness
from services.identity.tests.test_service import ready
from zsb.events.v1 import identity_events_pb2 as ev
from zsb.identity.v1 import identity_pb2 as pb


def test_each_audit_row_is_published_as_a_staff_action(harness: Harness) -> None:
    ready(harness)
    harness.call("RequestManualReview", pb.RequestManualReviewRequest(reason="证件照较旧"), harness.candidate())
    reviewer = harness.staff("city", city="01")
    case = harness.call("GetCase", pb.GetCaseRequest(candidate_no=CANDIDATE), reviewer)
    harness.read(case.photos[0].id, reviewer)  # a staff view of a photo is audited
    decide = pb.DecideReviewRequest(candidate_no=CANDIDATE, approve=True, reason="已核对身份证原件")
    harness.call("DecideReview", decide, reviewer)

    audit = harness.call("ListAudit", pb.ListAuditRequest(subject=CANDIDATE), reviewer).entries  # newest first
    published = [e for e in harness.events() if isinstance(e, ev.IdentityStaffAction)]
    assert [a.action for a in reversed(audit)] == ["photo_viewed", "identity_approved"]
    assert [(e.action, e.subject, e.actor, e.actor_role, e.detail, e.at.seconds) for e in published] == [
        (a.action, a.subject, a.actor, a.actor_role, a.detail, a.at) for a in reversed(audit)
    ]
    assert published[-1].detail == "已核对身份证原件" and published[0].detail == case.photos[0].kind_label
