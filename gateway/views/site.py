"""What every page shows around its content: the organiser's footer (from settings).

No routes: the blueprint only lends the templates a context, so base.html needs no view to pass it.
"""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("site", __name__)


@bp.app_context_processor
def _site() -> dict:
    settings = current_app.extensions["settings"]
    return {
        "site": {
            "organizer": settings.footer_organizer,
            "address": settings.footer_address,
            "postcode": settings.footer_postcode,
        }
    }
