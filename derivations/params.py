"""Parameters as data: each variant key is a dataclass field with its rule.

A question group declares its parameters as a frozen dataclass whose fields
are made with :func:`param`: the TOML kind, the default (or none: required),
the rule of its allowed values and one line on what it changes. Everything
else is generated from those fields: parsing and validation of a variant
table (:func:`parse_table`), writing it back (:func:`table_toml`) and the
variant reference (:func:`reference_rows`).

Rules are small frozen objects (:class:`Range`, :class:`Choice`,
:class:`Text`), so the allowed range of a key is data that the error message
and the documentation both read.
"""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

from . import glyphs
from .errors import MISSING, VariantError

MAX_TEXT = 160  # the longest title, course or term line


@dataclass(frozen=True)
class Range:
    """A number in ``lo..hi`` (both included)."""

    lo: int | float
    hi: int | float

    def problem(self, value: Any) -> str | None:
        return None if self.lo <= value <= self.hi else f"allowed: {self.lo}..{self.hi}"

    def describe(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class Choice:
    """One of a few listed values."""

    options: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        if value in self.options:
            return None
        shown = ", ".join(repr(o) if isinstance(o, str) else str(o) for o in self.options)
        return "allowed: one of " + shown

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) if isinstance(o, str) else str(o) for o in self.options)


@dataclass(frozen=True)
class Text:
    """Printable text of at most ``MAX_TEXT`` characters that the documents can typeset.

    Every character (of the text in Unicode NFC, as :func:`derivations.latex.escape`
    prints it) must be in a script the TeX setup has fonts for: Latin, Greek,
    Cyrillic or CJK (:mod:`derivations.glyphs`). The first one that is not is
    named with its code point, so an emoji in a title is refused when the variant
    is read, not by LaTeX after the whole derivation.
    """

    limit: int = MAX_TEXT

    def problem(self, value: str) -> str | None:
        if len(value) > self.limit:
            return f"allowed: at most {self.limit} characters"
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            return "allowed: printable text without control characters"
        bad = glyphs.unsettable(value)
        if bad is not None:
            return f"character {bad!r} (U+{ord(bad):04X}) cannot be typeset; allowed: {glyphs.ALLOWED}"
        return None

    def describe(self) -> str:
        return f"text, at most {self.limit} characters"


Rule = Range | Choice | Text

# TOML kinds: int, float, float? (a float whose default is None: leave the key
# out), str, pair (an int or [int, int], per axis), size2 ([int, int]).
KINDS = ("int", "float", "float?", "str", "pair", "size2")


def param(kind: str, default: Any = MISSING, rule: Rule | None = None, doc: str = "") -> Any:
    """A dataclass field that is also a variant key (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown parameter kind {kind!r}; allowed: {', '.join(KINDS)}")
    spec = {"kind": kind, "rule": rule, "doc": doc}
    if default is MISSING:
        return dataclasses.field(metadata=spec)
    if isinstance(default, (list, dict)):
        raise TypeError("a parameter's default must be immutable")
    return dataclasses.field(default=default, metadata=spec)


@dataclass(frozen=True)
class Spec:
    """One variant key as the generated schema sees it."""

    name: str
    kind: str
    default: Any
    rule: Rule | None
    doc: str

    @property
    def required(self) -> bool:
        return self.default is MISSING


def specs(params_type: type) -> tuple[Spec, ...]:
    """The keys of a parameter dataclass, in declaration order."""
    out = []
    for f in dataclasses.fields(params_type):
        if "kind" not in f.metadata:
            raise TypeError(f"{params_type.__name__}.{f.name} is not declared with param()")
        default = f.default if f.default is not dataclasses.MISSING else MISSING
        out.append(Spec(f.name, f.metadata["kind"], default, f.metadata["rule"], f.metadata["doc"]))
    return tuple(out)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def coerce(file: str, key: str, kind: str, value: Any) -> Any:
    """Check the TOML type of ``value`` and normalise pairs to tuples."""
    if kind == "int":
        if not _is_int(value):
            raise VariantError(file, key, value, "allowed: an integer")
        return value
    if kind == "float?" and value is None:  # only as a default: TOML has no null
        return None
    if kind in ("float", "float?"):
        if _is_int(value):
            return float(value)
        if not isinstance(value, float) or not math.isfinite(value):
            raise VariantError(file, key, value, "allowed: a finite number")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise VariantError(file, key, value, "allowed: a string")
        return value
    if kind == "size2":
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_int, value))):
            raise VariantError(file, key, value, "allowed: a list of two integers [height, width]")
        return tuple(value)
    if isinstance(value, tuple):  # a pair default
        return value
    if _is_int(value):
        return (value, value)
    if isinstance(value, list) and len(value) == 2 and all(map(_is_int, value)):
        return tuple(value)
    raise VariantError(file, key, value, "allowed: an integer or a list of two integers")


def parse_table(file: str, section: str, params_type: type, table: Any) -> Any:
    """Validate one TOML table against ``params_type`` and build the frozen object."""
    if not isinstance(table, dict):
        raise VariantError(file, f"[{section}]", table, "allowed: a table")
    keys = specs(params_type)
    names = [s.name for s in keys]
    for key in table:
        if key not in names:
            raise VariantError(file, f"{section}.{key}", table[key], "unknown key; allowed keys: " + ", ".join(names))
    values: dict[str, Any] = {}
    for spec in keys:
        dotted = f"{section}.{spec.name}"
        if spec.name not in table:
            if spec.required:
                raise VariantError(file, dotted, MISSING, "required key: add it to the file")
            values[spec.name] = coerce(file, dotted, spec.kind, spec.default)
            continue
        value = coerce(file, dotted, spec.kind, table[spec.name])
        if spec.rule is not None:
            for item in value if isinstance(value, tuple) else (value,):
                problem = spec.rule.problem(item)
                if problem:
                    raise VariantError(file, dotted, table[spec.name], problem)
        values[spec.name] = value
    return params_type(**values)


def toml_value(value: Any, kind: str = "") -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        if kind == "pair" and len(set(value)) == 1:  # stride = 4 rather than [4, 4]
            return str(value[0])
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def table_toml(params: Any) -> list[str]:
    """``key = value`` lines of a parameter object (keys whose value is None are left out)."""
    lines = []
    for spec in specs(type(params)):
        value = getattr(params, spec.name)
        if value is None:
            continue  # TOML has no null: leave the key out and take the default
        lines.append(f"{spec.name} = {toml_value(value, spec.kind)}")
    return lines


KIND_TEXT = {"int": "integer", "float": "number", "float?": "number (optional)", "str": "string",
             "pair": "integer or [int, int]", "size2": "[int, int]"}


def reference_rows(params_type: type) -> list[Mapping[str, str]]:
    """One row per key for the variant reference: key, type, default, allowed, what it changes."""
    rows = []
    for spec in specs(params_type):
        if spec.required:
            default = "required"
        elif spec.default is None:
            default = "(none)"
        else:
            default = toml_value(spec.default, spec.kind)
        rows.append({"key": spec.name, "type": KIND_TEXT[spec.kind], "default": default,
                     "allowed": spec.rule.describe() if spec.rule else "any", "doc": spec.doc})
    return rows


# Drawing from a variation space (the groups' ``vary``, see derivations.student).

T = TypeVar("T")


def draw_int(rng: Any, bounds: tuple[int, int]) -> int:
    """An integer from ``bounds`` (both ends included), drawn from the numpy Generator ``rng``."""
    return int(rng.integers(bounds[0], bounds[1] + 1))


def first_fit(draw: Callable[[], T], fits: Callable[[T], bool], attempts: int = 100) -> T:
    """The first of up to ``attempts`` draws that ``fits`` (each drawn afresh from the same generator,
    so the result stays reproducible)."""
    for _ in range(attempts):
        candidate = draw()
        if fits(candidate):
            return candidate
    raise ValueError(f"no fitting draw in {attempts} attempts")

