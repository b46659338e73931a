"""Blueprints of the gateway, discovered: every module here that defines `bp` is registered.

A module may also declare the entries it adds to the navigation:
- `MENU`: candidate side, a list of (order, label, endpoint);
- `ADMIN_MENU`: admin side, a list of (order, label, endpoint, roles), roles a tuple of staff
  roles that see the entry (empty: every staff role). The services enforce the roles anyway.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from flask import Blueprint


@dataclass(frozen=True)
class MenuEntry:
    order: int
    label: str
    endpoint: str
    roles: tuple[str, ...] = ()


def discover() -> tuple[list[Blueprint], list[MenuEntry], list[MenuEntry]]:
    blueprints: list[Blueprint] = []
    menu: list[MenuEntry] = []
    admin_menu: list[MenuEntry] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "bp", None), Blueprint):
            blueprints.append(module.bp)
        menu += [MenuEntry(*entry) for entry in getattr(module, "MENU", [])]
        admin_menu += [MenuEntry(*entry) for entry in getattr(module, "ADMIN_MENU", [])]
    return blueprints, sorted(menu, key=lambda e: e.order), sorted(admin_menu, key=lambda e: e.order)
