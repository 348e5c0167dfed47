"""1.2.2 in NumPy: one independent forward step, and the stored closed forms evaluated on it.

:func:`reference_step` is the one numeric reference (the model straight from
its definition); :func:`evaluator` compiles the derivation's stored
expressions with :func:`derivations.symbolic.numeric`, and
:func:`step_jacobians` / :func:`backward` evaluate them on instances made by
:func:`instance`. Finite differences of the reference (in :mod:`.check`)
then judge the closed forms.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ... import verify as verify_mod
from ...symbolic import numeric
from .derive import memoized
from .model import MAPS, J_sym, V_stack, h_now, j, k, source

Maps = Callable[[int], tuple[list, list, list]]


def reference_step(xv: np.ndarray, hist: Sequence[np.ndarray], Qs: Sequence[np.ndarray],
                   Ks: Sequence[np.ndarray], Vs: Sequence[np.ndarray]) -> dict[str, Any]:
    """One step straight from the definition; ``hist[j - 1]`` is h[t - j].

    Returns the intermediate values too (scores, weights, values, h[t]).
    """
    srcs = [xv] + list(hist)
    w = np.array([(Q @ s) @ (Kk @ s) for Q, Kk, s in zip(Qs, Ks, srcs)])
    a = np.exp(w - w.max())
    a /= a.sum()
    v = [V @ s for V, s in zip(Vs, srcs)]
    return {"w": w, "a": a, "v": v, "h": sum(ai * vi for ai, vi in zip(a, v))}


@dataclass(frozen=True)
class Evaluator:
    """The stored closed forms, compiled for NumPy (the softmax Jacobian per number of sources)."""

    score_grad: Callable[..., np.ndarray]
    step: Callable[..., np.ndarray]
    step_simplified: Callable[..., np.ndarray]
    softmax: dict[int, Callable[..., np.ndarray]]


def evaluator(d: Any) -> Evaluator:
    """The derivation's closed forms compiled once per derivation (kept in its memo)."""
    return memoized(d, "evaluator", lambda: _compile(d))


def _compile(d: Any) -> Evaluator:
    gen = source(j)
    softmax = {o + 1: numeric(J, [source(ii).a for ii in range(o + 1)])
               for o, J in d.softmax_jacobian.items()}
    return Evaluator(
        numeric(d.score_grad, [gen.Q, gen.K, gen.s]),
        numeric(d.step_jacobian, [gen.a, gen.V, V_stack, J_sym, gen.e, gen.g]),
        numeric(d.step_jacobian_simplified, [gen.a, gen.V, gen.v, h_now, gen.g]),
        softmax,
    )


def step_jacobians(ev: Evaluator, xv: np.ndarray, hist: Sequence[np.ndarray],
                   Qs: Sequence[np.ndarray], Ks: Sequence[np.ndarray], Vs: Sequence[np.ndarray],
                   *, simplified: bool = False) -> list[np.ndarray]:
    """dh[t]/dh[t - j] for j = 1..len(hist) from the stored closed forms.

    The stacked form needs the softmax Jacobian, derived for the answered orders
    only; other numbers of sources (AttentionRNN(oo)) use the simplified form,
    which the exact checks prove equal to it.
    """
    fwd = reference_step(xv, hist, Qs, Ks, Vs)
    size = len(hist) + 1
    stack = np.column_stack(fwd["v"])
    J = None if simplified else np.asarray(ev.softmax[size](*fwd["a"]), dtype=float)
    out = []
    for lag in range(1, size):
        s = hist[lag - 1][:, None]
        g = ev.score_grad(Qs[lag], Ks[lag], s)
        if simplified:
            D = ev.step_simplified(fwd["a"][lag], Vs[lag], fwd["v"][lag][:, None], fwd["h"][:, None], g)
        else:
            e = np.eye(size)[:, [lag]]
            D = ev.step(fwd["a"][lag], Vs[lag], stack, J, e, g)
        out.append(np.asarray(D, dtype=float))
    return out


@dataclass(frozen=True)
class Instance:
    """A float64 instance of one step: x[t], h[t-1..t-k] and the maps of every source."""

    x: np.ndarray
    h: np.ndarray  # (k, n): row j-1 holds h[t - j]
    Q: np.ndarray  # (k+1, n, n): index 0 acts on x[t]
    K: np.ndarray
    V: np.ndarray


SCALE = {"Q": -0.75, "K": -0.75, "V": -0.5}  # exponents of n scaling the random maps


def random_maps(rng: np.random.Generator, count: int, size: int) -> list[np.ndarray]:
    """Standard normal Q, K, V scaled by n^(-3/4), n^(-3/4), n^(-1/2).

    For unit-variance sources the scores q^T k then have unit variance, so the
    softmax is far from saturation (tiny weights would make the Jacobians tiny
    and finite differences relatively noisy), and the values stay O(1).
    """
    mats = verify_mod.random_instance(rng, *[(count, size, size)] * 3)
    return [M * float(size) ** SCALE[name] for M, name in zip(mats, MAPS)]


def conditioned(Q: np.ndarray, Kk: np.ndarray, sources: Sequence[np.ndarray]) -> np.ndarray:
    """The query maps scaled down (all by one factor) until every score has |w_i| <= 1.

    With the scores in [-1, 1] no softmax weight is below e^-2/(k+1), so no
    Jacobian block is tiny and finite differences stay well above rounding noise
    for every seed and size; the instance remains a deterministic function of the seed.
    """
    w = [abs(float((Qi @ s) @ (Ki @ s))) for Qi, Ki, s in zip(Q, Kk, sources)]
    return Q / max(1.0, max(w))


def instance(order: int, size: int, rng: np.random.Generator) -> Instance:
    xv, hv = verify_mod.random_instance(rng, (size,), (order, size))
    Q, Kk, V = random_maps(rng, order + 1, size)
    return Instance(xv, hv, conditioned(Q, Kk, [xv] + list(hv)), Kk, V)


def unroll(h_T: np.ndarray, before: list[np.ndarray], xs: list[np.ndarray], maps: Maps,
           window: int | None) -> list[dict[str, Any]]:
    """The steps T + 1 .. T_end run forward from h[T] (each :func:`reference_step`'s values).

    ``before`` holds the states before T (oldest first), ``xs[p]`` the input of step
    T + 1 + p, ``maps(c)`` the maps for a step with ``c`` sources, ``window`` the
    number k of states read (None: all of them, AttentionRNN(oo)).
    """
    states = list(before) + [h_T]
    out = []
    for xv in xs:
        past = states[::-1] if window is None else states[::-1][:window]
        Qs, Ks, Vs = maps(len(past) + 1)
        out.append(reference_step(xv, past, Qs, Ks, Vs))
        states.append(out[-1]["h"])
    return out


def unrolled_loss(h_T: np.ndarray, before: list[np.ndarray], xs: list[np.ndarray], us: list[np.ndarray],
                  maps: Maps, window: int | None) -> np.ndarray:
    """[l] with l = sum_t u[t]^T h[t] over t = T..T_end, running the cell forward from h[T] (:func:`unroll`)."""
    loss = float(us[0] @ h_T)
    for p, fwd in enumerate(unroll(h_T, before, xs, maps, window)):
        loss += float(us[p + 1] @ fwd["h"])
    return np.array([loss])  # shape (1,): its Jacobian is the 1 x n row


# A step's softmax is one-hot when its largest weight exceeds 1 - ONE_HOT: the other sources then
# carry less than a thousandth of the attention, and their share of every Jacobian is a rounding-level
# correction the finite-difference checks cannot judge. The one-step instances never get there
# (:func:`conditioned` keeps |w_i| <= 1); the unrolled sequences are drawn again when a step does.
ONE_HOT = 1e-3
# Draws of a sequence before giving up.
ATTEMPTS = 100


def one_hot(steps: Sequence[dict[str, Any]]) -> bool:
    """Whether any of the steps (:func:`reference_step` values) has a one-hot softmax."""
    return any(float(np.max(fwd["a"])) > 1 - ONE_HOT for fwd in steps)


def redraw_note(count: int) -> str:
    """The check detail's note on a redrawn sequence (empty when the first draw was used)."""
    return f", redrawn {count} time{'s' if count > 1 else ''} (one-hot softmax)" if count else ""


def backward(d: Any, ev: Evaluator, h_T: np.ndarray, before: list[np.ndarray], xs: list[np.ndarray],
             us: list[np.ndarray], maps: Maps, window: int | None) -> dict[str, np.ndarray]:
    """dl/dh[T] two ways, from the closed-form step Jacobians.

    ``direct``: the backward recursion delta[t] = u[t] + sum of delta[t'] dh[t']/dh[t]
    over the later steps t' that read h[t] directly (t' - t in the derived lag
    range 1..k, or every later step for AttentionRNN(oo)). ``total``: forward
    propagation of the total Jacobians dh[t]/dh[T], then u[T] + sum over every
    t > T of u[t] dh[t]/dh[T].
    """
    states = list(before) + [h_T]
    steps: list[list[np.ndarray]] = []  # steps[p][lag-1] = dh[T+1+p]/dh[T+1+p-lag]
    for p, xv in enumerate(xs):
        past = states[::-1] if window is None else states[::-1][:window]
        Qs, Ks, Vs = maps(len(past) + 1)
        steps.append(step_jacobians(ev, xv, past, Qs, Ks, Vs, simplified=window is None))
        states.append(reference_step(xv, past, Qs, Ks, Vs)["h"])
    last = len(xs)  # T_end - T
    # The direct lags: 1..k from the derived range (all lags for AttentionRNN(oo)).
    upper = last if window is None else int(d.direct_lags[1].subs(k, window))
    lower = int(d.direct_lags[0])
    delta: list[Any] = [None] * (last + 1)  # delta[p] = dl/dh[T + p]
    for p in range(last, -1, -1):
        acc = us[p].copy()
        for lag in range(lower, upper + 1):
            if p + lag <= last and lag <= len(steps[p + lag - 1]):
                acc = acc + delta[p + lag] @ steps[p + lag - 1][lag - 1]
        delta[p] = acc
    total = [np.eye(h_T.size)]  # total[p] = dh[T + p]/dh[T]
    for p in range(1, last + 1):
        acc = np.zeros((h_T.size, h_T.size))
        for lag in range(1, len(steps[p - 1]) + 1):
            if p - lag >= 0:
                acc += steps[p - 1][lag - 1] @ total[p - lag]
        total.append(acc)
    via_total = us[0] + sum(us[p] @ total[p] for p in range(1, last + 1))
    return {"direct": delta[0][None, :], "total": via_total[None, :]}
