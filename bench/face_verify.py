"""Face verification on the labelled photos in ../shared/faces: speed with warm models and error rates.

Figures printed: model load time (cold process), verifications/s and latency per verification
with warm models, the split between decoding, detection, alignment and embedding, the same on
two threads, and per-pair distances with false accepts and false rejects per threshold.

Baseline, measured in the same run: `DeepFace.verify` on the full-size images (deepface's default
path: MTCNN on the image padded to twice its size, eye-line alignment, no reuse of anything but
the models), with the same models and the same JPEG bytes as input.

Environment: FACE_BENCH_ROUNDS (timed passes over the 21 pairs, default 2), FACE_BENCH_BASELINE_PAIRS
(pairs the slow baseline runs on, spread over the list, default 7; 21 for all).
"""

from __future__ import annotations

import csv
import io
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from time import perf_counter

from services.identity.domain.face import FaceVerification, Outcome
from services.identity.face import FaceEngine, FaceSettings

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
THRESHOLDS = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70)
STAGES = ("decode", "detect", "align", "embed")


def load_pairs() -> list[tuple[str, str, bool]]:
    with (FACES / "pairs.csv").open() as f:
        return [(row["file_x"], row["file_y"], row["same_person"] == "yes") for row in csv.DictReader(f)]


def error_rates(scored: list[tuple[float, bool]], threshold: float) -> tuple[int, int, int, int]:
    """(false accepts, different-person pairs, false rejects, same-person pairs) at a threshold."""
    false_accepts = sum(1 for d, same in scored if not same and d <= threshold)
    false_rejects = sum(1 for d, same in scored if same and d > threshold)
    different = sum(1 for _, same in scored if not same)
    return false_accepts, different, false_rejects, len(scored) - different


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    rounds = int(os.environ.get("FACE_BENCH_ROUNDS", "2"))
    pairs = load_pairs()
    images = {name: (FACES / name).read_bytes() for x, y, _ in pairs for name in (x, y)}

    engine = FaceEngine(FaceSettings())
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in engine.load_timings.items())
    print(f"model load (cold process): {engine.load_seconds:.2f} s  ({parts})")

    # Warm path, sequential: the latency of one verification in a worker.
    latencies: list[float] = []
    stage_totals = dict.fromkeys(STAGES, 0.0)
    results: dict[tuple[str, str], FaceVerification] = {}
    started = perf_counter()
    for _ in range(rounds):
        for x, y, _same in pairs:
            t = perf_counter()
            result = engine.verify(images[x], images[y])
            latencies.append(perf_counter() - t)
            results[(x, y)] = result
            for stage in STAGES:
                stage_totals[stage] += result.timings.get(stage, 0.0)
    elapsed = perf_counter() - started
    rate = len(latencies) / elapsed
    print(
        f"optimised, 1 thread:  {rate:.2f} verifications/s  latency mean {statistics.mean(latencies):.3f} s"
        f"  p50 {percentile(latencies, 0.5):.3f} s  p95 {percentile(latencies, 0.95):.3f} s  (n={len(latencies)})"
    )
    total_stage = sum(stage_totals.values())
    split = "  ".join(
        f"{s} {stage_totals[s] / len(latencies):.3f} s ({100 * stage_totals[s] / total_stage:.0f}%)" for s in STAGES
    )
    print(f"  per verification: {split}")

    # Two threads on one engine: detection of one overlaps the embedding of the other.
    started = perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda p: engine.verify(images[p[0]], images[p[1]]), pairs))
    print(f"optimised, 2 threads: {len(pairs) / (perf_counter() - started):.2f} verifications/s")

    # Baseline on a spread of the pairs (it is slow), and the optimised path on the same pairs.
    from deepface import DeepFace

    count = max(1, min(len(pairs), int(os.environ.get("FACE_BENCH_BASELINE_PAIRS", "7"))))
    subset = [pairs[round(i * (len(pairs) - 1) / max(1, count - 1))] for i in range(count)] if count > 1 else pairs[:1]
    baseline: dict[tuple[str, str], float] = {}
    base_latencies: list[float] = []
    for x, y, _same in subset:
        t = perf_counter()
        verdict = DeepFace.verify(
            io.BytesIO(images[x]),
            io.BytesIO(images[y]),
            model_name="Dlib",
            detector_backend="mtcnn",
            distance_metric="euclidean",
        )
        base_latencies.append(perf_counter() - t)
        baseline[(x, y)] = float(verdict["distance"])
    opt_same: list[float] = []
    for x, y, _same in subset:
        t = perf_counter()
        engine.verify(images[x], images[y])
        opt_same.append(perf_counter() - t)
    base_mean, opt_mean = statistics.mean(base_latencies), statistics.mean(opt_same)
    print(
        f"baseline DeepFace.verify, full size: {1 / base_mean:.2f} verifications/s  latency mean {base_mean:.3f} s"
        f"  (n={len(subset)})"
    )
    print(
        f"optimised on the same {len(subset)} pairs: latency mean {opt_mean:.3f} s"
        f"  -> speed-up {base_mean / opt_mean:.1f}x (ratio to baseline)"
    )

    # Distances and error rates.
    threshold = engine.policy.distance_threshold
    print(f"\nper-pair euclidean distance (threshold {threshold}; baseline's deepface default 0.60):")
    print(f"  {'pair':<22} {'same':<5} {'optimised':>9} {'verdict':<8} {'baseline':>8}")
    for x, y, same in pairs:
        result = results[(x, y)]
        shown = f"{result.distance:.4f}" if result.distance is not None else result.outcome.value
        base = f"{baseline[(x, y)]:.4f}" if (x, y) in baseline else "-"
        print(f"  {x + ' ' + y:<22} {'yes' if same else 'no':<5} {shown:>9} {result.outcome.value:<8} {base:>8}")
    errors = [r for r in results.values() if r.outcome is Outcome.FIXABLE]
    print(f"  fixable errors on labelled pairs: {len(errors)}")

    scored = [(d, same) for x, y, same in pairs if (d := results[(x, y)].distance) is not None]
    base_scored = [(baseline[(x, y)], same) for x, y, same in subset]
    print(f"\nthreshold  optimised FAR        FRR          | baseline ({len(subset)} pairs) FAR   FRR")
    for t in THRESHOLDS:
        fa, nd, fr, ns = error_rates(scored, t)
        bfa, bnd, bfr, bns = error_rates(base_scored, t)
        mark = "  <- default" if abs(t - threshold) < 1e-9 else ""
        print(
            f"  {t:.2f}     {fa:>2}/{nd} ({fa / max(1, nd):4.0%})  {fr:>2}/{ns} ({fr / max(1, ns):4.0%})"
            f"  |  {bfa}/{bnd}  {bfr}/{bns}{mark}"
        )
    same_d = [d for d, s in scored if s]
    diff_d = [d for d, s in scored if not s]
    print(f"margin: largest same-person distance {max(same_d):.4f}, smallest different-person {min(diff_d):.4f}")


if __name__ == "__main__":
    main()
