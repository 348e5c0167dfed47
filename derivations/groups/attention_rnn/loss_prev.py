"""The derivation of dl/dh[t-1] for AttentionRNN(k) (Fall 2024's 1.2.2(d)): SymPy only.

The state ``h[t-1]`` is the source ``i`` of every step ``tau`` with
``tau - i = t - 1`` for a state lag ``i`` in the derived range ``1..k``
(``direct_lags`` of :mod:`.derive`); solving for ``tau`` gives the readers
``tau = t, ..., t + k - 1``. The total derivative is the loss's own term at
``h[t-1]`` plus, for each reader, the full gradient ``dl/dh[tau]`` times the
one-step Jacobian ``dh[tau]/dh[t-1]`` (the other sources held fixed): the
recursion backpropagation runs. Near the end of a sequence of length ``T``
the readers stop at ``T``.

Each reader's Jacobian is the group's derived step Jacobian (generic lag ``j``
at step ``t``) moved to lag ``tau - (t - 1)`` at step ``tau``
(:func:`.model.rename_lag`); :mod:`.loss_prev_check` evaluates the stored sums,
term by term, in a backward recursion and compares with finite differences.

Layout: numerator; ``dl/dh[t-1]`` is a ``1 x n`` row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ...symbolic import AsWritten, Partial, Small
from .model import T, ell, ell_seq, h_seq, i, k, n, rename_lag, source, t, vector

tau = sp.Symbol(r"\tau", integer=True)  # the step that reads h[t-1]

# The loss of the checks, one term per step: u[tau]^T h[tau] over tau = 1..T.
FIRST_STEP = 1


@dataclass(frozen=True)
class Reader:
    """One step that reads h[t-1] directly (for a concrete order)."""

    step: sp.Expr  # tau: t, t + 1, ...
    lag: sp.Expr  # tau - (t - 1): the source index of h[t-1] at that step
    link: sp.Expr  # dl/dh[tau] dh[tau]/dh[t-1]
    jacobian: tuple[sp.Basic, sp.MatrixExpr]  # dh[tau]/dh[t-1] = a V + a (v - h) g^T at step tau
    gradient: tuple[sp.MatrixSymbol, sp.MatrixExpr]  # g = (Q^T K + K^T Q) h[t-1]


@dataclass(frozen=True)
class LossPrevDerivation:
    """dl/dh[t-1] as SymPy objects, for general k and each answered order."""

    target: sp.Basic  # h[t-1]
    readers: tuple[sp.Expr, sp.Expr]  # the first and last reader, t .. t + k - 1
    readers_shown: tuple[sp.Expr, sp.Expr]  # the same, the last written t + k - 1
    reader_of: sp.Expr  # the reader of source i: tau = t - 1 + i
    local: sp.Expr  # dl[t-1]/dh[t-1]: the loss's own term
    general: sp.Expr  # local + sum over tau = t .. t + k - 1
    truncated: sp.Expr  # the same with the readers stopping at T
    general_shown: sp.Expr  # both with the last reader written t + k - 1
    truncated_shown: sp.Expr
    orders: dict[int, sp.Expr]  # order -> the sum written out
    by_order: dict[int, tuple[Reader, ...]]  # order -> its readers with their Jacobians
    link: sp.Expr  # the generic term dl/dh[tau] dh[tau]/dh[t-1]
    valid: tuple[sp.Basic, sp.Basic]  # 2 <= t <= T: h[t-1] is a state of the sequence
    loss_term: sp.MatrixExpr  # u[tau]^T h[tau]
    loss: sp.Expr  # sum over tau = 1..T
    shape: tuple[Any, ...]  # 1 x n
    # Seed-free results computed from this very derivation (:func:`.derive.memoized`).
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)


def readers_of(direct_lags: tuple[sp.Expr, sp.Expr]) -> tuple[sp.Expr, tuple[sp.Expr, sp.Expr]]:
    """Solve ``tau - i = t - 1`` for the step ``tau`` that reads h[t-1] as its source ``i``,
    and map the lag range onto the steps."""
    (reader,) = sp.solve(sp.Eq(tau - i, t - 1), tau)
    return reader, (reader.subs(i, direct_lags[0]), reader.subs(i, direct_lags[1]))


def readers(order: int, step_jacobian: sp.MatrixExpr, score_grad: sp.MatrixExpr,
            first: sp.Expr, last: sp.Expr) -> tuple[Reader, ...]:
    """The readers of h[t-1] in AttentionRNN(order), each with its step Jacobian moved to its step."""
    target = h_seq[t - 1]
    out = []
    for step in range(int(first.subs({t: 0, k: order})), int(last.subs({t: 0, k: order})) + 1):
        when, lag = t + step, step + 1  # step tau = t + step reads h[t-1] as source tau - (t - 1)
        src = source(lag, time=when)
        out.append(Reader(
            step=when, lag=sp.Integer(lag),
            link=Partial(ell, h_seq[when]) * Partial(h_seq[when], target),
            jacobian=(Partial(h_seq[when], target), rename_lag(step_jacobian, lag, when)),
            gradient=(src.g, rename_lag(score_grad, lag, when))))
    return tuple(out)


def derive_loss_prev(direct_lags: tuple[sp.Expr, sp.Expr], step_jacobian: sp.MatrixExpr,
                     score_grad: sp.MatrixExpr, orders: tuple[int, ...]) -> LossPrevDerivation:
    """dl/dh[t-1] from the lag range and the (generic-lag) step Jacobian of the group's derivation."""
    target = h_seq[t - 1]
    reader, (first, last) = readers_of(direct_lags)
    link = Partial(ell, h_seq[tau]) * Partial(h_seq[tau], target)
    local = Partial(ell_seq[t - 1], target)
    general = local + sp.Sum(link, (tau, first, last))
    truncated = local + sp.Sum(link, (tau, first, sp.Min(last, T)))
    # The same sums with the last reader in reading order (t + k - 1), for printing.
    rest = sorted(sp.Add.make_args(sp.expand(last - t)), key=lambda term: term.is_number)
    shown = {last: AsWritten(sp.Add(t, *rest, evaluate=False))}
    loss_term = vector("u", time=tau).T * vector("h", time=tau)
    return LossPrevDerivation(
        target=target, readers=(first, last), readers_shown=(first, shown[last]), reader_of=reader, local=local,
        general=general, truncated=truncated,
        general_shown=general.xreplace(shown), truncated_shown=truncated.xreplace(shown),
        orders={o: general.subs(k, o).doit() for o in orders},
        by_order={o: readers(o, step_jacobian, score_grad, first, last) for o in orders},
        link=Small(ell, h_seq[tau]) * Small(h_seq[tau], target),
        valid=(sp.Le(2, t), sp.Le(t, T)),
        loss_term=loss_term, loss=sp.Sum(loss_term, (tau, FIRST_STEP, T)),
        shape=(1, n))

