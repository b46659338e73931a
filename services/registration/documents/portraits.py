"""The candidate's photo (证件照) for the documents, from the identity service, which owns it.

The call it expects (to be added to `protos/zsb/identity/v1/identity.proto` by the identity service):

    rpc GetPortrait(GetPortraitRequest) returns (Portrait);
    message GetPortraitRequest { string candidate_no = 1; }
    message Portrait { bytes jpeg = 1; }   // NOT_FOUND when there is none yet

allowed for the candidate themself and for staff whose scope covers the candidate; the caller's
access token is passed on. Until the identity service answers it (or when it cannot be reached),
the documents print an empty box labelled 照片 instead of failing: the photo is a convenience of
the printout, not a reason to refuse a candidate their forms.
"""

from __future__ import annotations

import logging
from typing import Protocol

import grpc

from zsb.common.discovery import ServiceUnavailable
from zsb.common.runtime import ServiceContext

log = logging.getLogger(__name__)

MAX_PORTRAIT_BYTES = 5 * 1024 * 1024


class PortraitSource(Protocol):
    def get(self, candidate_no: str) -> bytes | None:
        """JPEG bytes of the candidate's photo, or None when there is none (yet)."""
        ...


class IdentityPortraits:
    def __init__(self, ctx: ServiceContext, timeout: float) -> None:
        self.ctx = ctx
        self.timeout = timeout

    def get(self, candidate_no: str) -> bytes | None:
        from zsb.identity.v1 import identity_pb2, identity_pb2_grpc

        request_type = getattr(identity_pb2, "GetPortraitRequest", None)
        if request_type is None:  # the identity contract does not have the call yet
            return None
        try:
            stub = identity_pb2_grpc.IdentityServiceStub(self.ctx.channels.get("identity"))
            reply = stub.GetPortrait(request_type(candidate_no=candidate_no), timeout=self.timeout)
        except ServiceUnavailable:
            log.warning("identity service not discovered; printing without the photo")
            return None
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
                log.warning("GetPortrait failed; printing without the photo", extra={"code": err.code().name})  # type: ignore[attr-defined]
            return None
        data = bytes(getattr(reply, "jpeg", b""))
        return data if 0 < len(data) <= MAX_PORTRAIT_BYTES else None


class NoPortraits:
    """No photo source (tests of the placeholder, tools)."""

    def get(self, candidate_no: str) -> bytes | None:
        return None
