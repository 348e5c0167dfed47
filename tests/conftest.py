"""Shared fixtures: each preset derived and verified once, and compiled once (key and handout).

The expensive work of the suite happens here, once per session: ``outcomes``
runs derive -> check -> present for both presets in-process; ``compiled``
renders and compiles each preset's key and handout from those outcomes, the
four LaTeX runs in parallel (LaTeX is a subprocess, so threads suffice).
Tests read what they need from these instead of building again.
"""
from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests import helpers from conftest

from derivations import build, variant  # noqa: E402

HAVE_LATEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
# The experiment cache the suite shares (warm after the first run of the suite).
os.environ.setdefault("HW2_CACHE", str(ROOT / "build" / ".cache"))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``latex`` need TeX Live; skip them (loudly) where it is missing."""
    if HAVE_LATEX:
        return
    skip = pytest.mark.skip(reason="TeX Live (latexmk, pdflatex) is not installed")
    for item in items:
        if "latex" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fall2025():
    return variant.load("fall2025")


@pytest.fixture(scope="session")
def fall2024():
    return variant.load("fall2024")


@pytest.fixture(scope="session")
def outcomes():
    """Both presets through derive -> check -> present: {preset: Outcome}."""
    return {name: build.run(variant.load(name), cache_dir=Path(os.environ["HW2_CACHE"]))
            for name in variant.presets()}


@pytest.fixture(scope="session")
def compiled(outcomes, tmp_path_factory):
    """Each preset's key and handout, compiled once: {(preset, "key"|"handout"): (folder, report)}."""
    if not HAVE_LATEX:
        pytest.skip("TeX Live (latexmk, pdflatex) is not installed")
    jobs = {(name, kind): tmp_path_factory.mktemp(f"{name}-{kind}") for name in outcomes for kind in ("key", "handout")}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {job: pool.submit(build.write, outcomes[job[0]], folder, key=job[1] == "key")
                   for job, folder in jobs.items()}
        return {job: (jobs[job], future.result()) for job, future in futures.items()}
