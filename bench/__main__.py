"""`python -m bench [name ...]`: run the named benchmarks, or all of them."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "outbox_relay",
    "login",
    "face_verify",
    "admission",
    "admission_service",
    "preferences",
    "documents",
    "load",
]


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
