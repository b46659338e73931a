"""The JSON API fuzzed from its OpenAPI description (schemathesis), anonymous and signed in:
no 5xx, no stack trace, every refusal a documented 4xx with a code and a message."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from gateway.openapi import SPEC
from gateway.tests.conftest import Stack, hidden, logged_in_client

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(stack: Stack):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", stack.app)


@pytest.fixture
def signed_in(stack: Stack) -> dict[str, str]:
    """Cookie and CSRF headers of a candidate past the first password change."""
    client = logged_in_client(stack)
    csrf = hidden(client.get("/home").get_data(as_text=True))["csrf_token"]
    return {"Cookie": f"zsb_session={client.get_cookie('zsb_session').value}", "X-CSRF-Token": csrf}


def test_every_json_route_is_described(stack: Stack) -> None:
    routes = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in stack.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    assert routes == described


def _no_trace(response) -> None:
    body = response.text if hasattr(response, "text") else response.get_data(as_text=True)
    assert "Traceback" not in body and 'File "' not in body


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_anonymous_calls(case) -> None:
    response = case.call()
    case.validate_response(response)
    assert response.status_code < 500
    _no_trace(response)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_signed_in_calls(case, signed_in: dict[str, str]) -> None:
    response = case.call(headers=signed_in)
    case.validate_response(response)
    assert response.status_code < 500
    _no_trace(response)
