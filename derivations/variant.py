"""Variants: a TOML file of the problem's parameters, parsed into frozen objects.

A variant is data. Its tables are ``[variant]`` (name, seed), ``[document]``
(the title block), one table per registered question group (named after the
group, with the keys of the group's parameter dataclass) and ``[questions]``
(which sub-questions the edition asks, with their points, in the homework's
order). The schema, the catalogue of question ids and :func:`to_toml` are all
generated from the registry (:mod:`derivations.registry`); every failure
raises :class:`~derivations.errors.VariantError` naming the file, the key, the
value and the allowed range.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from . import params as params_mod
from . import registry as registry_mod
from .errors import MISSING, VariantError
from .params import Choice, Range, Text, param
from .registry import Registry

DEFAULT_PRESET = "fall2025"
MAX_TEXT = params_mod.MAX_TEXT


def presets() -> tuple[str, ...]:
    """The shipped presets (``derivations/presets/*.toml``), the default first."""
    names = sorted(p.name[:-5] for p in resources.files("derivations.presets").iterdir()
                   if p.name.endswith(".toml"))
    return tuple(sorted(names, key=lambda n: (n != DEFAULT_PRESET, n)))


@dataclass(frozen=True)
class Meta:
    """The ``[variant]`` table."""

    name: str = param("str", "", Text(), doc="the variant's name (default: the file name)")
    seed: int = param("int", 2572, Range(0, 2**32 - 1),
                      doc="seed of every random verification instance and figure")


@dataclass(frozen=True)
class Document:
    """The ``[document]`` table: the title block."""

    title: str = param("str", rule=Text(), doc="the title of the staff key (--audience staff, the default)")
    course: str = param("str", rule=Text(), doc="course name, in the title block and the running head")
    term: str = param("str", rule=Text(), doc="term, in the title block and the running head")
    solutions_title: str = param("str", "Homework 2, Theory: Solutions", Text(),
                                 doc="the title of the published solutions (--audience students)")
    handout_title: str = param("str", "Homework 2, Theory", Text(), doc="the title of the student handout (--handout)")
    student: str = param("str", "", Text(), doc="a student's name printed under the title (empty: none)")
    answer_space: float = param("float", 0.0, Range(0.0, 20.0),
                                doc="blank space in cm left after each question of a handout for the answer")
    layout: str = param("str", "numerator", Choice(("numerator", "unstated")),
                        doc="the layout the handout asks for: 'numerator' (it says so) or 'unstated' "
                            "(it says nothing, as Fall 2024); the solutions always state their convention")


@dataclass(frozen=True)
class Question:
    """One asked sub-question: its catalogue id, its points and the optional clauses asked."""

    id: str
    points: int
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """A parsed, validated variant; ``source`` is the file it came from.

    ``params`` maps each group's name to its frozen parameter object, which
    is also an attribute: ``variant.conv1d.kernel``.
    """

    source: str
    name: str
    seed: int
    document: Document
    params: Mapping[str, Any]
    questions: tuple[Question, ...]
    # Points the edition states for a section, heading or lettered part (may differ from the sum).
    stated_points: Mapping[str, int] = dataclasses.field(default_factory=dict)
    text: str = dataclasses.field(default="", compare=False)  # the file as read (comments kept)

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def asks(self, qid: str) -> bool:
        return any(q.id == qid for q in self.questions)

    def with_params(self, **changes: Any) -> "Variant":
        """A copy with some groups' parameter objects replaced."""
        return dataclasses.replace(self, params={**self.params, **changes}, text="")


def _questions(file: str, raw: Mapping[str, Any], registry: Registry) -> tuple[Question, ...]:
    table = raw.get("questions", MISSING)
    if table is MISSING:
        raise VariantError(file, "[questions]", MISSING, "required section: list the asked sub-questions")
    if not isinstance(table, dict) or not table:
        raise VariantError(file, "[questions]", table, "allowed: a table of sub-question id = points")
    ids = registry.question_ids
    questions = []
    for qid, value in table.items():
        key = f"questions.{qid}"
        if qid not in ids:
            raise VariantError(file, key, value, "unknown sub-question; allowed: " + ", ".join(ids))
        allowed = [name for name, _ in registry.question(qid).options]
        points, options = value, ()
        if isinstance(value, dict):
            extra = sorted(set(value) - {"points", "ask"})
            if extra or "points" not in value:
                raise VariantError(file, key, value, "allowed: points, or { points = N, ask = [...] }")
            points, options = value["points"], value.get("ask", [])
            if not isinstance(options, list) or any(o not in allowed for o in options):
                raise VariantError(file, f"{key}.ask", options, "allowed: a list of "
                                   + (", ".join(map(repr, allowed)) if allowed else "nothing (no options)"))
        if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= 100:
            raise VariantError(file, key, points, "allowed: points as an integer 0..100")
        questions.append(Question(qid, points, tuple(options)))
    order = {qid: i for i, qid in enumerate(ids)}
    asked = [q.id for q in questions]
    if asked != sorted(asked, key=order.__getitem__):
        raise VariantError(file, "[questions]", asked, "allowed: sub-questions in the homework's order "
                           + ", ".join(i for i in ids if i in asked))
    for spec in registry.catalogue:
        if spec.alternative_to and spec.id in asked and spec.alternative_to in asked:
            raise VariantError(file, f"questions.{spec.id}", table[spec.id],
                               f"allowed: only one of {spec.alternative_to}, {spec.id}")
    return tuple(questions)


def _stated_points(file: str, raw: Mapping[str, Any], registry: Registry) -> dict[str, int]:
    table = raw.get("stated_points", {})
    if not isinstance(table, dict):
        raise VariantError(file, "[stated_points]", table, "allowed: a table of section or part id = points")
    keys = registry.point_keys()
    for key, value in table.items():
        if key not in keys:
            raise VariantError(file, f"stated_points.{key}", value, "unknown; allowed: " + ", ".join(keys))
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
            raise VariantError(file, f"stated_points.{key}", value, "allowed: points as an integer 0..1000")
    return dict(table)


def _table(file: str, raw: Mapping[str, Any], name: str, params_type: type, optional: bool) -> Any:
    table = raw.get(name, MISSING)
    if table is MISSING:
        if not optional:
            raise VariantError(file, f"[{name}]", MISSING, "required section: add it to the file")
        table = {}
    return params_mod.parse_table(file, name, params_type, table)


def parse(text: str, file: str = "<string>", registry: Registry | None = None) -> Variant:
    """Parse and validate the TOML ``text`` of a variant read from ``file``."""
    registry = registry or registry_mod.default()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VariantError(file, "<syntax>", str(exc).split("\n")[0], "allowed: valid TOML 1.0") from None
    known = ("variant", "document") + tuple(g.name for g in registry) + ("questions", "stated_points")
    for key in raw:
        if key not in known:
            raise VariantError(file, f"[{key}]", raw[key], "unknown section; allowed: " + ", ".join(sorted(known)))
    meta = _table(file, raw, "variant", Meta, True)
    document = _table(file, raw, "document", Document, False)
    groups: dict[str, Any] = {}
    for group in registry:
        groups[group.name] = _table(file, raw, group.name, group.params, group.optional)
        for rule in group.constraints:
            problem = rule(groups[group.name])
            if problem:
                raise VariantError(file, *problem)
    return Variant(source=file, name=meta.name or Path(file).stem, seed=meta.seed, document=document,
                   params=groups, questions=_questions(file, raw, registry),
                   stated_points=_stated_points(file, raw, registry), text=text)


def defaults_used(variant: Variant, registry: Registry | None = None) -> list[str]:
    """The keys the variant's file leaves out and that take their documented default, as ``key = value``
    (a whole optional table left out is one entry, ``[table]``). Empty for a variant without text."""
    if not variant.text:
        return []
    registry = registry or registry_mod.default()
    raw = tomllib.loads(variant.text)
    tables = [("variant", Meta, Meta(name=variant.name, seed=variant.seed)), ("document", Document, variant.document)]
    tables += [(g.name, g.params, variant.params[g.name]) for g in registry]
    out = []
    for name, params_type, value in tables:
        if name not in raw:
            out.append(f"[{name}] (every key)")
            continue
        for spec in params_mod.specs(params_type):
            if spec.name not in raw[name] and not spec.required:
                out.append(f"{name}.{spec.name} = {params_mod.toml_value(getattr(value, spec.name), spec.kind)}")
    return out


def load(spec: str | Path | None = None, registry: Registry | None = None) -> Variant:
    """Load a preset by name (``fall2025``, ``fall2024``) or a ``.toml`` file by path."""
    spec = DEFAULT_PRESET if spec is None else str(spec)
    names = presets()
    if spec in names:
        text = resources.files("derivations.presets").joinpath(f"{spec}.toml").read_text("utf-8")
        return parse(text, f"{spec}.toml", registry)
    path = Path(spec)
    if path.suffix != ".toml" or not path.is_file():
        raise VariantError(spec, "--variant", spec,
                           "allowed: a preset (" + ", ".join(names) + ") or an existing .toml file")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VariantError(spec, "<file>", type(exc).__name__, "allowed: a readable UTF-8 file") from None
    return parse(text, str(path), registry)


def replace(variant: Variant, **changes: Any) -> Variant:
    """A copy of ``variant`` with fields or groups' parameter objects replaced (tests, students)."""
    groups = {k: v for k, v in changes.items() if k in variant.params}
    fields = {k: v for k, v in changes.items() if k not in groups}
    return dataclasses.replace(variant, params={**variant.params, **groups}, text="", **fields)


def to_toml(variant: Variant, registry: Registry | None = None) -> str:
    """The TOML text of ``variant``, each key with its documentation as a comment.

    ``parse(to_toml(v))`` gives back an equal variant.
    """
    registry = registry or registry_mod.default()
    tables: list[tuple[str, Any, str]] = [("variant", Meta(variant.name, variant.seed), ""),
                                          ("document", variant.document, "")]
    tables += [(g.name, variant.params[g.name], g.title) for g in registry]
    lines = [f"# Variant {variant.name}, written by derivations.variant.to_toml"]
    for name, obj, title in tables:
        lines.append(f"\n[{name}]" + (f"  # {title}" if title else ""))
        docs = {s.name: s.doc for s in params_mod.specs(type(obj))}
        for line in params_mod.table_toml(obj):
            key = line.split(" = ", 1)[0]
            lines.append(line + (f"  # {docs[key]}" if docs.get(key) else ""))
    lines.append("\n[questions]  # the asked sub-questions and their points, in order")
    for q in variant.questions:
        asked = ", ".join(params_mod.toml_value(o) for o in q.options)
        lines.append(f"{q.id} = {{ points = {q.points}, ask = [{asked}] }}" if q.options else f"{q.id} = {q.points}")
    if variant.stated_points:
        lines.append("\n[stated_points]  # the points the edition states, where they differ from the sums")
        lines += [f"{k} = {v}" for k, v in variant.stated_points.items()]
    return "\n".join(lines) + "\n"
