"""The OpenAPI description of the gateway's JSON API (/api/v1), served at /api/v1/openapi.json.

Kept beside the code it describes; a test fails when a JSON route is missing here, and the
fuzz test (schemathesis) drives every operation from this document.
"""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "A refusal: a stable code, a message to show, and the field it concerns",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ERRORS = {str(code): _ERROR for code in (400, 401, 403, 404, 409, 429, 503)}


def _ok(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required or list(properties)}
    return {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}, **_ERRORS}


def _body(properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_STR = {"type": "string", "maxLength": 64}
_CSRF = [{"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}]

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "山西专升本 gateway JSON API", "version": "1"},
    "components": {
        "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "zsb_session"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message", "field"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                        },
                    }
                },
            }
        },
    },
    "paths": {
        "/api/v1/csrf": {
            "get": {"summary": "The CSRF token for X-CSRF-Token", "responses": _ok({"csrf_token": {"type": "string"}})}
        },
        "/api/v1/captcha": {
            "get": {
                "summary": "A new graphic captcha",
                "responses": _ok({"id": {"type": "string"}, "image": {"type": "string"}}),
            }
        },
        "/api/v1/session": {
            "post": {
                "summary": "Log in (考生号, password, captcha)",
                "parameters": _CSRF,
                "requestBody": _body({"candidate_no": _STR, "password": _STR, "captcha_id": _STR, "captcha": _STR}),
                "responses": _ok({"must_change_password": {"type": "boolean"}, "name": {"type": "string"}}),
            },
            "delete": {"summary": "Log out", "parameters": _CSRF, "responses": _ok({"ok": {"type": "boolean"}})},
        },
        "/api/v1/me": {
            "get": {
                "summary": "The signed-in candidate",
                "security": [{"session": []}],
                "responses": _ok(
                    {
                        "candidate_no": {"type": "string"},
                        "name": {"type": "string"},
                        "must_change_password": {"type": "boolean"},
                        "idle_expires_at": {"type": "integer"},
                    }
                ),
            }
        },
        "/api/v1/password": {
            "post": {
                "summary": "Change the password (first login, 2.4)",
                "security": [{"session": []}],
                "parameters": _CSRF,
                "requestBody": _body({"old_password": _STR, "new_password": _STR}),
                "responses": _ok({"ok": {"type": "boolean"}}),
            }
        },
        "/api/v1/identity/status": {
            "get": {
                "summary": "Progress of the identity verification (2.8.4)",
                "security": [{"session": []}],
                "responses": _ok(
                    {
                        "status": {"type": "string"},
                        "status_label": {"type": "string"},
                        "message": {"type": "string"},
                        "next_step": {"type": "string"},
                        "verifying": {"type": "boolean"},
                        "state": {"type": "string"},
                        "queue_position": {"type": "integer"},
                    }
                ),
            }
        },
        "/api/v1/payment/orders/{order_no}": {
            "get": {
                "summary": "A payment order's state (2.8.5)",
                "security": [{"session": []}],
                "parameters": [{"name": "order_no", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": _ok(
                    {
                        "order_no": {"type": "string"},
                        "state": {"type": "string"},
                        "state_label": {"type": "string"},
                        "status": {"type": "string"},
                        "status_label": {"type": "string"},
                        "paid": {"type": "boolean"},
                        "open": {"type": "boolean"},
                    }
                ),
            }
        },
        "/api/v1/preferences/keepalive": {
            "get": {
                "summary": "Activity on the preferences page (继续填报)",
                "security": [{"session": []}],
                "responses": _ok({"idle_seconds": {"type": "integer"}}),
            }
        },
    },
}
