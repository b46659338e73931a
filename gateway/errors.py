"""Turning service errors into what a person or an API client should see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from zsb.common.discovery import ServiceUnavailable
from zsb.common.grpc_server import FIELD_KEY, REASON_KEY

T = TypeVar("T")

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.OUT_OF_RANGE: 400,
}
BUSY = "系统繁忙，请稍后再试"

_PAGE_MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权访问该页面或请求已失效，请刷新页面后重试",
    404: "页面不存在",
    405: "不支持该操作",
    413: "上传的文件过大",
    429: "操作过于频繁，请稍后再试",
    500: BUSY,
    503: BUSY,
}


@dataclass
class BackendError(Exception):
    """A service refused or failed a call; `message` is safe to show."""

    status: int
    message: str
    reason: str = ""
    field: str = ""


def call(fn: Callable[..., T], req: Any, timeout: float = 15.0) -> T:
    """Call a gRPC method; expected failures become BackendError with the service's message."""
    try:
        return fn(req, timeout=timeout)
    except ServiceUnavailable as exc:
        raise BackendError(503, BUSY, "UNAVAILABLE") from exc
    except grpc.RpcError as err:
        code = err.code()  # type: ignore[attr-defined]
        status = _HTTP_STATUS.get(code)
        if status is None:  # INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED...: never leak details
            raise BackendError(503, BUSY, code.name) from err
        trailers = dict(err.trailing_metadata() or ())  # type: ignore[attr-defined]
        raise BackendError(
            status, err.details() or "", trailers.get(REASON_KEY, ""), trailers.get(FIELD_KEY, "")
        ) from err


READ_CHUNK = 2 * 1024 * 1024  # under gRPC's default 4 MiB message limit


def read_chunked(fn: Callable[..., Any], make_request: Callable[[int, int], Any]) -> tuple[Any, bytes]:
    """Read a file a service serves in chunks (`data`, `total_size`); returns (first reply, bytes).

    `make_request(offset, limit)` builds the request for one chunk.
    """
    first = call(fn, make_request(0, READ_CHUNK))
    parts, offset = [first.data], len(first.data)
    while offset < first.total_size:
        chunk = call(fn, make_request(offset, READ_CHUNK))
        if not chunk.data:
            break
        parts.append(chunk.data)
        offset += len(chunk.data)
    return first, b"".join(parts)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, message: str, reason: str = "", field: str = "") -> tuple[Response, int]:
    return jsonify(error={"code": reason or str(status), "message": message, "field": field}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(BackendError)
    def _backend(err: BackendError):
        if wants_json():
            return json_error(err.status, err.message, err.reason, err.field)
        return render_template("error.html", status=err.status, message=err.message), err.status

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(err: ServiceUnavailable):
        # Raised while a stub is looked up, before `call` is entered: no healthy instance.
        app.logger.warning("no healthy instance of %s", err)
        return _backend(BackendError(503, BUSY, "UNAVAILABLE"))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        message = _PAGE_MESSAGES.get(status, err.description or "请求有误")
        # Keep the protocol headers the exception carries (Allow on 405, Retry-After...).
        headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        if wants_json():
            body, _ = json_error(status, message, err.name.upper().replace(" ", "_"))
            return body, status, headers
        return render_template("error.html", status=status, message=message), status, headers

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception("unhandled error")
        if wants_json():
            return json_error(500, BUSY, "INTERNAL")
        return render_template("error.html", status=500, message=BUSY), 500
