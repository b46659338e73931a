"""The load generator's machinery: per-step records, a browser per candidate, and the scheduler.

A simulated candidate is a generator: it makes its requests inline and yields the seconds it
wants to wait (a notice's countdown, a page's poll interval). The scheduler runs WORKERS threads
over all candidates, so a waiting candidate holds no thread and WORKERS is the number of requests
in flight (a closed loop), whatever the candidates are waiting for.
"""

from __future__ import annotations

import heapq
import html
import itertools
import re
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import requests

Journey = Iterator[float]
_TAGS = re.compile(r"<[^>]+>")
_HIDDEN = re.compile(r'<input\b[^>]*\btype="hidden"[^>]*>')
_ATTR = re.compile(r'\b(name|value)="([^"]*)"')


class JourneyError(Exception):
    """A step went wrong; it is already counted, the candidate stops there."""


class Recorder:
    """Latencies and errors per step, and lags (time until another service's event shows), per stage."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.lags: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.first_error: dict[str, str] = {}
        self.finished = 0
        self.wall = 0.0

    def request(self, step: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latency[step].append(seconds)
            if not ok:
                self.errors[step] += 1
                self.first_error.setdefault(step, detail)

    def lag(self, name: str, seconds: float) -> None:
        with self.lock:
            self.lags[name].append(seconds)

    def fail(self, step: str, detail: str) -> JourneyError:
        """Count an error that is not a request's (a state never reached, a page that says no)."""
        with self.lock:
            self.errors[step] += 1
            self.first_error.setdefault(step, detail)
        return JourneyError(f"{step}: {detail}")

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latency.values())


def summary(text: str, limit: int = 240) -> str:
    return " ".join(_TAGS.sub(" ", text).split())[:limit]


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page (CSRF token, captcha id, submission id...), last one wins."""
    fields = {}
    for tag in _HIDDEN.findall(page):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs:
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
    return fields


class AnswerBook:
    """Captcha answers from the auth service's test side channel, read incrementally (the file only grows)."""

    def __init__(self, sink: Path) -> None:
        self.sink = sink
        self.lock = threading.Lock()
        self.offset = 0
        self.answers: dict[str, str] = {}

    def answer(self, captcha_id: str) -> str:
        with self.lock:
            if captcha_id not in self.answers:
                with open(self.sink, "rb") as f:
                    f.seek(self.offset)
                    chunk = f.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written is read next time
                self.offset += len(complete)
                for line in complete.decode().splitlines():
                    cid, _, answer = line.partition(" ")
                    self.answers[cid] = answer
            return self.answers[captcha_id]


class Browser:
    """One candidate's browser: its cookies, the gateway replica it uses, every request timed as a step.

    Redirects are not followed automatically: the journey requests the next page itself, so a POST
    and the page it leads to are two steps, as they are two requests of a real browser.
    """

    def __init__(self, rec: Recorder, base: str, timeout: float = 120.0) -> None:
        self.rec = rec
        self.base = base
        self.timeout = timeout
        self.session = requests.Session()
        self.provider = requests.Session()  # another site: none of the platform's cookies go there
        self.last = ""  # the last page's HTML, for its hidden fields

    def request(
        self,
        step: str,
        method: str,
        url: str,
        expect: Iterable[int] = (200,),
        to: str = "",
        site: requests.Session | None = None,
        **kwargs: object,
    ) -> requests.Response:
        """One request; a status outside `expect`, or a redirect not leading to `to`, is an error of `step`."""
        absolute = url if url.startswith("http") else self.base + url
        started = time.perf_counter()
        try:
            resp = (site or self.session).request(
                method, absolute, allow_redirects=False, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            self.rec.request(step, time.perf_counter() - started, False, repr(exc))
            raise JourneyError(step) from exc
        elapsed = time.perf_counter() - started
        ok = resp.status_code in tuple(expect)
        location = resp.headers.get("Location", "")
        if ok and to and to not in location:
            ok = False
        self.rec.request(step, elapsed, ok, f"{method} {url}: {resp.status_code} {location} {summary(resp.text)}")
        if not ok:
            raise JourneyError(step)
        if resp.headers.get("Content-Type", "").startswith("text/html"):
            self.last = resp.text
        return resp

    def close(self) -> None:
        self.session.close()
        self.provider.close()

    def get(self, step: str, url: str, expect: Iterable[int] = (200,), **kwargs: object) -> requests.Response:
        return self.request(step, "GET", url, expect, **kwargs)  # type: ignore[arg-type]

    def submit(
        self, step: str, url: str, fields: dict[str, str], to: str = "", expect: Iterable[int] = (302,), **kw: object
    ) -> requests.Response:
        """Post a form of the last page, with that page's CSRF token, as the browser would."""
        data = {"csrf_token": hidden_fields(self.last)["csrf_token"], **fields}
        return self.request(step, "POST", url, expect, to=to, data=data, **kw)  # type: ignore[arg-type]


def until(
    rec: Recorder,
    name: str,
    reached: Callable[[], bool],
    interval: float,
    timeout: float,
    started: float | None = None,
    first: float = 0.0,
) -> Iterator[float]:
    """Poll (each probe is a timed request of its own) until `reached`, the first probe after `first`
    seconds; the lag `name` counts from `started` (default: now) to the probe that saw it."""
    started = time.monotonic() if started is None else started
    if first:
        yield first
    while not reached():
        if time.monotonic() - started > timeout:
            raise rec.fail(name, f"not reached within {timeout:.0f} s")
        yield interval
    rec.lag(name, time.monotonic() - started)


def run(journeys: list[Journey], workers: int, rec: Recorder, progress: float = 30.0) -> float:
    """Run the journeys on `workers` threads, earliest due first; returns the wall time. A progress
    line goes to stderr every `progress` seconds."""
    order = itertools.count()
    now = time.monotonic()
    heap: list[tuple[float, int, Journey]] = [(now, next(order), j) for j in journeys]
    heapq.heapify(heap)
    cond = threading.Condition()
    active = len(journeys)

    def take() -> Journey | None:
        with cond:
            while True:
                if heap:
                    due = heap[0][0] - time.monotonic()
                    if due <= 0:
                        return heapq.heappop(heap)[2]
                    cond.wait(due)
                elif active == 0:
                    return None
                else:
                    cond.wait()

    def worker() -> None:
        nonlocal active
        while (journey := take()) is not None:
            wait: float | None
            try:
                wait = next(journey)
            except StopIteration:
                wait = None
                with rec.lock:
                    rec.finished += 1
            except JourneyError:
                wait = None
            except Exception as exc:  # noqa: BLE001 - a page that changed shape: counted, never hidden
                rec.fail("unexpected", repr(exc))
                wait = None
            with cond:
                if wait is None:
                    active -= 1
                    cond.notify_all()
                else:
                    heapq.heappush(heap, (time.monotonic() + wait, next(order), journey))
                    cond.notify()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, name=f"load-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    while alive := [t for t in threads if t.is_alive()]:
        alive[0].join(progress)
        if any(t.is_alive() for t in threads):
            print(
                f"  ... {time.perf_counter() - started:.0f} s: {rec.finished}/{len(journeys)} finished, "
                f"{active} active, {rec.requests} requests, {rec.total_errors} errors",
                file=sys.stderr,
                flush=True,
            )
    rec.wall = time.perf_counter() - started
    return rec.wall


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]
