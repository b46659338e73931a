"""Kafka stops for a minute while candidates act: writes go on, the outboxes hold the events,
and everything is delivered once the broker is back.

The broker is the private one of these tests (tests/reliability/conftest.py), stopped with
deploy/local/kafka.sh as an operator would. `ZSB_FAULT_KAFKA_DOWN_SECONDS` makes the outage
longer for a soak (default 60).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.reliability.conftest import Faults
from tests.reliability.stream import (
    KINDS,
    Stream,
    assert_clean_refusals,
    assert_no_action_lost_or_doubled,
    recovered,
    run_stream,
    unpublished,
    wait_for_confirmations,
)

DOWN_SECONDS = float(os.environ.get("ZSB_FAULT_KAFKA_DOWN_SECONDS", "60"))
pytestmark = [pytest.mark.system, pytest.mark.timeout(int(900 + 2 * DOWN_SECONDS))]
# The services whose stream actions write events: auth (accounts, logins), payment, preferences.
WRITERS = ("auth", "payment", "preferences")


def test_kafka_down_for_a_minute_writes_go_on_and_everything_arrives(healthy: Faults) -> None:
    held: dict[str, int] = dict.fromkeys(WRITERS, 0)
    during: dict[str, int] = {}

    def fault(stream: Stream) -> None:
        wait_for_confirmations(stream, KINDS, since=0)
        healthy.infra.stop("kafka")
        stopped = time.monotonic()
        while time.monotonic() - stopped < DOWN_SECONDS:
            for service in WRITERS:
                held[service] = max(held[service], unpublished(healthy, service))
            time.sleep(2.0)
        during.update(stream.confirmed_between(stopped, time.monotonic()))
        healthy.infra.start("kafka")
        recovered(stream)

    stream = run_stream(healthy, fault, pay=30, pay_pause=3.0)
    print(f"while Kafka was down: confirmed {during}; outboxes held up to {held}")
    # Writes went on without the broker, and their events waited in the outboxes.
    assert set(KINDS) <= set(during), during
    assert all(held[s] > 0 for s in WRITERS), held
    assert_clean_refusals(stream)
    # Once it is back, everything is published and handled, nothing lost or doubled.
    assert_no_action_lost_or_doubled(stream)
