"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready only when every service the gateway needs answers its gRPC health check."""
    services = current_app.extensions["backends"].readiness()
    ready = all(status == "SERVING" for status in services.values())
    return jsonify(status="ready" if ready else "not ready", services=services), (200 if ready else 503)
