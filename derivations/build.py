"""The pipeline: variant -> derivations -> verification -> answers, LaTeX, PDF.

Every question-group module (``shapes``, ``conv1d``, ...) has the same four
pure functions:

* ``derive(variant) -> result``: SymPy derivation from the parameters;
* ``verify(result, seed) -> (checks, arrays)``: the checks it registers and the
  instance with the closed forms' values for ``verification.npz``;
* ``answers(result) -> dict``: the machine-readable key;
* ``context(result) -> dict``: ready LaTeX strings for its templates.

:func:`build` runs them all, refuses to continue on a failed check, compiles
the PDF in a scratch folder and only then moves the outputs into place, so a
failed build leaves the output folder as it was.
"""
from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import __version__, attention_rnn, conv1d, gated_rnn, latex, loss_curves, render, shapes, verify
from .variant import CATALOGUE, Variant

# The question-group modules, in the order of the homework.
MODULES: tuple[ModuleType, ...] = (shapes, conv1d, gated_rnn, attention_rnn, loss_curves)

# Sections of the homework the generator typesets so far.
SECTIONS = ("cnn", "gated_rnn", "attention_rnn", "loss_curves")
PARENT_SECTION = {"gated_rnn": "rnn", "attention_rnn": "rnn"}
# Expensive results (the loss-curve training runs) are cached here, keyed by
# their settings: under the repository's build/ folder, never in the output
# folder, which a failed build must leave untouched.
CACHE_DIR = Path(os.environ.get("HW2_CACHE", Path(__file__).resolve().parent.parent / "build" / ".cache"))
OUTPUTS = ("hw2_theory.pdf", "hw2_theory.tex", "answers.json", "verification.npz")
ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii")


@dataclass
class BuildReport:
    out_dir: Path
    files: list[Path]
    checks: list[verify.Check]
    overfull: tuple[float, ...]
    seconds: dict[str, float] = field(default_factory=dict)


def module_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def derive_all(variant: Variant, cache_dir: Path | None = None) -> dict[str, Any]:
    """Every module's derivation; modules with expensive, cached work get ``cache_dir``."""
    out = {}
    for mod in MODULES:
        wants_cache = "cache_dir" in inspect.signature(mod.derive).parameters
        out[module_name(mod)] = mod.derive(variant, cache_dir=cache_dir) if wants_cache else mod.derive(variant)
    return out


def verify_all(results: dict[str, Any], seed: int) -> tuple[list[verify.Check], dict[str, np.ndarray]]:
    """Run every module's checks; raise VerificationError if any fails."""
    checks: list[verify.Check] = []
    arrays: dict[str, np.ndarray] = {}
    for mod in MODULES:
        mod_checks, mod_arrays = mod.verify(results[module_name(mod)], seed)
        checks += mod_checks
        arrays.update(mod_arrays)
    return verify.require(checks), arrays


def answers_all(variant: Variant, results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"variant": variant.name, "generator": f"derivations {__version__}",
                           "layout": "numerator"}
    for mod in MODULES:
        out.update(mod.answers(results[module_name(mod)]))
    return out


def outline(variant: Variant) -> list[dict[str, Any]]:
    """Sections, lettered parts and roman sub-parts of the asked questions, with points."""
    section_of = {e.id: e for e in CATALOGUE}
    sections: list[dict[str, Any]] = []
    for q in variant.questions:
        entry = section_of[q.id]
        if entry.section not in SECTIONS:
            continue
        if not sections or sections[-1]["id"] != entry.section:
            sections.append({"id": entry.section, "template": f"sections/{entry.section}.tex.j2",
                             "parts": [], "points": 0})
        sec = sections[-1]
        sec["points"] += q.points
        item = {"id": q.id, "points": q.points, "template": f"questions/{q.id}.tex.j2"}
        parts = sec["parts"]
        if entry.group:
            if not parts or parts[-1].get("group") != entry.group:
                parts.append({"id": entry.group, "group": entry.group, "points": 0, "subparts": [],
                              "template": f"questions/{entry.group}.tex.j2"})
            group = parts[-1]
            group["points"] += q.points
            item["label"] = ROMAN[len(group["subparts"])]
            group["subparts"].append(item)
        else:
            parts.append(item)
    for sec in sections:
        for i, part in enumerate(sec["parts"]):
            part["label"] = chr(ord("a") + i)
    # Sub-sections under a common heading (1.2.1 and 1.2.2 under 1.2): the
    # first of them carries the heading, with the points of all of them.
    for sec in sections:
        parent = PARENT_SECTION.get(sec["id"])
        siblings = [s for s in sections if PARENT_SECTION.get(s["id"]) == parent]
        first = parent is not None and siblings[0] is sec
        sec["heading"] = {"template": f"sections/{parent}.tex.j2",
                          "points": sum(s["points"] for s in siblings)} if first else None
    return sections


def check_rows(checks: list[verify.Check]) -> list[dict[str, str]]:
    rows = []
    for c in checks:
        exact = c.method.startswith("exact")
        rows.append({
            "quantity": c.label,
            "shape": "$" + latex.dims(c.shape) + "$" if c.shape not in ((), (1,)) else "scalar",
            "method": latex.escape(c.method) if "$" not in c.method else c.method,
            "detail": latex.escape(c.detail),
            "error": ("0 (identical)" if c.max_error == 0 else f"{int(c.max_error)} entries")
            if exact else "$" + latex.sci(c.max_error) + "$",
            "tolerance": "exact" if exact else "$" + latex.sci(c.tolerance) + "$",
            "result": "pass" if c.passed else "FAIL",
        })
    return rows


def document_context(variant: Variant, results: dict[str, Any], checks: list[verify.Check],
                     *, key: bool = True) -> dict[str, Any]:
    doc = variant.document
    sections = outline(variant)
    ctx: dict[str, Any] = {
        "title": doc.title, "course": doc.course, "term": doc.term, "student": doc.student,
        "variant_name": variant.name, "variant_source": variant.source, "seed": variant.seed,
        "version": __version__, "key": key,
        "sections": sections,
        "total_points": sum(s["points"] for s in sections),
        "checks": check_rows(checks),
        "checks_passed": sum(c.passed for c in checks),
    }
    for mod in MODULES:
        ctx[module_name(mod)] = mod.context(results[module_name(mod)])
    return ctx


def build(variant: Variant, out_dir: Path, *, key: bool = True) -> BuildReport:
    """Derive, verify and render ``variant`` into ``out_dir`` (all or nothing)."""
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    results = derive_all(variant, CACHE_DIR)
    seconds["derive"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    checks, arrays = verify_all(results, variant.seed)
    seconds["verify"] = time.perf_counter() - t1
    answers = answers_all(variant, results)
    answers["verification"] = {c.quantity + " / " + c.method: {"max_error": c.max_error, "passed": c.passed}
                               for c in checks}
    source = render.render(document_context(variant, results, checks, key=key))

    # Everything is written to a scratch folder first; a LaTeX failure leaves
    # it (and its log) behind for inspection and the output folder untouched.
    scratch = Path(tempfile.mkdtemp(prefix="hw2-build-"))
    tex = scratch / "hw2_theory.tex"
    tex.write_text(source, "utf-8")
    (scratch / "answers.json").write_text(json.dumps(answers, indent=2) + "\n", "utf-8")
    np.savez(scratch / "verification.npz", **arrays)
    extra = {}
    for mod in MODULES:
        if hasattr(mod, "files"):
            extra.update(mod.files(results[module_name(mod)]))
    for name, text in extra.items():
        (scratch / name).write_text(text, "utf-8")
    t2 = time.perf_counter()
    compiled = render.compile_pdf(tex)
    seconds["latex"] = time.perf_counter() - t2
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    # A student handout must not carry the answers.
    names = tuple(n for n in OUTPUTS if key or n.endswith((".pdf", ".tex"))) + tuple(extra)
    for name in names:
        shutil.copyfile(scratch / name, out_dir / (name + ".part"))
    for name in names:
        (out_dir / (name + ".part")).replace(out_dir / name)
        files.append(out_dir / name)
    shutil.rmtree(scratch, ignore_errors=True)
    seconds["total"] = time.perf_counter() - t0
    return BuildReport(out_dir, files, checks, compiled.overfull, seconds)
