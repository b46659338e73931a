"""MariaDB crashes and restarts, then MinIO restarts, while candidates act through the gateways.

The services reconnect by themselves (no process is restarted); requests that failed meanwhile
failed cleanly with a message (503 and 系统繁忙 on pages, a reason in the API, never a 500 or a
trace); and nothing is half-written: each preference version has its items, each photo row its
object in MinIO, each payment the provider took is in the books once.
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

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

DOWN_SECONDS = 10.0


def test_database_crash_and_object_store_restart_fail_cleanly_and_recover(healthy: Faults) -> None:
    windows: dict[str, tuple[float, float]] = {}

    def fault(stream: Stream) -> None:
        wait_for_confirmations(stream, KINDS, since=0)
        # MariaDB: SIGKILL (connections die mid-transaction; crash recovery on start), then start.
        down = time.monotonic()
        healthy.infra.kill("mariadb")
        time.sleep(DOWN_SECONDS)
        healthy.infra.start("mariadb")
        windows["mariadb"] = (down, time.monotonic())
        wait_for_confirmations(stream, KINDS, since=time.monotonic(), timeout=180)
        # MinIO: an operator's restart (stop, wait, start).
        down = time.monotonic()
        healthy.infra.stop("minio")
        time.sleep(DOWN_SECONDS)
        healthy.infra.start("minio")
        windows["minio"] = (down, time.monotonic())
        recovered(stream)

    stream = run_stream(healthy, fault)
    for part, (down, up) in windows.items():
        refused = sorted({(r.kind, r.status) for r in stream.refusals if down <= r.at <= up + 5})
        print(f"{part} down {up - down:.0f} s: refusals {refused}")
    # The faults were felt: requests were refused while MariaDB was away, uploads while MinIO was.
    down, up = windows["mariadb"]
    assert any(down <= r.at <= up + 5 for r in stream.refusals), stream.summary()
    down, up = windows["minio"]
    assert any(r.kind == "photo" and down <= r.at <= up + 5 for r in stream.refusals), stream.summary()
    assert_clean_refusals(stream)
    assert_no_action_lost_or_doubled(stream)
