"""1.2.2: every check of the derivation (the rows of the verification table).

* the step Jacobians (stacked and simplified form) against central finite
  differences of the NumPy reference step, for the variant's ``k`` (and the
  defined AttentionRNN(2) when k is beyond the orders the question defines);
* ``dl/dh[T]`` on unrolled sequences: both readings for AttentionRNN(k), and
  AttentionRNN(oo) with tied maps;
* both forms of the step Jacobian exactly against SymPy's Jacobian of explicit
  symbol matrices (``EXACT_CASES``, and at the variant's own (k, n) while small:
  :func:`exact_plan`; beyond, the finite-difference rows say the exact check at
  the variant's own sizes was not made, and why);
* ``dl/dh[t-1]`` (:mod:`.loss_prev_check`) on an unrolled sequence from zero states;
* the derivation's own steps: the softmax Jacobian differentiated from the
  exponentials against ``diag(a) - a a^T``, the factored score gradient against
  SymPy's gradient, and each column ``V J e_j`` against ``a_j (v_j - h[t])``.

The seed-free checks are computed once per process: the exact step-Jacobian
checks per stored closed form (:func:`exact_case`, the same forms for every
(k, n)), the derivation's own steps and the compiled closed forms per
derivation (its memo). What depends on the seed, the random instance and
every finite-difference check on it, is computed on every call.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ... import latex
from ... import verify as verify_mod
from ...registry import Verification
from ...symbolic import rational_difference
from .derive import AttentionRnnDerivation, memoized
from .model import MAPS, J_sym, V_stack, a_vec, h_now, h_seq, j, lagged, rename_lag, source
from .loss_prev_check import loss_prev_checks
from .numeric import ATTEMPTS, Evaluator, Instance, backward, conditioned, evaluator, instance, one_hot, \
    random_maps, redraw_note, reference_step, step_jacobians, unroll, unrolled_loss

# Exact SymPy checks: order k -> state sizes n. n = 2 is the smallest size at
# which Q^T K can be non-symmetric; the larger orders stay at n = 1 for speed.
EXACT_CASES = {1: (1,), 2: (1, 2), 3: (1,)}
# The step Jacobians of an order checked numerically at the variant's n are also checked exactly at
# that (k, n) while the explicit Jacobian n x (k n) has at most this many entries. The cost grows
# steeply (measured, one process, 2 cores: k n^2 = 4 at most 1.2 s; 8 up to 5.7 s; 12 up to 7.5 s;
# 18 up to 11 s), so this limit keeps the worst variant within verify.BUDGET_SECONDS. Beyond it the
# finite-difference rows of that order say so (verify.skipped_exact).
EXACT_OWN_LIMIT = 4
# Beyond the limit, the variant's own k is still checked exactly at n = 1 up to this order
# ((k, 1) has k entries: the same limit).
EXACT_MAX_ORDER = EXACT_OWN_LIMIT
# Extra steps after T in the unrolled sequences of the dl/dh[T] checks.
EXTRA_STEPS = 2
# The size of the explicit matrices of the score-gradient check (non-symmetric Q^T K).
SCORE_SIZE = 2


def own_entries(order: int, size: int) -> int:
    """Entries of the explicit step Jacobians dh[t]/dh[t-j], j = 1..k, side by side: n x (k n)."""
    return order * size * size


def exact_plan(orders: tuple[int, ...], size: int) -> dict[int, tuple[int, ...]]:
    """The exact step-Jacobian cases (order -> sizes n) of a variant checking ``orders`` at ``size``.

    :data:`EXACT_CASES` always; each order also at ``size`` while :func:`own_entries` is at most
    :data:`EXACT_OWN_LIMIT`, else at n = 1 up to :data:`EXACT_MAX_ORDER` if not among the cases.
    """
    cases = {o: tuple(sizes) for o, sizes in EXACT_CASES.items()}
    for order in orders:
        have = cases.get(order, ())
        if size in have:
            continue
        if own_entries(order, size) <= EXACT_OWN_LIMIT:
            cases[order] = tuple(sorted(have + (size,)))
        elif not have and order <= EXACT_MAX_ORDER:
            cases[order] = (1,)
    return dict(sorted(cases.items()))


def _sizes(sizes: tuple[int, ...]) -> str:
    return ", ".join(map(str, sizes))


def skipped_note(order: int, size: int, cases: dict[int, tuple[int, ...]]) -> str:
    """The finite-difference rows' note when (order, size) is not among the exact cases, else ""."""
    if size in cases.get(order, ()):
        return ""
    if order in cases:
        where = f"$k = {order}$, $n = {_sizes(cases[order])}$"
    else:  # the closed forms are generic in the lag j and in k: checked at the smaller orders
        where = (f"$k = {_sizes(tuple(cases))}$ ($n \\le {max(max(s) for s in cases.values())}$)"
                 if cases else "no size")
    return verify_mod.skipped_exact(own_entries(order, size), "Jacobian entries ($k n^2$)", EXACT_OWN_LIMIT, where)


def fd_step_checks(d: AttentionRnnDerivation, ev: Evaluator, order: int, inst: Instance,
                   detail: str, note: str = "") -> list[verify_mod.Check]:
    """The step Jacobians against finite differences; ``note`` (an exact check not made) ends the detail
    of the first lag's row, the others say in short that it was skipped as for it."""
    hist = list(inst.h)
    closed = step_jacobians(ev, inst.x, hist, inst.Q, inst.K, inst.V)
    simple = step_jacobians(ev, inst.x, hist, inst.Q, inst.K, inst.V, simplified=True)
    out = []
    for lag in range(1, order + 1):
        def fwd(hj: np.ndarray, lag: int = lag) -> np.ndarray:
            past = hist[:lag - 1] + [hj] + hist[lag:]
            return reference_step(inst.x, past, inst.Q, inst.K, inst.V)["h"]

        prev = latex.tex(h_seq[lagged(lag)], as_built=True)
        out.append(verify_mod.finite_difference(
            f"attention_rnn.k{order}.dh_dh{lag}", rf"$\partial h[t]/\partial {prev}$ ($k = {order}$)",
            fwd, hist[lag - 1], closed[lag - 1], detail=detail + (
                "" if not note else f"; {note}" if lag == 1 else f"; {verify_mod.SKIPPED_EXACT}, as for $j = 1$")))
    out.append(verify_mod.agreement(
        f"attention_rnn.k{order}.simplified", rf"$a_j(v_j - h[t])\,g_j^\top$ form ($k = {order}$)",
        np.stack(simple), np.stack(closed), r"equals the $\mathcal{V} J e_j$ form",
        detail=f"all lags $j = 1, \\dots, {order}$; " + detail))
    return out


def fd_loss_checks(d: AttentionRnnDerivation, ev: Evaluator, rng: np.random.Generator, size: int,
                   order: int, seed: int) -> list[verify_mod.Check]:
    """dl/dh[T] on unrolled sequences: AttentionRNN(k) (both readings) and AttentionRNN(oo)."""
    out = []
    steps = order + EXTRA_STEPS
    for redrawn in range(ATTEMPTS):  # drawn again while an unrolled step has a one-hot softmax
        inst = instance(order, size, rng)
        before = list(inst.h[1:][::-1])  # h[T-k+1] .. h[T-1]
        xs = verify_mod.random_instance(rng, *[(size,)] * steps)
        us = verify_mod.random_instance(rng, *[(size,)] * (steps + 1))
        maps_k = lambda c, inst=inst: (list(inst.Q[:c]), list(inst.K[:c]), list(inst.V[:c]))  # noqa: E731
        if not one_hot(unroll(inst.h[0], before, xs, maps_k, order)):
            break
    else:
        raise ValueError(f"no sequence without a one-hot softmax in {ATTEMPTS} draws (k = {order}, n = {size})")
    got = backward(d, ev, inst.h[0], before, xs, us, maps_k, order)
    loss = lambda hT: unrolled_loss(hT, before, xs, us, maps_k, order)  # noqa: E731
    detail = (f"$n = {size}$, $k = {order}$, " + r"$T_{\mathrm{end}} = T + " + f"{steps}$, seed {seed}"
              + redraw_note(redrawn))
    out.append(verify_mod.finite_difference(
        "attention_rnn.dl_dhT", rf"$\partial \ell/\partial h[T]$ via one-step Jacobians ($k = {order}$)",
        loss, inst.h[0], got["direct"], detail=detail))
    out.append(verify_mod.finite_difference(
        "attention_rnn.dl_dhT.total", rf"$\partial \ell/\partial h[T]$ via total Jacobians ($k = {order}$)",
        loss, inst.h[0], got["total"], detail=detail))
    # AttentionRNN(oo): tied maps, every past state read; 3 states before T.
    for redrawn in range(ATTEMPTS):  # drawn again while an unrolled step has a one-hot softmax
        (Qx, Qs), (Kx, Ks), (Vx, Vs) = (list(M) for M in random_maps(rng, 2, size))
        before_inf = verify_mod.random_instance(rng, *[(size,)] * 3)
        h_T = rng.standard_normal(size)
        sources = [xs[0], h_T] + before_inf[::-1]
        Qx, Qs = conditioned(np.array([Qx] + [Qs] * 4), np.array([Kx] + [Ks] * 4), sources)[:2]
        maps_inf = lambda c: ([Qx] + [Qs] * (c - 1), [Kx] + [Ks] * (c - 1), [Vx] + [Vs] * (c - 1))  # noqa: E731
        if not one_hot(unroll(h_T, before_inf, xs, maps_inf, None)):
            break
    else:
        raise ValueError(f"no AttentionRNN(oo) sequence without a one-hot softmax in {ATTEMPTS} draws (n = {size})")
    got = backward(d, ev, h_T, before_inf, xs, us, maps_inf, None)
    out.append(verify_mod.finite_difference(
        "attention_rnn.dl_dhT.infinity", r"$\partial \ell/\partial h[T]$ ($k = \infty$, tied maps)",
        lambda hT: unrolled_loss(hT, before_inf, xs, us, maps_inf, None), h_T, got["direct"],
        detail=f"$n = {size}$, $T = 4$, " + r"$T_{\mathrm{end}} = T + " + f"{steps}$, seed {seed}"
               + redraw_note(redrawn)))
    return out


# --------------------------------------------------------------------------
# Exact checks


def _vec(name: str, size: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(size, 1, lambda r, _: sp.Symbol(f"{name}{r + 1}"))


def _mat(name: str, size: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(size, size, lambda r, c: sp.Symbol(f"{name}{r + 1}{c + 1}"))


def exact_instance(order: int, size: int) -> dict[str, Any]:
    """Explicit symbol matrices for one step of AttentionRNN(order) at state size ``size``."""
    srcs = [_vec("x", size)] + [_vec(f"h{lag}_", size) for lag in range(1, order + 1)]
    Qs, Ks, Vs = ([_mat(f"{M}{ii}_", size) for ii in range(order + 1)] for M in MAPS)
    exps = [sp.exp(((Q * s).T * (Kk * s))[0, 0]) for Q, Kk, s in zip(Qs, Ks, srcs)]
    a = [e / sp.Add(*exps) for e in exps]
    v = [V * s for V, s in zip(Vs, srcs)]
    h = sp.ImmutableMatrix(size, 1, lambda r, _: sp.Add(*[ai * vi[r, 0] for ai, vi in zip(a, v)]))
    return {"srcs": srcs, "Q": Qs, "K": Ks, "V": Vs, "a": a, "v": v, "h": h}


@dataclass(frozen=True)
class StepForms:
    """What the exact step-Jacobian check reads of a derivation: the stored closed forms, hashable.

    The forms are generic (lag j, symbolic n, k), the same for every (k, n); keyed on them, the
    exact check runs once per process for all structures, and a derivation holding another form
    (a wrong one) is a new key and is checked anew.
    """

    step_jacobian: sp.MatrixExpr
    step_jacobian_simplified: sp.MatrixExpr
    score_grad: sp.MatrixExpr
    softmax_form: sp.MatrixExpr

    @classmethod
    def of(cls, d: AttentionRnnDerivation) -> "StepForms":
        return cls(d.step_jacobian, d.step_jacobian_simplified, d.score_grad, d.softmax_form)


def exact_step_jacobians(forms: StepForms, order: int, size: int) -> dict[str, sp.Matrix]:
    """Both stored closed forms and SymPy's brute-force Jacobian, each n x (k n) (all lags side by side).

    The softmax Jacobian ``J`` is the stored closed form ``diag(a) - a a^T`` at the explicit weights.
    """
    inst = exact_instance(order, size)
    gen = source(j)
    stack = sp.ImmutableMatrix.hstack(*inst["v"])
    a = inst["a"]
    J = sp.ImmutableMatrix(forms.softmax_form.xreplace({a_vec: sp.ImmutableMatrix(a)}).as_explicit())
    blocks: dict[str, list[sp.Matrix]] = {"stack": [], "simplified": [], "brute": []}
    for lag in range(1, order + 1):
        s = inst["srcs"][lag]
        g = forms.score_grad.xreplace({gen.Q: inst["Q"][lag], gen.K: inst["K"][lag], gen.s: s}).doit()
        common = {gen.a: a[lag], gen.V: inst["V"][lag], gen.g: sp.ImmutableMatrix(g)}
        e = sp.ImmutableMatrix(order + 1, 1, lambda r, _: int(r == lag))
        blocks["stack"].append(sp.Matrix(forms.step_jacobian.xreplace(
            {**common, V_stack: stack, J_sym: J, gen.e: e}).doit()))
        blocks["simplified"].append(sp.Matrix(forms.step_jacobian_simplified.xreplace(
            {**common, gen.v: inst["v"][lag], h_now: inst["h"]}).doit()))
        blocks["brute"].append(inst["h"].jacobian(list(s)))
    return {name: sp.Matrix.hstack(*mats) for name, mats in blocks.items()}


def exact_zero(quantity: str, label: str, closed: sp.MatrixBase, brute: sp.MatrixBase, *, detail: str,
               shape: tuple) -> verify_mod.Check:
    """The exact check on the rational difference, ``exp(c w)`` read as ``exp(w)^c``.

    ``max_error`` counts the entries whose numerator is not zero. The numerator
    is an expanded polynomial in independent symbols, so it is zero exactly
    when it expands to 0; ``verify.exact``'s ``simplify`` of the rest could not
    change the verdict and takes seconds when a wrong formula is checked.
    """
    difference = rational_difference(closed, brute, powers=True)
    bad = sum(1 for entry in difference if entry != 0)
    return verify_mod.Check(quantity, label, shape, "exact (SymPy)", float(bad), 0, detail)


@functools.lru_cache(maxsize=None)
def exact_case(forms: StepForms, order: int, sizes: tuple[int, ...]) -> verify_mod.Check:
    """Both closed forms against SymPy's Jacobian of explicit symbols, for one order at the given sizes n."""
    closed, brute = [], []
    for size in sizes:
        mats = exact_step_jacobians(forms, order, size)
        closed += list(mats["stack"]) + list(mats["simplified"])
        brute += list(mats["brute"]) * 2
    label = r"$\partial h[t]/\partial h[t-j]$" + f" ($k = {order}$)"
    return exact_zero(
        f"attention_rnn.k{order}.dh_dhlag", label, sp.Matrix(closed), sp.Matrix(brute),
        detail=f"$n = {', '.join(map(str, sizes))}$; $j = 1, \\dots, {order}$; both forms; explicit softmax",
        shape=(max(sizes), max(sizes)))


def exact_checks(d: AttentionRnnDerivation, cases: dict[int, tuple[int, ...]]) -> list[verify_mod.Check]:
    """Both closed forms against SymPy's Jacobian of explicit symbols; ``cases``: order -> sizes n.

    Each case is computed once per process for the forms the derivation holds (:func:`exact_case`).
    """
    forms = StepForms.of(d)
    return [exact_case(forms, order, tuple(sizes)) for order, sizes in cases.items()]


def derivation_checks(d: AttentionRnnDerivation) -> list[verify_mod.Check]:
    """The derivation's own steps, exactly: softmax Jacobian, factored score gradient, columns.

    Seed-free: computed once per derivation (its memo).
    """
    return list(memoized(d, "derivation_checks", lambda: tuple(_derivation_checks(d))))


def _derivation_checks(d: AttentionRnnDerivation) -> list[verify_mod.Check]:
    out = []
    for order, derived in d.softmax_jacobian.items():
        weights = sp.ImmutableMatrix([source(ii).a for ii in range(order + 1)])
        out.append(verify_mod.exact(
            f"attention_rnn.k{order}.softmax_jacobian",
            r"$\partial a[t]/\partial w = \operatorname{diag}(a) - a a^\top$" + f" ($k = {order}$)",
            derived, d.softmax_form.xreplace({a_vec: weights}).as_explicit(),
            detail=r"differentiated from $e^{w_i} / \sum_c e^{w_c}$, written in the $a_i$"))
    gen = source(j)
    explicit = {gen.Q: _mat("Q", SCORE_SIZE), gen.K: _mat("K", SCORE_SIZE), gen.s: _vec("s", SCORE_SIZE)}
    out.append(verify_mod.exact(
        "attention_rnn.score_grad", r"$g_j = (Q_j^\top K_j + K_j^\top Q_j)\, s_j$",
        sp.Matrix(d.score_grad.xreplace(explicit).doit()), sp.Matrix(d.score_grad_raw.xreplace(explicit).doit()),
        detail=f"factored form vs SymPy's gradient of the score; explicit $n = {SCORE_SIZE}$"))
    for order, derived in d.columns.items():
        closed = []
        for lag in range(1, order + 1):
            src = source(lag)
            placeholders = {src.v: sp.ImmutableMatrix([[sp.Symbol(src.v.name)]]),
                            h_now: sp.ImmutableMatrix([[sp.Symbol(h_now.name)]])}
            closed.append(sp.Matrix(rename_lag(d.column_simplified, lag).xreplace(placeholders).doit())[0, 0])
        out.append(verify_mod.exact(
            f"attention_rnn.k{order}.column", r"$\mathcal{V} J e_j = a_j (v_j - h[t])$" + f" ($k = {order}$)",
            sp.Matrix([closed]), sp.Matrix([list(derived)]),
            detail=f"$j = 1, \\dots, {order}$; " + r"the column of $\mathcal{V} J$ with $\sum_i a_i v_i$ read as $h[t]$"))
    return out


def check(d: AttentionRnnDerivation, evidence: Any, seed: int) -> Verification:
    """All checks of 1.2.2, and the instance with the closed form's value for the npz."""
    prm = d.params
    rng = np.random.default_rng(seed)
    ev = evaluator(d)
    main = instance(prm.k, prm.n, rng)
    detail = f"$n = {prm.n}$, seed {seed}"
    cases = exact_plan(tuple(dict.fromkeys((prm.k,) + tuple(d.orders))), prm.n)
    checks = fd_step_checks(d, ev, prm.k, main, detail, skipped_note(prm.k, prm.n, cases))
    for order in d.orders:
        if order != prm.k:
            checks += fd_step_checks(d, ev, order, instance(order, prm.n, rng), detail,
                                     skipped_note(order, prm.n, cases))
    checks += fd_loss_checks(d, ev, rng, prm.n, prm.k, seed)
    checks += exact_checks(d, cases)
    checks += derivation_checks(d)
    prev_checks, prev_arrays = loss_prev_checks(d.prev, ev, main, rng, prm.k, seed)
    checks += prev_checks
    dh = step_jacobians(ev, main.x, list(main.h), main.Q, main.K, main.V)[0]
    arrays = {"attention_rnn.x": main.x, "attention_rnn.h": main.h, "attention_rnn.Q": main.Q,
              "attention_rnn.K": main.K, "attention_rnn.V": main.V, "attention_rnn.dh_dhprev": dh,
              **prev_arrays}
    return Verification(checks=tuple(checks), arrays=arrays)
