"""The pipeline, one way: derive -> check -> present -> render -> compile.

For every registered question group (:mod:`derivations.registry`), in the
homework's order:

1. ``experiment`` (if the group declares one) and ``derive``;
2. ``check``: every verification; a failed check stops the build;
3. ``present``: the template context, ``answers.json`` entries and files,
   built once from the results of 1 and 2.

Then the document is rendered and compiled in a scratch folder, and the
outputs move into place only when everything succeeded, so a failed build
leaves the output folder as it was. An exception inside a group's step ends
as a :class:`~derivations.errors.DerivationError` naming the group and the
step (one line, exit status 2 from the CLI), never as a traceback.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__, latex, render, texrun, verify
from . import registry as registry_mod
from .errors import DerivationError, OutputError, ToolError, VariantError, VerificationError
from .registry import Presentation, QuestionGroup, Registry, Verification
from .variant import Variant

# Expensive results (the loss-curve training runs) are cached here, keyed by
# their settings: under the working folder's build/ folder, never in the
# output folder, which a failed build must leave untouched.
CACHE_DIR = Path(os.environ.get("HW2_CACHE", Path("build") / ".cache"))
OUTPUTS = ("hw2_theory.pdf", "hw2_theory.tex", "answers.json", "verification.npz")


@dataclass(frozen=True)
class Audience:
    """Who a document is for: what it shows, its title and its file names.

    ``staff``: the full key (solutions, grading material, verification table,
    answers.json and verification.npz); ``students``: the solutions to publish
    (questions and worked solutions, no staff material); ``handout``: the
    questions only.
    """

    name: str
    stem: str  # file name of the .tex/.pdf without suffix
    title_field: str  # the [document] key holding its title
    running_head: str
    solutions: bool
    staff: bool

    @property
    def outputs(self) -> tuple[str, ...]:
        own = (f"{self.stem}.pdf", f"{self.stem}.tex")
        return own + (("answers.json", "verification.npz") if self.staff else ())


AUDIENCES = {
    "staff": Audience("staff", "hw2_theory", "title", "Answer key", True, True),
    "students": Audience("students", "hw2_theory_solutions", "solutions_title", "Solutions", True, False),
    "handout": Audience("handout", "hw2_theory_handout", "handout_title", "Problem set", False, False),
}
# Files that give answers away: a handout is never written into a folder holding one.
ANSWER_FILES = ("answers.json", "verification.npz", "hw2_theory.pdf", "hw2_theory.tex",
                "hw2_theory_solutions.pdf", "hw2_theory_solutions.tex")
ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii")


@dataclass(frozen=True)
class GroupResult:
    """One group's results, stage by stage."""

    evidence: Any
    derivation: Any
    verification: Verification
    presentation: Presentation


@dataclass(frozen=True)
class Outcome:
    """Every group's results, in the registry's order."""

    variant: Variant
    registry: Registry
    groups: dict[str, GroupResult]

    @property
    def checks(self) -> list[verify.Check]:
        return [c for g in self.groups.values() for c in g.verification.checks]


@dataclass
class BuildReport:
    out_dir: Path
    files: list[Path]
    checks: list[verify.Check]
    overfull: tuple[float, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    pages: int = 0


def _step(group: QuestionGroup, step: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run one group's step; any failure becomes a one-line DerivationError."""
    try:
        return fn(*args)
    except (VariantError, VerificationError, ToolError, DerivationError):
        raise
    except Exception as exc:  # noqa: BLE001 - reported, with its type, on one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DerivationError(f"{group.name}: {step} failed: {type(exc).__name__}"
                              + (f": {first}" if first else "")) from exc


def asked_groups(variant: Variant, registry: Registry) -> list[QuestionGroup]:
    """The groups with at least one question the variant asks (the others are not built)."""
    return [g for g in registry if any(variant.asks(q.id) for q in g.questions)]


def derive_all(variant: Variant, registry: Registry | None = None,
               cache_dir: Path | None = None) -> dict[str, tuple[Any, Any]]:
    """Each asked group's (evidence, derivation): its declared experiment, then its derivation."""
    registry = registry or registry_mod.default()
    out = {}
    for g in asked_groups(variant, registry):
        prm = variant.params[g.name]
        evidence = _step(g, "experiment", g.experiment, prm, variant.seed, cache_dir) if g.experiment else None
        out[g.name] = (evidence, _step(g, "derive", g.derive, prm))
    return out


def check_all(variant: Variant, derived: dict[str, tuple[Any, Any]],
              registry: Registry | None = None) -> dict[str, Verification]:
    """Each group's checks; raise VerificationError naming every failure, or on a repeated check id."""
    registry = registry or registry_mod.default()
    out = {g.name: _step(g, "check", g.check, derived[g.name][1], derived[g.name][0], variant.seed)
           for g in asked_groups(variant, registry)}
    checks = [c for v in out.values() for c in v.checks]
    ids = [c.id for c in checks]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise DerivationError("check ids are not unique: " + ", ".join(repeated))
    verify.require(checks)
    return out


def present_all(variant: Variant, derived: dict[str, tuple[Any, Any]], verified: dict[str, Verification],
                registry: Registry | None = None) -> Outcome:
    """Each group's presentation, built once from its results."""
    registry = registry or registry_mod.default()
    groups = {}
    for g in asked_groups(variant, registry):
        evidence, derivation = derived[g.name]
        presentation = _step(g, "present", g.present, derivation, evidence, verified[g.name])
        groups[g.name] = GroupResult(evidence, derivation, verified[g.name], presentation)
    return Outcome(variant, registry, groups)


def run(variant: Variant, registry: Registry | None = None, cache_dir: Path | None = None,
        reuse: bool | None = None) -> Outcome:
    """derive -> check -> present for every group.

    With ``reuse`` (default: on unless ``HW2_REUSE=0``) a variant already derived and verified by
    the same code is not derived again: the checks and presentations of its last successful run are
    read back from ``cache_dir`` (keyed by the variant's text and a fingerprint of the generator's
    code, templates and libraries). Only a run whose every check passed is kept.
    """
    registry = registry or registry_mod.default()
    cache_dir = CACHE_DIR if cache_dir is None else cache_dir
    reuse = os.environ.get("HW2_REUSE", "1") != "0" if reuse is None else reuse
    saved = cache_dir / "outcomes" / f"{_outcome_key(variant, registry)}.pickle" if reuse else None
    if saved is not None and saved.exists():
        try:
            parts = pickle.loads(saved.read_bytes())
            return Outcome(variant, registry, {name: GroupResult(None, None, verification, presentation)
                                               for name, (verification, presentation) in parts.items()})
        except Exception:  # noqa: BLE001 - an unreadable entry is simply rebuilt
            pass
    derived = derive_all(variant, registry, cache_dir)
    outcome = present_all(variant, derived, check_all(variant, derived, registry), registry)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=saved.parent, prefix=".outcome.")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({n: (r.verification, r.presentation) for n, r in outcome.groups.items()}, fh)
        os.replace(tmp, saved)
    return outcome


@functools.lru_cache(maxsize=None)
def code_fingerprint(registry: Registry | None = None) -> str:
    """SHA-256 over the generator's code and templates (every group's folder included) and its libraries."""
    import jinja2
    import sympy

    registry = registry or registry_mod.default()
    roots = {Path(__file__).resolve().parent, render.document_templates(), *registry.template_dirs(),
             *(Path(importlib.import_module(g.package).__file__).resolve().parent for g in registry.groups)}
    h = hashlib.sha256(f"{__version__} sympy {sympy.__version__} numpy {np.__version__} "
                       f"jinja2 {jinja2.__version__}".encode())
    for root in sorted(roots):
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".j2", ".toml") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _outcome_key(variant: Variant, registry: Registry) -> str:
    from .variant import to_toml

    return hashlib.sha256((code_fingerprint(registry) + "\0" + to_toml(variant, registry)).encode()).hexdigest()[:32]


def _points(entry: dict[str, Any], stated: int | None) -> None:
    """``points``: what the heading shows (the edition's stated points, else the sum);
    ``mismatch``: the edition states a total its sub-questions do not add up to."""
    entry["sum"] = entry["points"]
    entry["stated"] = stated
    entry["points"] = entry["sum"] if stated is None else stated
    entry["mismatch"] = stated is not None and stated != entry["sum"]


def outline(variant: Variant, registry: Registry | None = None) -> list[dict[str, Any]]:
    """Sections, lettered parts and roman sub-parts of the asked questions, with points.

    Headings show the points the edition states (``[stated_points]``) where it
    states them; ``sum`` and ``mismatch`` tell the staff note where those differ
    from the sum of the sub-questions.
    """
    registry = registry or registry_mod.default()
    stated = variant.stated_points
    sections: list[dict[str, Any]] = []
    for q in variant.questions:
        group, spec = registry.owner(q.id), registry.question(q.id)
        if not sections or sections[-1]["id"] != group.section:
            sections.append({"id": group.section, "parent": group.parent, "parts": [], "points": 0,
                             "template": f"sections/{group.section}.tex.j2"})
        sec = sections[-1]
        sec["points"] += q.points
        item = {"id": q.id, "points": q.points, "options": list(q.options),
                "template": f"questions/{q.id}.tex.j2"}
        parts = sec["parts"]
        if spec.part_of:
            if not parts or parts[-1].get("group") != spec.part_of:
                parts.append({"id": spec.part_of, "group": spec.part_of, "points": 0, "subparts": [],
                              "template": f"questions/{spec.part_of}.tex.j2"})
            part = parts[-1]
            part["points"] += q.points
            item["label"] = ROMAN[len(part["subparts"])]
            part["subparts"].append(item)
        else:
            parts.append(item)
    for sec in sections:
        for i, part in enumerate(sec["parts"]):
            part["label"] = chr(ord("a") + i)
            if "subparts" in part:
                _points(part, stated.get(part["id"]))
            else:
                part["mismatch"] = False
    # Sub-sections under a common heading (1.2.1 and 1.2.2 under 1.2): the
    # first of them carries the heading, with the points of all of them.
    for sec in sections:
        siblings = [s for s in sections if sec["parent"] and s["parent"] == sec["parent"]]
        first = bool(siblings) and siblings[0] is sec
        sec["heading"] = None
        if first:
            sec["heading"] = {"id": sec["parent"], "template": f"sections/{sec['parent']}.tex.j2",
                              "points": sum(s["points"] for s in siblings)}
            _points(sec["heading"], stated.get(sec["parent"]))
    for sec in sections:
        _points(sec, stated.get(sec["id"]))
    return sections


def check_rows(checks: list[verify.Check]) -> list[dict[str, str]]:
    """The verification table's rows, printed."""
    rows = []
    for c in checks:
        exact = c.method.startswith("exact")
        rows.append({
            "id": c.id,
            "quantity": c.label,
            "shape": "$" + latex.dims(c.shape) + "$" if c.shape not in ((), (1,)) else "scalar",
            "method": latex.prose(c.method),
            "detail": latex.prose(c.detail),
            "error": ("0 (identical)" if c.max_error == 0 else f"{int(c.max_error)} entries")
            if exact else "$" + latex.sci(c.max_error) + "$",
            "tolerance": "exact" if exact else "$" + latex.sci(c.tolerance) + "$",
            "result": "pass" if c.passed else "FAIL",
        })
    return rows


def audience_of(audience: str | Audience | bool) -> Audience:
    """An :class:`Audience` from its name (``True``/``False``: staff key/handout, as before)."""
    if isinstance(audience, Audience):
        return audience
    if isinstance(audience, bool):
        return AUDIENCES["staff" if audience else "handout"]
    return AUDIENCES[audience]


def document_context(outcome: Outcome, *, key: bool | str | Audience = True) -> dict[str, Any]:
    variant = outcome.variant
    doc = variant.document
    aud = audience_of(key)
    sections = outline(variant, outcome.registry)
    checks = outcome.checks
    ctx: dict[str, Any] = {
        "title": getattr(doc, aud.title_field), "course": doc.course, "term": doc.term, "student": doc.student,
        # The non-Latin scripts (Greek, Cyrillic, CJK) the user strings need: the preamble loads their fonts.
        "scripts": latex.scripts(getattr(doc, aud.title_field), doc.course, doc.term, doc.student, variant.name),
        "variant_name": variant.name, "variant_source": variant.source, "seed": variant.seed,
        "version": __version__, "key": aud.solutions, "staff": aud.staff, "audience": aud.name,
        "running_head": aud.running_head,
        "answer_space": f"{doc.answer_space:g}" if doc.answer_space and not aud.solutions else "",
        "layout": doc.layout,
        "sections": sections,
        "total_points": sum(q.points for q in variant.questions),
        "checks": check_rows(checks) if aud.staff else [],  # the table is the staff key's only
        "checks_passed": sum(c.passed for c in checks),
        "checks_total": len(checks),
        "fd_step": latex.number(verify.FD_STEP),
        "files": sorted(files(outcome, key=aud)),
    }
    for name, result in outcome.groups.items():
        ctx[name] = result.presentation.context
    return ctx


PART = "1"  # the homework part the documents cover: its sections are numbered 1.1, 1.2, ...


def section_numbers(registry: Registry) -> dict[str, str]:
    """The printed number of every section and common heading, from the registry's order.

    Top-level headings (a section of its own, or the common heading of
    sub-sections) are ``1.1``, ``1.2``, ... in the homework's order; the
    sub-sections under a heading are ``1.2.1``, ``1.2.2``, ... The numbers do
    not depend on what a variant asks, as in the section templates.
    """
    numbers: dict[str, str] = {}
    children: dict[str, int] = {}
    for g in registry:
        top = g.parent or g.section
        if top not in numbers:
            numbers[top] = f"{PART}.{len(children) + 1}"
            children[top] = 0
        if g.parent and g.section not in numbers:
            children[g.parent] += 1
            numbers[g.section] = f"{numbers[g.parent]}.{children[g.parent]}"
    return numbers


def question_labels(variant: Variant, registry: Registry | None = None) -> dict[str, tuple[str, int]]:
    """Each asked sub-question's printed label (``1.1(c)(ii)``) and points, in the edition's order."""
    registry = registry or registry_mod.default()
    numbers = section_numbers(registry)
    out: dict[str, tuple[str, int]] = {}
    for sec in outline(variant, registry):
        for part in sec["parts"]:
            head = f"{numbers[sec['id']]}({part['label']})"
            for item in part.get("subparts", ()):
                out[item["id"]] = (f"{head}({item['label']})", item["points"])
            if "subparts" not in part:
                out[part["id"]] = (head, part["points"])
    return {q.id: out[q.id] for q in variant.questions}


def questions_table(outcome: Outcome, entries: dict[str, Any]) -> dict[str, Any]:
    """answers.json's ``questions``: each asked sub-question, in the edition's order, with its
    printed label, its points and the answers.json entries that answer it (``Presentation.questions``).

    Raises:
        DerivationError: a group names an answer it does not give, or a question it does not own.
    """
    registry = outcome.registry
    table: dict[str, Any] = {}
    for g in registry:
        result = outcome.groups.get(g.name)
        own = {q.id for q in g.questions}
        stray = sorted(set(result.presentation.questions) - own) if result else []
        if stray:
            raise DerivationError(f"{g.name}: present failed: Presentation.questions names "
                                  f"{', '.join(stray)}, not a question of {g.name}")
    for qid, (label, points) in question_labels(outcome.variant, registry).items():
        group = registry.owner(qid)
        presentation = outcome.groups[group.name].presentation
        keys = presentation.questions.get(qid, ())
        missing = [k for k in keys if k not in presentation.answers]
        if missing:
            raise DerivationError(f"{group.name}: present failed: Presentation.questions[{qid!r}] names "
                                  f"{', '.join(missing)}, not among its answers")
        table[qid] = {"label": label, "points": points, "answers": {k: entries[k] for k in keys}}
    return table


def answers(outcome: Outcome) -> dict[str, Any]:
    """The machine-readable key: every group's answers, the asked questions with their answers
    (``questions``, keyed by sub-question id in the edition's order) and every check the build ran."""
    out: dict[str, Any] = {"variant": outcome.variant.name, "generator": f"derivations {__version__}",
                           "layout": "numerator"}
    for result in outcome.groups.values():
        out.update(result.presentation.answers)
    out["questions"] = questions_table(outcome, out)
    out["verification"] = {c.id: {"quantity": c.quantity, "method": c.method, "detail": c.detail,
                                  "max_error": c.max_error, "tolerance": c.tolerance, "passed": c.passed}
                           for c in outcome.checks}
    return out


def arrays(outcome: Outcome) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for result in outcome.groups.values():
        out.update(result.verification.arrays)
    return out


def files(outcome: Outcome, *, key: bool | str | Audience = True) -> dict[str, str]:
    """The groups' extra files (plot data) that an audience's document gets."""
    aud = audience_of(key)
    out: dict[str, str] = {}
    for result in outcome.groups.values():
        out.update(result.presentation.files_for(aud.name))
    return out


def source(outcome: Outcome, *, key: bool | str | Audience = True) -> str:
    """The document's LaTeX source."""
    return render.render(document_context(outcome, key=key), outcome.registry.template_dirs())


def check_output_folder(out_dir: Path, audience: str | Audience | bool) -> None:
    """Refuse, before any work, an output folder that cannot be written, and a handout beside answers."""
    aud = audience_of(audience)
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{out_dir}: cannot be created, {existing} is a file (choose another --out)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{out_dir}: {existing} is not writable (choose another --out)")
    if aud.name != "handout" or not out_dir.is_dir():
        return
    found = [name for name in ANSWER_FILES if (out_dir / name).exists()]
    if found:
        raise OutputError(f"{out_dir}: holds {', '.join(found)}; a handout is never written beside answers "
                          "(choose another --out)")


def _with_template(message: str, tex: Path, registry: Registry) -> str:
    """Name the template file and line that wrote the LaTeX line an error points at."""
    import re

    # The document's own line, or the same line of a figure job's copy of it.
    found = re.search(r"\.tex:(\d+): ", message)
    if not found or not tex.exists():
        return message
    lines = tex.read_text("utf-8").splitlines()
    number = int(found.group(1))
    where = render.locate(lines[number - 1], registry.template_dirs()) if 0 < number <= len(lines) else None
    if where is None:
        return message
    head, sep, tail = message.rpartition(" (log: ")
    return f"{head} [template {where[0]}, line {where[1]}]{sep}{tail}" if sep else message


def _keep_log(message: str, scratch: Path, cache: Path) -> str:
    """The scratch folder is removed: keep a failed run's log (in the cache) and point the message at it."""
    import re

    found = re.search(r"\(log: (.+?)\)$", message)
    if not found:
        return message
    log = Path(found.group(1))
    if not log.is_relative_to(scratch) or not log.exists():
        return message
    kept = cache / "logs" / log.name
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, kept)
    return message[:found.start()] + f"(log: {kept})"


def build(variant: Variant, out_dir: Path, *, key: bool | str | Audience = True, registry: Registry | None = None,
          cache_dir: Path | None = None) -> BuildReport:
    """Derive, verify and render ``variant`` for an audience into ``out_dir`` (all or nothing)."""
    check_output_folder(out_dir, key)
    registry = registry or registry_mod.default()
    cache_dir = CACHE_DIR if cache_dir is None else cache_dir
    t0 = time.perf_counter()
    outcome = run(variant, registry, cache_dir)
    t1 = time.perf_counter()
    report = write(outcome, out_dir, key=key, cache_dir=cache_dir, jobs=os.cpu_count() or 1)
    report.seconds = {"derive+verify": t1 - t0, **report.seconds, "total": time.perf_counter() - t0}
    return report


def write(outcome: Outcome, out_dir: Path, *, key: bool | str | Audience = True, cache_dir: Path | None = None,
          jobs: int = 1) -> BuildReport:
    """Render and compile a ready outcome for an audience, then move the outputs into ``out_dir``.

    All or nothing: the files are made in a scratch folder and moved into
    place only when LaTeX succeeded. ``key`` is the audience (``"staff"``,
    ``"students"``, ``"handout"``; ``True``/``False`` mean staff/handout).
    Only the staff key carries answers.json and verification.npz. Figures and
    the precompiled preamble come from ``cache_dir`` (default ``CACHE_DIR``);
    ``jobs`` missing figures are compiled at a time.
    """
    aud = audience_of(key)
    check_output_folder(out_dir, aud)
    t0 = time.perf_counter()
    text = source(outcome, key=aud)
    # Everything is made in a private scratch folder (mode 0700), removed on every exit; the
    # outputs move into place only when all succeeded, so a failure leaves the previous key.
    cache = CACHE_DIR if cache_dir is None else cache_dir
    scratch = Path(tempfile.mkdtemp(prefix="hw2-build-"))
    try:
        tex = scratch / f"{aud.stem}.tex"
        extra = files(outcome, key=aud)
        text, _ = texrun.name_figures(text, extra)
        tex.write_text(text, "utf-8")
        if aud.staff:
            (scratch / "answers.json").write_text(json.dumps(answers(outcome), indent=2) + "\n", "utf-8")
            np.savez(scratch / "verification.npz", **arrays(outcome))
        for name, content in extra.items():
            (scratch / name).write_text(content, "utf-8")
        t1 = time.perf_counter()
        try:
            compiled = render.compile_pdf(tex, cache, jobs=jobs)
        except ToolError as exc:
            raise ToolError(_keep_log(_with_template(str(exc), tex, outcome.registry), scratch, cache)) from None
        t2 = time.perf_counter()
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        names = aud.outputs + tuple(extra)
        for name in names:
            shutil.copyfile(scratch / name, out_dir / (name + ".part"))
        for name in names:
            (out_dir / (name + ".part")).replace(out_dir / name)
            written.append(out_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return BuildReport(out_dir, written, outcome.checks, compiled.overfull,
                       {"render": t1 - t0, "latex": t2 - t1}, compiled.pages)
