"""1.2.2 AttentionRNN: the closed forms against implementations written here."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import sympy as sp

from derivations import attention_rnn, render, variant, verify
from derivations.errors import VerificationError
from derivations.variant import AttentionRnn

ORDERS = (1, 2, 3)
PRESETS = ("fall2025", "fall2024")


# --------------------------------------------------------------------------
# Independent implementations: explicit loops and central differences


def loop_step(x, hist, Qs, Ks, Vs):
    """h[t] by explicit loops over entries, softmax with math.exp."""
    n = len(x)
    sources = [x] + list(hist)
    scores = []
    for Q, K, s in zip(Qs, Ks, sources):
        q = [sum(Q[r][c] * s[c] for c in range(n)) for r in range(n)]
        k = [sum(K[r][c] * s[c] for c in range(n)) for r in range(n)]
        scores.append(sum(q[r] * k[r] for r in range(n)))
    exps = [math.exp(w) for w in scores]
    weights = [e / sum(exps) for e in exps]
    h = [0.0] * n
    for a, V, s in zip(weights, Vs, sources):
        for r in range(n):
            h[r] += a * sum(V[r][c] * s[c] for c in range(n))
    return np.array(h)


def central(f, x, step=1e-6):
    """Jacobian of f at x by central differences: rows are outputs, columns inputs."""
    x = np.asarray(x, float)
    cols = []
    for c in range(x.size):
        e = np.zeros_like(x)
        e[c] = step
        cols.append((np.atleast_1d(f(x + e)) - np.atleast_1d(f(x - e))) / (2 * step))
    return np.column_stack(cols)


def loop_loss(h_T, before, xs, us, Qs, Ks, Vs, window):
    """l = sum_t u[t].h[t] over t = T..T_end, unrolled with loop_step (window None: all states)."""
    states = list(before) + [h_T]
    loss = float(np.dot(us[0], h_T))
    for p, x in enumerate(xs):
        past = states[::-1] if window is None else states[::-1][:window]
        c = len(past)
        if window is None:  # tied: input maps, then one shared triple for every state
            maps = ([Qs[0]] + [Qs[1]] * c, [Ks[0]] + [Ks[1]] * c, [Vs[0]] + [Vs[1]] * c)
        else:
            maps = (Qs[:c + 1], Ks[:c + 1], Vs[:c + 1])
        h = loop_step(x, past, *maps)
        states.append(h)
        loss += float(np.dot(us[p + 1], h))
    return loss


def tame(Qs, Ks, sources):
    """Scale the query maps so every score is at most 1 in size (no saturated softmax)."""
    worst = max(abs(float((Q @ s) @ (K @ s))) for Q, K, s in zip(Qs, Ks, sources))
    return [Q / max(1.0, worst) for Q in Qs]


def random_step(rng, k, n):
    x = rng.standard_normal(n)
    hist = list(rng.standard_normal((k, n)))
    Qs, Ks, Vs = (list(rng.standard_normal((k + 1, n, n)) * n ** e) for e in (-0.75, -0.75, -0.5))
    return x, hist, tame(Qs, Ks, [x] + hist), Ks, Vs


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def with_order(v, k):
    return variant.replace(v, attention_rnn=AttentionRnn(k=k, n=v.attention_rnn.n))


@pytest.fixture(scope="module", params=PRESETS)
def preset(request):
    return variant.load(request.param)


# --------------------------------------------------------------------------
# Derived facts


def test_dimensions_and_matrix_counts(fall2025):
    r = attention_rnn.derive(fall2025)
    k = attention_rnn.k
    assert r.a_dim == {2: 3}
    assert sp.simplify(r.a_dim_general - (k + 1)) == 0
    assert r.matrices_untied == {2: 9}
    assert sp.expand(r.matrices_untied_general - 3 * (k + 1)) == 0
    assert r.matrices_infinity_step == 3 * attention_rnn.t and r.matrices_infinity_limit == sp.oo
    assert (r.matrices_tied, r.matrices_tied_shared_input) == (6, 3)
    assert r.direct_lags == (1, k)
    r3 = attention_rnn.derive(with_order(fall2025, 3))
    assert r3.orders == (2, 3) and r3.a_dim == {2: 3, 3: 4} and r3.matrices_untied[3] == 12


def test_score_gradient_is_the_symmetrised_form(fall2025):
    r = attention_rnn.derive(fall2025)
    g = attention_rnn.source(attention_rnn.j)
    expected = (g.Q.T * g.K + g.K.T * g.Q) * g.s
    assert sp.expand((r.score_grad - expected).doit()) == sp.ZeroMatrix(attention_rnn.n, 1)
    # the softmax Jacobian is diag(a) - a a^T, entry by entry
    J = r.softmax_jacobian[2]
    a = [attention_rnn.source(i).a for i in range(3)]
    assert sp.expand(J - (sp.diag(*a) - sp.Matrix(a) * sp.Matrix(a).T)) == sp.zeros(3, 3)


def test_answers_are_json_and_carry_the_contract(preset):
    out = attention_rnn.answers(attention_rnn.derive(preset))
    json.dumps(out)
    assert out["attention_rnn.a.shape"] == [3]
    assert out["attention_rnn.dh_dhprev.shape"] == ["n", "n"]
    assert out["attention_rnn.dl_dhT.shape"] == [1, "n"]
    assert out["attention_rnn.matrices_untied"] == 9
    assert r"\left(Q_{1}^{T} K_{1} + K_{1}^{T} Q_{1}\right) h[t - 1]" == out["attention_rnn.score_grad.latex"]
    assert out["attention_rnn.dh_dhprev.simplified.latex"] == (
        r"a_{1}[t] V_{1} + a_{1}[t] \left(v_{1}[t] - h[t]\right) g_{1}[t]^{T}")


# --------------------------------------------------------------------------
# Closed forms against the implementations above


@pytest.mark.parametrize("k", ORDERS)
def test_step_jacobians_match_loop_finite_differences(preset, k):
    r = attention_rnn.derive(with_order(preset, k))
    ev = attention_rnn.evaluator(r)
    n = preset.attention_rnn.n
    rng = np.random.default_rng(preset.seed + k)
    x, hist, Qs, Ks, Vs = random_step(rng, k, n)
    stacked = attention_rnn.step_jacobians(r, ev, x, hist, Qs, Ks, Vs)
    simple = attention_rnn.step_jacobians(r, ev, x, hist, Qs, Ks, Vs, simplified=True)
    assert len(stacked) == k
    for lag in range(1, k + 1):
        def f(s, lag=lag):
            return loop_step(x, hist[:lag - 1] + [s] + hist[lag:], Qs, Ks, Vs)

        reference = central(f, hist[lag - 1])
        assert stacked[lag - 1].shape == (n, n)
        assert rel(stacked[lag - 1], reference) < 1e-6
        assert rel(simple[lag - 1], reference) < 1e-6


@pytest.mark.parametrize("k", ORDERS)
def test_loss_gradient_matches_loop_finite_differences(preset, k):
    r = attention_rnn.derive(with_order(preset, k))
    ev = attention_rnn.evaluator(r)
    n = preset.attention_rnn.n
    rng = np.random.default_rng(preset.seed + 10 * k)
    steps = k + 2
    h_T, *before = rng.standard_normal((k, n))
    before = before[::-1]
    xs = list(rng.standard_normal((steps, n)))
    us = list(rng.standard_normal((steps + 1, n)))
    Qs, Ks, Vs = (list(rng.standard_normal((k + 1, n, n)) * n ** e) for e in (-0.75, -0.75, -0.5))
    Qs = tame(Qs, Ks, [xs[0], h_T] + before[::-1])
    maps = lambda c: (Qs[:c], Ks[:c], Vs[:c])  # noqa: E731
    got = attention_rnn.backward(r, ev, h_T, before, xs, us, maps, k)
    reference = central(lambda h: loop_loss(h, before, xs, us, Qs, Ks, Vs, k), h_T)
    assert got["direct"].shape == (1, n) and got["total"].shape == (1, n)
    assert rel(got["direct"], reference) < 1e-6
    assert rel(got["total"], reference) < 1e-6
    # AttentionRNN(oo) with tied maps: every later step reads h[T].
    tied = [rng.standard_normal((2, n, n)) * n ** e for e in (-0.75, -0.75, -0.5)]
    maps_inf = lambda c: tuple([M[0]] + [M[1]] * (c - 1) for M in tied)  # noqa: E731
    got = attention_rnn.backward(r, ev, h_T, before, xs, us, maps_inf, None)
    reference = central(lambda h: loop_loss(h, before, xs, us, *tied, None), h_T)
    assert rel(got["direct"], reference) < 1e-6


def test_a_too_short_lag_range_is_caught(fall2025):
    """The backward sum must run over t = T+1..T+k; stopping at T+k-1 drops a direct reader."""
    r = attention_rnn.derive(fall2025)
    short = dataclasses.replace(r, direct_lags=(sp.Integer(1), attention_rnn.k - 1))
    checks, _ = attention_rnn.verify(short, fall2025.seed)
    failed = {c.quantity for c in checks if not c.passed}
    assert "attention_rnn.dl_dhT" in failed
    assert "attention_rnn.dl_dhT.total" not in failed  # the total-Jacobian reading has no lag range


# --------------------------------------------------------------------------
# The verification catches wrong formulas


def test_symmetric_slip_is_caught(fall2025):
    r = attention_rnn.derive(fall2025)
    wrong = dataclasses.replace(r, score_grad=r.score_grad_slip)  # 2 Q^T K h
    checks, _ = attention_rnn.verify(wrong, fall2025.seed)
    failed = {(c.quantity, c.method) for c in checks if not c.passed}
    assert ("attention_rnn.k2.dh_dh1", "finite differences") in failed
    assert ("attention_rnn.k2.dh_dh2", "finite differences") in failed
    assert ("attention_rnn.k2.dh_dhlag", "exact (SymPy)") in failed  # needs n = 2: at n = 1 Q^T K is a scalar
    assert ("attention_rnn.dl_dhT", "finite differences") in failed
    with pytest.raises(VerificationError, match="attention_rnn.k2.dh_dh1"):
        verify.require(checks)


def test_wrong_simplification_is_caught(fall2025):
    r = attention_rnn.derive(fall2025)
    g = attention_rnn.source(attention_rnn.j)
    # sign slip: a_j (v_j + h[t]) instead of a_j (v_j - h[t])
    wrong_form = sp.MatAdd(r.value_term, sp.MatMul(g.a, sp.MatAdd(g.v, attention_rnn.h_now), g.g.T))
    wrong = dataclasses.replace(r, step_jacobian_simplified=wrong_form)
    checks, _ = attention_rnn.verify(wrong, 3)
    failed = {c.quantity for c in checks if not c.passed}
    assert {"attention_rnn.k2.simplified", "attention_rnn.k1.dh_dhlag", "attention_rnn.k2.dh_dhlag"} <= failed
    # the stacked form itself is untouched and still passes its finite differences
    assert "attention_rnn.k2.dh_dh1" not in failed


def test_exact_check_flags_a_wrong_matrix_directly():
    check = verify.exact("demo", "demo", sp.Matrix([[1, 2]]), sp.Matrix([[1, 3]]))
    assert not check.passed and check.max_error == 1


# --------------------------------------------------------------------------
# verify() and the npz contract


@pytest.mark.parametrize("k", ORDERS)
def test_verify_passes_and_returns_the_contract_arrays(preset, k):
    v = with_order(preset, k)
    r = attention_rnn.derive(v)
    checks, arrays = attention_rnn.verify(r, v.seed)
    assert all(c.passed for c in checks), [(c.quantity, c.max_error) for c in checks if not c.passed]
    assert {c.method for c in checks} >= {"finite differences", "exact (SymPy)"}
    n = v.attention_rnn.n
    assert {name: a.shape for name, a in arrays.items()} == {
        "attention_rnn.x": (n,), "attention_rnn.h": (k, n), "attention_rnn.Q": (k + 1, n, n),
        "attention_rnn.K": (k + 1, n, n), "attention_rnn.V": (k + 1, n, n), "attention_rnn.dh_dhprev": (n, n)}
    # the stored Jacobian is the one of the stored instance (row j-1 of h is h[t-j])
    x, h, Q, K, V = (arrays[f"attention_rnn.{name}"] for name in ("x", "h", "Q", "K", "V"))
    reference = central(lambda s: loop_step(x, [s] + list(h[1:]), Q, K, V), h[0])
    assert rel(arrays["attention_rnn.dh_dhprev"], reference) < 1e-6


def test_verify_is_deterministic(fall2025):
    r = attention_rnn.derive(fall2025)
    _, a1 = attention_rnn.verify(r, 11)
    _, a2 = attention_rnn.verify(r, 11)
    assert all(np.array_equal(a1[key], a2[key]) for key in a1)


# --------------------------------------------------------------------------
# Templates

TEMPLATES = ["sections/attention_rnn.tex.j2"] + [
    f"questions/{q}.tex.j2" for q in
    ("attn_diagram", "attn_a_dim", "attn_k", "attn_infinity", "attn_dh_dhprev", "attn_dl_dhT")]


@pytest.mark.parametrize("k", ORDERS + (5,))
def test_every_template_renders(fall2025, k):
    ctx = attention_rnn.context(attention_rnn.derive(with_order(fall2025, k)))
    env = render.environment()
    part = {"label": "a", "points": 3}
    for name in TEMPLATES:
        text = env.get_template(name).render(attention_rnn=ctx, key=True, part=part, section={"points": 18})
        assert "(((" not in text and ")))" not in text, name
    dh = env.get_template("questions/attn_dh_dhprev.tex.j2").render(attention_rnn=ctx, key=True, part=part)
    assert r"\left(Q_{1}^{T} K_{1} + K_{1}^{T} Q_{1}\right) h[t - 1]" in dh
    assert r"\boxed" in dh
    diagram = env.get_template("questions/attn_diagram.tex.j2").render(attention_rnn=ctx, key=True, part=part)
    drawn = min(k, 3) if k <= 3 else 2
    assert diagram.count(r"\node[src] (s") == drawn + 1
    # without the key no solution is printed
    bare = env.get_template("questions/attn_k.tex.j2").render(attention_rnn=ctx, key=False, part=part)
    assert "solution" not in bare


@pytest.mark.latex
@pytest.mark.parametrize("name", PRESETS)
def test_built_key_has_the_section(built_presets, name):
    """The compiled preset (PDF and overfull checks: tests/test_cli.py) carries 1.2.2."""
    folder, _ = built_presets[name]
    tex = (folder / "hw2_theory.tex").read_text()
    assert ("fig:attention-rnn" in tex) == variant.load(name).asks("attn_diagram")
    npz = np.load(folder / "verification.npz")
    assert npz["attention_rnn.dh_dhprev"].shape == (4, 4)
