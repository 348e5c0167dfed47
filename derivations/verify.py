"""Verification as one reusable piece.

Two independent ways to check a derived closed form:

* :func:`finite_difference` compares the closed form, evaluated with NumPy on a
  random float64 instance, against central finite differences of the forward
  function (relative error below a tolerance);
* :func:`exact` compares a closed form built from explicit SymPy symbols
  against SymPy's brute-force Jacobian of the same symbols: every entry of the
  difference must simplify to exactly zero.

Each returns a :class:`Check`; :func:`require` turns any failed check into a
:class:`~derivations.errors.VerificationError` naming the quantity, so a key
whose formulas disagree with their checks is never produced.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import sympy as sp

from .errors import VerificationError

FD_STEP = 1e-6
FD_TOL = 1e-6


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
