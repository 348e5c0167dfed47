"""Stress test: many random valid variants, each derived and verified, a few compiled.

``python -m derivations stress --n N [--seed S] [--out DIR] [--compile K]`` draws ``N``
variants, alternately

* **per student**: the base preset (``fall2025``) with every group's ``vary`` applied,
  through :func:`derivations.student.draw` with a random id, a random seed and a
  throwaway course secret (made from ``--seed``; never a real one), and
* **from the specs**: a random preset with every group's keys drawn from their rules
  (:func:`derivations.params.specs`: ``Range``, ``Choice``; text keeps the preset's),
  within :data:`CAPS`, until the group's constraints hold, and a random ``[variant]`` seed,

then runs each through :func:`derivations.build.run` (``reuse=False``: derived and
verified for real), compiles ``K`` of those that passed, and reports the failures (each
variant written to ``DIR/failures/<name>.toml`` with the error as its first line), the time
per variant (median, max) and the range (min..max) of every numeric answer across the
variants (the ``answers.json`` ``questions`` table, read with
:func:`derivations.batch.numeric_answers`). ``DIR/summary.json`` holds the same. Exit
status 1 when any variant failed, else 0; 2 for bad arguments.

It also reports the slowest **verification** (derive + check of every group, 1.3's training
runs excluded) against the budget :data:`derivations.verify.BUDGET_SECONDS`, with the group
that took longest. ``--worst`` adds the largest variants the groups' ranges allow
(:data:`WORST`), each derived and verified in a fresh process (cold caches, as one
``make pdf``): the measurement behind the budget. Being over the budget is reported, never a
failure (a time is not a result; the key's bytes never depend on it).

Every draw comes from ``numpy.random.default_rng([seed, i])``, so a run is reproducible
and variant ``i`` does not depend on ``N``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import shutil
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import build as build_mod
from . import params as params_mod
from . import registry as registry_mod
from . import student
from . import variant as variant_mod
from .errors import VariantError
from .params import Choice, Range
from .registry import QuestionGroup, Registry
from .variant import Variant

DEFAULT_OUT = Path("build/stress")
BASE = "fall2025"  # the preset the per-student draws vary
ATTEMPTS = 200  # draws of one group's keys before the constraints are given up on

# Upper bounds on the keys the spec draws use, below the documented maxima, so that one
# variant derives and verifies in about a second (the documented maxima are reviewed
# separately: each group's Range and constraints). Keys not listed use their rule's range.
CAPS: Mapping[str, Mapping[str, float]] = {
    "conv2d": {"input": 64, "kernel": 9, "stride": 9, "padding": 4, "dilation": 4},
    "conv1d": {"channels": 8, "length": 40, "kernel": 6, "stride": 5, "dilation": 3, "padding": 4},
    "gated_rnn": {"steps": 16},
    "attention_rnn": {"n": 6},
    # 1.3 trains an LSTM for every new setting: small runs only (about a second each).
    "loss_curves": {"seq_len": 12, "n_distractors": 6, "hidden": 8, "steps": 60, "batch": 16, "seeds": 6,
                    "warmup_steps": 60, "eval_batch": 300},
}
# The share of spec draws that also draw 1.3's training settings (each a new, small training
# experiment); the others keep the preset's, whose runs are cached.
TRAIN_SHARE = 0.25
# Keys a spec draw leaves as the preset has them: the figure's seed (a new seed is a new figure
# to compile; the [variant] seed is drawn anyway) and the seed of 1.3's runs.
KEEP = {"gated_rnn": ("figure_seed",), "loss_curves": ("seed",)}
# The variants that cost most to verify within the groups' ranges (``--worst``), each the base preset
# with these groups' keys changed, every question asked. "largest": the largest sizes (finite
# differences along directions, no exact check at the variant's own sizes); "exact at own sizes":
# the largest sizes still checked exactly at their own sizes (each group's named limit: attention
# k n^2 <= EXACT_OWN_LIMIT, gated m (K - 1) <= EXACT_DL_NESTING_LIMIT, conv1d's EXACT_LIMIT).
# conv2d and conv_general have no size-dependent check worth a second case.
WORST: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "largest": {
        "conv2d": {"input": (4096, 4096), "kernel": (1, 1), "stride": (1, 1), "padding": (4096, 4096),
                   "dilation": (1, 1)},
        "conv_general": {"kernel_notation": "rect"},
        "conv1d": {"channels": 256, "length": 8192, "kernel": 16, "stride": 1, "dilation": 1, "padding": 16},
        "gated_rnn": {"n": 6, "m": 6, "steps": 32},
        "attention_rnn": {"k": 8, "n": 16},
    },
    "exact at own sizes": {
        "conv1d": {"channels": 4, "length": 28, "kernel": 4, "stride": 1, "dilation": 1, "padding": 0},
        "gated_rnn": {"n": 6, "m": 1, "steps": 2},
        "attention_rnn": {"k": 4, "n": 1},
    },
}


# --------------------------------------------------------------------------
# Drawing


def draw_value(rng: np.random.Generator, spec: params_mod.Spec, cap: float | None = None) -> Any:
    """A random value of one key allowed by its rule (numbers at most ``cap``), as its TOML kind.

    Integers are uniform over the range; a float range with a positive lower end is drawn
    log-uniformly (learning rates span decades); ``float?`` is left out (None) half the time.
    Text keys have no useful random value and keep their default (None is returned).
    """
    rule = spec.rule
    if isinstance(rule, Choice):
        return rule.options[int(rng.integers(len(rule.options)))]
    if not isinstance(rule, Range):
        return None
    lo, hi = rule.lo, rule.hi if cap is None else min(rule.hi, cap)
    if spec.kind == "float?" and rng.random() < 0.5:
        return None
    if spec.kind in ("float", "float?"):
        if lo > 0:
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        return float(rng.uniform(lo, hi))

    def one() -> int:
        return int(rng.integers(int(lo), int(hi) + 1))

    if spec.kind == "size2":
        return (one(), one())
    if spec.kind == "pair":
        a = one()
        return (a, a) if rng.random() < 0.5 else (a, one())
    return one()


def draw_params(rng: np.random.Generator, group: QuestionGroup, base: Any, caps: Mapping[str, float] | None = None,
                keep: tuple[str, ...] = ()) -> Any:
    """``base`` with every key of ``group`` drawn (:func:`draw_value`) until its constraints hold.

    Raises:
        ValueError: no draw in :data:`ATTEMPTS` satisfied the constraints.
    """
    caps = CAPS.get(group.name, {}) if caps is None else caps
    specs = [s for s in params_mod.specs(group.params) if s.name not in keep]
    for _ in range(ATTEMPTS):
        values = {}
        for spec in specs:
            value = draw_value(rng, spec, caps.get(spec.name))
            if value is not None or spec.kind == "float?":  # text keeps the base's; None leaves a float? out
                values[spec.name] = value
        candidate = dataclasses.replace(base, **values)
        if all(rule(candidate) is None for rule in group.constraints):
            return candidate
    raise ValueError(f"{group.name}: no draw satisfying its constraints in {ATTEMPTS} attempts")


def secret_for(seed: int) -> bytes:
    """A throwaway course secret for the run's per-student draws (never a real one, never written)."""
    return hashlib.sha256(f"derivations stress {seed}".encode()).hexdigest().encode()


def random_variant(index: int, seed: int = 0, registry: Registry | None = None) -> Variant:
    """Variant ``index`` of a stress run with ``seed``: even indices per student, odd ones from the specs.

    The result has passed :func:`derivations.variant.parse` (through its TOML text), so every
    rule of a hand-written file holds.
    """
    registry = registry or registry_mod.default()
    rng = np.random.default_rng([seed, index])
    name = f"stress-{seed}-{index:04d}"
    if index % 2 == 0:
        base = variant_mod.load(BASE, registry)
        drawn = student.draw(base, name, secret=secret_for(seed), seed=int(rng.integers(student.SEED_LIMIT)),
                             registry=registry)
        return variant_mod.parse(variant_mod.to_toml(dataclasses.replace(drawn, name=name), registry),
                                 f"{name}.toml", registry)
    presets = variant_mod.presets()
    base = variant_mod.load(presets[int(rng.integers(len(presets)))], registry)
    groups = {}
    for g in registry:
        if g.name == "loss_curves" and rng.random() >= TRAIN_SHARE:
            continue  # the preset's settings: their training runs are cached
        groups[g.name] = draw_params(rng, g, base.params[g.name], keep=KEEP.get(g.name, ()))
    drawn = variant_mod.replace(base, name=name, seed=int(rng.integers(student.SEED_LIMIT)), **groups)
    return variant_mod.parse(variant_mod.to_toml(drawn, registry), f"{name}.toml", registry)


def worst_variant(case: str, registry: Registry | None = None) -> Variant:
    """The base preset with the groups' keys of :data:`WORST` ``[case]``, every question asked, parsed
    (so every rule of a hand-written file holds)."""
    registry = registry or registry_mod.default()
    base = variant_mod.load(BASE, registry)
    groups = {name: dataclasses.replace(base.params[name], **keys) for name, keys in WORST[case].items()
              if name in base.params}
    name = "worst-" + case.replace(" ", "-")
    drawn = variant_mod.replace(base, name=name, **groups)
    text = variant_mod.to_toml(drawn, registry)
    return variant_mod.parse(text, f"{name}.toml", registry)


def _worst_in_process(case: str, out: str, cache_dir: str) -> Result:
    """One worst variant derived and verified in this (fresh) process; the outcome is left out."""
    registry = registry_mod.default()
    result = Result(-1, "worst-" + case.replace(" ", "-"), "worst")
    try:
        v = worst_variant(case, registry)
    except Exception as exc:  # noqa: BLE001 - reported like any failure
        result.error = "draw failed: " + _one_line(exc)
        return result
    result = verify_variant(v, result, Path(out), registry, Path(cache_dir))
    result.outcome = None  # it holds the timed registry's closures: not sent back
    return result


def run_worst(out: Path, cache_dir: Path, progress: Any = None) -> list[Result]:
    """Each :data:`WORST` variant derived and verified in a fresh process of its own (cold caches:
    the cost of one ``make pdf`` of it)."""
    import multiprocessing

    results = []
    ctx = multiprocessing.get_context("spawn")
    for case in WORST:
        with ctx.Pool(1) as pool:
            r = pool.apply(_worst_in_process, (case, str(out), str(cache_dir)))
        results.append(r)
        if progress is not None:
            print(f"  [worst] {r.name} verification {r.verify_seconds:.2f} s "
                  + ("ok" if r.passed else "FAILED: " + r.error), file=progress, flush=True)
    return results


# --------------------------------------------------------------------------
# Running


@dataclass
class Result:
    """One variant of the run: its name, kind, time, and either its numeric answers or its error."""

    index: int
    name: str
    kind: str  # "student" or "specs"
    seconds: float = 0.0
    answers: dict[str, float] = field(default_factory=dict)
    error: str = ""
    file: str = ""
    outcome: Any = None
    # derive + check per group (1.3's training and every presentation excluded), seconds
    verification: dict[str, float] = field(default_factory=dict)

    @property
    def verify_seconds(self) -> float:
        """The variant's verification: derive + check of every group."""
        return sum(self.verification.values())

    @property
    def passed(self) -> bool:
        return not self.error


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def clocked_registry(registry: Registry) -> tuple[Registry, dict[str, float]]:
    """``registry`` with each group's ``derive`` and ``check`` timed: the seconds add up, per group,
    in the returned dict (experiments and presentations are not timed)."""
    seconds: dict[str, float] = {}

    def wrap(name: str, fn: Any) -> Any:
        def step(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
        return step

    return Registry([dataclasses.replace(g, derive=wrap(g.name, g.derive), check=wrap(g.name, g.check))
                     for g in registry]), seconds


def run_one(index: int, seed: int, out: Path, registry: Registry, cache_dir: Path) -> Result:
    """Draw variant ``index``, derive and verify it; a failure writes the variant to ``out/failures``."""
    kind = "student" if index % 2 == 0 else "specs"
    result = Result(index, f"stress-{seed}-{index:04d}", kind)
    try:
        v = random_variant(index, seed, registry)
    except Exception as exc:  # noqa: BLE001 - a draw that fails is a failure of the run, reported
        result.error = "draw failed: " + _one_line(exc)
        return result
    return verify_variant(v, result, out, registry, cache_dir)


def verify_variant(v: Variant, result: Result, out: Path, registry: Registry, cache_dir: Path) -> Result:
    """Derive and verify ``v`` for real (no stored outcome) into ``result``, timing each group's
    derive + check; a failure writes the variant to ``out/failures``."""
    from .batch import numeric_answers

    t0 = time.perf_counter()
    clocked, result.verification = clocked_registry(registry)
    try:
        outcome = build_mod.run(v, clocked, cache_dir=cache_dir, reuse=False)
        result.answers = numeric_answers(build_mod.answers(outcome))
        result.outcome = outcome
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its variant
        result.error = _one_line(exc)
        if type(exc).__module__ != "derivations.errors":  # not one of ours: say where it was raised
            where = traceback.extract_tb(exc.__traceback__)[-1]
            result.error += f" (at {Path(where.filename).name}:{where.lineno})"
    result.seconds = time.perf_counter() - t0
    if result.error:
        folder = out / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{result.name}.toml"
        path.write_text(f"# stress failure: {result.error}\n" + variant_mod.to_toml(v, registry), "utf-8")
        result.file = str(path)
    return result


def compile_some(results: list[Result], count: int, out: Path, cache_dir: Path) -> list[tuple[str, str]]:
    """Compile ``count`` of the passing variants (spread over the run) into ``out/compiled/<name>``.

    Returns (name, "ok" or the error) per compiled variant.
    """
    passed = [r for r in results if r.passed and r.outcome is not None]
    if count <= 0 or not passed:
        return []
    at = sorted({round(i * (len(passed) - 1) / max(1, count - 1)) for i in range(min(count, len(passed)))})
    done = []
    for r in (passed[i] for i in at):
        try:
            build_mod.write(r.outcome, out / "compiled" / r.name, key="staff", cache_dir=cache_dir)
            done.append((r.name, "ok"))
        except Exception as exc:  # noqa: BLE001 - reported as a failure of that variant
            r.error = "compile failed: " + _one_line(exc)
            done.append((r.name, r.error))
    return done


def ranges(results: list[Result], registry: Registry | None = None) -> dict[str, dict[str, Any]]:
    """Each numeric answer's min, max and count over the passing variants, in catalogue order."""
    from .batch import column_key

    seen: dict[str, list[float]] = {}
    for r in results:
        for key, value in r.answers.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                seen.setdefault(key, []).append(value)
    return {k: {"min": min(v), "max": max(v), "count": len(v)}
            for k, v in sorted(seen.items(), key=lambda kv: column_key(kv[0], registry))}


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def report(results: list[Result], compiled: list[tuple[str, str]], seed: int, out: Path,
           registry: Registry | None = None) -> tuple[str, dict[str, Any]]:
    """The printed summary and the same as JSON data."""
    failed = [r for r in results if not r.passed]
    timed = [r for r in results if r.seconds > 0]
    seconds = [r.seconds for r in timed]
    slowest = max(timed, key=lambda r: r.seconds) if timed else None
    table = ranges(results, registry)
    kinds = {k: sum(r.kind == k for r in results) for k in ("student", "specs")}
    worst = sum(r.kind == "worst" for r in results)
    if worst:
        kinds["worst"] = worst
    lines = [f"stress: {len(results)} variants ({kinds['student']} drawn per student from {BASE}, "
             f"{kinds['specs']} from the parameter specs" + (f", {worst} largest allowed (--worst)" if worst else "")
             + f"), seed {seed}: {len(results) - len(failed)} passed, {len(failed)} failed"]
    if seconds:
        lines.append(f"time per variant (derive + verify): median {statistics.median(seconds):.2f} s, "
                     f"max {max(seconds):.2f} s ({slowest.name}), total {sum(seconds):.1f} s")
    budget = verification_budget(results)
    if budget["slowest"] is not None:
        lines.append(budget_line(budget))
    if compiled:
        ok = sum(status == "ok" for _, status in compiled)
        lines.append(f"compiled {len(compiled)}: {ok} ok" + (f", {len(compiled) - ok} failed" if ok < len(compiled)
                                                              else "") + f" (in {out / 'compiled'})")
    if table:
        width = max(len(k) for k in table)
        lines.append(f"numeric answers across the variants (min..max, variants asked), {len(table)} columns:")
        lines += [f"  {k:<{width}}  {_number(v['min'])}..{_number(v['max'])}  ({v['count']})" for k, v in table.items()]
    if failed:
        lines.append("failures:")
        lines += [f"  {r.name} ({r.kind}): {r.error}" + (f"\n    variant: {r.file}" if r.file else "") for r in failed]
    data = {
        "seed": seed, "variants": len(results), "passed": len(results) - len(failed), "failed": len(failed),
        "kinds": kinds,
        "seconds": {"median": statistics.median(seconds) if seconds else None, "max": max(seconds, default=None),
                    "slowest": slowest.name if slowest else None, "total": sum(seconds)},
        "verification": budget,
        "compiled": [{"name": n, "status": s} for n, s in compiled],
        "ranges": table,
        "failures": [{"name": r.name, "kind": r.kind, "error": r.error, "file": r.file} for r in failed],
        "per_variant": [{"name": r.name, "kind": r.kind, "seconds": round(r.seconds, 3), "passed": r.passed,
                         "verification": {g: round(t, 3) for g, t in r.verification.items()}}
                        for r in results],
    }
    return "\n".join(lines), data


def verification_budget(results: list[Result], budget: float | None = None) -> dict[str, Any]:
    """The slowest verification (derive + check) of the run against :data:`derivations.verify.BUDGET_SECONDS`,
    and each group's slowest, as data."""
    from . import verify

    budget = verify.BUDGET_SECONDS if budget is None else budget
    timed_results = [r for r in results if r.verification]
    slowest = max(timed_results, key=lambda r: r.verify_seconds, default=None)
    groups: dict[str, dict[str, Any]] = {}
    for r in timed_results:
        for g, t in r.verification.items():
            if g not in groups or t > groups[g]["seconds"]:
                groups[g] = {"seconds": round(t, 3), "variant": r.name}
    return {
        "budget_seconds": budget,
        "slowest": None if slowest is None else slowest.name,
        "seconds": None if slowest is None else round(slowest.verify_seconds, 3),
        "within_budget": None if slowest is None else slowest.verify_seconds <= budget,
        "by_group": None if slowest is None else {g: round(t, 3) for g, t in slowest.verification.items()},
        "slowest_per_group": groups,
    }


def budget_line(budget: dict[str, Any]) -> str:
    """One line: the slowest verification, its largest groups, and whether it is within the budget."""
    top = sorted(budget["by_group"].items(), key=lambda kv: -kv[1])[:3]
    verdict = "within" if budget["within_budget"] else "OVER"
    return (f"slowest verification (derive + check, 1.3's training excluded): {budget['seconds']:.2f} s "
            f"({budget['slowest']}: " + ", ".join(f"{g} {t:.2f} s" for g, t in top) + f"), {verdict} the "
            f"budget of {budget['budget_seconds']:g} s (verify.BUDGET_SECONDS)")


def stress(n: int, seed: int = 0, out: Path = DEFAULT_OUT, compile_count: int = 0,
           registry: Registry | None = None, cache_dir: Path | None = None, progress: Any = None,
           ) -> tuple[list[Result], list[tuple[str, str]]]:
    """Run ``n`` variants (see the module docstring); returns the results and the compiled ones."""
    registry = registry or registry_mod.default()
    cache_dir = build_mod.CACHE_DIR if cache_dir is None else cache_dir
    old = out / "failures"
    if old.is_dir():  # this run's failures only (only the files a run writes there)
        for path in old.glob("stress-*.toml"):
            path.unlink()
    results = []
    for i in range(n):
        results.append(run_one(i, seed, out, registry, cache_dir))
        if progress is not None:
            r = results[-1]
            print(f"  [{i + 1}/{n}] {r.name} ({r.kind}) {r.seconds:.2f} s " + ("ok" if r.passed else "FAILED: " + r.error),
                  file=progress, flush=True)
    compiled = compile_some(results, compile_count, out, cache_dir) if compile_count else []
    return results, compiled


def add_command(sub: Any) -> None:
    """The ``stress`` subcommand of ``python -m derivations``."""
    s = sub.add_parser("stress", help="derive and verify N random valid variants (per student and from the "
                                      "parameter specs), compile K of them, report failures, timings and answer ranges")
    s.add_argument("--n", type=int, required=True, help="number of variants")
    s.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    s.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"folder for failing variants and summary.json (default: {DEFAULT_OUT})")
    s.add_argument("--compile", type=int, default=0, metavar="K", help="compile K of the passing variants (default: 0)")
    s.add_argument("--quiet", action="store_true", help="no line per variant on stderr")
    s.add_argument("--worst", action="store_true",
                   help="also derive and verify the largest variants the ranges allow, each in a fresh process, "
                        "and report them against the verification budget (with --n 0: only those)")


def main(args: argparse.Namespace) -> int:
    """Run the stress test from parsed arguments: 0 all passed, 1 a variant failed, 2 bad arguments."""
    worst = getattr(args, "worst", False)
    if args.n < (0 if worst else 1):
        raise VariantError("<arguments>", "--n", args.n, "allowed: at least 1 (0 with --worst)")
    if not 0 <= args.compile <= args.n:
        raise VariantError("<arguments>", "--compile", args.compile, f"allowed: 0..{args.n} (--n)")
    if not 0 <= args.seed < student.SEED_LIMIT:
        raise VariantError("<arguments>", "--seed", args.seed, f"allowed: 0..{student.SEED_LIMIT - 1}")
    build_mod.check_output_folder(args.out, "staff")
    if args.compile and shutil.which("pdflatex") is None:
        print("warning: pdflatex is missing; nothing is compiled", file=sys.stderr)
        args.compile = 0
    results, compiled = stress(args.n, args.seed, args.out, args.compile,
                               progress=None if args.quiet else sys.stderr)
    if worst:
        results += run_worst(args.out, build_mod.CACHE_DIR, progress=None if args.quiet else sys.stderr)
    text, data = report(results, compiled, args.seed, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    print(text)
    return 1 if data["failed"] else 0
