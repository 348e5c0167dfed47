"""Tests for 1.2.1, the gated recurrent network (derivations.groups.gated_rnn).

Every closed form is compared with an implementation written here: explicit
loops for the forward pass, a scalar reverse-mode backward pass, and central
differences coded in this file. Deliberately wrong formulas must be caught,
each by the one check that has to fail (mutation tests run only that check).
"""
from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from importlib import resources

import numpy as np
import pytest
import sympy as sp

from derivations import build
from derivations import params as params_mod
from derivations import verify as verify_mod
from derivations.errors import VariantError, VerificationError
from derivations.groups.gated_rnn import GROUP, GatedRnn
from derivations.groups.gated_rnn import check as C
from derivations.groups.gated_rnn import exact as E
from derivations.groups.gated_rnn import forms as F
from derivations.groups.gated_rnn import numeric as N
from derivations.groups.gated_rnn.derive import derive
from derivations.groups.gated_rnn.experiment import FIG_QUOTE, FIG_STEPS

PRESETS = ("fall2025", "fall2024")
OTHER = GatedRnn(n=2, m=5, steps=4)  # a non-square cell and a short sequence


def preset(name: str) -> tuple[dict, GatedRnn, int]:
    """The preset's TOML, its [gated_rnn] parameters and its seed (read without the registry)."""
    text = resources.files("derivations.presets").joinpath(f"{name}.toml").read_text("utf-8")
    data = tomllib.loads(text)
    prm = params_mod.parse_table(name, "gated_rnn", GatedRnn, data.get("gated_rnn", {}))
    return data, prm, data["variant"]["seed"]


# --------------------------------------------------------------------------
# Independent implementations (loops, written for the tests)


def sig(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def loop_forward(xs, Wc, Wh, Wx):
    """Forward pass with explicit loops; returns h[0..K] and c[1..K] as lists of lists."""
    K, n = xs.shape
    m = Wh.shape[0]
    hs = [[0.0] * m]
    cs = []
    for t in range(K):
        hp = hs[-1]
        c = [sig(sum(Wc[i, k] * xs[t, k] for k in range(n)) + sum(Wh[i, k] * hp[k] for k in range(m)))
             for i in range(m)]
        v = [sum(Wx[i, k] * xs[t, k] for k in range(n)) for i in range(m)]
        hs.append([c[i] * hp[i] + (1 - c[i]) * v[i] for i in range(m)])
        cs.append(c)
    return hs, cs


def loop_loss(xs, Wc, Wh, Wx, us) -> float:
    hs, _ = loop_forward(xs, Wc, Wh, Wx)
    return sum(us[t, i] * hs[t + 1][i] for t in range(xs.shape[0]) for i in range(Wh.shape[0]))


def loop_backprop_dWx(xs, Wc, Wh, Wx, us) -> np.ndarray:
    """dl/dW_x by scalar reverse mode through the loop forward pass (l = sum_t u[t].h[t])."""
    K, n = xs.shape
    m = Wh.shape[0]
    hs, cs = loop_forward(xs, Wc, Wh, Wx)
    dWx = np.zeros((m, n))
    carry = [0.0] * m  # dl/dh[t] arriving from step t+1
    for t in range(K, 0, -1):
        gh = [us[t - 1, i] + carry[i] for i in range(m)]  # total dl/dh[t]
        hp, c, x = hs[t - 1], cs[t - 1], xs[t - 1]
        v = [sum(Wx[i, k] * x[k] for k in range(n)) for i in range(m)]
        gz = [gh[i] * (hp[i] - v[i]) * c[i] * (1 - c[i]) for i in range(m)]  # through the gate
        for i in range(m):
            for k in range(n):
                dWx[i, k] += gh[i] * (1 - c[i]) * x[k]
        carry = [gh[j] * c[j] + sum(Wh[i, j] * gz[i] for i in range(m)) for j in range(m)]
    return dWx


def central(f, x0: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences written here: shape f(x).shape + x.shape."""
    x0 = np.asarray(x0, float)
    out = np.zeros(np.shape(f(x0)) + x0.shape)
    for idx in np.ndindex(*x0.shape):
        e = np.zeros_like(x0)
        e[idx] = h
        out[(...,) + idx] = (np.asarray(f(x0 + e)) - np.asarray(f(x0 - e))) / (2 * h)
    return out


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def random_case(params: GatedRnn, seed: int):
    rng = np.random.default_rng(seed)
    n, m, K = params.n, params.m, params.steps
    return (rng.standard_normal((K, n)), rng.standard_normal((m, n)), rng.standard_normal((m, m)),
            rng.standard_normal((m, n)), rng.standard_normal((K, m)))


def cases():
    return [(name, *preset(name)[1:]) for name in PRESETS] + [("other", OTHER, 7)]


@pytest.fixture(scope="module")
def derivation():
    """The derivation does not depend on the parameters' sizes except through ``params``."""
    return derive(GatedRnn())


@pytest.fixture(scope="module")
def results(outcomes):
    """This group's experiment -> derive -> check -> present of each preset, from the session's run."""
    return {name: outcomes[name].groups["gated_rnn"] for name in PRESETS}


# --------------------------------------------------------------------------
# Parameters


def test_params_are_data_with_rules_and_docs():
    assert GatedRnn() == GatedRnn(n=3, m=4, steps=6)
    assert all(s.doc for s in params_mod.specs(GatedRnn))
    assert GROUP.optional and GROUP.parent == "rnn" and GROUP.section == "gated_rnn"
    assert [q.id for q in GROUP.questions] == ["gated_diagram", "gated_c_dim", "gated_jacobians", "gated_dl_dWx",
                                               "gated_vanishing"]
    with pytest.raises(VariantError, match="gated_rnn.steps"):
        params_mod.parse_table("v.toml", "gated_rnn", GatedRnn, {"steps": 1})
    with pytest.raises(VariantError, match="gated_rnn.m"):
        params_mod.parse_table("v.toml", "gated_rnn", GatedRnn, {"m": 17})


def test_templates_are_in_the_group_folder():
    root = GROUP.template_dir
    for q in GROUP.questions:
        assert (root / "questions" / f"{q.id}.tex.j2").is_file()
    assert (root / "sections" / "gated_rnn.tex.j2").is_file()
    assert (root / "diagrams" / "gated_rnn_cell.tex.j2").is_file()


# --------------------------------------------------------------------------
# Closed forms against the independent implementations


@pytest.mark.parametrize("name,params,seed", cases(), ids=[c[0] for c in cases()])
def test_step_jacobians_match_loop_differences(name, params, seed):
    xs, Wc, Wh, Wx, _ = random_case(params, seed)
    forms = N.numeric_forms(params.n, params.m)
    hs, cs = loop_forward(xs, Wc, Wh, Wx)
    for t in range(2, params.steps + 1):
        hp, x = np.array(hs[t - 1]), xs[t - 1]

        def gate(h):
            return np.array([sig(Wc[i] @ x + Wh[i] @ h) for i in range(params.m)])

        def state(h):
            c = gate(h)
            return c * h + (1 - c) * (Wx @ x)

        c = np.array(cs[t - 1])
        assert rel(forms.dc_dhprev(c, Wh), central(gate, hp)) < 1e-7
        assert rel(forms.dh_dhprev(c, hp, x, Wx, Wh), central(state, hp)) < 1e-7
        # The one NumPy step agrees with the loops.
        c_step, h_step = N.step(x, hp, Wc, Wh, Wx)
        assert rel(c_step, c) < 1e-14 and rel(h_step, hs[t]) < 1e-14


@pytest.mark.parametrize("name,params,seed", cases(), ids=[c[0] for c in cases()])
def test_dl_dWx_matches_loop_backprop_and_differences(name, params, seed):
    xs, Wc, Wh, Wx, us = random_case(params, seed)
    forms = N.numeric_forms(params.n, params.m)
    closed = N.closed_dl_dWx(forms, xs, Wc, Wh, Wx, us)
    assert closed.shape == (params.m, params.n)  # the shape of W_x
    assert rel(closed, loop_backprop_dWx(xs, Wc, Wh, Wx, us)) < 1e-10
    assert rel(closed, central(lambda w: loop_loss(xs, Wc, Wh, w, us), Wx)) < 1e-6


@pytest.mark.parametrize("name,params,seed", cases(), ids=[c[0] for c in cases()])
def test_check_passes_and_returns_the_npz_arrays(results, name, params, seed):
    if name == "other":
        ver = GROUP.check(derive(params), None, seed)
    else:
        ver = results[name].verification
    checks, arrays = ver.checks, ver.arrays
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    verify_mod.require(checks)
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids)), ids
    methods = {c.method for c in checks}
    assert methods == {"exact (SymPy)", "finite differences"}
    for q in ("gated_rnn.dc_dhprev", "gated_rnn.dh_dhprev", "gated_rnn.dl_dWx"):
        assert {c.method for c in checks if c.quantity == q} == methods
    # The former assertions of the derivation are rows of the verification table.
    assert {"gated_rnn.shapes:exact:preactivation", "gated_rnn.shapes:exact:state", "gated_rnn.shapes:exact:dl_dWx",
            "gated_rnn.slope_max:exact", "gated_rnn.dc_dhprev:exact:n2m2", "gated_rnn.dc_dhprev:exact:n1m3",
            "gated_rnn.dh_dhprev:exact:general", "gated_rnn.dl_dWx_outer:exact"} <= set(ids)
    n, m, K = params.n, params.m, params.steps
    shapes = {"x": (K, n), "Wc": (m, n), "Wh": (m, m), "Wx": (m, n), "u": (K, m), "dl_dWx": (m, n),
              "t": (), "dh_dhprev": (m, m), "dc_dhprev": (m, m)}
    assert set(arrays) == {"gated_rnn." + k for k in shapes}
    for key, shape in shapes.items():
        assert arrays["gated_rnn." + key].shape == shape, key
    t = arrays["gated_rnn.t"]
    assert np.issubdtype(t.dtype, np.integer) and 2 <= int(t) <= K
    # The arrays are consistent with the independent implementations.
    xs, Wc, Wh, Wx, us = (arrays["gated_rnn." + k] for k in ("x", "Wc", "Wh", "Wx", "u"))
    assert rel(arrays["gated_rnn.dl_dWx"], loop_backprop_dWx(xs, Wc, Wh, Wx, us)) < 1e-10
    hs, _ = loop_forward(xs, Wc, Wh, Wx)
    x, hp = xs[int(t) - 1], np.array(hs[int(t) - 1])

    def state(h):
        c = np.array([sig(Wc[i] @ x + Wh[i] @ h) for i in range(m)])
        return c * h + (1 - c) * (Wx @ x)

    assert rel(arrays["gated_rnn.dh_dhprev"], central(state, hp)) < 1e-7
    # The measured double count is the double-counted sum written in the test below, on this instance.
    assert ver.measures["double_count_gap"] == pytest.approx(
        rel(double_counted_here(params, xs, Wc, Wh, Wx, us), arrays["gated_rnn.dl_dWx"]), rel=1e-9)
    assert ver.measures["double_count_gap"] > 0.01


def test_exact_checks_at_another_size(derivation):
    checks = E.exact_step_checks(derivation, 3, 2)  # n > m this time
    assert [c.passed for c in checks] == [True, True]
    assert checks[1].shape == (2, 2) and checks[1].id == "gated_rnn.dh_dhprev:exact:n3m2"


# --------------------------------------------------------------------------
# Wrong formulas are caught (each by the one check that must fail)


def double_counted_here(params, xs, Wc, Wh, Wx, us) -> np.ndarray:
    """Written here: the products of step Jacobians added on top of the total g[t]."""
    forms = N.numeric_forms(params.n, params.m)
    hs, cs = N.forward(xs, Wc, Wh, Wx)
    gs = N.total_gradients(forms, xs, Wh, Wx, us, hs, cs)
    wrong = np.zeros_like(Wx)
    for t in range(1, params.steps + 1):
        row = gs[t - 1]
        for r in range(t, 0, -1):
            wrong += np.outer(row * (1 - cs[r - 1]), xs[r - 1])
            if r > 1:
                row = row @ forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh)
    return wrong


def _instance(name: str):
    _, p, seed = preset(name)
    inst = N.instance(p, seed)
    return p, inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"]


@pytest.mark.parametrize("name", PRESETS)
def test_dropping_the_input_term_is_caught_by_finite_differences(name):
    p, xs, Wc, Wh, Wx, _ = _instance(name)
    hs, cs = loop_forward(xs, Wc, Wh, Wx)
    t = 2
    x, hp, c = xs[t - 1], np.array(hs[t - 1]), np.array(cs[t - 1])
    wrong = np.diag(c) + np.diag(hp) @ np.diag(c * (1 - c)) @ Wh  # W_x x[t] forgotten

    def state(h):
        cc = 1 / (1 + np.exp(-(Wc @ x + Wh @ h)))
        return cc * h + (1 - cc) * (Wx @ x)

    check = verify_mod.finite_difference("gated_rnn.dh_dhprev", "wrong", state, hp, wrong)
    assert not check.passed
    with pytest.raises(VerificationError, match="gated_rnn.dh_dhprev"):
        verify_mod.require([check])


@pytest.mark.parametrize("name", PRESETS)
def test_double_counted_bptt_is_caught_by_finite_differences(name):
    p, xs, Wc, Wh, Wx, us = _instance(name)
    forms = N.numeric_forms(p.n, p.m)
    wrong = double_counted_here(p, xs, Wc, Wh, Wx, us)
    assert rel(wrong, N.double_counted_dl_dWx(forms, xs, Wc, Wh, Wx, us)) < 1e-12
    check = verify_mod.finite_difference("gated_rnn.dl_dWx", "double counted",
                                         lambda w: loop_loss(xs, Wc, Wh, w, us), Wx, wrong)
    assert not check.passed
    with pytest.raises(VerificationError, match="gated_rnn.dl_dWx"):
        verify_mod.require([check])


def test_wrong_step_jacobian_is_caught_exactly(derivation):
    """The exact comparison at n = m = 2 rejects dh/dh[t-1] without W_x x[t] in every entry."""
    wrong_form = F.add(F.Diag(F.c_t), F.mul(F.Diag(F.h_prev), F.Diag(F.gate_derivative(F.c_t)), F.W_h))
    bad = dataclasses.replace(derivation, dh_dhprev=wrong_form)
    (check,) = E.exact_step_checks(bad, 2, 2, which=("dh",))
    assert check.quantity == "gated_rnn.dh_dhprev" and not check.passed and check.max_error == 2 * 2
    with pytest.raises(VerificationError):
        verify_mod.require([check])
    (right,) = E.exact_step_checks(derivation, 2, 2, which=("dh",))
    assert right.passed


def test_wrong_dl_dWx_term_is_caught_exactly(derivation):
    """The exact dl/dW_x check (K = 2) rejects a share without the gate factor (1 - c[t]).

    At n = m = 1: the same check as the build's (n = 1, m = 2), where simplifying
    the nonzero difference costs seconds.
    """
    wrong = F.mul(sp.Transpose(F.g_t), sp.Transpose(F.x_t))
    check = E.exact_dl_check(dataclasses.replace(derivation, dl_dWx_term=wrong), 1, 1, 2)
    assert check.id == "gated_rnn.dl_dWx:exact:n1m1K2" and not check.passed and check.max_error == 1
    assert E.exact_dl_check(derivation, 1, 1, 2).passed


def test_wrong_outer_product_form_is_caught_exactly(derivation):
    """The printed outer-product form must equal the boxed share: diag(c) instead of diag(1 - c) fails."""
    wrong = F.sum_over_steps(F.mul(F.Diag(F.c_t), sp.Transpose(F.g_t), sp.Transpose(F.x_t)))
    check = E.outer_form_check(dataclasses.replace(derivation, dl_dWx_outer=wrong), 2, 3)
    assert check.id == "gated_rnn.dl_dWx_outer:exact" and check.max_error == 2 * 3


def test_general_entry_check_rejects_a_wrong_matrix_form(derivation):
    """A matrix form that does not match SymPy's entrywise derivative fails the symbolic check."""
    wrong = F.mul(F.Diag(F.c_t), F.W_h)  # the sigmoid's slope replaced by the gate itself
    bad = dataclasses.replace(derivation, dc_dhprev=wrong)
    assert not E.general_check(bad, "gated_rnn.dc_dhprev").passed
    assert E.general_check(bad, "gated_rnn.dh_dhprev").passed


def test_shape_checks_reject_mismatched_shapes(derivation):
    """Former assertions: a state of the wrong shape, or dl/dW_x transposed, fail their rows."""
    assert all(c.passed for c in C.shape_checks(derivation))
    bad = dataclasses.replace(derivation, state_shape=(F.n, 1),
                              shapes={**derivation.shapes, "dl_dWx": (F.n, F.m), "W_h h": (F.m, F.m)})
    failed = {c.case for c in C.shape_checks(bad) if not c.passed}
    assert failed == {"preactivation", "state", "dl_dWx"}


def test_slope_check_rejects_a_point_outside_the_gate_range(derivation):
    """Former assertion: the stationary point must be an interior maximum."""
    assert C.slope_check(derivation).passed and derivation.sigmoid_slope_max == sp.Rational(1, 4)
    outside = dataclasses.replace(derivation, slope=dataclasses.replace(derivation.slope, stationary=(2,)))
    assert C.slope_check(outside).max_error == 1
    minimum = dataclasses.replace(derivation, slope=dataclasses.replace(derivation.slope, curvature=(2,)))
    assert not C.slope_check(minimum).passed
    none = dataclasses.replace(derivation, slope=dataclasses.replace(derivation.slope, stationary=(), curvature=()))
    assert not C.slope_check(none).passed


# --------------------------------------------------------------------------
# Answers, context, rendering


@pytest.mark.parametrize("name", PRESETS)
def test_answers(results, name):
    ans = results[name].presentation.answers
    assert ans["gated_rnn.c.shape"] == ["m"]
    assert ans["gated_rnn.dl_dWx.shape"] == ["m", "n"]
    assert ans["gated_rnn.dc_dhprev.shape"] == ["m", "m"]
    assert ans["gated_rnn.dh_dhprev.shape"] == ["m", "m"]
    assert ans["gated_rnn.c.latex"] == r"\mathbb{R}^{m}"
    assert r"\operatorname{diag}" in ans["gated_rnn.dh_dhprev.latex"]
    assert r"\odot" in ans["gated_rnn.dl_dWx.latex"]
    json.dumps(ans)  # JSON-serialisable
    # The quoted double count is the measured one.
    gap = results[name].verification.measures["double_count_gap"]
    assert results[name].presentation.context["double_count_gap"] == f"{100 * gap:.0f}"


def test_growth_curves_vanish_and_explode(results):
    small, large = results["fall2025"].evidence.curves
    assert small.scale < large.scale
    assert small.at(FIG_QUOTE) < 1e-2 < 1e2 < large.at(FIG_QUOTE)


def _section(source: str) -> str:
    """The source of 1.2.1: from its heading to the next (sub)section heading."""
    start = source.index(r"\subsection*{1.2.1")
    ends = [e for e in (source.find(r"\section*", start + 1), source.find(r"\subsection*", start + 1)) if e >= 0]
    return source[start:min(ends) if ends else None]


@pytest.mark.parametrize("name,boxes", [("fall2025", 3), ("fall2024", 5)])
def test_context_renders(outcomes, name, boxes):
    """The document's source (no LaTeX run) carries 1.2.1 with the asked parts and the figure."""
    outcome = outcomes[name]
    section = _section(build.source(outcome))
    assert section.count(r"\boxed") == boxes
    assert (r"\partial c[t]}{\partial h[t-1]} =" in section) == (name == "fall2024")
    assert r"\begin{tikzpicture}" in section and r"\addplot" in section
    assert "fig:gated-cell" in section and "fig:gated-growth" in section
    assert outcome.variant.document.term not in section and "student" not in section.lower()
    # Every coordinate pair of the figure comes from the context.
    coords = re.findall(r"\((\d+),([-+.\de]+)\)", section)
    assert len(coords) == 2 * FIG_STEPS
    # The handout has the statements but no solutions.
    handout = _section(build.source(outcome, key=False))
    assert r"\boxed" not in handout and "fig:gated-cell" not in handout


@pytest.mark.latex
@pytest.mark.parametrize("name", PRESETS)
def test_built_key_has_the_section(compiled, name):
    """The compiled preset (PDF and overfull checks: tests/test_cli.py) carries 1.2.1."""
    folder, _ = compiled[(name, "key")]
    data = np.load(folder / "verification.npz")
    assert "gated_rnn.dl_dWx" in data.files
    assert r"\subsection*{1.2.1" in (folder / "hw2_theory.tex").read_text()


def test_accepted_numerator_layout_form_is_checked():
    """The n x m answer the grading note accepts is the transpose of the boxed one; a wrong one fails."""
    import dataclasses as dc
    import importlib

    import sympy as sp

    exact = importlib.import_module("derivations.groups.gated_rnn.exact")
    forms = importlib.import_module("derivations.groups.gated_rnn.forms")
    from derivations import variant
    from derivations.groups.gated_rnn import GROUP

    d = GROUP.derive(variant.load().gated_rnn)
    assert exact.numerator_form_check(d, 2, 3).passed
    wrong = forms.sum_over_steps(sp.MatMul(forms.x_t, forms.g_t))  # the gate factor forgotten
    assert not exact.numerator_form_check(dc.replace(d, dl_dWx_numerator=wrong), 2, 3).passed


# --------------------------------------------------------------------------
# Exact checks at the variant's own sizes, and the rows that say when they were not made


def test_own_size_limit_is_named_and_decides_where_dl_dWx_is_checked_exactly():
    assert C.nested_gates(GatedRnn(n=6, m=6, steps=32)) == 6 * 31 > C.EXACT_DL_NESTING_LIMIT
    assert C.own_dl_made(GatedRnn(n=6, m=1, steps=2))  # one nested gate
    assert not C.own_dl_made(GatedRnn(n=1, m=1, steps=3))
    assert C.own_dl_made(GatedRnn(n=1, m=2, steps=2))  # the fixed size EXACT_DL_SIZE, K = EXACT_DL_STEPS
    notes = C.skipped_notes(GatedRnn(n=6, m=6, steps=32))
    assert notes == {"gated_rnn.dl_dWx": (
        "exact at own sizes skipped: $186$ gates nested in the brute-force loss ($m (K - 1)$) > limit $1$; "
        "checked exactly at $n = 1$, $m = 2$, $K = 2$ and numerically at own sizes")}
    assert C.skipped_notes(GatedRnn(n=2, m=1, steps=2)) == {}


def _rows(checks, quantity):
    return {c.id: c for c in checks if c.quantity == quantity}


def test_a_large_variants_rows_say_the_exact_check_at_its_sizes_was_skipped():
    """n = m = 5, K = 8: dl/dW_x is not checked exactly at these sizes (its brute-force loss nests 35
    gates) and its finite-difference row says so; no exact row claims those sizes. The step Jacobians
    are exact at every size (general entries), so their rows say nothing skipped."""
    params = GatedRnn(n=5, m=5, steps=8)
    checks = GROUP.check(derive(params), None, 3).checks
    assert all(c.passed for c in checks)
    assert "gated_rnn.dh_dhprev:exact:general" in {c.id for c in checks}
    dl = _rows(checks, "gated_rnn.dl_dWx")
    assert set(dl) == {"gated_rnn.dl_dWx:exact:general", "gated_rnn.dl_dWx:exact:n1m2K2", "gated_rnn.dl_dWx:fd"}
    assert dl["gated_rnn.dl_dWx:fd"].method == "finite differences"
    assert dl["gated_rnn.dl_dWx:fd"].detail.endswith(
        "; exact at own sizes skipped: $35$ gates nested in the brute-force loss ($m (K - 1)$) > limit $1$; "
        "checked exactly at $n = 1$, $m = 2$, $K = 2$ and numerically at own sizes")
    skipped = [c for c in checks if verify_mod.SKIPPED_EXACT in c.detail]
    assert [c.id for c in skipped] == ["gated_rnn.dl_dWx:fd"]
    assert not any("$n = 5$" in c.detail for c in checks if c.method.startswith("exact"))


def test_a_small_variant_is_checked_exactly_at_its_own_sizes_and_says_nothing_skipped():
    params = GatedRnn(n=2, m=1, steps=2)
    checks = GROUP.check(derive(params), None, 3).checks
    assert all(c.passed for c in checks)
    own = _rows(checks, "gated_rnn.dl_dWx")["gated_rnn.dl_dWx:exact:n2m1K2"]
    assert own.method == "exact (SymPy)" and own.detail.endswith("(the variant's own sizes)")
    assert not [c.id for c in checks if verify_mod.SKIPPED_EXACT in c.detail]
    assert len({c.id for c in checks}) == len(checks)
