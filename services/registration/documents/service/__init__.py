"""Use cases of 表格下载 and the exam arrangement.

`downloads` (the candidate's page, the pledge, the PDFs for candidates and staff), `plan` (sites,
rooms, timetable, printing window), `arranging` (run, review, publish), `verification` (the
public QR check), `views` (data as printed), `common` (dependencies, the settings row, eligibility).
"""

from __future__ import annotations

from services.registration.documents.service.arranging import ArrangementService
from services.registration.documents.service.common import DocumentsDeps, attach, deps_for
from services.registration.documents.service.downloads import DownloadsService
from services.registration.documents.service.plan import PlanService
from services.registration.documents.service.verification import VerificationService

__all__ = [
    "ArrangementService",
    "DocumentsDeps",
    "DownloadsService",
    "PlanService",
    "VerificationService",
    "attach",
    "deps_for",
]
