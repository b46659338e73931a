"""Flask app factory of the gateway."""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, request

from gateway import reference, security, views
from gateway.backends import Backends
from gateway.errors import register_error_handlers
from zsb.common.context import REQUEST_ID_HEADER, new_request_id, set_request_id
from zsb.common.settings import Settings

_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")

# Pages use only local scripts and styles: nothing may load from another origin.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings(service_name="gateway")
    app = Flask(__name__)
    # No signed-cookie state depends on this key across replicas (sessions are server-side),
    # but it must still be secret and shared: it comes from the environment.
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    app.extensions["settings"] = settings
    app.extensions["backends"] = Backends(settings)
    blueprints, menu, admin_menu = views.discover()
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.extensions["menu"], app.extensions["admin_menu"] = menu, admin_menu

    @app.context_processor
    def _menus() -> dict:
        return {"candidate_menu": menu, "admin_menu": admin_menu}

    register_error_handlers(app)

    @app.before_request
    def _request_id() -> None:
        rid = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = rid if _REQUEST_ID.match(rid) else new_request_id()
        set_request_id(g.request_id)

    security.install(app)
    reference.install(app)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.update(_SECURITY_HEADERS)
        resp.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return resp

    return app
