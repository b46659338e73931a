"""PDF rendering of the four documents (fpdf2, A4): `Renderer.render(view)` returns the bytes.

Rendering costs about a second of CPU (parsing the CJK font is most of it), so the bytes are kept
in a small per-process cache keyed by the view itself: the view holds every value printed, so a
change of any data is a different key and a cached document can never be stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from services.registration.documents.config import DocumentsConfig
from services.registration.documents.render.base import FontBook, FontMissing
from services.registration.documents.render.forms import (
    render_bonus_form,
    render_medical_form,
    render_registration_form,
)
from services.registration.documents.render.models import (
    BonusFormView,
    MedicalFormView,
    RegistrationFormView,
    TicketView,
)
from services.registration.documents.render.ticket import render_ticket

View = RegistrationFormView | MedicalFormView | BonusFormView | TicketView

_RENDERERS: dict[type, Callable[[FontBook, object], bytes]] = {
    RegistrationFormView: render_registration_form,  # type: ignore[dict-item]
    MedicalFormView: render_medical_form,  # type: ignore[dict-item]
    BonusFormView: render_bonus_form,  # type: ignore[dict-item]
    TicketView: render_ticket,  # type: ignore[dict-item]
}


class Renderer:
    def __init__(self, config: DocumentsConfig) -> None:
        self.fonts = FontBook(config)
        self.capacity = config.cache_entries
        self._cache: OrderedDict[View, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def render(self, view: View) -> bytes:
        with self._lock:
            cached = self._cache.get(view)
            if cached is not None:
                self._cache.move_to_end(view)
                self.hits += 1
                return cached
            self.misses += 1
        data = _RENDERERS[type(view)](self.fonts, view)
        if self.capacity:
            with self._lock:
                self._cache[view] = data
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return data


__all__ = ["FontMissing", "Renderer", "View"]
