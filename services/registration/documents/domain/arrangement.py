"""Seating candidates in exam rooms (考场编排): pure, deterministic, no I/O.

Every eligible candidate sits the exam in the city of their registration point. Within a city,
candidates are grouped by 报考专业类别 (each category has its own papers and timetable, so a room
holds one category only). Rooms are taken in a fixed order (site code, room number) and filled
from seat 1; within a category candidates are ordered by a keyed hash of the run's seed and the
考生号, so the result depends only on the inputs (reproducible), schools are mixed across rooms,
and listing the inputs in another order changes nothing.

A re-arrangement may keep the published seats (`previous`): every candidate whose seat is still
valid keeps it and only the others are placed, into free seats of rooms already holding their
category first, then into empty rooms. A printed ticket of a candidate who did not move stays
valid.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zsb.common.errors import FailedPrecondition


@dataclass(frozen=True)
class Room:
    """A room of an exam site (考点), in the site's city."""

    id: int
    site_code: str
    city_code: str
    room_no: str
    capacity: int

    @property
    def order(self) -> tuple[str, str, int]:
        return (self.site_code, self.room_no, self.id)


@dataclass(frozen=True)
class Examinee:
    candidate_no: str
    city_code: str
    major_category: str


@dataclass(frozen=True)
class Seat:
    candidate_no: str
    room_id: int
    seat_no: int  # 1..capacity


@dataclass(frozen=True)
class Shortage:
    """Candidates of one city and category for whom no seat was left."""

    city_code: str
    major_category: str
    unplaced: int


class CapacityShortage(FailedPrecondition):
    """Not enough seats; nothing is arranged. `shortages` says where, for a message with names."""

    def __init__(self, shortages: list[Shortage]) -> None:
        total = sum(s.unplaced for s in shortages)
        super().__init__(f"考场座位不足，还有{total}名考生无法安排", reason="CAPACITY_SHORTAGE")
        self.shortages = shortages


def seating_key(seed: str, candidate_no: str) -> tuple[bytes, str]:
    """The order of candidates inside a category: a keyed hash, ties (never seen) by 考生号."""
    digest = hashlib.sha256(f"zsb-seat\x00{seed}\x00{candidate_no}".encode()).digest()
    return digest, candidate_no


@dataclass
class _RoomState:
    room: Room
    category: str | None = None
    taken: set[int] = field(default_factory=set)

    def free_seats(self) -> list[int]:
        return [n for n in range(1, self.room.capacity + 1) if n not in self.taken]


def arrange(
    examinees: Iterable[Examinee],
    rooms: Iterable[Room],
    seed: str,
    previous: Mapping[str, tuple[int, int]] | None = None,
) -> list[Seat]:
    """A seat for every examinee, or `CapacityShortage` naming every city and category short of seats.

    `previous` maps 考生号 to (room id, seat no) of the published arrangement to keep; a kept seat
    must still exist, be in the candidate's city, within the room's capacity and in a room of the
    candidate's category. The result is sorted by room order and seat.
    """
    people = sorted(examinees, key=lambda e: e.candidate_no)
    numbers = [e.candidate_no for e in people]
    if len(numbers) != len(set(numbers)):
        raise ValueError("a candidate appears twice")
    states: dict[int, _RoomState] = {}
    by_city: dict[str, list[_RoomState]] = defaultdict(list)
    for room in sorted(rooms, key=lambda r: r.order):
        if room.capacity < 1:
            raise ValueError(f"room {room.id} has no seats")
        if room.id in states:
            raise ValueError(f"room {room.id} appears twice")
        state = _RoomState(room)
        states[room.id] = state
        by_city[room.city_code].append(state)

    placed: dict[str, Seat] = {}
    for person in people:  # in 考生号 order, so a conflict in `previous` is settled the same way each time
        kept = (previous or {}).get(person.candidate_no)
        if kept is None:
            continue
        room_id, seat_no = kept
        state = states.get(room_id)
        if (
            state is None
            or state.room.city_code != person.city_code
            or not 1 <= seat_no <= state.room.capacity
            or state.category not in (None, person.major_category)
            or seat_no in state.taken
        ):
            continue
        state.category = person.major_category
        state.taken.add(seat_no)
        placed[person.candidate_no] = Seat(person.candidate_no, room_id, seat_no)

    groups: dict[tuple[str, str], list[Examinee]] = defaultdict(list)
    for person in people:
        if person.candidate_no not in placed:
            groups[(person.city_code, person.major_category)].append(person)
    shortages: list[Shortage] = []
    for (city, category), waiting in sorted(groups.items()):
        queue = sorted(waiting, key=lambda e: seating_key(seed, e.candidate_no))
        city_rooms = by_city.get(city, [])
        # Rooms already holding the category first (kept seats), then empty rooms, each in room order.
        usable = [s for s in city_rooms if s.category == category] + [s for s in city_rooms if s.category is None]
        index = 0
        for state in usable:
            if index == len(queue):
                break
            for seat_no in state.free_seats():
                if index == len(queue):
                    break
                state.category = category
                state.taken.add(seat_no)
                number = queue[index].candidate_no
                placed[number] = Seat(number, state.room.id, seat_no)
                index += 1
        if index < len(queue):
            shortages.append(Shortage(city, category, len(queue) - index))
    if shortages:
        raise CapacityShortage(shortages)
    return sorted(placed.values(), key=lambda s: (states[s.room_id].room.order, s.seat_no))
