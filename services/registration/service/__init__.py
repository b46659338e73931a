"""Use cases of the registration service, one module per part of the manual.

`wizard` (我的报考 for the candidate), `documents` (资料上传), `staff` (review queue, 上报, audit,
reference data), `facts` (what other services' events tell us), `common` (shared helpers).
"""

from __future__ import annotations

from services.registration.service.documents import DocumentsService
from services.registration.service.facts import open_registration
from services.registration.service.staff import StaffService
from services.registration.service.wizard import WizardService

__all__ = ["DocumentsService", "StaffService", "WizardService", "open_registration"]
