"""Registration's reference data (the drop-down lists) as pages use it: read once per request,
and code → name labels for templates (`{{ code | ref_name("major_categories") }}`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app, g

from gateway.errors import BackendError, call
from zsb.registration.v1 import registration_pb2 as pb


def reference_data() -> dict[str, Any]:
    """The current lists (cities, points, categories, …); one gRPC read per request."""
    if "reference_data" not in g:
        reg = current_app.extensions["backends"].registration
        g.reference_data = json.loads(call(reg.GetReferenceData, pb.GetReferenceDataRequest()).data_json)
    return g.reference_data


def ref_name(code: str, kind: str) -> str:
    """The name of `code` in the list `kind`; the code itself when the list cannot be read."""
    try:
        options = reference_data().get(kind, [])
    except BackendError:
        return code
    return next((o["name"] for o in options if o.get("code") == code), code)


def install(app: Flask) -> None:
    app.add_template_filter(ref_name, "ref_name")
