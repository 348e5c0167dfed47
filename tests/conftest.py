"""Shared fixtures and markers."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from derivations import variant

HAVE_LATEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


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


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def built_presets(tmp_path_factory):
    """Both presets built once through the CLI, as `make pdf` does: {preset: (folder, stderr)}.

    Shared by every test that needs a compiled key, so LaTeX runs twice per session.
    """
    if not HAVE_LATEX:
        pytest.skip("TeX Live (latexmk, pdflatex) is not installed")
    out = {}
    for preset in variant.PRESETS:
        folder = tmp_path_factory.mktemp(preset)
        proc = subprocess.run([sys.executable, "-m", "derivations", "build", "--variant", preset, "--out", str(folder)],
                              cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        out[preset] = (folder, proc.stderr)
    return out
