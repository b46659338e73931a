"""One submission of a batch's parallel preferences (平行志愿A–H), checked as a whole.

Each rule has its own message naming the row, so the form can show every problem next to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

SLOTS = "ABCDEFGH"


def slot_label(slot: str) -> str:
    return f"平行志愿{slot}"


@dataclass(frozen=True)
class Choice:
    slot: str
    institution_code: str = ""
    major_code: str = ""
    major_institution_code: str = ""  # the institution the major was listed under in the form


@dataclass(frozen=True)
class Offer:
    """A plan line the candidate could choose: one major of one institution in the batch."""

    institution_code: str
    institution_name: str
    major_code: str
    major_name: str
    major_category: str
    places: int


@dataclass(frozen=True)
class Item:
    slot: str
    institution_code: str
    institution_name: str
    major_code: str
    major_name: str


@dataclass(frozen=True)
class SlotProblem:
    slot: str  # '' for the submission as a whole
    field: str  # institution | major | ''
    message: str


def _clean(value: str) -> str:
    return (value or "").strip().upper()[:10]


def check_choices(
    choices: list[Choice], offers: Mapping[tuple[str, str], Offer], category: str
) -> tuple[list[Item], list[SlotProblem]]:
    """The items to save (A first, no gaps), or every problem; `offers` is the batch's whole plan."""
    problems: list[SlotProblem] = []
    by_slot: dict[str, Choice] = {}
    for c in choices:
        slot = (c.slot or "").strip().upper()
        if slot not in SLOTS or len(slot) != 1:
            problems.append(SlotProblem("", "", f"志愿位置“{c.slot[:4]}”不正确，只能是平行志愿A至H"))
        elif slot in by_slot:
            problems.append(SlotProblem(slot, "", f"{slot_label(slot)}重复提交"))
        else:
            by_slot[slot] = c
    institutions = {inst for inst, _ in offers}
    items: dict[str, Item] = {}
    filled: list[str] = []
    for slot in SLOTS:
        c = by_slot.get(slot)
        inst = _clean(c.institution_code) if c else ""
        major = _clean(c.major_code) if c else ""
        major_inst = _clean(c.major_institution_code) if c else ""
        inst = inst or (major_inst if major else "")
        if not inst and not major:
            continue
        filled.append(slot)
        label = slot_label(slot)
        if major_inst and major_inst != inst:
            problems.append(SlotProblem(slot, "major", f"{label}：所选专业不属于所选院校，请重新选择专业"))
        elif not major:
            problems.append(SlotProblem(slot, "major", f"{label}：请选择专业"))
        elif inst not in institutions:
            problems.append(SlotProblem(slot, "institution", f"{label}：院校{inst}在本批次没有招生计划"))
        elif (offer := offers.get((inst, major))) is None:
            problems.append(SlotProblem(slot, "major", f"{label}：专业{major}不是该院校在本批次的招生专业"))
        elif offer.major_category != category:
            problems.append(SlotProblem(slot, "major", f"{label}：所选专业不属于您的报考专业类别，不能填报"))
        else:
            items[slot] = Item(slot, inst, offer.institution_name, major, offer.major_name)
    if not filled:
        problems.append(SlotProblem("A", "institution", "请至少填报平行志愿A"))
    else:
        problems += _gaps(filled)
        problems += _duplicates(items)
    if problems:
        return [], problems
    return [items[s] for s in SLOTS if s in items], []


def _gaps(filled: list[str]) -> list[SlotProblem]:
    """Preferences go from A without an empty row before a filled one."""
    last = SLOTS.index(filled[-1])
    return [
        SlotProblem(s, "institution", f"{slot_label(s)}未填写：请从平行志愿A起依次填报，中间不能空缺")
        for s in SLOTS[: last + 1]
        if s not in filled
    ]


def _duplicates(items: dict[str, Item]) -> list[SlotProblem]:
    first: dict[tuple[str, str], str] = {}
    out = []
    for slot in SLOTS:
        item = items.get(slot)
        if item is None:
            continue
        key = (item.institution_code, item.major_code)
        if key in first:
            out.append(
                SlotProblem(
                    slot, "major", f"{slot_label(slot)}与{slot_label(first[key])}的院校和专业相同，同一批次不能重复填报"
                )
            )
        else:
            first[key] = slot
    return out


def digest(batch_code: str, choices: list[Choice]) -> str:
    """What a submission said, to tell a retry (same key, same content) from another use of the key."""
    rows = []
    for c in sorted(choices, key=lambda c: (c.slot or "").strip().upper()):
        major = _clean(c.major_code)
        inst = _clean(c.institution_code) or (_clean(c.major_institution_code) if major else "")
        if inst or major:
            rows.append(f"{(c.slot or '').strip().upper()[:2]}:{inst}:{major}:{_clean(c.major_institution_code)}")
    return hashlib.sha256((batch_code + "|" + ";".join(rows)).encode()).hexdigest()
