"""The question-group protocol and the registry that ties groups into a homework.

A *question group* is one folder under ``derivations/groups/`` (or anywhere
on the import path) whose ``__init__.py`` defines ``GROUP``, a
:class:`QuestionGroup`. It owns, in that folder:

* its parameters: a frozen dataclass of :func:`derivations.params.param`
  fields (the variant table named after the group);
* the questions it answers, in the homework's order (:class:`QuestionSpec`);
* four steps that data flows through, one way:

  ``experiment(params, seed, cache_dir)`` (optional, declared)
      numeric experiments whose results the answers quote (training runs,
      measured curves); cached by the group where expensive;
  ``derive(params)``
      the symbolic derivation: SymPy objects, shapes and numbers, no checks,
      no printing;
  ``check(derivation, evidence, seed) -> Verification``
      every check of the derivation (the rows of the verification table), the
      instance arrays for ``verification.npz`` and any numbers measured while
      checking that the text quotes;
  ``present(derivation, evidence, verification) -> Presentation``
      the template context, the ``answers.json`` entries and extra files, built
      once from the results above; it prints, it never derives;

* optionally ``vary(rng, params) -> params``: the group's per-student
  variation space (documented in ``variation``), used by
  :mod:`derivations.student`;

* its templates, in ``templates/`` beside ``__init__.py``: the questions'
  ``questions/<id>.tex.j2`` and, for a group that has a section of its own,
  ``sections/<section>.tex.j2``.

The :class:`Registry` is an ordered tuple of groups. Everything that lists
groups or questions is generated from it: the variant schema and
``to_toml`` (:mod:`derivations.variant`), the question catalogue, the
document outline (:mod:`derivations.build`), the template search path and
the variant reference (``docs/variant-reference.md``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import params as params_mod
from .verify import Check


@dataclass(frozen=True)
class QuestionSpec:
    """A sub-question a group can answer.

    Attributes:
        id: the key in a variant's ``[questions]`` table (unique across groups).
        title: one line for the variant reference.
        part_of: sub-questions with the same ``part_of`` form one lettered part
            with roman-numbered items; its lead-in is ``questions/<part_of>.tex.j2``.
        alternative_to: an edition asks this question or that one, never both.
        options: optional clauses of the statement an edition may ask, as
            ``(name, what it adds)`` pairs; a variant lists the ones it asks
            (``id = { points = 4, ask = ["name"] }``) and the template states
            exactly those.
    """

    id: str
    title: str
    part_of: str | None = None
    alternative_to: str | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Verification:
    """What a group's ``check`` step returns."""

    checks: tuple[Check, ...]
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    measures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Presentation:
    """What a group's ``present`` step returns."""

    context: Mapping[str, Any]
    answers: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)
    # What a handout gets instead of ``files`` (None: the same files); it must not give answers away.
    handout_files: Mapping[str, str] | None = None
    # What the students' solutions get instead of ``files`` (None: the same files). A document
    # shows a group's figure only when its data file is among its audience's files.
    student_files: Mapping[str, str] | None = None

    # Which answers.json entries answer which asked question: {question id: (answer keys, ...)}.
    # build.answers() turns it into the "questions" table (only the questions the variant asks).
    questions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def files_for(self, audience: str) -> Mapping[str, str]:
        """The files an audience's document gets (``staff``, ``students`` or ``handout``)."""
        chosen = {"handout": self.handout_files, "students": self.student_files}.get(audience)
        return self.files if chosen is None else chosen


Constraint = Callable[[Any], "tuple[str, Any, str] | None"]


@dataclass(frozen=True)
class QuestionGroup:
    """One question group (see the module docstring)."""

    name: str
    title: str
    params: type
    questions: tuple[QuestionSpec, ...]
    section: str
    derive: Callable[[Any], Any]
    check: Callable[[Any, Any, int], Verification]
    present: Callable[[Any, Any, Verification], Presentation]
    package: str
    parent: str | None = None
    experiment: Callable[[Any, int, Path | None], Any] | None = None
    # The experiment keeps its results in ``cache_dir`` (read back by a later call with the same
    # params), so a class build can run it ahead, in another process (derivations.batch).
    experiment_cached: bool = False
    # Cross-key rules: params -> (key, value, allowed) of the first violation, or None.
    constraints: tuple[Constraint, ...] = ()
    # One paragraph for the variant reference: what the parameters change.
    about: str = ""
    # Per-student variation (derivations.student): vary(rng, base params) -> this student's params,
    # drawn only from ``rng`` (a numpy Generator private to the group), never from the name.
    vary: Callable[[Any, Any], Any] | None = None
    # The documented variation space, one paragraph for the variant reference (what vary draws).
    variation: str = ""

    @property
    def optional(self) -> bool:
        """A group whose every key has a default may leave its table out."""
        return all(not s.required for s in params_mod.specs(self.params))

    @property
    def template_dir(self) -> Path:
        return Path(str(resources.files(self.package).joinpath("templates")))


class RegistryError(ValueError):
    """Two groups clash (a name or a question id used twice)."""


class Registry:
    """An ordered set of question groups: the homework, in its order."""

    def __init__(self, groups: Sequence[QuestionGroup]) -> None:
        self.groups: tuple[QuestionGroup, ...] = tuple(groups)
        seen: dict[str, str] = {}
        for g in self.groups:
            if g.name in seen or g.name in RESERVED:
                raise RegistryError(f"group name {g.name!r} is used twice or reserved")
            seen[g.name] = g.name
        owner: dict[str, str] = {}
        for g in self.groups:
            for q in g.questions:
                if q.id in owner:
                    raise RegistryError(f"question id {q.id!r} of group {g.name!r} is already in {owner[q.id]!r}")
                owner[q.id] = g.name
        self._owner = owner

    def __iter__(self) -> Iterator[QuestionGroup]:
        return iter(self.groups)

    def group(self, name: str) -> QuestionGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def with_group(self, group: QuestionGroup, *, after: str | None = None) -> "Registry":
        """A new registry with ``group`` added (at the end, or after the group named ``after``)."""
        groups = list(self.groups)
        at = len(groups) if after is None else [g.name for g in groups].index(after) + 1
        groups.insert(at, group)
        return Registry(groups)

    @property
    def catalogue(self) -> tuple[QuestionSpec, ...]:
        """Every question any group answers, in the homework's order."""
        return tuple(q for g in self.groups for q in g.questions)

    @property
    def question_ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.catalogue)

    def owner(self, qid: str) -> QuestionGroup:
        return self.group(self._owner[qid])

    def question(self, qid: str) -> QuestionSpec:
        return next(q for q in self.catalogue if q.id == qid)

    def point_keys(self) -> tuple[str, ...]:
        """What a variant may state points for: sections, their common headings and lettered parts."""
        keys: list[str] = []
        for g in self.groups:
            for key in (g.section, g.parent, *(q.part_of for q in g.questions)):
                if key and key not in keys:
                    keys.append(key)
        return tuple(keys)

    def template_dirs(self) -> list[Path]:
        return [g.template_dir for g in self.groups]


# Variant tables that are not groups.
RESERVED = ("variant", "document", "questions", "stated_points")

# The homework's groups, in its order: one line adds a group.
GROUP_MODULES: tuple[str, ...] = (
    "derivations.groups.conv2d",
    "derivations.groups.conv_general",
    "derivations.groups.conv1d",
    "derivations.groups.gated_rnn",
    "derivations.groups.attention_rnn",
    "derivations.groups.loss_curves",
)

_DEFAULT: Registry | None = None


def load_groups(modules: Sequence[str]) -> Registry:
    return Registry([importlib.import_module(name).GROUP for name in modules])


def default() -> Registry:
    """The registry of :data:`GROUP_MODULES` (imported once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_groups(GROUP_MODULES)
    return _DEFAULT
