"""Rules of registration (pure, no I/O)."""

from __future__ import annotations

from enum import StrEnum


class RegistrationStatus(StrEnum):
    """Where a candidate's registration stands; the wizard's steps refine it (issue 4)."""

    NOT_STARTED = "not_started"
