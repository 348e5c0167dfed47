"""Benchmark: how long each stage takes, measured, never asserted in a test.

``make bench`` runs it. It times, per preset, the derivations, the verifications
and the LaTeX compile of a full build, a second build (which must reuse the
cached training runs), and the two training runs of the loss-curve
experiment on their own (no cache).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from . import build, loss_experiment, variant


def run() -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    for preset in variant.PRESETS:
        v = variant.load(preset)
        with tempfile.TemporaryDirectory() as tmp:
            # A cold start: an empty experiment cache, so the first build trains.
            build.CACHE_DIR = Path(tmp) / "cache"
            first = build.build(v, Path(tmp) / "out")
            for stage, seconds in first.seconds.items():
                rows.append((f"{preset}: first build, {stage}", seconds))
            second = build.build(v, Path(tmp) / "out")
            rows.append((f"{preset}: second build (cached experiment), total", second.seconds["total"]))
    settings = variant.load().loss_curves
    t0 = time.perf_counter()
    loss_experiment.train(settings, fixed=False)
    loss_experiment.train(settings, fixed=True)
    rows.append((f"loss experiment: both trainings, {settings.steps} steps each, no cache", time.perf_counter() - t0))
    return rows


def main() -> int:
    print(f"cores: {os.cpu_count()}")
    for name, seconds in run():
        print(f"{seconds:8.2f} s  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
