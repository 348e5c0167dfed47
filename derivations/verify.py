"""Verification as one reusable piece.

Two independent ways to check a derived closed form:

* :func:`finite_difference` compares the closed form, evaluated with NumPy on a
  random float64 instance, against central finite differences of the forward
  function (relative error below a tolerance);
* :func:`exact` compares a closed form built from explicit SymPy symbols
  against SymPy's brute-force Jacobian of the same symbols: every entry of the
  difference must simplify to exactly zero.

For Jacobians too large to build, :func:`directional` compares ``J v`` along a
few directions with central differences along them; :func:`expanded_jacobian`
and :func:`exact_entries` are the exact comparison for a forward pass written
out as sums of terms, entry by entry.

Each returns a :class:`Check`; :func:`require` turns any failed check into a
:class:`~derivations.errors.VerificationError` naming the quantity, so a key
whose formulas disagree with their checks is never produced.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import sympy as sp

from .errors import VerificationError

FD_STEP = 1e-6
FD_TOL = 1e-6

# The verification's time budget: derive + check of every group of one variant (1.3's training
# runs excluded: they have a budget of their own, checked when the variant is read), in seconds, on
# the 2-core machine of the README's measurements. Nothing is timed while a key is built (its bytes
# never depend on the clock): each group's size limits for the exact checks at the variant's own
# sizes are set so that the worst variant its ranges allow verifies within this, as measured with
# HW2_REUSE=0 (README, "Limits of the verification"), and ``python -m derivations stress`` reports
# its slowest verification against it.
BUDGET_SECONDS = 20.0
# How a row begins its note when the exact check at the variant's own sizes was not made.
SKIPPED_EXACT = "exact at own sizes skipped"


@dataclass(frozen=True)
class Check:
    """The outcome of one verification.

    Attributes:
        quantity: stable id, e.g. ``conv1d.df_dx`` (used in errors and JSON).
        label: LaTeX of the quantity for the PDF's table.
        shape: shape of the checked object (numerator layout).
        method: ``"finite differences"`` or ``"exact (SymPy)"``.
        max_error: max relative error (finite differences) or the number of
            entries whose difference did not simplify to zero (exact).
        tolerance: the bound ``max_error`` must stay under (0 for exact).
        detail: where the check was made (sizes, seed).
        case: tells apart checks of one quantity by one method (e.g. two
            sizes of an exact check); part of :attr:`id`.
    """

    quantity: str
    label: str
    shape: tuple[int, ...]
    method: str
    max_error: float
    tolerance: float
    detail: str = ""
    case: str = ""

    @property
    def id(self) -> str:
        """A stable, unique id: quantity, method and case (``conv1d.df_dx:exact``)."""
        method = "exact" if self.method.startswith("exact") else "fd" if self.method == "finite differences" \
            else "".join(ch if ch.isalnum() else "-" for ch in self.method.lower()).strip("-")
        while "--" in method:
            method = method.replace("--", "-")
        return f"{self.quantity}:{method}" + (f":{self.case}" if self.case else "")

    @property
    def passed(self) -> bool:
        if self.method.startswith("exact"):
            return self.max_error == 0
        return bool(np.isfinite(self.max_error)) and self.max_error < self.tolerance


def central_difference(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Jacobian of ``f`` at ``x`` by central differences, shape ``f(x).shape + x.shape``.

    Numerator layout: output indices first, then input indices.
    """
    x = np.asarray(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    jac = np.empty(out_shape + x.shape)
    flat = x.reshape(-1)
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = h
        plus = np.asarray(f((flat + step).reshape(x.shape)))
        minus = np.asarray(f((flat - step).reshape(x.shape)))
        jac[(...,) + np.unravel_index(i, x.shape)] = (plus - minus) / (2 * h)
    return jac


def relative_error(closed: np.ndarray, reference: np.ndarray) -> float:
    """max |closed - reference| / max |reference| (absolute if the reference is ~0)."""
    closed, reference = np.asarray(closed, float), np.asarray(reference, float)
    if closed.shape != reference.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(reference), initial=0.0)), 1e-12)
    return float(np.max(np.abs(closed - reference), initial=0.0) / scale)


def finite_difference(
    quantity: str,
    label: str,
    forward: Callable[[np.ndarray], np.ndarray],
    at: np.ndarray,
    closed: np.ndarray,
    *,
    detail: str = "",
    tol: float = FD_TOL,
    h: float = FD_STEP,
    case: str = "",
) -> Check:
    """Check a closed-form Jacobian ``closed`` of ``forward`` at ``at``."""
    reference = central_difference(forward, at, h)
    closed = np.asarray(closed, float)
    return Check(quantity, label, tuple(closed.shape), "finite differences",
                 relative_error(closed, reference), tol, detail, case)


def agreement(quantity: str, label: str, closed: np.ndarray, reference: np.ndarray,
              method: str, *, detail: str = "", tol: float = 1e-12, case: str = "") -> Check:
    """Check a closed form against an independent numeric implementation."""
    closed = np.asarray(closed, float)
    return Check(quantity, label, tuple(closed.shape), method,
                 relative_error(closed, reference), tol, detail, case)


def exact(quantity: str, label: str, closed: sp.MatrixBase | sp.NDimArray,
          brute: sp.MatrixBase | sp.NDimArray, *, detail: str = "",
          shape: tuple[int, ...] | None = None, case: str = "") -> Check:
    """Check that ``closed - brute`` simplifies to exactly zero entry by entry.

    ``shape`` is the shape to report (a tensor Jacobian is compared flattened).
    """
    a, b = sp.Array(closed), sp.Array(brute)
    shape = tuple(shape or a.shape)
    if a.shape != b.shape:
        return Check(quantity, label, shape, "exact (SymPy)", float("inf"), 0, detail, case)
    bad = 0
    for u, v in zip(sp.flatten(a), sp.flatten(b)):
        d = sp.expand(u - v)
        if d != 0 and sp.simplify(d) != 0:
            bad += 1
    return Check(quantity, label, shape, "exact (SymPy)", float(bad), 0, detail, case)


def require(checks: Iterable[Check]) -> list[Check]:
    """Return the checks, or raise naming every quantity that failed."""
    checks = list(checks)
    failed = [c for c in checks if not c.passed]
    if failed:
        what = "; ".join(f"{c.quantity} ({c.method}: error {c.max_error:.3g} >= {c.tolerance:g})" for c in failed)
        raise VerificationError(f"verification failed for {what}")
    return checks


def random_instance(rng: np.random.Generator, *shapes: Sequence[int]) -> list[np.ndarray]:
    """Standard normal float64 arrays of the given shapes from one generator."""
    return [rng.standard_normal(tuple(s)) for s in shapes]


def directional(
    quantity: str,
    label: str,
    forward: Callable[[np.ndarray], np.ndarray],
    at: np.ndarray,
    directions: Sequence[np.ndarray],
    closed: np.ndarray,
    *,
    shape: Sequence[int],
    detail: str = "",
    tol: float = FD_TOL,
    h: float = FD_STEP,
    case: str = "directional",
) -> Check:
    """Check a closed-form Jacobian ``J`` of ``forward`` at ``at`` along a few directions, never building it.

    ``closed[k]`` is ``J v_k`` computed from the closed form (numerator layout:
    ``J``'s input indices contracted with ``directions[k]``, shape ``forward(at).shape``);
    the reference is the central difference ``(forward(at + h v_k) - forward(at - h v_k)) / 2h``.
    ``shape`` is the Jacobian's shape, for the table. A Jacobian too large to build
    (or to difference entry by entry) is checked this way at its own sizes.
    """
    def difference(v: np.ndarray) -> np.ndarray:
        step = h * np.asarray(v, float)
        return (np.asarray(forward(at + step), float) - np.asarray(forward(at - step), float)) / (2 * h)

    reference = np.stack([difference(v) for v in directions])
    return Check(quantity, label, tuple(shape), "finite differences",
                 relative_error(np.asarray(closed, float), reference), tol, detail, case)


def expanded_jacobian(terms: Sequence[Sequence[sp.Expr]], variables: Sequence[sp.Symbol]) -> list[list[sp.Expr]]:
    """SymPy's brute-force Jacobian of outputs written as sums of terms, row by row.

    Entry ``(i, k)`` is the sum over the terms of output ``i`` of
    ``diff(term, variables[k])``. A term free of a variable contributes 0, which
    is what ``diff`` returns for it without differentiating, so each term is
    differentiated only with respect to its own symbols: the cost grows with
    the number of terms, not with outputs times variables (a convolution's
    Jacobian is mostly zeros). Each term's derivative is remembered in the
    process (:func:`_term_derivative`, which also says how a product is
    differentiated): the same products recur in the Jacobians of many instances.
    """
    column = {v: k for k, v in enumerate(variables)}
    rows = []
    for out in terms:
        parts: dict[int, list[sp.Expr]] = {}
        for t in out:
            t = sp.sympify(t)
            for s in t.free_symbols:
                k = column.get(s)
                if k is not None:
                    parts.setdefault(k, []).append(_term_derivative(t, s))
        row: list[sp.Expr] = [sp.S.Zero] * len(variables)
        for k, ds in parts.items():
            row[k] = sp.Add(*ds)
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=1 << 16)
def _term_derivative(term: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """``diff(term, symbol)`` for one term of a sum, remembered.

    A product ``c * symbol`` with ``c`` free of ``symbol`` (the terms of a
    convolution are ``W * x``) has derivative ``c``, the product rule with one
    factor depending on the symbol; it is formed directly, since SymPy's
    general ``diff`` of a product costs about half a millisecond. Any other
    term goes through ``diff``.
    """
    if term == symbol:
        return sp.S.One
    if isinstance(term, sp.Mul):
        others = [f for f in term.args if f != symbol]
        if len(others) == len(term.args) - 1 and not any(f.has(symbol) for f in others):
            return sp.Mul(*others)
    return sp.diff(term, symbol)


def exact_entries(quantity: str, label: str, closed: Iterable[object], brute: Iterable[sp.Expr], *,
                  shape: Sequence[int], detail: str = "", case: str = "") -> Check:
    """:func:`exact` for entries given one by one, in the same order on both sides.

    Identical entries agree without simplification; any other pair must
    simplify to zero. A closed entry that is not a SymPy expression (e.g.
    ``None`` where the closed form names no valid entry) counts as a
    difference, and so does a difference in the number of entries.
    """
    closed, brute = list(closed), list(brute)
    bad = abs(len(closed) - len(brute))
    for u, v in zip(closed, brute):
        if not isinstance(u, (sp.Basic, int)):
            bad += 1
            continue
        if u == v:
            continue
        d = sp.expand(sp.sympify(u) - v)
        if d != 0 and sp.simplify(d) != 0:
            bad += 1
    return Check(quantity, label, tuple(shape), "exact (SymPy)", float(bad), 0, detail, case)


def count_tex(value: int) -> str:
    """An integer as inline math with thin spaces between thousands (``$7\\,200$``), for a detail text."""
    return "$" + f"{int(value):,}".replace(",", r"\,") + "$"


def skipped_exact(value: int, unit: str, limit: int, checked: str) -> str:
    """The note of a row standing in for an exact check at the variant's own sizes that was not made.

    ``value`` is the size of that check (in ``unit``, e.g. "Jacobian entries"), ``limit`` the group's
    named constant it exceeds, ``checked`` where the closed form was checked exactly instead (e.g.
    "$k = 2$, $n = 2$"). The row itself is a finite-difference check: a skipped exact check never
    appears as a passed one, and its detail says so in words, e.g. "exact at own sizes skipped:
    $7\\,200$ Jacobian entries > limit $4\\,000$; checked exactly at $k = 2$, $n = 2$ and numerically
    at own sizes".
    """
    return (f"{SKIPPED_EXACT}: {count_tex(value)} {unit} > limit {count_tex(limit)}; "
            f"checked exactly at {checked} and numerically at own sizes")
