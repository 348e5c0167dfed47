"""Checks of dl/dh[t-1] (:mod:`.loss_prev`) on an unrolled AttentionRNN(k) sequence.

The sequence starts from ``h[s] = 0`` for ``s < 1`` and runs ``T`` steps of
:func:`.numeric.reference_step`; the loss is ``l = sum_{s=1..T} u[s]^T h[s]``.
The closed form is evaluated by a backward recursion: for ``t' = T + 1`` down to
the variant's ``t``, the stored sum (readers truncated at ``T``) is substituted
with ``t = t'`` and evaluated term by term, each ``dl/dh[tau]`` being the value the
recursion already produced and each ``dh[tau]/dh[t'-1]`` the group's derived step
Jacobian (:func:`.numeric.step_jacobians`). Finite differences of the loss with
``h[t-1]`` replaced judge the result.

The seed-free work is done once per process: the stored sum is read into terms
once per expression and (t, k, T) (:func:`terms`), the printed readers'
Jacobians are compiled once per derivation (:func:`compiled_readers`); the
sequence and every number checked on it follow the seed.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import sympy as sp

from ... import verify as verify_mod
from ...symbolic import Partial, numeric
from .derive import memoized
from .loss_prev import LossPrevDerivation
from .model import T, ell, ell_seq, k, lagged, source, t, vector
from .numeric import ATTEMPTS, Evaluator, Instance, one_hot, redraw_note, reference_step, step_jacobians

# Steps after the last reader of h[t-1]: the sequence has T = 2 k + EXTRA_STEPS steps, t = k + 2.
EXTRA_STEPS = 2


def layout(order: int) -> tuple[int, int]:
    """(T, t): h[t-1] has k states before it and every reader and two more steps after it."""
    return 2 * order + EXTRA_STEPS, order + 2


def run(xs: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray, order: int,
        at: int | None = None, value: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """h[1..T] of AttentionRNN(order) from zero states, ``h[at]`` replaced by ``value`` if given."""
    zero = np.zeros(xs.shape[1])
    states: dict[int, np.ndarray] = {}
    for s in range(1, len(xs) + 1):
        past = [states.get(s - lag, zero) for lag in range(1, order + 1)]
        states[s] = value if s == at else reference_step(xs[s - 1], past, Q, K, V)["h"]
    return states


def steps(xs: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray, order: int) -> list[dict]:
    """Each step's :func:`.numeric.reference_step` values along :func:`run` (for :func:`.numeric.one_hot`)."""
    states = run(xs, Q, K, V, order)
    zero = np.zeros(xs.shape[1])
    return [reference_step(xs[s - 1], [states.get(s - lag, zero) for lag in range(1, order + 1)], Q, K, V)
            for s in range(1, len(xs) + 1)]


def loss(states: dict[int, np.ndarray], us: np.ndarray) -> float:
    return float(sum(us[s - 1] @ h for s, h in states.items()))


Term = tuple[float, str, int, int]  # (coefficient, "local" or "link", step, lag)


@functools.lru_cache(maxsize=None)
def terms(expr: sp.Expr, at: int, order: int, length: int) -> tuple[Term, ...]:
    """The stored sum at ``t = at``, ``k = order``, ``T = length``, read term by term.

    A term is the loss's own gradient at a step (``local``) or a chain link ``dl/dh[step]
    dh[step]/dh[step - lag]`` (``link``). Keyed on the expression itself, the reading is done
    once per process; a different expression (a wrong formula) is read anew.
    """
    out: list[Term] = []
    for term in sp.Add.make_args(expr.subs({t: at, k: order, T: length}).doit()):
        if term == 0:
            continue
        coeff, rest = term.as_coeff_Mul()
        factors = rest.args if isinstance(rest, sp.Mul) else (rest,)
        if len(factors) == 1 and isinstance(factors[0], Partial) and factors[0].args[0].base == ell_seq:
            out.append((float(coeff), "local", int(factors[0].args[1].indices[0]), 0))
        elif len(factors) == 2 and all(isinstance(f, Partial) for f in factors) and factors[0].args[0] == ell:
            step, prev = (int(f.indices[0]) for f in factors[1].args)
            out.append((float(coeff), "link", step, step - prev))
        else:
            raise ValueError(f"cannot evaluate the term {term}")
    return tuple(out)


def evaluate(expr: sp.Expr, at: int, order: int, length: int, local: Callable[[int], np.ndarray],
             grad: dict[int, np.ndarray], jac: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """The stored sum at ``t = at`` as a vector: each term read as a loss term or a chain link."""
    value = np.zeros_like(local(at - 1))
    for coeff, kind, step, lag in terms(expr, at, order, length):
        value = value + coeff * (local(step) if kind == "local" else grad[step] @ jac(step, lag))
    return value


def closed_form(d: LossPrevDerivation, ev: Evaluator, xs: np.ndarray, us: np.ndarray, Q: np.ndarray,
                K: np.ndarray, V: np.ndarray, order: int, at: int) -> np.ndarray:
    """dl/dh[at - 1] by the backward recursion over the stored (truncated) sum."""
    length = len(xs)
    states = run(xs, Q, K, V, order)
    zero = np.zeros(xs.shape[1])
    cache: dict[int, list[np.ndarray]] = {}

    def jac(step: int, lag: int) -> np.ndarray:
        if step not in cache:
            past = [states.get(step - j, zero) for j in range(1, order + 1)]
            cache[step] = step_jacobians(ev, xs[step - 1], past, Q, K, V)
        return cache[step][lag - 1]

    grad: dict[int, np.ndarray] = {}
    for prev in range(length, at - 2, -1):  # dl/dh[prev], prev = T .. at - 1
        grad[prev] = evaluate(d.truncated, prev + 1, order, length, lambda s: us[s - 1], grad, jac)
    return grad[at - 1]


def compiled_readers(d: LossPrevDerivation, order: int) -> tuple[tuple[int, int, Callable, Callable], ...]:
    """Each reader of AttentionRNN(order): its lag, its step's offset from t, and its printed score
    gradient and Jacobian compiled, once per derivation (its memo)."""
    def build() -> tuple[tuple[int, int, Callable, Callable], ...]:
        out = []
        for reader in d.by_order[order]:
            lag = int(reader.lag)
            src = source(lag, time=reader.step)
            h_step = vector("h", time=lagged(t - reader.step))
            out.append((lag, int(sp.expand(reader.step - t)), numeric(reader.gradient[1], [src.Q, src.K, src.s]),
                        numeric(reader.jacobian[1], [src.a, src.V, src.v, h_step, src.g])))
        return tuple(out)

    return memoized(d, ("readers", order), build)


def printed_jacobians(d: LossPrevDerivation, xs: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
                      order: int, at: int) -> tuple[np.ndarray, np.ndarray]:
    """The readers' Jacobians as printed (shifted symbols a_j[t+p], g_j[t+p], ...), and the group's."""
    states = run(xs, Q, K, V, order)
    zero = np.zeros(xs.shape[1])
    printed, reference = [], []
    for lag, offset, gradient, jacobian in compiled_readers(d, order):
        step = at + offset
        past = [states.get(step - j, zero) for j in range(1, order + 1)]
        fwd = reference_step(xs[step - 1], past, Q, K, V)
        g = gradient(Q[lag], K[lag], states[at - 1][:, None])
        D = jacobian(fwd["a"][lag], V[lag], fwd["v"][lag][:, None], fwd["h"][:, None], g)
        printed.append(np.asarray(D, float))
        reference.append(verify_mod.central_difference(
            lambda s, p=past: reference_step(xs[step - 1], p[:lag - 1] + [s] + p[lag:], Q, K, V)["h"],
            past[lag - 1]))
    return np.stack(printed), np.stack(reference)


def loss_prev_checks(d: LossPrevDerivation, ev: Evaluator, main: Instance, rng: np.random.Generator,
                     order: int, seed: int) -> tuple[list[verify_mod.Check], dict[str, np.ndarray]]:
    """The checks of dl/dh[t-1] for the variant's k and n, and the sequence for the npz."""
    Q, K, V = main.Q, main.K, main.V
    size = main.x.size
    length, at = layout(order)
    for redrawn in range(ATTEMPTS):  # a sequence whose every step keeps its softmax away from one-hot
        xs, us = verify_mod.random_instance(rng, (length, size), (length, size))
        if not one_hot(steps(xs, Q, K, V, order)):
            break
    else:
        raise ValueError(f"no sequence without a one-hot softmax in {ATTEMPTS} draws (k = {order}, n = {size})")
    note = redraw_note(redrawn)
    out = []
    got = {}
    for name, when in (("", at), (".end", length)):
        got[name] = closed_form(d, ev, xs, us, Q, K, V, order, when)
        base = run(xs, Q, K, V, order)[when - 1]
        out.append(verify_mod.finite_difference(
            f"attention_rnn.dl_dhprev{name}",
            rf"$\partial \ell/\partial h[t-1]$ ($k = {order}$, $t = {when}$, $T = {length}$)",
            lambda h, w=when: np.array([loss(run(xs, Q, K, V, order, w - 1, h), us)]), base, got[name][None, :],
            detail=f"$n = {size}$; linear loss over all $T$ steps, zero states before step 1; backward recursion; "
                   f"seed {seed}{note}"))
    printed, reference = printed_jacobians(d, xs, Q, K, V, order, at)
    out.append(verify_mod.agreement(
        "attention_rnn.dl_dhprev.readers", rf"$\partial h[t+p]/\partial h[t-1]$ as printed ($k = {order}$)",
        printed, reference, "finite differences of one step", tol=verify_mod.FD_TOL,
        detail=f"each of the {order} readers; $n = {size}$, seed {seed}{note}"))
    arrays = {"attention_rnn.seq_x": xs, "attention_rnn.seq_u": us, "attention_rnn.seq_t": np.array(at),
              "attention_rnn.dl_dhprev": got[""]}
    return out, arrays
