"""Variants: a TOML file of the problem's parameters, parsed into frozen objects.

A variant is data. Each section of the file maps to one frozen dataclass; which
sub-questions an edition asks, and their points, is the ``[questions]`` table.
Every rule of validation is a row in a schema, and every failure raises
:class:`~derivations.errors.VariantError` whose message names the file, the key,
the value and the allowed range.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import MISSING, VariantError
from .loss_experiment import ExperimentSettings

PRESETS = ("fall2025", "fall2024")
DEFAULT_PRESET = "fall2025"

# Upper bounds keep the exact SymPy checks and the numeric checks fast.
MAX_SIZE = 4096
MAX_TEXT = 160


# --------------------------------------------------------------------------
# Frozen parameter objects


@dataclass(frozen=True)
class Document:
    title: str
    course: str
    term: str
    student: str = ""


@dataclass(frozen=True)
class Conv2d:
    """Question 1.1(a): a 2-D convolution on an H x W input."""

    input: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class ConvGeneral:
    """Question 1.1(b): notation of the kernel in the general formula."""

    kernel_notation: str = "square"  # "square" (K x K) or "rect" (HK x WK)


@dataclass(frozen=True)
class Conv1d:
    """Question 1.1(c): a 1-D convolution with one filter and no bias."""

    channels: int
    length: int
    kernel: int
    stride: int
    dilation: int = 1
    padding: int = 0


@dataclass(frozen=True)
class GatedRnn:
    """Question 1.2.1; n, m, steps only size the numeric verification instance."""

    n: int = 3
    m: int = 4
    steps: int = 6


@dataclass(frozen=True)
class AttentionRnn:
    """Question 1.2.2: AttentionRNN(k); n sizes the numeric verification instance."""

    k: int = 2
    n: int = 4


@dataclass(frozen=True)
class Question:
    """One asked sub-question: its catalogue id and its points."""

    id: str
    points: int


@dataclass(frozen=True)
class Variant:
    """A parsed, validated variant; ``source`` is the file it came from."""

    source: str
    name: str
    seed: int
    document: Document
    conv2d: Conv2d
    conv_general: ConvGeneral
    conv1d: Conv1d
    gated_rnn: GatedRnn
    attention_rnn: AttentionRnn
    loss_curves: ExperimentSettings
    questions: tuple[Question, ...]

    def asks(self, qid: str) -> bool:
        return any(q.id == qid for q in self.questions)


# --------------------------------------------------------------------------
# The catalogue of sub-questions the generator can answer, in the order of
# the homework. ``group`` ties the roman-numbered items of 1.1(c) together.


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    section: str
    group: str | None = None


CATALOGUE: tuple[CatalogueEntry, ...] = tuple(
    CatalogueEntry(*row)
    for row in [
        ("conv2d_output", "cnn"),
        ("conv_general", "cnn"),
        ("conv1d_output", "cnn", "conv1d"),
        ("conv1d_dW", "cnn", "conv1d"),
        ("conv1d_dx", "cnn", "conv1d"),
        ("conv1d_dl_dW", "cnn", "conv1d"),
        ("gated_diagram", "gated_rnn"),
        ("gated_c_dim", "gated_rnn"),
        ("gated_jacobians", "gated_rnn"),
        ("gated_dl_dWx", "gated_rnn"),
        ("gated_vanishing", "gated_rnn"),
        ("attn_diagram", "attention_rnn"),
        ("attn_a_dim", "attention_rnn"),
        ("attn_k", "attention_rnn"),
        ("attn_infinity", "attention_rnn"),
        ("attn_dh_dhprev", "attention_rnn"),
        ("attn_dl_dhT", "attention_rnn"),
        ("loss_spikes", "loss_curves"),
        ("loss_above_initial", "loss_curves"),
        ("loss_fix", "loss_curves"),
        ("loss_start", "loss_curves"),
        ("loss_start_accuracy", "loss_curves"),
    ]
)
CATALOGUE_IDS = tuple(e.id for e in CATALOGUE)


# --------------------------------------------------------------------------
# Schema: per section, per key, (kind, default, extra check). The checks are
# small functions returning an error text or None.

Check = Callable[[Any], "str | None"]


def _positive(v: int | float) -> str | None:
    return None if v >= 1 else "allowed: an integer >= 1"


def _range(lo: int | float, hi: int | float) -> Check:
    def check(v: int | float) -> str | None:
        return None if lo <= v <= hi else f"allowed: {lo}..{hi}"

    return check


def _non_negative(v: int) -> str | None:
    return None if v >= 0 else "allowed: an integer >= 0"


def _choice(*options: str) -> Check:
    def check(v: str) -> str | None:
        return None if v in options else "allowed: one of " + ", ".join(map(repr, options))

    return check


def _text(v: str) -> str | None:
    if len(v) > MAX_TEXT:
        return f"allowed: at most {MAX_TEXT} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
        return "allowed: printable text without control characters"
    return None


def _choice_int(*options: int) -> Check:
    def check(v: int) -> str | None:
        return None if v in options else "allowed: one of " + ", ".join(map(str, options))

    return check


def _exp(name: str) -> Any:
    """The experiment's own default for a ``[loss_curves]`` key."""
    return {f.name: f.default for f in dataclasses.fields(ExperimentSettings)}[name]


@dataclass(frozen=True)
class Field:
    kind: str  # int, pair (int or [int, int]), size2 ([int, int]), str, float, float? (default None)
    default: Any = MISSING
    check: Check | None = None


SCHEMA: dict[str, dict[str, Field]] = {
    "variant": {
        "name": Field("str", "", _text),
        "seed": Field("int", 2572, _range(0, 2**32 - 1)),
    },
    "document": {
        "title": Field("str", check=_text),
        "course": Field("str", check=_text),
        "term": Field("str", check=_text),
        "student": Field("str", "", _text),
    },
    "conv2d": {
        "input": Field("size2", check=_range(1, MAX_SIZE)),
        "kernel": Field("size2", check=_range(1, MAX_SIZE)),
        "stride": Field("pair", check=_range(1, MAX_SIZE)),
        "padding": Field("pair", 0, _range(0, MAX_SIZE)),
        "dilation": Field("pair", 1, _range(1, MAX_SIZE)),
    },
    "conv_general": {
        "kernel_notation": Field("str", "square", _choice("square", "rect")),
    },
    "conv1d": {
        # Bounded so that the element-by-element checks stay within seconds.
        "channels": Field("int", check=_range(1, 16)),
        "length": Field("int", check=_range(1, 64)),
        "kernel": Field("int", check=_range(1, 16)),
        "stride": Field("int", check=_range(1, 16)),
        "dilation": Field("int", 1, _range(1, 16)),
        "padding": Field("int", 0, _range(0, 16)),
    },
    "gated_rnn": {
        "n": Field("int", 3, _range(1, 16)),
        "m": Field("int", 4, _range(1, 16)),
        "steps": Field("int", 6, _range(2, 32)),
    },
    "attention_rnn": {
        "k": Field("int", 2, _range(1, 8)),
        "n": Field("int", 4, _range(1, 16)),
    },
    # 1.3: the experiment's settings; defaults are the experiment's own.
    "loss_curves": {
        "classes": Field("int", _exp("classes"), _choice_int(2, 4, 8)),
        "seq_len": Field("int", _exp("seq_len"), _range(6, 200)),
        "n_distractors": Field("int", _exp("n_distractors"), _range(1, 16)),
        "hidden": Field("int", _exp("hidden"), _range(1, 128)),
        "optimizer": Field("str", _exp("optimizer"), _choice("sgd", "adam")),
        "lr": Field("float", _exp("lr"), _range(1e-6, 10.0)),
        "steps": Field("int", _exp("steps"), _range(20, 5000)),
        "batch": Field("int", _exp("batch"), _range(1, 1024)),
        "seed": Field("int", _exp("seed"), _range(0, 2**32 - 1)),
        "clip_norm": Field("float", _exp("clip_norm"), _range(1e-6, 1000.0)),
        "fixed_lr": Field("float?", _exp("fixed_lr"), _range(1e-6, 10.0)),
        "warmup_steps": Field("int", _exp("warmup_steps"), _range(0, 5000)),
        "eval_batch": Field("int", _exp("eval_batch"), _range(10, 20000)),
    },
}

# Sections that may be left out entirely (every key has a default).
OPTIONAL_SECTIONS = {"variant", "conv_general", "gated_rnn", "attention_rnn", "loss_curves"}


# --------------------------------------------------------------------------
# Parsing


def _coerce(file: str, key: str, kind: str, value: Any) -> Any:
    """Check the TOML type of ``value`` and normalise pairs to tuples."""

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if kind == "int":
        if not is_int(value):
            raise VariantError(file, key, value, "allowed: an integer")
        return value
    if kind == "float?" and value is None:  # only as a default: TOML has no null
        return None
    if kind in ("float", "float?"):
        if is_int(value):
            return float(value)
        if not isinstance(value, float) or not math.isfinite(value):
            raise VariantError(file, key, value, "allowed: a finite number")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise VariantError(file, key, value, "allowed: a string")
        return value
    if kind == "size2":
        if not (isinstance(value, list) and len(value) == 2 and all(map(is_int, value))):
            raise VariantError(file, key, value, "allowed: a list of two integers [height, width]")
        return tuple(value)
    if kind == "pair":
        if is_int(value):
            return (value, value)
        if isinstance(value, list) and len(value) == 2 and all(map(is_int, value)):
            return tuple(value)
        raise VariantError(file, key, value, "allowed: an integer or a list of two integers")
    raise AssertionError(kind)  # pragma: no cover


def _section(file: str, raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    schema = SCHEMA[name]
    table = raw.get(name, MISSING)
    if table is MISSING:
        if name in OPTIONAL_SECTIONS:
            table = {}
        else:
            raise VariantError(file, f"[{name}]", MISSING, "required section: add it to the file")
    if not isinstance(table, dict):
        raise VariantError(file, f"[{name}]", table, "allowed: a table")
    for key in table:
        if key not in schema:
            raise VariantError(
                file, f"{name}.{key}", table[key], "unknown key; allowed keys: " + ", ".join(schema)
            )
    out: dict[str, Any] = {}
    for key, field in schema.items():
        dotted = f"{name}.{key}"
        if key not in table:
            if field.default is MISSING:
                raise VariantError(file, dotted, MISSING, "required key: add it to the file")
            value = _coerce(file, dotted, field.kind, field.default)
        else:
            value = _coerce(file, dotted, field.kind, table[key])
            if field.check is not None:
                for item in value if isinstance(value, tuple) else (value,):
                    problem = field.check(item)
                    if problem:
                        raise VariantError(file, dotted, table[key], problem)
        out[key] = value
    return out


def _questions(file: str, raw: Mapping[str, Any]) -> tuple[Question, ...]:
    table = raw.get("questions", MISSING)
    if table is MISSING:
        raise VariantError(file, "[questions]", MISSING, "required section: list the asked sub-questions")
    if not isinstance(table, dict) or not table:
        raise VariantError(file, "[questions]", table, "allowed: a table of sub-question id = points")
    questions = []
    for qid, points in table.items():
        key = f"questions.{qid}"
        if qid not in CATALOGUE_IDS:
            raise VariantError(file, key, points, "unknown sub-question; allowed: " + ", ".join(CATALOGUE_IDS))
        if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= 100:
            raise VariantError(file, key, points, "allowed: points as an integer 0..100")
        questions.append(Question(qid, points))
    order = {qid: i for i, qid in enumerate(CATALOGUE_IDS)}
    ids = [q.id for q in questions]
    if ids != sorted(ids, key=order.__getitem__):
        raise VariantError(file, "[questions]", ids, "allowed: sub-questions in the homework's order " + ", ".join(
            i for i in CATALOGUE_IDS if i in ids))
    if "loss_start" in ids and "loss_start_accuracy" in ids:
        raise VariantError(file, "questions.loss_start_accuracy", table["loss_start_accuracy"],
                           "allowed: only one of loss_start, loss_start_accuracy")
    return tuple(questions)


def _check_kernel_fits(file: str, conv2d: Conv2d, conv1d: Conv1d) -> None:
    """A (dilated) kernel must fit inside the padded input on every axis."""
    for axis, name in enumerate(("height", "width")):
        span = conv2d.dilation[axis] * (conv2d.kernel[axis] - 1) + 1
        room = conv2d.input[axis] + 2 * conv2d.padding[axis]
        if span > room:
            raise VariantError(
                file,
                "conv2d.kernel",
                list(conv2d.kernel),
                f"dilated kernel {name} {span} exceeds padded input {name} {room}; "
                f"allowed: dilation*(kernel-1)+1 in 1..{room}",
            )
    span = conv1d.dilation * (conv1d.kernel - 1) + 1
    room = conv1d.length + 2 * conv1d.padding
    if span > room:
        raise VariantError(
            file,
            "conv1d.kernel",
            conv1d.kernel,
            f"dilated kernel length {span} exceeds padded input length {room}; "
            f"allowed: dilation*(kernel-1)+1 in 1..{room}",
        )


def parse(text: str, file: str = "<string>") -> Variant:
    """Parse and validate the TOML ``text`` of a variant read from ``file``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VariantError(file, "<syntax>", str(exc).split("\n")[0], "allowed: valid TOML 1.0") from None
    known = set(SCHEMA) | {"questions"}
    for key in raw:
        if key not in known:
            raise VariantError(file, f"[{key}]", raw[key], "unknown section; allowed: " + ", ".join(sorted(known)))
    sections = {name: _section(file, raw, name) for name in SCHEMA}
    conv2d = Conv2d(**sections["conv2d"])
    conv1d = Conv1d(**sections["conv1d"])
    _check_kernel_fits(file, conv2d, conv1d)
    meta = sections["variant"]
    return Variant(
        source=file,
        name=meta["name"] or Path(file).stem,
        seed=meta["seed"],
        document=Document(**sections["document"]),
        conv2d=conv2d,
        conv_general=ConvGeneral(**sections["conv_general"]),
        conv1d=conv1d,
        gated_rnn=GatedRnn(**sections["gated_rnn"]),
        attention_rnn=AttentionRnn(**sections["attention_rnn"]),
        loss_curves=ExperimentSettings(**sections["loss_curves"]),
        questions=_questions(file, raw),
    )


def load(spec: str | Path | None = None) -> Variant:
    """Load a preset by name (``fall2025``, ``fall2024``) or a ``.toml`` file by path."""
    spec = DEFAULT_PRESET if spec is None else str(spec)
    if spec in PRESETS:
        text = resources.files("derivations.presets").joinpath(f"{spec}.toml").read_text("utf-8")
        return parse(text, f"{spec}.toml")
    path = Path(spec)
    if path.suffix != ".toml" or not path.is_file():
        raise VariantError(
            spec, "--variant", spec, "allowed: a preset (" + ", ".join(PRESETS) + ") or an existing .toml file"
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VariantError(spec, "<file>", type(exc).__name__, "allowed: a readable UTF-8 file") from None
    return parse(text, str(path))


def replace(variant: Variant, **changes: Any) -> Variant:
    """A copy of ``variant`` with some fields replaced (for tests and per-student variants)."""
    return dataclasses.replace(variant, **changes)


# --------------------------------------------------------------------------
# Writing variants back (for per-student variants)


def _toml_value(value: Any, kind: str = "") -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        if kind == "pair" and len(set(value)) == 1:  # stride = 4 rather than [4, 4]
            return str(value[0])
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def to_toml(variant: Variant) -> str:
    """The TOML text of ``variant``; ``parse(to_toml(v))`` gives back an equal variant."""
    sections: dict[str, Any] = {
        "variant": {"name": variant.name, "seed": variant.seed},
        "document": variant.document,
        "conv2d": variant.conv2d,
        "conv_general": variant.conv_general,
        "conv1d": variant.conv1d,
        "gated_rnn": variant.gated_rnn,
        "attention_rnn": variant.attention_rnn,
        "loss_curves": variant.loss_curves,
    }
    lines = [f"# Variant {variant.name}, written by derivations.variant.to_toml"]
    for name, obj in sections.items():
        lines.append(f"\n[{name}]")
        items = obj.items() if isinstance(obj, dict) else dataclasses.asdict(obj).items()
        for key, value in items:
            if value is None:
                continue  # TOML has no null: leave the key out and take the default
            value = tuple(value) if isinstance(value, list) else value
            lines.append(f"{key} = {_toml_value(value, SCHEMA[name][key].kind)}")
    lines.append("\n[questions]")
    lines += [f"{q.id} = {q.points}" for q in variant.questions]
    return "\n".join(lines) + "\n"
