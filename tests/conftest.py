"""Shared fixtures and markers."""
from __future__ import annotations

import shutil

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
