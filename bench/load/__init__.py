"""Simulated candidates through the whole journey, against the whole platform on loopback.

Stage one: every candidate, from the first login to submitted preferences (see journey.py), on
LOAD_WORKERS threads (the requests in flight). Then staff: the results service has every
preference, scores are imported and published, both admission phases run and are published.
Stage two: every candidate logs in again and reads 成绩与录取信息 and 分数段统计.
Baseline, measured in the same run: one more candidate alone, through each stage before the
crowd; each step's loaded p50 is printed against its single-user latency, and the loaded request
rate against one user's back-to-back rate.

Reported per stage: throughput, p50/p95/p99 and errors per step, and the waits for other services'
events; per process: peak RSS and CPU seconds over the loaded stages, with the machine's total
busy share, so the busiest process while the machine is saturated is what saturates first.
Any error fails the run (exit status 1).

Environment: LOAD_CANDIDATES (default 200), LOAD_WORKERS (default 4 per core), LOAD_VERIFY_SHARE
(share of candidates whose identity is checked by the face engine, default 1; the others ask for
manual review, which a bench reviewer approves over gRPC), LOAD_IDENTITY_PROCESSES (identity
replicas, each with one verification worker, default 2), LOAD_WAIT_TIMEOUT (longest wait for an
event, seconds, default 900), LOAD_DATABASE=sqlite (instead of scratch MariaDB databases).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.load.client import AnswerBook, JourneyError, Recorder, run
from bench.load.journey import FACE_SETS, Candidate, Context, first_visit, return_visit
from bench.load.platform import LoadPlatform, databases
from bench.load.report import CORES, Meter, combine, peak_rss_mb, process_table, step_table
from zsb.common.settings import REPO_ROOT, VAR_DIR

CANDIDATES = int(os.environ.get("LOAD_CANDIDATES", "200"))
WORKERS = int(os.environ.get("LOAD_WORKERS", str(4 * CORES)))
VERIFY_SHARE = float(os.environ.get("LOAD_VERIFY_SHARE", "1"))
IDENTITY_PROCESSES = int(os.environ.get("LOAD_IDENTITY_PROCESSES", "2"))
WAIT_TIMEOUT = float(os.environ.get("LOAD_WAIT_TIMEOUT", "900"))
FACES = REPO_ROOT.parent / "shared" / "faces"
LOGS = VAR_DIR / "artifacts" / "load-logs"


def automatic(index: int) -> bool:
    """VERIFY_SHARE of the candidates, spread evenly; the baseline candidate (0) always."""
    return index == 0 or int(index * VERIFY_SHARE) != int((index - 1) * VERIFY_SHARE)


def main() -> None:
    photos = {name: (FACES / name).read_bytes() for names in FACE_SETS for name in names}
    recs = {name: Recorder() for name in ("baseline 1", "stage 1", "staff", "baseline 2", "stage 2")}
    usages: list[Meter] = []
    memory: dict[str, float] = {}
    notifications: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp, databases() as urls:
        engine = "MariaDB" if next(iter(urls.values())).startswith("mysql") else "SQLite"
        lp = LoadPlatform(Path(tmp), urls, IDENTITY_PROCESSES)
        try:
            lp.start()
            accounts = lp.seed_accounts(CANDIDATES + 1)
            # Accounts are imported days before the rush: registration has them all before the clock starts.
            lp.wait_count("registration", "SELECT COUNT(*) FROM candidates", len(accounts))
            lp.open_preferences()
            answers, gateways = AnswerBook(lp.answers), lp.gateways
            people = [
                Candidate(i, number, password, gateways[i % len(gateways)], automatic(i))
                for i, (number, password) in enumerate(accounts)
            ]
            alone, crowd = people[0], people[1:]

            contexts = {name: Context(rec, answers, photos, WAIT_TIMEOUT) for name, rec in recs.items()}
            run([first_visit(alone, contexts["baseline 1"])], 1, recs["baseline 1"])
            manual = any(not c.automatic_identity for c in crowd)
            with Meter(lp.pids()) as m1, lp.reviewer(recs["stage 1"]) if manual else contextlib.nullcontext():
                run([first_visit(c, contexts["stage 1"]) for c in crowd], WORKERS, recs["stage 1"])
            usages.append(m1)
            try:
                notifications = lp.payment_notifications(recs["stage 1"])
            except Exception as exc:  # noqa: BLE001 - reported with the other errors
                recs["stage 1"].fail("provider_notification", repr(exc))
            # Staff publish the results of everyone who submitted preferences.
            done = set(contexts["baseline 1"].completed + contexts["stage 1"].completed)
            with Meter(lp.pids()) as ms:
                started = time.perf_counter()
                try:
                    lp.publish_admission(recs["staff"], [c.number for c in people if c.number in done])
                except JourneyError:
                    pass  # counted where it happened
                except Exception as exc:  # noqa: BLE001 - reported with the other errors, the run goes on to its report
                    recs["staff"].fail("staff", repr(exc))
                recs["staff"].wall = time.perf_counter() - started
            usages.append(ms)
            if not recs["staff"].total_errors:
                if alone.number in done:
                    run([return_visit(alone, contexts["baseline 2"])], 1, recs["baseline 2"])
                with Meter(lp.pids()) as m2:
                    returning = [return_visit(c, contexts["stage 2"]) for c in crowd if c.number in done]
                    run(returning, WORKERS, recs["stage 2"])
                usages.append(m2)
            memory = {name: peak_rss_mb(pid) for name, pid in lp.pids().items()}
        finally:
            lp.stop()
            if sum(r.total_errors for r in recs.values()):
                shutil.copytree(lp.platform.log_dir, LOGS, dirs_exist_ok=True)
                print(f"errors: the processes' logs are in {LOGS}", flush=True)

    print(
        f"{CANDIDATES} candidates (+1 alone for the baseline), {WORKERS} requests in flight, {CORES} cores, "
        f"{engine}, {IDENTITY_PROCESSES} identity processes, face check for {VERIFY_SHARE:.0%} of candidates"
    )
    step_table("baseline: one candidate alone, stage 1", recs["baseline 1"])
    step_table("stage 1: first login to submitted preferences", recs["stage 1"], recs["baseline 1"])
    step_table("staff: scores, settings, admission runs (gRPC)", recs["staff"])
    step_table("stage 2: log in again, read results", recs["stage 2"], recs["baseline 2"])
    print(f"payment notifications from the provider sandbox (one delivery thread, serial): {notifications}")
    for stage, base in (("stage 1", "baseline 1"), ("stage 2", "baseline 2")):
        loaded, single = recs[stage], recs[base]
        if loaded.wall and single.requests:
            one_user = single.requests / sum(sum(v) for v in single.latency.values())
            rate = loaded.requests / loaded.wall
            print(
                f"{stage}: {loaded.finished}/{len(crowd)} journeys in {loaded.wall:.1f} s = "
                f"{loaded.finished / loaded.wall:.2f} journeys/s; {rate:.1f} requests/s vs one user back to back "
                f"{one_user:.1f}/s: ratio {rate / one_user:.2f}"
            )
    if usages:
        usage = combine([m.usage for m in usages])
        busiest = process_table(usage, memory, len(crowd))
        print(
            f"saturates first (busiest platform process over the loaded stages): {busiest} "
            f"({usage.cpu[busiest] / usage.wall:.2f} cores)"
        )
    errors = sum(r.total_errors for r in recs.values())
    unfinished = (
        sum(len(crowd) - recs[s].finished for s in ("stage 1", "stage 2"))
        + 2
        - sum(recs[b].finished for b in ("baseline 1", "baseline 2"))
    )
    print(f"total errors: {errors}; journeys not finished: {unfinished}")
    if errors or unfinished:
        raise SystemExit(1)
