"""A whole admission run through the results service on 1,000,000 candidates, 8 preferences in
each of two batches over 2,000 institution-majors, on SQLite (the embedded default; set
``BENCH_RESULTS_DATABASE_URL`` to measure another database, e.g. MariaDB).

Measured in the same run on the same data, each in a fresh process (so its peak memory is its own):
- the whole run through the service: ``RunsService.start`` as the gRPC call runs it — load the
  published scores, preferences and plan from the database into arrays, dispatch both batches,
  check the published 建档立卡 phase comes out unchanged, write one result row per candidate,
  the per-plan figures and the explanation chunks;
- the algorithm alone: ``run_encoded`` on the same arrays (median of 3);
- the naive baseline: ``run_naive``, the plain-Python reference, on ``Candidate`` objects.

Data are generated with numpy and written with bulk inserts, straight into the service's tables.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

CANDIDATES = 1_000_000
PROGRAMMES = 2_000
INSTITUTIONS = 40
CATEGORIES = tuple(f"{k:02d}" for k in range(1, 9))
JDLK_SHARE = 0.06
JDLK_PROGRAMMES = 600
SEED = 20250701
RANDOM_SEED = "bench-2026"
SETTINGS = {
    "batches": [
        {
            "code": "jdlk",
            "name": "建档立卡专项批本科",
            "jdlk_only": True,
            "control_lines": {},
            "default_line": 150,
            "ratio_percent": 100,
            "solicitation": False,
        },
        {
            "code": "ordinary",
            "name": "普通批本科",
            "jdlk_only": False,
            "control_lines": {},
            "default_line": 160,
            "ratio_percent": 105,
            "solicitation": False,
        },
    ],
    "tie_break": ["专业课", "公共课"],
    "random_seed": RANDOM_SEED,
}


def _rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- generation (numpy) and bulk load into the service's tables ----


def generate(url: str, n: int = CANDIDATES, seed: int = SEED) -> dict[str, Any]:
    """Write a published score list, plan, preferences and settings for ``n`` candidates."""
    import json

    from bench.admission import _preferences
    from services.results.adapters import tables
    from services.results.adapters.bulk import insert_rows
    from services.results.domain.scores import category_ranks
    from services.results.main import SPEC
    from zsb.common.clock import utcnow
    from zsb.common.db import Database
    from zsb.common.migrations import upgrade_to_head

    started = time.perf_counter()
    db = Database(url)
    upgrade_to_head(SPEC.migrations_dir, db.engine)
    rng = np.random.default_rng(seed)
    programme_category = np.arange(PROGRAMMES) % len(CATEGORIES)
    ordinary_places = rng.integers(100, 450, PROGRAMMES) * n // 1_000_000
    jdlk_programmes = rng.choice(PROGRAMMES, JDLK_PROGRAMMES, replace=False)
    jdlk_places = rng.integers(5, 50, JDLK_PROGRAMMES) * n // 1_000_000
    category = rng.integers(0, len(CATEGORIES), n)
    professional = np.clip(rng.normal(95, 22, n), 0, 150).astype(np.int64)
    public = np.clip(rng.normal(95, 20, n), 0, 150).astype(np.int64)
    bonus = np.where(rng.random(n) < 0.03, rng.choice([5, 10], n), 0)
    jdlk = rng.random(n) < JDLK_SHARE
    ordinary = _preferences(rng, category, programme_category) + 1  # programme ids from 1; 0 = empty
    special = _preferences(rng, category, programme_category) + 1
    total = professional + public
    admission_total = total + bonus
    ranks = category_ranks(category, admission_total)
    now = utcnow()
    ids = np.arange(1, n + 1)
    cats = [CATEGORIES[c] for c in category.tolist()]
    with db.unit_of_work() as session:
        insert_rows(
            session,
            tables.programmes,
            ("id", "institution_code", "major_code", "institution_name", "major_name"),
            (
                (
                    p + 1,
                    f"{10100 + p % INSTITUTIONS}",
                    f"{p // INSTITUTIONS:06d}",
                    f"院校{10100 + p % INSTITUTIONS}",
                    f"专业{p // INSTITUTIONS:06d}",
                )
                for p in range(PROGRAMMES)
            ),
        )
        lines = [
            ("ordinary", p + 1, CATEGORIES[programme_category[p]], int(ordinary_places[p])) for p in range(PROGRAMMES)
        ]
        lines += [
            ("jdlk", int(p) + 1, CATEGORIES[programme_category[p]], int(k))
            for p, k in zip(jdlk_programmes, jdlk_places, strict=True)
        ]
        insert_rows(session, tables.plan_lines, ("batch_code", "programme_id", "major_category", "places"), lines)
        insert_rows(session, tables.plan_state, ("id", "version", "actor", "received_at"), [(1, 1, "bench", now)])
        insert_rows(
            session,
            tables.batches,
            ("code", "name", "position", "poverty_only"),
            [("jdlk", "建档立卡专项批本科", 1, True), ("ordinary", "普通批本科", 2, False)],
        )
        insert_rows(
            session,
            tables.candidates,
            (
                "id",
                "candidate_no",
                "name",
                "major_category",
                "jdlk",
                "city_code",
                "point_code",
                "bonus_points",
                "confirmed",
                "abandoned",
                "updated_at",
            ),
            zip(
                ids.tolist(),
                (f"25140{i:09d}" for i in range(n)),
                ["考生"] * n,
                cats,
                jdlk.tolist(),
                ["01"] * n,
                ["0113"] * n,
                bonus.tolist(),
                [True] * n,
                [False] * n,
                [now] * n,
                strict=True,
            ),
        )
        insert_rows(
            session,
            tables.score_publications,
            ("id", "import_version", "subjects_json", "band_width", "candidates", "actor", "published_at"),
            [(1, 1, json.dumps(["公共课", "专业课"], ensure_ascii=False), 10, n, "bench", now)],
        )
        insert_rows(
            session,
            tables.published_scores,
            (
                "publication_id",
                "candidate_id",
                "major_category",
                "jdlk",
                "total",
                "bonus",
                "admission_total",
                "rank",
                "s1",
                "s2",
            ),
            zip(
                [1] * n,
                ids.tolist(),
                cats,
                jdlk.tolist(),
                total.tolist(),
                bonus.tolist(),
                admission_total.tolist(),
                ranks.tolist(),
                public.tolist(),
                professional.tolist(),
                strict=True,
            ),
        )
        slots = tuple(f"slot_{s}" for s in "abcdefgh")
        for code, matrix in (("ordinary", ordinary), ("jdlk", special)):
            # everyone fills both batches; only 建档立卡 candidates take part in the special one
            insert_rows(
                session,
                tables.preferences,
                ("candidate_id", "batch_code", "version", "withdrawn", *slots),
                ((cid, code, 1, False, *row) for cid, row in zip(ids.tolist(), matrix.tolist(), strict=True)),
            )
        insert_rows(
            session,
            tables.admission_settings,
            ("id", "data_json", "version", "updated_by", "updated_at"),
            [(1, json.dumps(SETTINGS, ensure_ascii=False), 1, "bench", now)],
        )
        insert_rows(session, tables.input_revision, ("id", "revision"), [(1, 1)])
    db.dispose()
    return {"seconds": time.perf_counter() - started, "rows": n * 4 + PROGRAMMES + len(lines)}


# ---- the measured steps, each in a fresh process ----


def _service(url: str):
    from services.results.main import SPEC
    from services.results.service.runs import RunsService
    from zsb.common.principal import Principal, Role, set_principal
    from zsb.common.runtime import ServiceRuntime
    from zsb.common.settings import Settings

    runtime = ServiceRuntime(SPEC, Settings(service_name="results", database_url=url))
    set_principal(Principal("bench", Role.PROVINCE))
    return runtime, RunsService(runtime.ctx)


def step_service_run(url: str, publish: bool) -> dict[str, Any]:
    """One whole run through the service (the next phase), optionally published afterwards."""
    runtime, service = _service(url)
    before = _rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    run_id = service.start()
    out = {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_before": before,
        "peak": _peak_mib(),
        "run_id": run_id,
        "timings": dict(service.last_timings),
    }
    with runtime.ctx.db.unit_of_work() as session:
        row = session.execute(
            text("SELECT candidates, dispatched, placed FROM runs WHERE id = :i"), {"i": run_id}
        ).one()
        out["counts"] = tuple(row)
        out["result_rows"] = session.execute(
            text("SELECT COUNT(*) FROM run_results WHERE run_id = :i"), {"i": run_id}
        ).scalar_one()
    if publish:
        wall = time.perf_counter()
        service.publish_run(run_id)
        out["publish_wall"] = time.perf_counter() - wall
    runtime.ctx.db.dispose()
    return out


def _inputs(url: str):
    from services.results.service.common import current_publication, load_settings
    from services.results.service.loader import load_inputs
    from services.results.service.runs import next_phase

    runtime, _ = _service(url)
    with runtime.ctx.db.unit_of_work() as session:
        settings, *_ = load_settings(session)
        phase = next_phase(session, settings.config)
        inputs = load_inputs(session, settings, phase, current_publication(session))
    runtime.ctx.db.dispose()
    return inputs


def _digest(result: Any) -> str:
    """SHA-256 over every per-candidate and per-plan array of a result: equal results, equal digests."""
    import hashlib

    h = hashlib.sha256(result.rank.astype(np.int64).tobytes() + result.final_stage.astype(np.int64).tobytes())
    for s in result.stages:
        for array in (s.status, s.plan, s.slot, s.quota, s.dispatched, s.returned, s.lowest_dispatched):
            h.update(np.ascontiguousarray(array).astype(np.int64).tobytes())
    return h.hexdigest()


def step_algorithm(url: str) -> dict[str, Any]:
    from services.results.domain.admission import run_encoded

    inputs = _inputs(url)
    runs = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_encoded(inputs.data, inputs.returns)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    tracemalloc.start()
    run_encoded(inputs.data, inputs.returns)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "wall": statistics.median(r[0] for r in runs),
        "cpu": statistics.median(r[1] for r in runs),
        "traced_peak": peak,
        "digest": _digest(result),
    }


def step_naive(url: str) -> dict[str, Any]:
    """The plain way: rows to ``Candidate`` objects, then the pure-Python reference."""
    from services.results.domain.admission import Candidate, derive_random_code, run_naive

    inputs = _inputs(url)  # plans, settings and returns as the service reads them
    data = inputs.data
    runtime, _ = _service(url)
    wall, cpu = time.perf_counter(), time.process_time()
    with runtime.ctx.db.unit_of_work() as session:
        programme = dict(
            (r[0], (r[1], r[2]))
            for r in session.execute(text("SELECT id, institution_code, major_code FROM programmes")).all()
        )
        prefs: dict[int, dict[str, tuple]] = {}
        for row in session.execute(
            text(
                "SELECT candidate_id, batch_code, slot_a, slot_b, slot_c, slot_d, slot_e, slot_f, slot_g, slot_h "
                "FROM preferences WHERE withdrawn = 0"
            )
        ):
            prefs.setdefault(row[0], {})[row[1]] = tuple(programme[p] for p in row[2:] if p)
        objects = [
            Candidate(
                candidate_id=no,
                category=cat,
                score=total,
                bonus=0,
                jdlk=bool(jdlk),
                random_code=derive_random_code(RANDOM_SEED, no),
                tie_break={"专业课": s2, "公共课": s1},
                preferences=prefs.get(cid, {}),
            )
            for cid, no, cat, jdlk, total, s1, s2 in session.execute(
                text(
                    "SELECT p.candidate_id, c.candidate_no, p.major_category, p.jdlk, p.admission_total, p.s1, p.s2 "
                    "FROM published_scores p JOIN candidates c ON c.id = p.candidate_id "
                    "WHERE p.publication_id = 1 ORDER BY p.candidate_id"
                )
            )
        ]
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    runtime.ctx.db.dispose()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_naive(objects, list(data.plans), data.config, inputs.returns, validate=False)
    return {
        "load_wall": load_wall,
        "load_cpu": load_cpu,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "peak": _peak_mib(),
        "digest": _digest(result),
    }


def _in_child(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="zsb-bench-") as tmp:
        url = os.environ.get("BENCH_RESULTS_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'results.db'}"
        database = url.split(":", 1)[0]
        n = int(os.environ.get("BENCH_ADMISSION_CANDIDATES", CANDIDATES))  # smaller for a quick look
        made = _in_child(generate, url, n)
        size = f", {Path(tmp, 'results.db').stat().st_size / 2**20:.0f} MiB" if database == "sqlite" else ""
        print(
            f"generated {n:,} candidates ({made['rows']:,} rows) into {database} in {made['seconds']:.1f} s{size}",
            flush=True,
        )
        first = _in_child(step_service_run, url, True)
        print(
            f"phase 1 (建档立卡专项批) through the service: {first['wall']:.1f} s wall, "
            f"{first['counts'][1]:,} dispatched; published in {first['publish_wall']:.1f} s",
            flush=True,
        )

        whole = _in_child(step_service_run, url, False)
        candidates, dispatched, placed = whole["counts"]
        t = whole["timings"]
        print(
            f"WHOLE RUN through the service (phase 2: both batches, {candidates:,} candidates): "
            f"{whole['wall']:.1f} s wall, {whole['cpu']:.1f} s CPU, peak RSS {whole['peak']:.0f} MiB "
            f"({whole['peak'] - whole['rss_before']:.0f} MiB above the idle process)",
            flush=True,
        )
        print(
            "  wall (CPU): load {load:.1f} s ({load_cpu:.1f}), dispatch {dispatch:.2f} s ({dispatch_cpu:.2f}), "
            "check published phase {check:.1f} s ({check_cpu:.1f}), write {write:.1f} s ({write_cpu:.1f})".format(**t),
            flush=True,
        )
        print(
            f"  {dispatched:,} dispatched in 普通批本科, {placed:,} placed in all; "
            f"{whole['result_rows']:,} result rows written",
            flush=True,
        )

        alone = _in_child(step_algorithm, url)
        print(
            f"algorithm alone (run_encoded, same arrays): {alone['wall']:.3f} s wall, {alone['cpu']:.3f} s CPU "
            f"(median of 3), traced peak {alone['traced_peak']:.0f} MiB",
            flush=True,
        )
        naive = _in_child(step_naive, url)
        print(
            f"naive baseline: rows to Candidate objects {naive['load_wall']:.1f} s ({naive['load_cpu']:.1f} s CPU), "
            f"then run_naive (pure Python) "
            f"{naive['wall']:.1f} s wall, {naive['cpu']:.1f} s CPU; peak RSS {naive['peak']:.0f} MiB",
            flush=True,
        )
        same = alone["digest"] == naive["digest"]
        print(f"engine and baseline give the same result: {same}")
        naive_path = naive["load_wall"] + naive["wall"]
        print(
            f"ratios: whole run / algorithm alone {whole['wall'] / alone['wall']:.0f}x wall, "
            f"{whole['cpu'] / alone['cpu']:.0f}x CPU; naive dispatch / algorithm alone "
            f"{naive['wall'] / alone['wall']:.0f}x wall, {naive['cpu'] / alone['cpu']:.0f}x CPU; "
            f"naive path (objects + naive dispatch, nothing written) / whole run "
            f"{naive_path / whole['wall']:.1f}x wall, "
            f"{(naive['load_cpu'] + naive['cpu']) / whole['cpu']:.1f}x CPU"
        )


if __name__ == "__main__":
    main()
