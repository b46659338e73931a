"""What the run cost each process (/proc), the machine's CPU, and the printed tables."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load.client import Recorder, percentile

TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def pids(root: int) -> list[int]:
    """A process and its descendants (gunicorn's workers), from /proc."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            todo.extend(int(c) for c in task.read_text().split())
    return out


def peak_rss_mb(pid: int) -> float:
    """VmHWM of the process and its children, summed (gunicorn: master and workers)."""
    total = 0
    for p in pids(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in pids(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def own_cpu_seconds() -> float:
    """The load generator itself: it runs on the same cores as the platform."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Usage:
    """CPU seconds per process, of the generator and of the whole machine over an interval."""

    cpu: dict[str, float]
    machine_busy: float  # fraction of all cores
    wall: float


class Meter:
    def __init__(self, procs: dict[str, int]) -> None:
        self.procs = procs

    def __enter__(self) -> Meter:
        self.started = time.perf_counter()
        self.before = {name: cpu_seconds(pid) for name, pid in self.procs.items()}
        self.before["load generator"] = own_cpu_seconds()
        self.ticks = machine_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.started
        after = {name: cpu_seconds(pid) for name, pid in self.procs.items()}
        after["load generator"] = own_cpu_seconds()
        busy, total = machine_ticks()
        self.usage = Usage(
            {k: after[k] - v for k, v in self.before.items()},
            (busy - self.ticks[0]) / max(total - self.ticks[1], 1),
            self.wall,
        )


def combine(usages: list[Usage]) -> Usage:
    """Several metered intervals as one (the machine's busy share weighted by wall time)."""
    wall = sum(u.wall for u in usages)
    cpu: dict[str, float] = {}
    for u in usages:
        for k, v in u.cpu.items():
            cpu[k] = cpu.get(k, 0.0) + v
    return Usage(cpu, sum(u.machine_busy * u.wall for u in usages) / max(wall, 1e-9), wall)


def step_table(title: str, rec: Recorder, base: Recorder | None = None) -> None:
    """Per step: count, throughput over the stage's wall time, latency percentiles, errors, and
    the single-user latency of the same step (baseline) with the loaded p50's ratio to it."""
    print(f"-- {title}: {rec.wall:.1f} s wall, {rec.requests} requests ({rec.requests / max(rec.wall, 1e-9):.1f}/s)")
    head = f"{'step':<26}{'n':>6}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(head + (f"{'1 user ms':>11}{'p50/1 user':>12}" if base else ""))
    for step, values in rec.latency.items():
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
        line = f"{step:<26}{len(values):>6}{len(values) / rec.wall:>8.1f}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}"
        line += f"{rec.errors.get(step, 0):>8}"
        if base and base.latency.get(step):
            single = percentile(base.latency[step], 50) * 1000
            line += f"{single:>11.0f}{p50 / max(single, 1e-9):>12.1f}"
        print(line)
    for name, values in rec.lags.items():
        p50, p95 = (percentile(values, q) for q in (50, 95))
        single = f"  (1 user: {percentile(base.lags[name], 50):.1f} s)" if base and base.lags.get(name) else ""
        spread = f"p50 {p50:6.1f} s  p95 {p95:6.1f} s  max {max(values):6.1f} s"
        print(f"   wait {name:<28} n={len(values):<5} {spread}{single}")
    for step, n in rec.errors.items():
        if step not in rec.latency:
            print(f"   errors in {step}: {n}")
    for step, detail in rec.first_error.items():
        print(f"   first error in {step}: {detail}")


def process_table(usage: Usage, memory: dict[str, float], candidates: int) -> str:
    """Per process: peak RSS, and CPU over the loaded interval (in all, per candidate through both
    stages, and as cores used); returns the busiest platform process."""
    print(f"-- processes over the loaded stages ({usage.wall:.1f} s wall, {CORES} cores)")
    print(
        f"{'process':<18}{'peak RSS MB':>12}{'CPU s':>9}{'CPU ms/candidate':>18}{'cores used':>12}"
        f"{'share of machine':>18}"
    )
    for name in sorted(usage.cpu, key=usage.cpu.__getitem__, reverse=True):
        cpu = usage.cpu[name]
        rss = f"{memory[name]:>12.0f}" if name in memory else f"{'':>12}"
        per = cpu / max(candidates, 1) * 1000
        print(f"{name:<18}{rss}{cpu:>9.1f}{per:>18.0f}{cpu / usage.wall:>12.2f}{cpu / (usage.wall * CORES):>18.2f}")
    ours = sum(usage.cpu.values()) / (usage.wall * CORES)
    print(
        f"machine CPU busy {usage.machine_busy:.2f} of {CORES} cores: this run {ours:.2f}, "
        f"other work on the machine {max(usage.machine_busy - ours, 0):.2f}"
    )
    platform = {k: v for k, v in usage.cpu.items() if k != "load generator"}
    return max(platform, key=platform.__getitem__)
