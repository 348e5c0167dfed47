"""Shared fixtures: each preset derived and verified once, and compiled once (key and handout).

The expensive work of the suite happens here, once per session: ``outcomes``
runs derive -> check -> present for both presets in-process and, as soon as a
preset is ready, starts compiling its key and handout in the background
(LaTeX is a subprocess, so threads suffice); ``compiled`` waits for those four
documents. Tests that need a compiled document run last, so the Python tests
use one core while LaTeX uses the other. Tests read what they need from these
fixtures instead of building again.
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

HAVE_LATEX = shutil.which("pdflatex") is not None
# The experiment cache the suite shares (warm after the first run of the suite).
os.environ.setdefault("HW2_CACHE", str(ROOT / "build" / ".cache"))
# Tests derive for real: a stored outcome is reused only where a test asks for it (test_texrun.py).
os.environ["HW2_REUSE"] = "0"


_NEEDS_COMPILED = False  # does any collected test read the compiled documents?


def pytest_collection_modifyitems(config, items):
    """Tests that compile run last; tests marked ``latex`` are skipped (loudly) without TeX Live."""
    global _NEEDS_COMPILED
    items.sort(key=lambda item: "latex" in item.keywords or "compiled" in getattr(item, "fixturenames", ()))
    _NEEDS_COMPILED = any("compiled" in getattr(item, "fixturenames", ()) for item in items)
    if HAVE_LATEX:
        return
    skip = pytest.mark.skip(reason="TeX Live (pdflatex) is not installed")
    for item in items:
        if "latex" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fall2025():
    return variant.load("fall2025")


@pytest.fixture(scope="session")
def fall2024():
    return variant.load("fall2024")


_COMPILES: dict = {}  # (preset, "key"|"handout") -> (folder, future of the BuildReport)


@pytest.fixture(scope="session")
def latex_pool():
    # One core compiles while the other runs the Python tests.
    pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1))
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def outcomes(latex_pool, tmp_path_factory):
    """Both presets through derive -> check -> present: {preset: Outcome}.

    Each preset's key and handout start compiling as soon as its outcome is ready.
    """
    out = {}
    for name in variant.presets():
        out[name] = build.run(variant.load(name), cache_dir=Path(os.environ["HW2_CACHE"]))
        if HAVE_LATEX and _NEEDS_COMPILED:
            # Both presets' key and handout; the students' solutions of the default edition.
            kinds = ("key", "handout") + (("students",) if name == variant.DEFAULT_PRESET else ())
            for kind in kinds:
                folder = tmp_path_factory.mktemp(f"{name}-{kind}")
                audience = {"key": "staff"}.get(kind, kind)
                _COMPILES[(name, kind)] = (folder, latex_pool.submit(build.write, out[name], folder, key=audience))
    return out


@pytest.fixture(scope="session")
def compiled(outcomes):
    """Each preset's key and handout (and the default's students' solutions), compiled once:
    {(preset, "key"|"handout"|"students"): (folder, report)}."""
    if not HAVE_LATEX:
        pytest.skip("TeX Live (pdflatex) is not installed")
    return {job: (folder, future.result()) for job, (folder, future) in _COMPILES.items()}
