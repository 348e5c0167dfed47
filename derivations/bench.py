"""Benchmark: how long each stage takes, measured, never asserted in a test.

``make bench`` runs it. It times, per preset, the derivations, the verifications
and the LaTeX compile of a full build from an empty experiment cache, then a
second build (which must reuse the cached experiments).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import build, variant


def run() -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    for preset in variant.presets():
        v = variant.load(preset)
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"  # a cold start: the first build runs the experiments
            first = build.build(v, Path(tmp) / "out", cache_dir=cache)
            for stage, seconds in first.seconds.items():
                rows.append((f"{preset}: first build (cold experiment cache), {stage}", seconds))
            second = build.build(v, Path(tmp) / "out", cache_dir=cache)
            for stage, seconds in second.seconds.items():
                rows.append((f"{preset}: second build (warm cache), {stage}", seconds))
    return rows


def main() -> int:
    print(f"cores: {os.cpu_count()}")
    for name, seconds in run():
        print(f"{seconds:8.2f} s  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
