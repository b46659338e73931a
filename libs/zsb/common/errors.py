"""Domain errors that use cases raise; the gRPC bootstrap maps each to a status code.

The message is safe to show to a user (Chinese where it reaches the UI); a `reason`
code lets the gateway and API clients branch without parsing text.
"""

from __future__ import annotations

import grpc


class DomainError(Exception):
    """Base of every expected failure of a use case."""

    status: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, message: str, reason: str = "", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or type(self).__name__
        self.field = field


class InvalidArgument(DomainError):
    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DomainError):
    status = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    status = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    status = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(DomainError):
    status = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    status = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(DomainError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
