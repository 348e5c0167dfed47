"""1.2.2 AttentionRNN (derivations.groups.attention_rnn): the closed forms against implementations written here.

Deliberately wrong formulas must be caught, each by the checks that have to
fail (mutation tests run only those checks, not the whole verification).
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import math
import tomllib
from importlib import resources

import numpy as np
import pytest
import sympy as sp

from derivations import params as params_mod
from derivations import render, verify
from derivations.errors import VerificationError
from derivations.groups.attention_rnn import GROUP, AttentionRnn
from derivations.registry import Verification

from conftest import on_spare_core

# The step modules (the package's names `check`, `derive` and `present` are the step functions).
C = importlib.import_module("derivations.groups.attention_rnn.check")
D = importlib.import_module("derivations.groups.attention_rnn.derive")
M = importlib.import_module("derivations.groups.attention_rnn.model")
N = importlib.import_module("derivations.groups.attention_rnn.numeric")
P = importlib.import_module("derivations.groups.attention_rnn.present")
L = importlib.import_module("derivations.groups.attention_rnn.loss_prev")
LC = importlib.import_module("derivations.groups.attention_rnn.loss_prev_check")

ORDERS = (1, 2, 3)
PRESETS = ("fall2025", "fall2024")


def preset_params(name: str) -> tuple[AttentionRnn, int]:
    """The preset's [attention_rnn] parameters and its seed (read without the registry)."""
    text = resources.files("derivations.presets").joinpath(f"{name}.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return params_mod.parse_table(name, "attention_rnn", AttentionRnn, data.get("attention_rnn", {})), \
        data["variant"]["seed"]


_DERIVED: dict[AttentionRnn, D.AttentionRnnDerivation] = {}


def derived(prm: AttentionRnn) -> D.AttentionRnnDerivation:
    """One derivation per parameter set for the whole module (derive is pure)."""
    if prm not in _DERIVED:
        _DERIVED[prm] = GROUP.derive(prm)
    return _DERIVED[prm]


@pytest.fixture(scope="module", params=PRESETS)
def preset(request):
    return preset_params(request.param)


@pytest.fixture(scope="module")
def fall2025_params():
    return preset_params("fall2025")


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


def loop_sequence_loss(xs, us, Qs, Ks, Vs, k, at=None, value=None):
    """l = sum_s u[s].h[s], s = 1..T, from h[s] = 0 for s < 1 (h[at] replaced by value if given)."""
    n = xs.shape[1]
    states = {}
    for s in range(1, len(xs) + 1):
        past = [states.get(s - lag, np.zeros(n)) for lag in range(1, k + 1)]
        states[s] = value if s == at else loop_step(xs[s - 1], past, Qs, Ks, Vs)
    return sum(float(np.dot(us[s - 1], h)) for s, h in states.items()), states


def loop_dl_dhprev(arrays, k):
    """dl/dh[t-1] from the npz arrays alone: the loop model and central differences."""
    xs, us = arrays["attention_rnn.seq_x"], arrays["attention_rnn.seq_u"]
    at = int(arrays["attention_rnn.seq_t"])
    Qs, Ks, Vs = (arrays[f"attention_rnn.{name}"] for name in "QKV")
    assert Qs.shape[0] == k + 1 and 2 <= at <= len(xs)
    _, states = loop_sequence_loss(xs, us, Qs, Ks, Vs, k)
    return central(lambda h: loop_sequence_loss(xs, us, Qs, Ks, Vs, k, at - 1, h)[0], states[at - 1])[0]


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


def failed(checks):
    return {c.id for c in checks if not c.passed}


# --------------------------------------------------------------------------
# Parameters and registration


def test_group_registration_and_parameters():
    assert GROUP.name == "attention_rnn" and (GROUP.section, GROUP.parent) == ("attention_rnn", "rnn")
    assert [q.id for q in GROUP.questions] == [
        "attn_diagram", "attn_a_dim", "attn_k", "attn_infinity", "attn_dh_dhprev", "attn_dl_dhprev", "attn_dl_dhT"]
    assert {q.id: q.alternative_to for q in GROUP.questions}["attn_dl_dhprev"] == "attn_dh_dhprev"
    assert GROUP.optional and GROUP.experiment is None
    assert params_mod.parse_table("t", "attention_rnn", AttentionRnn, {}) == AttentionRnn(k=2, n=4)
    for bad in ({"k": 0}, {"k": 9}, {"n": 17}, {"k": 2.5}, {"q": 1}):
        with pytest.raises(Exception):
            params_mod.parse_table("t", "attention_rnn", AttentionRnn, bad)
    for name in GROUP.questions:
        assert (GROUP.template_dir / "questions" / f"{name.id}.tex.j2").is_file()
    assert (GROUP.template_dir / "sections" / "attention_rnn.tex.j2").is_file()


# --------------------------------------------------------------------------
# Derived facts


def test_dimensions_and_matrix_counts(fall2025_params):
    r = derived(fall2025_params[0])
    k = M.k
    assert r.a_dim == {2: 3}
    assert sp.simplify(r.a_dim_general - (k + 1)) == 0
    assert r.matrices_untied == {2: 9}
    assert sp.expand(r.matrices_untied_general - 3 * (k + 1)) == 0
    assert r.matrices_infinity_step == 3 * M.t and r.matrices_infinity_limit == sp.oo
    assert r.infinity_sources == M.t
    assert (r.matrices_tied, r.matrices_tied_shared_input) == (6, 3)
    assert r.direct_lags == (1, k)
    # the worked answer's sizes follow from AttentionRNN(2): J is 3 x 3, e_1 = (0, 1, 0)^T
    assert (r.printed_order, r.printed_lag) == (2, 1)
    assert r.shapes["J"] == (3, 3) and r.shapes["V_stack"] == (M.n, 3)
    assert sp.Matrix(r.unit.doit()) == sp.Matrix([0, 1, 0])
    # k <= 3: the question defines AttentionRNN(k) and the worked sizes follow k
    r3 = derived(AttentionRnn(k=3, n=4))
    assert (r3.orders, r3.printed_order, r3.diagram_order) == ((3,), 3, 3)
    assert r3.a_dim == {3: 4} and r3.matrices_untied[3] == 12
    assert r3.shapes["J"] == (4, 4) and sp.Matrix(r3.unit.doit()) == sp.Matrix([0, 1, 0, 0])
    r1 = derived(AttentionRnn(k=1, n=4))
    assert (r1.orders, r1.printed_order) == ((1,), 1) and r1.a_dim == {1: 2} and r1.matrices_untied[1] == 6
    assert r1.shapes["J"] == (2, 2) and sp.Matrix(r1.unit.doit()) == sp.Matrix([0, 1])
    # beyond k = 3 the question keeps AttentionRNN(2); k is still answered and checked
    r5 = derived(AttentionRnn(k=5, n=4))
    assert (r5.orders, r5.printed_order, r5.diagram_order) == ((2, 5), 2, 2) and r5.a_dim == {2: 3, 5: 6}
    assert r5.shapes["J"] == (3, 3)


def test_score_gradient_and_softmax_jacobian(fall2025_params):
    r = derived(fall2025_params[0])
    g = M.source(M.j)
    expected = (g.Q.T * g.K + g.K.T * g.Q) * g.s
    assert sp.expand((r.score_grad - expected).doit()) == sp.ZeroMatrix(M.n, 1)
    # the softmax Jacobian is diag(a) - a a^T, entry by entry
    J = r.softmax_jacobian[2]
    a = [M.source(i).a for i in range(3)]
    assert sp.expand(J - (sp.diag(*a) - sp.Matrix(a) * sp.Matrix(a).T)) == sp.zeros(3, 3)
    # the entry read off the one closed form: a_i (delta_il - a_l)
    assert sp.expand(r.softmax_entry - a_i_delta()) == 0


def a_i_delta():
    return M.source(M.i).a * (sp.KroneckerDelta(M.i, M.l) - M.source(M.l).a)


def test_derive_does_not_check_or_print():
    """derive is SymPy only: the derivation module imports neither verify, nor numpy, nor latex."""
    names = set(vars(D))
    assert not {"verify", "verify_mod", "np", "latex"} & names


def test_answers_are_json_and_carry_the_contract(preset):
    prm, _ = preset
    pres = GROUP.present(derived(prm), None, Verification(checks=()))
    out = dict(pres.answers)
    json.dumps(out)
    assert out["attention_rnn.a.shape"] == [3]
    assert out["attention_rnn.dh_dhprev.shape"] == ["n", "n"]
    assert out["attention_rnn.dl_dhT.shape"] == [1, "n"]
    assert out["attention_rnn.matrices_untied"] == 9
    assert r"\left(Q_{1}^{\top} K_{1} + K_{1}^{\top} Q_{1}\right) h[t - 1]" == out["attention_rnn.score_grad.latex"]
    assert out["attention_rnn.dh_dhprev.simplified.latex"] == (
        r"a_{1}[t] V_{1} + a_{1}[t] \left(v_{1}[t] - h[t]\right) g_{1}[t]^{\top}")
    # the answers' LaTeX is the context's, printed once
    assert out["attention_rnn.score_grad.latex"] == pres.context["dh"]["g"]
    assert pres.context["J_entry"] == r"a_{i}[t]\left(\delta_{i,\,l} - a_{l}[t]\right)"
    assert pres.context["J_shape"] == r"\mathbb{R}^{3 \times 3}"
    assert "0 & 1 & 0" in pres.context["e1_def"] and pres.context["e1_def"].endswith(r"^{\top}")


# --------------------------------------------------------------------------
# Closed forms against the implementations above


@pytest.mark.parametrize("k", ORDERS)
def test_step_jacobians_match_loop_finite_differences(preset, k):
    prm, seed = preset
    ev = N.evaluator(derived(dataclasses.replace(prm, k=k)))
    n = prm.n
    rng = np.random.default_rng(seed + k)
    x, hist, Qs, Ks, Vs = random_step(rng, k, n)
    stacked = N.step_jacobians(ev, x, hist, Qs, Ks, Vs)
    simple = N.step_jacobians(ev, x, hist, Qs, Ks, Vs, simplified=True)
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
    prm, seed = preset
    r = derived(dataclasses.replace(prm, k=k))
    ev = N.evaluator(r)
    n = prm.n
    rng = np.random.default_rng(seed + 10 * k)
    steps = k + 2
    h_T, *before = rng.standard_normal((k, n))
    before = before[::-1]
    xs = list(rng.standard_normal((steps, n)))
    us = list(rng.standard_normal((steps + 1, n)))
    Qs, Ks, Vs = (list(rng.standard_normal((k + 1, n, n)) * n ** e) for e in (-0.75, -0.75, -0.5))
    Qs = tame(Qs, Ks, [xs[0], h_T] + before[::-1])
    maps = lambda c: (Qs[:c], Ks[:c], Vs[:c])  # noqa: E731
    got = N.backward(r, ev, h_T, before, xs, us, maps, k)
    reference = central(lambda h: loop_loss(h, before, xs, us, Qs, Ks, Vs, k), h_T)
    assert got["direct"].shape == (1, n) and got["total"].shape == (1, n)
    assert rel(got["direct"], reference) < 1e-6
    assert rel(got["total"], reference) < 1e-6
    # AttentionRNN(oo) with tied maps: every later step reads h[T].
    tied = [rng.standard_normal((2, n, n)) * n ** e for e in (-0.75, -0.75, -0.5)]
    maps_inf = lambda c: tuple([M_[0]] + [M_[1]] * (c - 1) for M_ in tied)  # noqa: E731
    got = N.backward(r, ev, h_T, before, xs, us, maps_inf, None)
    reference = central(lambda h: loop_loss(h, before, xs, us, *tied, None), h_T)
    assert rel(got["direct"], reference) < 1e-6


# --------------------------------------------------------------------------
# The verification catches wrong formulas (only the checks concerned are run)


def loss_checks(r, prm, seed):
    rng = np.random.default_rng(seed)
    N.instance(prm.k, prm.n, rng)  # the rng state check() has when it reaches the loss checks
    return C.fd_loss_checks(r, N.evaluator(r), rng, prm.n, prm.k, seed)


def step_checks(r, prm, seed):
    return C.fd_step_checks(r, N.evaluator(r), prm.k, N.instance(prm.k, prm.n, np.random.default_rng(seed)),
                            "mutation")


def test_a_too_short_lag_range_is_caught(fall2025_params):
    """The backward sum must run over t = T+1..T+k; stopping at T+k-1 drops a direct reader."""
    prm, seed = fall2025_params
    short = dataclasses.replace(derived(prm), direct_lags=(sp.Integer(1), M.k - 1))
    bad = failed(loss_checks(short, prm, seed))
    assert "attention_rnn.dl_dhT:fd" in bad
    assert "attention_rnn.dl_dhT.total:fd" not in bad  # the total-Jacobian reading has no lag range


@on_spare_core  # SymPy's exact step Jacobian at n = 2: in the worker
def test_symmetric_slip_is_caught():
    prm, seed = preset_params("fall2025")
    r = derived(prm)
    wrong = dataclasses.replace(r, score_grad=r.score_grad_slip)  # 2 Q^T K h
    steps = step_checks(wrong, prm, seed)
    assert {"attention_rnn.k2.dh_dh1:fd", "attention_rnn.k2.dh_dh2:fd"} <= failed(steps)
    assert "attention_rnn.dl_dhT:fd" in failed(loss_checks(wrong, prm, seed))
    # needs n = 2: at n = 1 Q^T K is a scalar
    assert failed(C.exact_checks(wrong, {2: C.EXACT_CASES[2]})) == {"attention_rnn.k2.dh_dhlag:exact"}
    assert failed(C.exact_checks(wrong, {2: (1,)})) == set()
    assert "attention_rnn.score_grad:exact" in failed(C.derivation_checks(wrong))
    with pytest.raises(VerificationError, match="attention_rnn.k2.dh_dh1"):
        verify.require(steps)


@on_spare_core  # SymPy's exact step Jacobians: in the worker
def test_wrong_simplification_is_caught():
    prm, seed = preset_params("fall2025")
    r = derived(prm)
    g = M.source(M.j)
    # sign slip: a_j (v_j + h[t]) instead of a_j (v_j - h[t])
    wrong_form = sp.MatAdd(r.value_term, sp.MatMul(g.a, sp.MatAdd(g.v, M.h_now), g.g.T))
    wrong = dataclasses.replace(r, step_jacobian_simplified=wrong_form)
    bad = failed(step_checks(wrong, prm, 3))
    assert "attention_rnn.k2.simplified:equals-the-mathcal-v-j-e-j-form" in bad
    # the stacked form itself is untouched and still passes its finite differences
    assert "attention_rnn.k2.dh_dh1:fd" not in bad
    assert failed(C.exact_checks(wrong, {1: C.EXACT_CASES[1], 2: C.EXACT_CASES[2]})) == {
        "attention_rnn.k1.dh_dhlag:exact", "attention_rnn.k2.dh_dhlag:exact"}


def test_wrong_softmax_jacobian_is_caught(fall2025_params):
    """diag(a) + a a^T: the derivation-step check and the exact step Jacobian both fail."""
    r = derived(fall2025_params[0])
    wrong = dataclasses.replace(r, softmax_form=sp.MatAdd(D.Diag(M.a_vec), sp.MatMul(M.a_vec, M.a_vec.T)))
    assert "attention_rnn.k2.softmax_jacobian:exact" in failed(C.derivation_checks(wrong))
    assert failed(C.exact_checks(wrong, {1: (1,)})) == {"attention_rnn.k1.dh_dhlag:exact"}


def test_unrecognised_column_and_unfactorable_gradient_are_caught(fall2025_params):
    """The former assertions of the derivation are checks that fail."""
    r = derived(fall2025_params[0])
    src = M.source(2)
    wrong = dataclasses.replace(r, columns={2: (r.columns[2][0], src.a * sp.Symbol(src.v.name))})
    assert failed(C.derivation_checks(wrong)) == {"attention_rnn.k2.column:exact"}
    g = M.source(M.j)
    # a term that does not end in s_j cannot be factored and is left out
    partial = D.factor_right(sp.MatAdd(g.Q.T * g.K * g.s, g.K.T * g.Q), g.s, g.Q.T * g.K)
    assert failed(C.derivation_checks(dataclasses.replace(r, score_grad=partial))) == {
        "attention_rnn.score_grad:exact"}


def prev_checks(r, prm, seed):
    """Only the dl/dh[t-1] checks, on the variant's instance."""
    rng = np.random.default_rng(seed)
    main = N.instance(prm.k, prm.n, rng)
    return LC.loss_prev_checks(r.prev, N.evaluator(r), main, rng, prm.k, seed)


PREV_IDS = {"attention_rnn.dl_dhprev:fd", "attention_rnn.dl_dhprev.end:fd",
            "attention_rnn.dl_dhprev.readers:finite-differences-of-one-step"}


@pytest.mark.parametrize("k", ORDERS)
def test_dl_dhprev_checks_pass(fall2025_params, k):
    prm, seed = fall2025_params
    prm = dataclasses.replace(prm, k=k)
    checks, arrays = prev_checks(derived(prm), prm, seed)
    assert {c.id for c in checks} == PREV_IDS and failed(checks) == set()
    assert arrays["attention_rnn.dl_dhprev"].shape == (prm.n,)
    # the readers of h[t-1] are t .. t + k - 1, from the derived lag range
    r = derived(prm).prev
    assert [rd.step for rd in r.by_order[k]] == [M.t + p for p in range(k)]
    assert sp.expand(r.readers[1] - (M.t + M.k - 1)) == 0


def test_dl_dhprev_matches_an_independent_loop(fall2025_params):
    """The closed form at a t near the end (readers cut at T) against the loop model, k = 3."""
    prm, seed = fall2025_params
    k, n = 3, prm.n
    r = derived(dataclasses.replace(prm, k=k))
    rng = np.random.default_rng(seed + 99)
    xs, us = rng.standard_normal((5, n)), rng.standard_normal((5, n))
    Qs, Ks, Vs = (rng.standard_normal((k + 1, n, n)) * n ** e for e in (-0.75, -0.75, -0.5))
    for at in (2, 4, 5):
        got = LC.closed_form(r.prev, N.evaluator(r), xs, us, Qs, Ks, Vs, k, at)
        _, states = loop_sequence_loss(xs, us, Qs, Ks, Vs, k)
        reference = central(lambda h: loop_sequence_loss(xs, us, Qs, Ks, Vs, k, at - 1, h)[0], states[at - 1])
        assert rel(got, reference[0]) < 1e-6


def test_dropping_the_path_through_h_t_plus_1_is_caught(fall2025_params):
    """Readers stopping at t + k - 2 (for k = 2: no path through h[t+1]) fail the finite differences."""
    prm, seed = fall2025_params
    r = derived(prm)
    first, last = r.prev.readers
    short = r.prev.truncated.xreplace({sp.Min(last, M.T): sp.Min(last - 1, M.T)})
    assert short != r.prev.truncated
    wrong = dataclasses.replace(r, prev=dataclasses.replace(r.prev, truncated=short))
    bad = failed(prev_checks(wrong, prm, seed)[0])
    assert "attention_rnn.dl_dhprev:fd" in bad
    # without the loss's own term the check fails too
    no_local = dataclasses.replace(r, prev=dataclasses.replace(r.prev, truncated=r.prev.truncated - r.prev.local))
    assert "attention_rnn.dl_dhprev:fd" in failed(prev_checks(no_local, prm, seed)[0])
    with pytest.raises(VerificationError, match="attention_rnn.dl_dhprev"):
        verify.require(prev_checks(wrong, prm, seed)[0])


def test_fall2024_npz_dl_dhprev_recomputed_independently(outcomes):
    """The contract: dl/dh[t-1] recomputed from the stored arrays with a loop and central differences."""
    out = outcomes["fall2024"]
    arrays = out.groups["attention_rnn"].verification.arrays
    k = preset_params("fall2024")[0].k
    assert rel(arrays["attention_rnn.dl_dhprev"], loop_dl_dhprev(arrays, k)) < 1e-6
    # the same Q, K, V as the one-step Jacobian's instance
    reference = central(lambda s: loop_step(arrays["attention_rnn.x"], [s] + list(arrays["attention_rnn.h"][1:]),
                                            arrays["attention_rnn.Q"], arrays["attention_rnn.K"],
                                            arrays["attention_rnn.V"]), arrays["attention_rnn.h"][0])
    assert rel(arrays["attention_rnn.dh_dhprev"], reference) < 1e-6


def test_exact_check_flags_a_wrong_matrix_directly():
    check = verify.exact("demo", "demo", sp.Matrix([[1, 2]]), sp.Matrix([[1, 3]]))
    assert not check.passed and check.max_error == 1


# --------------------------------------------------------------------------
# check() and the npz contract


@pytest.mark.parametrize("k", ORDERS)
def test_check_passes_and_returns_the_contract_arrays(preset, k, monkeypatch, outcomes):
    prm, seed = preset
    if (seed, k) == (preset_params("fall2025")[1], prm.k):
        # The preset itself: its verification ran in the session's shared build.
        ver = outcomes["fall2025"].groups["attention_rnn"].verification
    else:
        # The exact step-Jacobian checks do not depend on the seed or on k <= 3
        # (EXACT_CASES): they ran once, in the fall2025 build above.
        monkeypatch.setattr(C, "EXACT_CASES", {})
        monkeypatch.setattr(C, "EXACT_MAX_ORDER", 0)
        ver = GROUP.check(derived(dataclasses.replace(prm, k=k)), None, seed)
    prm = dataclasses.replace(prm, k=k)
    checks = ver.checks
    assert all(c.passed for c in checks), [(c.id, c.max_error) for c in checks if not c.passed]
    assert len({c.id for c in checks}) == len(checks)
    assert {c.method for c in checks} >= {"finite differences", "exact (SymPy)"}
    assert {f"attention_rnn.k{o}.{q}:exact" for o in derived(prm).orders for q in ("softmax_jacobian", "column")} \
        | {"attention_rnn.score_grad:exact"} <= {c.id for c in checks}
    n = prm.n
    arrays = ver.arrays
    length, at = LC.layout(k)
    assert {name: a.shape for name, a in arrays.items()} == {
        "attention_rnn.x": (n,), "attention_rnn.h": (k, n), "attention_rnn.Q": (k + 1, n, n),
        "attention_rnn.K": (k + 1, n, n), "attention_rnn.V": (k + 1, n, n), "attention_rnn.dh_dhprev": (n, n),
        "attention_rnn.seq_x": (length, n), "attention_rnn.seq_u": (length, n), "attention_rnn.seq_t": (),
        "attention_rnn.dl_dhprev": (n,)}
    assert {"attention_rnn.dl_dhprev:fd", "attention_rnn.dl_dhprev.end:fd",
            "attention_rnn.dl_dhprev.readers:finite-differences-of-one-step"} <= {c.id for c in checks}
    assert rel(arrays["attention_rnn.dl_dhprev"], loop_dl_dhprev(arrays, k)) < 1e-6
    # the stored Jacobian is the one of the stored instance (row j-1 of h is h[t-j])
    x, h, Q, K, V = (arrays[f"attention_rnn.{name}"] for name in ("x", "h", "Q", "K", "V"))
    reference = central(lambda s: loop_step(x, [s] + list(h[1:]), Q, K, V), h[0])
    assert rel(arrays["attention_rnn.dh_dhprev"], reference) < 1e-6


def test_check_is_deterministic(fall2025_params, monkeypatch):
    """Same seed, same numbers (the exact checks, seed-free, are left out here)."""
    monkeypatch.setattr(C, "EXACT_CASES", {})
    monkeypatch.setattr(C, "EXACT_MAX_ORDER", 0)
    r = derived(fall2025_params[0])
    one, two = GROUP.check(r, None, 11), GROUP.check(r, None, 11)
    assert all(np.array_equal(one.arrays[key], two.arrays[key]) for key in one.arrays)
    assert [(c.id, c.max_error) for c in one.checks] == [(c.id, c.max_error) for c in two.checks]


# --------------------------------------------------------------------------
# Templates

TEMPLATES = ["sections/attention_rnn.tex.j2"] + [f"questions/{q.id}.tex.j2" for q in GROUP.questions]


@pytest.mark.parametrize("k", ORDERS + (5,))
def test_every_template_renders(fall2025_params, k):
    ctx = GROUP.present(derived(AttentionRnn(k=k, n=4)), None, Verification(checks=())).context
    env = render.environment([GROUP.template_dir])
    part = {"label": "a", "points": 3}
    for name in TEMPLATES:
        env.get_template(name).render(attention_rnn=ctx, key=True, staff=True, part={**part, "options": ["matrix_count"]}, section={"points": 18},
                                      answer_space=0)
    dh = env.get_template("questions/attn_dh_dhprev.tex.j2").render(attention_rnn=ctx, key=True, staff=True, part=part)
    assert r"\left(Q_{1}^{\top} K_{1} + K_{1}^{\top} Q_{1}\right) h[t - 1]" in dh
    assert r"\boxed" in dh
    diagram = env.get_template("questions/attn_diagram.tex.j2").render(attention_rnn=ctx, key=True, staff=True, part=part)
    drawn = k if k <= 3 else 2
    assert diagram.count(r"\node[src] (s") == drawn + 1
    # without the key no solution is printed
    bare = env.get_template("questions/attn_k.tex.j2").render(attention_rnn=ctx, key=False, staff=False, part=part,
                                                              answer_space=0)
    assert "solution" not in bare
    prev = env.get_template("questions/attn_dl_dhprev.tex.j2").render(attention_rnn=ctx, key=True, staff=True, part=part)
    assert r"\boxed" in prev and ctx["prev"]["printed"]["sum"] in prev
    assert (ctx["prev"]["variant"]["sum"] in prev) == (k <= 3)


@pytest.mark.latex
@pytest.mark.parametrize("name", PRESETS)
def test_built_key_has_the_section(compiled, name):
    """The compiled preset's key carries 1.2.2 (PDF and overfull checks: tests/test_cli.py)."""
    from derivations import variant

    folder, _ = compiled[(name, "key")]
    tex = (folder / "hw2_theory.tex").read_text()
    assert ("fig:attention-rnn" in tex) == variant.load(name).asks("attn_diagram")
    npz = np.load(folder / "verification.npz")
    assert npz["attention_rnn.dh_dhprev"].shape == (4, 4)


# --------------------------------------------------------------------------
# Exact checks at the variant's own sizes, and the rows that say when they were not made


def test_exact_plan_checks_own_sizes_while_small_and_names_the_limit():
    assert C.EXACT_OWN_LIMIT == C.EXACT_MAX_ORDER == 4
    assert C.exact_plan((1,), 2) == {1: (1, 2), 2: (1, 2), 3: (1,)}  # k n^2 = 4: at its own sizes
    assert C.exact_plan((4, 2), 1) == {1: (1,), 2: (1, 2), 3: (1,), 4: (1,)}
    assert C.exact_plan((4, 2), 3) == {1: (1,), 2: (1, 2), 3: (1,), 4: (1,)}  # 36 entries: k = 4 at n = 1
    assert C.exact_plan((8, 2), 16) == C.EXACT_CASES  # nothing at k = 8
    plan = C.exact_plan((1,), 2)
    assert C.skipped_note(1, 2, plan) == ""
    plan = C.exact_plan((8, 2), 16)
    assert C.skipped_note(8, 16, plan) == (
        "exact at own sizes skipped: $2\\,048$ Jacobian entries ($k n^2$) > limit $4$; "
        "checked exactly at $k = 1, 2, 3$ ($n \\le 2$) and numerically at own sizes")
    assert C.skipped_note(2, 16, plan) == (
        "exact at own sizes skipped: $512$ Jacobian entries ($k n^2$) > limit $4$; "
        "checked exactly at $k = 2$, $n = 1, 2$ and numerically at own sizes")


@pytest.fixture
def exact_calls(monkeypatch):
    """The exact step-Jacobian cases a check asks for (each stands in as a passing row: seconds saved)."""
    calls = []

    def case(forms, order, sizes):
        calls.append((order, sizes))
        return verify.Check(f"attention_rnn.k{order}.dh_dhlag", "", (1, 1), "exact (SymPy)", 0.0, 0,
                            f"$n = {', '.join(map(str, sizes))}$")

    monkeypatch.setattr(C, "exact_case", case)
    return calls


def test_a_large_variants_rows_say_the_exact_check_at_its_sizes_was_skipped(exact_calls):
    """k = 8, n = 16: no exact check at (8, 16) nor at (2, 16); every finite-difference row of the step
    Jacobians at n = 16 says so in words, and no exact row claims those sizes."""
    checks = GROUP.check(derived(AttentionRnn(k=8, n=16)), None, 5).checks
    assert all(c.passed for c in checks)
    assert dict(exact_calls) == C.EXACT_CASES
    skipped = [c for c in checks if verify.SKIPPED_EXACT in c.detail]
    assert sorted(c.id for c in skipped) == sorted(
        [f"attention_rnn.k8.dh_dh{j}:fd" for j in range(1, 9)] + ["attention_rnn.k2.dh_dh1:fd",
                                                                   "attention_rnn.k2.dh_dh2:fd"])
    assert all(c.method == "finite differences" for c in skipped)
    by_id = {c.id: c for c in skipped}
    assert by_id["attention_rnn.k8.dh_dh1:fd"].detail.endswith(
        "; exact at own sizes skipped: $2\\,048$ Jacobian entries ($k n^2$) > limit $4$; "
        "checked exactly at $k = 1, 2, 3$ ($n \\le 2$) and numerically at own sizes")
    assert all(by_id[f"attention_rnn.k8.dh_dh{j}:fd"].detail.endswith("; exact at own sizes skipped, as for $j = 1$")
               for j in range(2, 9))
    exact = [c for c in checks if c.method.startswith("exact")]
    assert not any("n = 16" in c.detail or ".k8.dh_dhlag" in c.id for c in exact)


def test_a_small_variant_is_checked_exactly_at_its_own_sizes_and_says_nothing_skipped(exact_calls):
    checks = GROUP.check(derived(AttentionRnn(k=1, n=2)), None, 5).checks
    assert (1, (1, 2)) in exact_calls
    assert not [c.id for c in checks if verify.SKIPPED_EXACT in c.detail]


@on_spare_core
def test_the_own_size_exact_check_of_a_small_variant_passes():
    (check,) = C.exact_checks(derived(AttentionRnn(k=1, n=2)), {1: (2,)})
    assert check.passed and check.id == "attention_rnn.k1.dh_dhlag:exact" and check.shape == (2, 2)
