"""Property-based tests (Hypothesis) over the whole variation space.

* every valid variant, built from the parameter specs (``params.specs``: Range, Choice,
  Text) and the groups' constraints, derives and verifies (``build.run``, ``reuse=False``),
  and one of them compiles;
* every invalid one (a key out of range, of the wrong type, unknown or missing) is refused
  with exit status 2 and one line naming the key;
* the random instances of the numeric checks are never degenerate (saturated gates, an
  all-zero gradient, a one-hot softmax): such draws are detected and drawn again;
* the documented limits refuse, before any work, what would take minutes or gigabytes;
* ``python -m derivations stress`` runs (N = 3).

Sizes are capped (``derivations.stress.CAPS``, smaller still for the 1.3 training runs) so
an example takes about a second; the derivations are cached per structure. Every test is
derandomized (Hypothesis' examples are a function of the test), so CI sees the same examples.
Those that need no derivation (``on_spare_core``) run, unchanged, in the suite's worker
process beside the other tests (tests/conftest.py); those that derive run here, where the
session's shared builds have already made SymPy's and the groups' caches warm.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivations import build, cli, params as params_mod, registry, stress, variant
from derivations.errors import VariantError
from derivations.params import Choice, Range, Text

from conftest import on_spare_core

REGISTRY = registry.default()
PRESETS = {name: variant.load(name) for name in variant.presets()}
SHARED_CACHE = Path(os.environ.get("HW2_CACHE", build.CACHE_DIR))  # where the presets' training runs are cached

# 1.3 trains an LSTM for every new setting: the smallest runs only (a fraction of a second each).
LOSS_CAPS = {"seq_len": 10, "n_distractors": 4, "hidden": 4, "steps": 25, "batch": 4, "seeds": 5,
             "warmup_steps": 25, "eval_batch": 50}


def fast(examples: int) -> settings:
    """Derandomized settings (the same examples on every run) without a deadline per example."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def group(name: str):
    return REGISTRY.group(name)


# --------------------------------------------------------------------------
# Strategies: valid variants from the specs


def value_of(spec: params_mod.Spec, cap: float | None = None) -> st.SearchStrategy:
    """The values a key's rule allows (numbers at most ``cap``), in the key's TOML kind."""
    rule = spec.rule
    if isinstance(rule, Choice):
        return st.sampled_from(rule.options)
    if isinstance(rule, Text) or rule is None:
        return st.just(spec.default)
    lo, hi = rule.lo, rule.hi if cap is None else min(rule.hi, cap)
    if spec.kind in ("float", "float?"):
        number = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        return st.one_of(st.none(), number) if spec.kind == "float?" else number
    number = st.integers(int(lo), int(hi))
    if spec.kind == "size2":
        return st.tuples(number, number)
    if spec.kind == "pair":
        return st.one_of(number.map(lambda a: (a, a)), st.tuples(number, number))
    return number


def params_of(name: str, base, caps: dict | None = None, keep: tuple[str, ...] = ()) -> st.SearchStrategy:
    """A group's parameter object: every key from its rule (within ``caps``), the constraints holding."""
    g = group(name)
    caps = stress.CAPS.get(name, {}) if caps is None else caps
    keys = {s.name: value_of(s, caps.get(s.name)) for s in params_mod.specs(g.params) if s.name not in keep}
    return (st.fixed_dictionaries(keys).map(lambda values: dataclasses.replace(base, **values))
            .filter(lambda p: all(rule(p) is None for rule in g.constraints)))


@st.composite
def valid_variants(draw, train: bool = True) -> variant.Variant:
    """A preset with every group's keys drawn from their rules (1.3's training settings only sometimes)."""
    base = PRESETS[draw(st.sampled_from(sorted(PRESETS)))]
    groups = {}
    for g in REGISTRY:
        if g.name == "loss_curves" and not (train and draw(st.booleans())):
            continue  # the preset's settings: their runs are cached
        caps = LOSS_CAPS if g.name == "loss_curves" else None
        groups[g.name] = draw(params_of(g.name, base.params[g.name], caps, stress.KEEP.get(g.name, ())))
    v = variant.replace(base, name="prop", seed=draw(st.integers(0, 2**32 - 1)), **groups)
    # Through the text: the drawn variant must pass every rule of a hand-written file.
    return variant.parse(variant.to_toml(v), "prop.toml")


def cache_for(v: variant.Variant, scratch: Path) -> Path:
    """The shared cache when 1.3 keeps a preset's settings (cached runs), else a scratch one."""
    same = any(v.loss_curves == p.loss_curves for p in PRESETS.values())
    return SHARED_CACHE if same else scratch


@fast(2)
@given(valid_variants())
def test_every_valid_variant_derives_and_verifies(v):
    with tempfile.TemporaryDirectory() as scratch:
        outcome = build.run(v, cache_dir=cache_for(v, Path(scratch)), reuse=False)
        checks = outcome.checks
        assert checks and all(c.passed for c in checks)
        table = build.answers(outcome)["questions"]
    assert list(table) == [q.id for q in v.questions]


@pytest.mark.latex
@fast(1)
@given(valid_variants(train=False))
def test_a_sampled_valid_variant_compiles(v):
    if shutil.which("pdflatex") is None:
        pytest.skip("TeX Live (pdflatex) is not installed")
    outcome = build.run(v, cache_dir=SHARED_CACHE, reuse=False)
    with tempfile.TemporaryDirectory() as out:
        report = build.write(outcome, Path(out) / "key", cache_dir=SHARED_CACHE)
        assert report.pages > 0 and (Path(out) / "key" / "hw2_theory.pdf").read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------
# Invalid variants: one key mutated


def toml_text(raw: dict) -> str:
    """A TOML file of the variant tables (scalars, lists, inline tables: all a variant holds)."""
    def value(x) -> str:
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, str):  # a basic string: quotes, backslashes and control characters escaped
            return '"' + "".join(f"\\u{ord(ch):04X}" if ord(ch) < 32 or ord(ch) == 127 or ch in '"\\' else ch
                                 for ch in x) + '"'
        if isinstance(x, float):
            return repr(x)
        if isinstance(x, (list, tuple)):
            return "[" + ", ".join(value(i) for i in x) + "]"
        if isinstance(x, dict):
            return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in x.items()) + " }"
        return str(x)

    lines = []
    for table, keys in raw.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {value(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def raw_tables(v: variant.Variant) -> dict:
    import tomllib

    return tomllib.loads(variant.to_toml(v))


# Every table with keys from param(): (table, parameter dataclass).
TABLES = [("variant", variant.Meta), ("document", variant.Document)] + [(g.name, g.params) for g in REGISTRY]


def wrong_type(spec: params_mod.Spec) -> st.SearchStrategy:
    if spec.kind == "str":
        return st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))
    if spec.kind in ("float", "float?"):
        return st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.floats(0, 1), max_size=2))
    if spec.kind == "size2":
        return st.one_of(st.integers(1, 9), st.lists(st.integers(1, 9), max_size=1), st.text(max_size=3),
                         st.lists(st.integers(1, 9), min_size=3, max_size=4))
    if spec.kind == "pair":
        return st.one_of(st.text(max_size=3), st.floats(0.5, 9.5).filter(lambda x: x != int(x)),
                         st.lists(st.integers(1, 9), min_size=3, max_size=4), st.booleans())
    return st.one_of(st.text(max_size=3), st.floats(0.5, 9.5).filter(lambda x: x != int(x)), st.booleans())


def out_of_rule(spec: params_mod.Spec) -> st.SearchStrategy | None:
    rule = spec.rule
    if isinstance(rule, Range):
        ints = spec.kind not in ("float", "float?")
        above = (st.integers(int(rule.hi) + 1, int(rule.hi) + 10**6) if ints
                 else st.floats(rule.hi * 1.01 + 1e-9, rule.hi * 1000 + 1, allow_nan=False))
        below = (st.integers(int(rule.lo) - 10**6, int(rule.lo) - 1) if ints
                 else st.floats(-1000.0, rule.lo - max(abs(rule.lo) * 0.01, 1e-9), allow_nan=False))
        bad = st.one_of(above, below)
        if spec.kind == "size2":
            return st.tuples(bad, st.just(int(rule.lo))).map(list)
        if spec.kind == "pair":
            return st.one_of(bad, st.tuples(st.just(int(rule.lo)), bad).map(list))
        return bad
    if isinstance(rule, Choice):
        return st.text(min_size=1, max_size=8).filter(lambda s: s not in rule.options)
    if isinstance(rule, Text):
        return st.one_of(st.text(min_size=rule.limit + 1, max_size=rule.limit + 5, alphabet="ab"),
                         st.sampled_from(["a\u0007b", "tab\there", "\x7f"]))
    return None


@st.composite
def invalid_variants(draw) -> tuple[str, str]:
    """(TOML text, the key its error must name): a valid variant with one key made invalid."""
    v = draw(valid_variants(train=False))
    raw = raw_tables(v)
    table, params_type = draw(st.sampled_from(TABLES))
    specs = params_mod.specs(params_type)
    kinds = ["type", "unknown"] + (["rule"] if any(out_of_rule(s) is not None for s in specs) else []) \
        + (["missing"] if any(s.required for s in specs) else [])
    kind = draw(st.sampled_from(kinds))
    keys = raw.setdefault(table, {})
    if kind == "unknown":
        key = draw(st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True).filter(
            lambda k: k not in {s.name for s in specs}))
        keys[key] = draw(st.integers(0, 9))
    elif kind == "missing":
        key = draw(st.sampled_from([s.name for s in specs if s.required]))
        del keys[key]
    else:
        spec = draw(st.sampled_from([s for s in specs if kind == "type" or out_of_rule(s) is not None]))
        key = spec.name
        keys[key] = draw(wrong_type(spec) if kind == "type" else out_of_rule(spec))
    return toml_text(raw), f"{table}.{key}"


@on_spare_core
@fast(80)
@given(invalid_variants())
def test_every_invalid_variant_is_refused_naming_the_key(case):
    text, key = case
    with pytest.raises(VariantError) as info:
        variant.parse(text, "bad.toml")
    assert info.value.key == key
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"bad.toml: {key} = ")


@on_spare_core
@fast(12)
@given(invalid_variants())
def test_the_cli_refuses_an_invalid_variant_with_exit_2_and_one_line(case):
    text, key = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bad.toml"
        path.write_text(text, "utf-8")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = cli.main(["check", "--variant", str(path)])
    lines = err.getvalue().splitlines()
    assert status == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: {path}: {key} = ")


@fast(10)
@given(valid_variants(train=False), st.sampled_from(["[conv3d]\nx = 1\n", "[questions]\n"]))
def test_unknown_sections_and_questions_are_refused(v, extra):
    text = variant.to_toml(v)
    if extra.startswith("[questions]"):
        text = text.replace("[questions]  # the asked sub-questions and their points, in order\n",
                            "[questions]\nconv9d_output = 1\n")
        key = "questions.conv9d_output"
    else:
        text += extra
        key = "[conv3d]"
    with pytest.raises(VariantError) as info:
        variant.parse(text, "bad.toml")
    assert info.value.key == key


# --------------------------------------------------------------------------
# Degenerate instances are detected and drawn again

gated_numeric = importlib.import_module("derivations.groups.gated_rnn.numeric")
gated_derive = importlib.import_module("derivations.groups.gated_rnn.derive")
attn_numeric = importlib.import_module("derivations.groups.attention_rnn.numeric")
attn_check = importlib.import_module("derivations.groups.attention_rnn.check")
attn_derive = importlib.import_module("derivations.groups.attention_rnn.derive")
GATED_MAX = params_mod.specs(group("gated_rnn").params)[0].rule.hi


@fast(60)
@given(st.integers(1, GATED_MAX), st.integers(1, GATED_MAX), st.integers(2, 32), st.integers(0, 2**32 - 1))
def test_the_gated_instance_is_never_saturated(n, m, steps, seed):
    p = dataclasses.replace(group("gated_rnn").params(), n=n, m=m, steps=steps)
    inst = gated_numeric.instance(p, seed)
    assert gated_numeric.degeneracy(inst["x"], inst["Wc"], inst["Wh"], inst["Wx"]) is None
    _, cs = gated_numeric.forward(inst["x"], inst["Wc"], inst["Wh"], inst["Wx"])
    c = cs[gated_numeric.checked_step(steps) - 1]
    assert np.max(c * (1 - c)) > gated_numeric.SATURATED * (1 - gated_numeric.SATURATED)


def test_the_gated_checked_step_is_the_derivations():
    for steps in range(2, 33):
        d = gated_derive.derive(dataclasses.replace(group("gated_rnn").params(), steps=steps))
        assert d.step == gated_numeric.checked_step(steps)


def test_a_saturated_gated_draw_is_redrawn_and_the_table_says_so():
    """n = 6, m = 1: the one gate saturates in about half of the draws; the check says it was drawn again."""
    p = dataclasses.replace(group("gated_rnn").params(), n=6, m=1, steps=2)
    seed = next(s for s in range(100) if gated_numeric.instance(p, s)["redrawn"])
    inst = gated_numeric.instance(p, seed)
    first = gated_numeric.verify_mod.random_instance(np.random.default_rng(seed), (2, 6), (1, 6), (1, 1), (1, 6),
                                                     (2, 1))
    assert gated_numeric.degeneracy(*first[:4]) == "saturated gates"  # the first draw was the degenerate one
    d = gated_derive.derive(p)
    checks = group("gated_rnn").check(d, None, seed).checks
    numeric = [c for c in checks if c.method == "finite differences"]
    assert numeric and all(c.passed and "redrawn" in c.detail and "saturated gates" in c.detail for c in numeric)


def test_degeneracy_names_closed_gates():
    xs = np.ones((3, 2))
    Wc = np.full((2, 2), 20.0)  # every gate open to c ~ 1 at every step: W_x x[t] never enters h[t]
    assert gated_numeric.degeneracy(xs, Wc, np.zeros((2, 2)), np.ones((2, 2))) in (
        "saturated gates", "closed gates (all-zero dl/dW_x)")
    assert gated_numeric.degeneracy(np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((2, 2)), np.ones((2, 2))) is None


def test_one_hot_softmax_is_detected():
    assert attn_numeric.one_hot([{"a": np.array([1 - 1e-4, 1e-4])}])
    assert not attn_numeric.one_hot([{"a": np.array([0.9, 0.1])}])


@fast(2)
@given(st.integers(1, 8), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_attention_checks_never_run_on_a_one_hot_softmax(k, n, seed):
    """Every step the checks run forward is watched; none may have a one-hot softmax."""
    p = dataclasses.replace(group("attention_rnn").params(), k=k, n=n)
    d = attn_derive.derive(p)
    seen: list[float] = []
    real = attn_numeric.reference_step

    def watched(*args):
        out = real(*args)
        seen.append(float(np.max(out["a"])))
        return out

    with pytest.MonkeyPatch.context() as mp:
        for module in (attn_numeric, attn_check, importlib.import_module("derivations.groups.attention_rnn.loss_prev_check")):
            mp.setattr(module, "reference_step", watched)
        # unroll() and run() read the module's reference_step; the finite differences perturb h
        # by 1e-6, which cannot make a step one-hot.
        checks = group("attention_rnn").check(d, None, seed).checks
    assert all(c.passed for c in checks)
    redrawn = any("redrawn" in c.detail for c in checks)
    assert redrawn or max(seen) <= 1 - attn_numeric.ONE_HOT


def test_a_one_hot_attention_sequence_is_redrawn_and_the_table_says_so():
    p = dataclasses.replace(group("attention_rnn").params(), k=1, n=1)
    d = attn_derive.derive(p)
    for seed in range(200):
        checks = group("attention_rnn").check(d, None, seed).checks
        noted = [c for c in checks if "redrawn" in c.detail]
        if noted:
            assert all(c.passed and "one-hot softmax" in c.detail for c in noted)
            return
    pytest.fail("no seed in 0..199 needed a redraw at k = 1, n = 1")


# --------------------------------------------------------------------------
# Limits: refused before any work

loss_group = importlib.import_module("derivations.groups.loss_curves")


def test_the_default_experiment_is_one_unit_of_work():
    assert loss_group.work(loss_group.LossCurves()) == pytest.approx(1.0)


@on_spare_core
@fast(60)
@given(st.fixed_dictionaries({s.name: value_of(s) for s in params_mod.specs(loss_group.LossCurves)
                              if s.name in loss_group._SCALED}))
def test_loss_settings_beyond_the_budget_are_refused_naming_a_knob(values):
    """Any sizes in the keys' full ranges: accepted within the budget, else refused naming a knob."""
    base = variant.load("fall2025")
    text = variant.to_toml(variant.replace(base, loss_curves=dataclasses.replace(base.loss_curves, **values)))
    p = dataclasses.replace(base.loss_curves, **values)
    forward = max(p.batch, p.eval_batch) * p.seq_len * p.hidden
    over = loss_group.work(p) > loss_group.WORK_BUDGET or forward > loss_group.FORWARD_LIMIT
    try:
        variant.parse(text, "v.toml")
    except VariantError as exc:
        assert over and exc.key.startswith("loss_curves.") and exc.key.split(".")[1] in loss_group._SCALED
        assert "\n" not in str(exc)
    else:
        assert not over


def test_the_maximal_gated_and_attention_variants_are_valid_and_beyond_is_refused():
    base = PRESETS["fall2025"]
    for name in ("gated_rnn", "attention_rnn"):
        g = group(name)
        top = {s.name: s.rule.hi for s in params_mod.specs(g.params) if isinstance(s.rule, Range) and s.name != "figure_seed"}
        v = variant.parse(variant.to_toml(variant.replace(base, **{name: dataclasses.replace(base.params[name], **top)})),
                          "v.toml")
        assert all(getattr(v.params[name], k) == hi for k, hi in top.items())
        for key, hi in top.items():
            with pytest.raises(VariantError) as info:
                params_mod.parse_table("v.toml", name, g.params, {key: hi + 1})
            assert info.value.key == f"{name}.{key}"


def test_the_maximal_gated_variant_verifies():
    # Its time is measured by `stress --worst` against verify.BUDGET_SECONDS, not here.
    g = group("gated_rnn")
    top = dataclasses.replace(g.params(), n=GATED_MAX, m=GATED_MAX, steps=32)
    for seed in (0, 1, 2):
        assert all(c.passed for c in g.check(g.derive(top), None, seed).checks)


# --------------------------------------------------------------------------
# The stress command


def test_stress_runs_two_variants(tmp_path):
    """N = 2 (one per-student draw, one from the specs); compiling is covered by the sampled-variant test."""
    results, compiled = stress.stress(2, seed=0, out=tmp_path, compile_count=0, cache_dir=SHARED_CACHE)
    assert [r.kind for r in results] == ["student", "specs"]
    assert all(r.passed for r in results), [r.error for r in results]
    assert compiled == []
    text, data = stress.report(results, compiled, 0, tmp_path)
    assert data["passed"] == 2 and data["failed"] == 0 and "2 passed, 0 failed" in text
    assert data["ranges"]["conv2d_output:conv2d.output_shape[0]"]["count"] == 2
    assert not (tmp_path / "failures").exists()


def test_stress_variants_are_reproducible_and_valid():
    for i in range(6):
        a, b = stress.random_variant(i, 7), stress.random_variant(i, 7)
        assert variant.to_toml(a) == variant.to_toml(b)
        assert variant.parse(variant.to_toml(a), a.source) == a
    assert variant.to_toml(stress.random_variant(1, 7)) != variant.to_toml(stress.random_variant(1, 8))


def test_a_failing_stress_variant_is_written_with_its_error(tmp_path, monkeypatch):
    from derivations.errors import VerificationError

    def broken(*args, **kwargs):
        raise VerificationError("verification failed for conv1d.df_dx (finite differences: error 1 >= 1e-06)")

    monkeypatch.setattr(build, "run", broken)
    result = stress.run_one(0, 0, tmp_path, REGISTRY, SHARED_CACHE)
    assert not result.passed and "conv1d.df_dx" in result.error
    text = Path(result.file).read_text("utf-8")
    assert text.startswith("# stress failure: VerificationError: verification failed for conv1d.df_dx")
    assert variant.parse(text, "again.toml").name == result.name


@pytest.mark.parametrize("args", [["--n", "0"], ["--n", "2", "--compile", "3"], ["--n", "1", "--seed", "-1"]])
def test_stress_refuses_bad_arguments_with_exit_2(args, tmp_path):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(["stress", *args, "--out", str(tmp_path)])
    assert status == 2 and len(err.getvalue().splitlines()) == 1
