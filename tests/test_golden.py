"""Golden answers.json per preset: a reviewer can diff what a change does to the machine-readable key.

Update after an intended change with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py``
and review the diff of ``tests/golden/``. Measured errors of the checks are left out (they are
rounding-level numbers), and so is the wall-clock time of the training runs; floats elsewhere
compare with a relative tolerance of 1e-9.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from derivations import build

GOLDEN = Path(__file__).resolve().parent / "golden"


def stable(answers: dict) -> dict:
    out = dict(answers)
    if "loss_curves.run" in out:  # the training's wall-clock seconds are no answer
        out["loss_curves.run"] = {k: v for k, v in out["loss_curves.run"].items() if k != "seconds"}
    out["verification"] = {k: {f: v for f, v in e.items() if f != "max_error"} for k, e in answers["verification"].items()}
    return out


def same(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))} differ or are out of order"]
        return [d for k in a for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, (int, float)):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
def test_answers_json_matches_its_golden_file(outcomes, preset):
    got = stable(json.loads(json.dumps(build.answers(outcomes[preset]))))
    path = GOLDEN / f"{preset}.answers.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2, sort_keys=False) + "\n", "utf-8")
    expected = json.loads(path.read_text("utf-8"))
    assert same(got, expected) == []
