"""Tests for 1.2.1, the gated recurrent network (derivations.gated_rnn).

Every closed form is compared with an implementation written here: explicit
loops for the forward pass, a scalar reverse-mode backward pass, and central
differences coded in this file. Deliberately wrong formulas must be caught by
the project's verification helpers.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp

from derivations import build, gated_rnn, render, variant
from derivations import verify as verify_mod
from derivations.errors import VerificationError
from derivations.variant import GatedRnn

PRESETS = ("fall2025", "fall2024")
OTHER = GatedRnn(n=2, m=5, steps=4)  # a non-square cell and a short sequence


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
    out = [(name, variant.load(name).gated_rnn, variant.load(name).seed) for name in PRESETS]
    return out + [("other", OTHER, 7)]


@pytest.fixture(scope="module")
def results():
    """derive() once per preset (the figure's experiment makes it the slow part)."""
    return {name: gated_rnn.derive(variant.load(name)) for name in PRESETS}


# --------------------------------------------------------------------------
# Closed forms against the independent implementations


@pytest.mark.parametrize("name,params,seed", cases(), ids=[c[0] for c in cases()])
def test_step_jacobians_match_loop_differences(name, params, seed):
    xs, Wc, Wh, Wx, _ = random_case(params, seed)
    forms = gated_rnn.numeric_forms(params.n, params.m)
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


@pytest.mark.parametrize("name,params,seed", cases(), ids=[c[0] for c in cases()])
def test_dl_dWx_matches_loop_backprop_and_differences(name, params, seed):
    xs, Wc, Wh, Wx, us = random_case(params, seed)
    forms = gated_rnn.numeric_forms(params.n, params.m)
    closed = gated_rnn.closed_dl_dWx(forms, xs, Wc, Wh, Wx, us)
    assert closed.shape == (params.m, params.n)  # the shape of W_x
    assert rel(closed, loop_backprop_dWx(xs, Wc, Wh, Wx, us)) < 1e-10
    assert rel(closed, central(lambda w: loop_loss(xs, Wc, Wh, w, us), Wx)) < 1e-6


@pytest.mark.parametrize("name,params,seed", cases(), ids=[c[0] for c in cases()])
def test_verify_passes_and_returns_the_npz_arrays(name, params, seed):
    v = variant.load("fall2025") if name == "other" else variant.load(name)
    result = gated_rnn.derive_params(params, seed) if name == "other" else gated_rnn.derive(v)
    checks, arrays = gated_rnn.verify(result, seed)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    verify_mod.require(checks)
    methods = {c.method for c in checks}
    assert methods == {"exact (SymPy)", "finite differences"}
    for q in ("gated_rnn.dc_dhprev", "gated_rnn.dh_dhprev", "gated_rnn.dl_dWx"):
        assert {c.method for c in checks if c.quantity == q} == methods
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


def test_exact_checks_at_another_size():
    shapes = gated_rnn.derive_shapes()
    checks = gated_rnn.exact_step_checks(3, 2, shapes)  # n > m this time
    assert [c.passed for c in checks] == [True, True]
    assert checks[1].shape == (2, 2)


# --------------------------------------------------------------------------
# Wrong formulas are caught


def _instance(name: str):
    v = variant.load(name)
    p = v.gated_rnn
    inst = gated_rnn.instance(p, v.seed)
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
    forms = gated_rnn.numeric_forms(p.n, p.m)
    # Written here: the products of step Jacobians added on top of the total g[t].
    hs, cs = gated_rnn.forward(xs, Wc, Wh, Wx)
    gs = gated_rnn.total_gradients(forms, xs, Wh, Wx, us, hs, cs)
    wrong = np.zeros_like(Wx)
    for t in range(1, p.steps + 1):
        row = gs[t - 1]
        for r in range(t, 0, -1):
            wrong += np.outer(row * (1 - cs[r - 1]), xs[r - 1])
            if r > 1:
                row = row @ forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh)
    assert rel(wrong, gated_rnn.double_counted_dl_dWx(forms, xs, Wc, Wh, Wx, us)) < 1e-12
    check = verify_mod.finite_difference("gated_rnn.dl_dWx", "double counted",
                                         lambda w: loop_loss(xs, Wc, Wh, w, us), Wx, wrong)
    assert not check.passed
    with pytest.raises(VerificationError, match="gated_rnn.dl_dWx"):
        verify_mod.require([check])


def test_wrong_forms_are_caught_exactly():
    """The exact SymPy comparison rejects a wrong step Jacobian and a double-counted dl/dW_x."""
    N, M = 2, 2
    e = gated_rnn._explicit_cell(N, M)
    c = gated_rnn._sigmoid_vec(e["Wc"] * e["x"] + e["Wh"] * e["h"])
    h_new = c.multiply_elementwise(e["h"]) + (sp.ones(M, 1) - c).multiply_elementwise(e["Wx"] * e["x"])
    G = gated_rnn
    wrong_form = G._add(G.Diag(G.c_t), G._mul(G.Diag(G.h_prev), G.Diag(G.gate_derivative(G.c_t)), G.W_h))
    values = {G.c_t: sp.ImmutableMatrix(c), G.h_prev: sp.ImmutableMatrix(e["h"]), G.x_t: sp.ImmutableMatrix(e["x"]),
              G.W_x: sp.ImmutableMatrix(e["Wx"]), G.W_h: sp.ImmutableMatrix(e["Wh"])}
    wrong = G.evaluate(wrong_form, values, {G.n: N, G.m: M})
    check = G.exact_zero("gated_rnn.dh_dhprev", "wrong", wrong, h_new.jacobian(e["h"]), detail="", shape=(M, M))
    assert not check.passed and check.max_error == M * M
    with pytest.raises(VerificationError):
        verify_mod.require([check])
    # The same comparison on the right form passes.
    right = G.evaluate(G.dh_dhprev_form(G.c_t, G.h_prev, G.W_x, G.x_t, G.W_h), values, {G.n: N, G.m: M})
    assert G.exact_zero("q", "right", right, h_new.jacobian(e["h"]), detail="", shape=(M, M)).passed


def test_general_entry_check_rejects_a_wrong_matrix_form(results):
    """A matrix form that does not match SymPy's entrywise derivative fails the symbolic check."""
    import dataclasses

    G = gated_rnn
    wrong = G._mul(G.Diag(G.c_t), G.W_h)  # the sigmoid's slope replaced by the gate itself
    bad = dataclasses.replace(results["fall2025"], dc_dhprev=wrong)
    by_q = {c.quantity: c for c in G.general_checks(bad)}
    assert not by_q["gated_rnn.dc_dhprev"].passed
    assert by_q["gated_rnn.dh_dhprev"].passed


# --------------------------------------------------------------------------
# Answers, context, rendering


@pytest.mark.parametrize("name", PRESETS)
def test_answers(results, name):
    ans = gated_rnn.answers(results[name])
    assert ans["gated_rnn.c.shape"] == ["m"]
    assert ans["gated_rnn.dl_dWx.shape"] == ["m", "n"]
    assert ans["gated_rnn.dc_dhprev.shape"] == ["m", "m"]
    assert ans["gated_rnn.dh_dhprev.shape"] == ["m", "m"]
    assert ans["gated_rnn.c.latex"] == r"\mathbb{R}^{m}"
    assert r"\operatorname{diag}" in ans["gated_rnn.dh_dhprev.latex"]
    assert r"\odot" in ans["gated_rnn.dl_dWx.latex"]
    import json

    json.dumps(ans)  # JSON-serialisable


def test_growth_curves_vanish_and_explode(results):
    small, large = results["fall2025"].curves
    assert small.scale < large.scale
    assert small.at(gated_rnn.FIG_QUOTE) < 1e-2 < 1e2 < large.at(gated_rnn.FIG_QUOTE)


def _section(source: str) -> str:
    """The source of 1.2.1: from its heading to the next (sub)section heading."""
    start = source.index(r"\subsection*{1.2.1")
    ends = [e for e in (source.find(r"\section*", start + 1), source.find(r"\subsection*", start + 1)) if e >= 0]
    return source[start:min(ends) if ends else None]


@pytest.mark.parametrize("name,boxes", [("fall2025", 3), ("fall2024", 5)])
def test_context_renders(results, name, boxes):
    v = variant.load(name)
    res = build.derive_all(v)
    res["gated_rnn"] = results[name]
    checks = gated_rnn.verify(results[name], v.seed)[0]
    source = render.render(build.document_context(v, res, checks))
    section = _section(source)
    assert section.count(r"\boxed") == boxes
    assert (r"\partial c[t]}{\partial h[t-1]} =" in section) == (name == "fall2024")
    assert r"\begin{tikzpicture}" in section and r"\addplot" in section
    assert "fig:gated-cell" in section and "fig:gated-growth" in section
    assert "Fall 2024" not in section and "student" not in section.lower()
    # Every coordinate pair of the figure comes from the context.
    coords = re.findall(r"\((\d+),([-+.\de]+)\)", section)
    assert len(coords) == 2 * gated_rnn.FIG_STEPS
    # The handout has the statements but no solutions.
    handout = _section(render.render(build.document_context(v, res, checks, key=False)))
    assert r"\boxed" not in handout and "fig:gated-cell" not in handout


@pytest.mark.latex
@pytest.mark.parametrize("name", PRESETS)
def test_built_key_has_the_section(built_presets, name):
    """The compiled preset (PDF and overfull checks: tests/test_cli.py) carries 1.2.1."""
    folder, _ = built_presets[name]
    data = np.load(folder / "verification.npz")
    assert "gated_rnn.dl_dWx" in data.files
    assert r"\subsection*{1.2.1" in (folder / "hw2_theory.tex").read_text()
