"""kill -9 each service, and each gateway, in turn while candidates act through the gateways.

Each service process holds its outbox relay and its consumers, so killing it kills them mid-work
too. The stream (tests/reliability/stream.py): accounts issued and first logins, fee payments
through the provider sandbox, preference submissions, photo uploads. After every process has been
killed and restarted: no confirmed action is lost, none is applied twice, every event reached its
consumers, and every request that failed meanwhile failed with a message.
"""

from __future__ import annotations

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
    wait_for_confirmations,
)
from zsb.common.settings import SERVICE_NAMES

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

VICTIMS = [*SERVICE_NAMES, "gateway", "gateway2"]


def test_kill_nine_every_process_in_turn_loses_and_doubles_nothing(healthy: Faults) -> None:
    killed: list[tuple[str, float]] = []

    def fault(stream: Stream) -> None:
        wait_for_confirmations(stream, KINDS, since=0)
        for victim in VICTIMS:
            time.sleep(2.0)
            started = time.monotonic()
            healthy.restart_process(victim)  # SIGKILL, start, wait until it answers its health check
            killed.append((victim, time.monotonic() - started))
        recovered(stream)  # every kind of action works again after the last restart

    stream = run_stream(healthy, fault, pay=24, pay_pause=5.0)
    print("killed and back: " + ", ".join(f"{v} {s:.0f} s" for v, s in killed))
    assert len(stream.changed) >= 5 and len(stream.paid) >= 5 and len(stream.submitted) >= 10, stream.summary()
    assert_clean_refusals(stream)
    assert_no_action_lost_or_doubled(stream)
