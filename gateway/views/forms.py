"""Small helpers shared by the form views: captcha, field errors, limits."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from flask import current_app, request

from gateway.errors import call
from zsb.auth.v1 import auth_pb2 as pb

MAX_FIELD = 64


@dataclass
class FormState:
    """What a form page re-renders with: the values typed and an error per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


def new_captcha() -> dict[str, str]:
    resp = call(current_app.extensions["backends"].auth.NewCaptcha, pb.NewCaptchaRequest())
    return {"id": resp.captcha_id, "image": "data:image/png;base64," + base64.b64encode(resp.png).decode()}


def read_form(names: list[str], secret: tuple[str, ...] = ()) -> FormState:
    """Read fields, trimmed and length-limited; secrets are never echoed back into the page."""
    state = FormState()
    for name in names:
        value = request.form.get(name, "")
        value = value if name in secret else value.strip()
        if len(value) > MAX_FIELD:
            state.error(name, "输入过长")
            value = ""
        if name not in secret:
            state.values[name] = value
        else:
            state.values[f"_{name}"] = value
    return state


def required(state: FormState, labels: dict[str, str]) -> None:
    for name, label in labels.items():
        if not (state.values.get(name) or state.values.get(f"_{name}")):
            state.error(name, f"请输入{label}")


def value(state: FormState, name: str) -> str:
    return state.values.get(name) or state.values.get(f"_{name}", "")
