"""1.1(c): the derived element formulas against independent computations.

* the forward formula against a sliding-window NumPy implementation;
* (ii)-(iv) against central finite differences of that implementation: the
  whole Jacobian while it is small (:data:`FULL_LIMIT`), else the Jacobian
  times a few random directions, ``J v`` computed from the closed form without
  building ``J`` (:func:`derivations.verify.directional`), at a sample of the
  outputs (:func:`sample_rows`: every output near either end, where the padding
  and the window's edges are, and :data:`SAMPLED_ROWS` others drawn at random),
  so that the cost stays nearly flat in the sizes; (iv), a sum over every
  output, is evaluated whole;
* (iv) in its correlation form, and the chain rule against ``diff`` of the loss
  (once per structure: the two are Sums over ``p`` for a symbolic ``L_out``);
* (ii) and (iii) exactly against SymPy's brute-force Jacobian of the defining
  sum: once per structure in a process at the structure's small instance
  (:func:`structure_exact`; the formulas hold the sizes as symbols), and, for a
  small variant (:data:`EXACT_LIMIT`), once per parameter set at its own sizes
  (:func:`own_exact`; cheap, since each term's derivative is remembered).

The closed forms are evaluated with vectorised NumPy on index grids (chunked
over the outputs, so memory stays bounded at any allowed size). For the
derivation :func:`~.derive.derive` made, the formulas evaluated are its
structure's, compiled once per structure with the sizes as arguments (the
variant's formulas are exactly those with the numbers in); a modified copy is
evaluated from its own expressions.
"""
from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction
from typing import Any, Callable, NamedTuple

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ... import verify as verify_mod
from ...registry import Verification
from .derive import D_, SIZES, W, c, exact_function, g, integral, is_cached, m, n, numbers, output_count, p, \
    structure, structure_key, x

# Exact SymPy checks at the variant's own sizes while (ii)'s and (iii)'s explicit Jacobians have at
# most this many entries together (every student's draw, both presets); beyond, the structure's only.
EXACT_LIMIT = 4000
# Full Jacobians (finite differences entry by entry, and stored in verification.npz) while
# d f/d x has at most this many entries; beyond, directional checks.
FULL_LIMIT = 50000
DIRECTIONS = 2  # random directions of each directional check
SAMPLED_ROWS = 256  # outputs drawn at random, besides those near either end, for the directional checks
CHUNK = 1 << 21  # entries of one evaluation grid (16 MiB of float64)
MEMO_BYTES = 1 << 25  # gathered entries a Lookup keeps for reuse (32 MiB)

LABELS = {"f": r"$f_W(x)$ (i)", "df_dW": r"$\partial f_W(x)/\partial W$ (ii)",
          "df_dx": r"$\partial f_W(x)/\partial x$ (iii)", "dl_dW": r"$\partial \ell/\partial W$ (iv)",
          "correlation": r"$\partial \ell/\partial W$ as a correlation (iv)",
          "chain": r"$\partial \ell/\partial W$: chain rule (iv)"}


def exact_entries_count(params: Any) -> int:
    """Entries of the explicit Jacobians d f/d W and d f/d x together."""
    return output_count(params) * params.channels * (params.kernel + params.length)


def is_small(params: Any) -> bool:
    """Full Jacobians: built, differenced entry by entry and stored."""
    return output_count(params) * params.channels * params.length <= FULL_LIMIT


# Vectorised evaluation.
#
# Index grids have three axes: output p (axis 0), tap m or position n (axis 1), channel c
# (axis 2, last). With the channels last, an entry x[c, j(p, m)] for every channel is a row
# gather from x transposed, and every evaluated array is contiguous in the order it is summed.


class Lookup:
    """A 1-based, zero-outside view of an array for vectorised element formulas.

    ``x[c, j]`` in a lambdified formula calls ``__getitem__((c, j))`` with
    broadcasting integer (or float, where the formula divides) index arrays;
    an entry outside the array or at a non-integer index is 0. ``channels`` is
    the grid of all channels ``1..C`` (shape ``(1, 1, C)``): when it is passed
    itself as the channel index, the entries of all channels are gathered at
    once along the last axis (``np.take``), not by broadcast fancy indexing.
    """

    def __init__(self, array: np.ndarray, channels: np.ndarray | None = None) -> None:
        self.array = np.asarray(array, float)
        self.channels = channels
        self._rows: dict[tuple, np.ndarray] = {}  # the array with the channel axis last, contiguous
        # Gathers already made, by index content: the formulas of f, d f/d W and dl/dW all
        # read x[c, j(p, m)] on the same grid. Results are read-only; at most MEMO_BYTES are kept.
        self._gathered: dict[tuple, np.ndarray] = {}
        self._kept = 0

    @staticmethod
    def _valid(i: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray | None]:
        """0-based clipped indices and the mask of valid ones (None: all valid)."""
        i = np.asarray(i)
        mask = None
        if i.dtype.kind == "f":
            mask = np.floor(i) == i
        elif i.dtype.kind not in "iub":
            raise TypeError(f"index of dtype {i.dtype}")
        if i.size and (i.min() < 1 or i.max() > size):
            inside = (i >= 1) & (i <= size)
            mask = inside if mask is None else mask & inside
        return np.clip(i, 1, size).astype(np.intp) - 1, mask

    def __getitem__(self, idx: Any) -> Any:
        idx = idx if isinstance(idx, tuple) else (idx,)
        arr = self.array
        if len(idx) != arr.ndim:
            raise IndexError(f"{len(idx)} indices for an array of {arr.ndim} axes")
        # Scalar indices first (the 1 of W[1, c, m] and g[1, p]).
        keep, rest = [], []
        for axis, i in enumerate(idx):
            if np.ndim(i) == 0 and i is not self.channels:
                k = float(i)
                if k != int(k) or not 1 <= k <= arr.shape[axis]:
                    return 0.0
                keep.append(int(k) - 1)
            else:
                keep.append(slice(None))
                rest.append(i)
        arr = arr[tuple(keep)]
        full = [k for k, i in enumerate(rest) if i is self.channels and arr.shape[k] == np.size(i)]
        if len(rest) == 2 and len(full) == 1:
            fast = self._gather(arr, tuple(k if isinstance(k, int) else None for k in keep), rest, full[0])
            if fast is not None:
                return fast
        # General case: broadcast fancy indexing.
        indices, masks = [], []
        for k, i in enumerate(rest):
            ii, mask = self._valid(i, arr.shape[k])
            indices.append(ii)
            if mask is not None:
                masks.append(mask)
        out = arr[tuple(indices)]
        for mask in masks:
            out = out * mask
        return out

    def _gather(self, arr: np.ndarray, keep: tuple, rest: list, k_full: int) -> np.ndarray | None:
        """``arr[channels, i]`` (or ``arr[i, channels]``): the channels along the grids' last axis."""
        other = np.asarray(rest[1 - k_full])
        nd = max(np.ndim(rest[k_full]), other.ndim)
        other = other.reshape((1,) * (nd - other.ndim) + other.shape)
        if other.shape[-1] != 1:
            return None
        key = (keep, k_full, other.shape, other.dtype.str, other.tobytes())
        if key in self._gathered:
            return self._gathered[key]
        rows_key = (keep, k_full)
        if rows_key not in self._rows:  # (N, C): one row per position, the channels along it
            self._rows[rows_key] = np.ascontiguousarray(arr.T if k_full == 0 else arr)
        rows = self._rows[rows_key]
        ii, mask = self._valid(other[..., 0], rows.shape[0])
        out = np.take(rows, ii, axis=0)  # other.shape[:-1] + (C,)
        if mask is not None:
            out = out * mask[..., None]
        out.flags.writeable = False
        if self._kept + out.nbytes <= MEMO_BYTES:
            self._gathered[key] = out
            self._kept += out.nbytes
        return out


class _NumPyPrinter(NumPyPrinter):
    """NumPy code where a two-piece ``Piecewise`` is ``numpy.where`` (one pass; ``select`` makes several)."""

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if len(expr.args) == 2 and expr.args[1].cond == sp.true:
            (e0, c0), (e1, _) = expr.args
            return f"numpy.where({self._print(c0)}, {self._print(e0)}, {self._print(e1)})"
        return super()._print_Piecewise(expr)


class Forms(NamedTuple):
    """The compiled formulas of one derivation, each ``(i, j, k, *SIZES, x, W, g)`` (1-based)."""

    forward: Callable[..., Any]  # the summand of f[1, p], indices (p, c, m)
    forward_limits: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...]
    df_dW: Callable[..., Any]  # (p, c, m)
    df_dx: Callable[..., Any]  # (p, c, n)
    dl_dW: Callable[..., Any]  # the summand of dl/dW[1, c, m], indices (p, c, m)
    dl_dW_limits: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...]


def _compile(source: Any, compiler: Callable[[sp.Expr, tuple], Callable[..., Any]]) -> Forms:
    args = lambda i: (p, c, i, *SIZES, x, W, g)  # noqa: E731
    return Forms(compiler(source.forward.function, args(m)), tuple(source.forward.limits),
                 compiler(source.df_dW, args(m)), compiler(source.df_dx, args(n)),
                 compiler(source.dl_dW.function, args(m)), tuple(source.dl_dW.limits))


@functools.lru_cache(maxsize=256)
def _numpy_function(expr: sp.Expr, args: tuple) -> Callable[..., Any]:
    # Every argument has an identifier name (derivations.symbolic.numeric is not needed).
    return sp.lambdify(list(args), expr, modules="numpy", printer=_NumPyPrinter)


_exact_function = exact_function  # compiled once per formula (shared with the blocks of derive.py)


@functools.lru_cache(maxsize=None)
def numpy_forms(key: tuple[bool, bool]) -> Forms:
    """A structure's formulas compiled for NumPy, once per structure in a process."""
    return _compile(structure(*key), _numpy_function)


@functools.lru_cache(maxsize=None)
def exact_forms(key: tuple[bool, bool]) -> Forms:
    """A structure's formulas compiled for exact evaluation, once per structure in a process."""
    return _compile(structure(*key), _exact_function)


def forms(d: Any, exact: bool = False) -> Forms:
    """The formulas of ``d``: its structure's for :func:`derive`'s derivation, else its own."""
    if is_cached(d):
        return (exact_forms if exact else numpy_forms)(structure_key(d.params))
    return _compile(d, _exact_function if exact else _numpy_function)


def _limits(limits: tuple, nums: dict) -> list[tuple[sp.Symbol, int, int]]:
    return [(v, int(sp.sympify(lo).xreplace(nums)), int(sp.sympify(hi).xreplace(nums))) for v, lo, hi in limits]


class Grid:
    """Index grids for one variant: p on axis 0, m or n on axis 1, the channels on axis 2."""

    AXES = {p: 0, m: 1, n: 1, c: 2}

    def __init__(self, params: Any, arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        self.params = params
        self.channels = np.arange(1, params.channels + 1).reshape(1, 1, -1)
        self.nums = numbers(params)
        self.sizes = [int(v) for v in self.nums.values()]
        xv, Wv, gv = arrays
        self.lookups = (Lookup(xv, self.channels), Lookup(Wv, self.channels), Lookup(gv, self.channels))

    def axis(self, var: sp.Symbol, lo: int, hi: int) -> np.ndarray:
        if var == c and (lo, hi) == (1, self.params.channels):
            return self.channels
        shape = [1, 1, 1]
        shape[self.AXES[var]] = max(hi - lo + 1, 0)
        return np.arange(lo, hi + 1).reshape(shape)

    def call(self, fn: Callable[..., Any], i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``fn`` at the indices (p, c, m|n), broadcast to their common shape."""
        shape = np.broadcast_shapes(np.shape(i), np.shape(j), np.shape(k))
        return np.broadcast_to(np.asarray(fn(i, j, k, *self.sizes, *self.lookups), float), shape)

    @staticmethod
    def chunks(rows: np.ndarray, width: int) -> list[tuple[int, np.ndarray]]:
        """The outputs ``rows`` (1-based) in chunks of at most :data:`CHUNK` / ``width``: (offset, grid)."""
        step = max(1, CHUNK // max(width, 1))
        return [(a, rows[a:a + step].reshape(-1, 1, 1)) for a in range(0, len(rows), step)]


def closed_forms(d: Any, xv: np.ndarray, Wv: np.ndarray, gv: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate the derived element formulas on arrays (0-based, numerator layout): f, df_dW, df_dx, dl_dW."""
    grid = Grid(d.params, (xv, Wv, gv))
    fm = forms(d)
    L, K = d.params.length, d.params.kernel
    P = all_rows(d).reshape(-1, 1, 1)
    df_dW = grid.call(fm.df_dW, P, grid.channels, grid.axis(m, 1, K))  # (p, m, c)
    Pb, Nb = np.broadcast_arrays(P, grid.axis(n, 1, L))  # conditions on (p, n) broadcast alike
    df_dx = grid.call(fm.df_dx, Pb, grid.channels, Nb)  # (p, n, c)
    return {"f": forward_values(d, grid, fm),
            "df_dW": np.ascontiguousarray(np.swapaxes(df_dW, 1, 2)).reshape(d.shapes["df_dW"]),
            "df_dx": np.ascontiguousarray(np.swapaxes(df_dx, 1, 2)).reshape(d.shapes["df_dx"]),
            "dl_dW": dl_dW_values(d, grid, fm)}


def all_rows(d: Any) -> np.ndarray:
    """Every output, 1-based."""
    return np.arange(1, d.L_out + 1)


def forward_values(d: Any, grid: Grid, fm: Forms, rows: np.ndarray | None = None) -> np.ndarray:
    """f[1, p] for the outputs ``rows`` (1-based; default all) from the forward formula: its summand
    on (p, m, c) grids, summed over its limits."""
    rows = all_rows(d) if rows is None else rows
    (cv, c_lo, c_hi), (mv, m_lo, m_hi) = _limits(fm.forward_limits, grid.nums)
    out = np.zeros(len(rows))
    width = (c_hi - c_lo + 1) * (m_hi - m_lo + 1)
    axes = {cv: grid.axis(cv, c_lo, c_hi), mv: grid.axis(mv, m_lo, m_hi)}
    for a, P in grid.chunks(rows, width):
        out[a:a + len(P)] = grid.call(fm.forward, P, axes[c], axes[m]).sum(axis=(1, 2))
    return out[None, :]


def dl_dW_values(d: Any, grid: Grid, fm: Forms, rows: np.ndarray | None = None) -> np.ndarray:
    """dl/dW[1, c, m] from (iv): the summand on (p, m, c) grids, summed over p within the Sum's limits;
    with ``rows`` (1-based outputs), only the terms of those p (the others are 0 when g is 0 there)."""
    (pv, lo, hi), = _limits(fm.dl_dW_limits, grid.nums)
    rows = np.arange(lo, hi + 1) if rows is None else rows[(rows >= lo) & (rows <= hi)]
    C, K = d.params.channels, d.params.kernel
    out = np.zeros((K, C))
    for _, P in grid.chunks(rows, C * K):
        out += grid.call(fm.dl_dW, P, grid.channels, grid.axis(m, 1, K)).sum(axis=0)
    return out.T[None]


def df_dW_products(d: Any, grid: Grid, fm: Forms, directions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows ``rows`` (1-based outputs) of (d f/d W) v for each direction v (shape (1, C, K)),
    chunked over them: shape (k, 1, len(rows))."""
    C, K = d.params.channels, d.params.kernel
    out = np.zeros((len(directions), len(rows)))
    v = directions.reshape(len(directions), C, K)
    for a, P in grid.chunks(rows, C * K):
        J = grid.call(fm.df_dW, P, grid.channels, grid.axis(m, 1, K))
        out[:, a:a + len(P)] = np.einsum("pmc,dcm->dp", J, v)
    return out[:, None, :]


def receptive_field(params: Any, rows: np.ndarray) -> np.ndarray:
    """The input positions (1-based, padding included) that output p reads, from the
    sliding-window geometry: S (p - 1) + 1 - P + D t for t = 0..K - 1. Shape (rows, K, 1)."""
    start = params.stride * (rows.reshape(-1, 1, 1) - 1) + 1 - params.padding
    return start + params.dilation * np.arange(params.kernel).reshape(1, -1, 1)


def df_dx_products(d: Any, grid: Grid, fm: Forms, directions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows ``rows`` (1-based outputs) of (d f/d x) v for each direction v (shape (C, L)):
    shape (k, 1, len(rows)).

    The closed form is evaluated where output p depends on x, the K positions it
    reads (:func:`receptive_field`, from the sliding-window geometry rather than
    from the derivation); that it is zero elsewhere (between dilated taps, outside
    the window) is what the exact check verifies for the same formula. Chunked over p.
    """
    C, K = d.params.channels, d.params.kernel
    out = np.zeros((len(directions), len(rows)))
    lookups = [Lookup(v, grid.channels) for v in directions]
    for a, P in grid.chunks(rows, C * K):
        N = receptive_field(d.params, P)
        Pb = np.broadcast_to(P, N.shape)
        J = grid.call(fm.df_dx, Pb, grid.channels, N)  # (p, t, c)
        for k, v in enumerate(lookups):
            out[k, a:a + len(P)] = np.einsum("ptc,ptc->p", J, np.broadcast_to(v[grid.channels, N], J.shape))
    return out[:, None, :]


# Independent references (0-based NumPy).


def zero_padded(xv: np.ndarray, P: int) -> np.ndarray:
    """x with P zeros on each side of the position axis (x itself when P = 0), in x's layout."""
    if not P:
        return xv
    out = np.zeros(xv.shape[:-1] + (xv.shape[-1] + 2 * P,), order="F" if xv.flags.f_contiguous else "C")
    out[..., P:-P] = xv
    return out


def reference_forward(params: Any, xv: np.ndarray, Wv: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """An independent implementation (0-based NumPy): pad, then for each tap m add W[0, :, m] times
    the padded input sampled from m D in steps of S; shape (1, L_out). With ``rows`` (1-based
    outputs) only those, whose windows start at S (p - 1) in the padded input: shape (1, len(rows))."""
    K, S, D, P = params.kernel, params.stride, params.dilation, params.padding
    padded = zero_padded(xv, P)
    L_out = max((padded.shape[1] - D * (K - 1) - 1) // S + 1, 0)
    if rows is not None:  # the windows' positions, (rows, K), gathered at once
        windows = padded[:, (S * (np.asarray(rows) - 1))[:, None] + D * np.arange(K)]
        return np.einsum("cpm,cm->p", windows, Wv[0])[None, :]
    out = np.zeros(L_out)
    for mm in range(K):
        out += np.einsum("cp,c->p", padded[:, mm * D: mm * D + S * (L_out - 1) + 1: S], Wv[0, :, mm])
    return out[None, :]


def reference_correlation(params: Any, spread_length: int, xv: np.ndarray, gv: np.ndarray) -> np.ndarray:
    """dl/dW as x (padded) correlated with g spread out by the stride, in NumPy."""
    spread = np.zeros(spread_length)
    spread[:: params.stride] = gv[0]
    padded = zero_padded(xv, params.padding)
    D = params.dilation
    # einsum, not a matrix product: a product this small is slower through a threaded BLAS
    # whenever the other core is busy.
    return np.stack([np.einsum("cj,j->c", padded[:, mm * D: mm * D + spread_length], spread)
                     for mm in range(params.kernel)], axis=-1)[None]


def read_positions(params: Any, rows: np.ndarray) -> np.ndarray:
    """The input positions (0-based, increasing) that the outputs ``rows`` (1-based) read."""
    n = receptive_field(params, rows).ravel()
    return np.unique(n[(n >= 1) & (n <= params.length)]) - 1


def instance(d: Any, seed: int, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A random float64 instance (x, W, g), standard normal, from a fixed seed.

    x is drawn position-major, an (L, C) array seen transposed, the layout in
    which the checks read it (all channels of one position contiguous: the
    closed forms' gathers and the windows of the reference). With ``rows`` (the
    outputs a large variant is checked at) x is drawn only at the positions
    those outputs read and g only at those outputs, both 0 elsewhere: no check
    reads anything else, and drawing it would cost time in the sizes.
    """
    rng = np.random.default_rng(seed)
    C, L = d.shapes["x"]
    if rows is None:
        xt, Wv, gv = verify_mod.random_instance(rng, (L, C), d.shapes["W"], d.shapes["g"])
        return {"x": xt.T, "W": Wv, "g": gv}
    at = read_positions(d.params, rows)
    xt, gv = np.zeros((L, C)), np.zeros(d.shapes["g"])
    xt[at], Wv, gv[0, rows - 1] = verify_mod.random_instance(rng, (len(at), C), d.shapes["W"], (len(rows),))
    return {"x": xt.T, "W": Wv, "g": gv}


def directions(d: Any, seed: int, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The directions of the directional checks: uniform in [-1, 1), from their own generator;
    with ``rows``, x's only at the positions those outputs read (0 elsewhere, as in :func:`instance`)."""
    rng = np.random.default_rng([seed, 1])
    C, L = d.shapes["x"]
    W = rng.uniform(-1.0, 1.0, (DIRECTIONS,) + d.shapes["W"])
    # x's directions are drawn position-major (each (C, L) direction a transposed view), the
    # layout in which the closed form reads them (see Lookup).
    if rows is None:
        x = rng.uniform(-1.0, 1.0, (DIRECTIONS, L, C))
    else:
        at = read_positions(d.params, rows)
        x = np.zeros((DIRECTIONS, L, C))
        x[:, at] = rng.uniform(-1.0, 1.0, (DIRECTIONS, len(at), C))
    return {"W": W, "x": x.transpose(0, 2, 1)}


def edge_rows(params: Any) -> int:
    """How many outputs at each end of the output are always checked: ceil((D (K - 1) + P) / S) + 1,
    enough to hold every window that reads the padding, and the first and the last window."""
    reach = params.dilation * (params.kernel - 1) + params.padding
    return -(-reach // params.stride) + 1


def sample_rows(d: Any, seed: int) -> np.ndarray:
    """The outputs (1-based, increasing) at which a large variant's Jacobians are checked: every
    output within :func:`edge_rows` of either end and :data:`SAMPLED_ROWS` of the others drawn
    at random from their own generator (all of them when there are no more)."""
    Lo, e = d.L_out, edge_rows(d.params)
    inner = np.arange(e + 1, Lo - e + 1)
    if len(inner) <= SAMPLED_ROWS:
        return all_rows(d)
    drawn = np.random.default_rng([seed, 2]).choice(inner, SAMPLED_ROWS, replace=False)
    return np.unique(np.concatenate([np.arange(1, e + 1), np.sort(drawn), np.arange(Lo - e + 1, Lo + 1)]))


def _detail(prm: Any, seed: int) -> str:
    return f"$C = {prm.channels}$, $L = {prm.length}$, seed {seed}"


def numeric_checks(d: Any, inst: dict[str, np.ndarray], values: dict[str, np.ndarray],
                   seed: int) -> list[verify_mod.Check]:
    """The checks against finite differences of the whole Jacobians (small variants)."""
    xv, Wv, gv = inst["x"], inst["W"], inst["g"]
    prm = d.params
    detail = _detail(prm, seed)
    return [
        verify_mod.agreement("conv1d.f", LABELS["f"], values["f"], reference_forward(prm, xv, Wv),
                             "sliding-window sum", detail=detail),
        verify_mod.finite_difference("conv1d.df_dW", LABELS["df_dW"],
                                     lambda w: reference_forward(prm, xv, w), Wv, values["df_dW"], detail=detail),
        verify_mod.finite_difference("conv1d.df_dx", LABELS["df_dx"],
                                     lambda v: reference_forward(prm, v, Wv), xv, values["df_dx"], detail=detail),
        verify_mod.finite_difference("conv1d.dl_dW", LABELS["dl_dW"],
                                     lambda w: np.sum(gv * reference_forward(prm, xv, w)), Wv, values["dl_dW"],
                                     detail=detail),
        verify_mod.agreement("conv1d.dl_dW.correlation", LABELS["correlation"],
                             values["dl_dW"], reference_correlation(prm, d.spread_length, xv, gv),
                             "correlation with spread $g$", detail=detail),
    ]


def directional_checks(d: Any, inst: dict[str, np.ndarray], seed: int) -> tuple[list[verify_mod.Check],
                                                                                dict[str, np.ndarray]]:
    """The checks of a large variant, at its own sizes, and the values they computed.

    f, d f/d W and d f/d x at the outputs :func:`sample_rows` (f whole there, the
    Jacobians as products with random directions), against the sliding-window
    forward at the same outputs and its central differences along the same
    directions. dl/dW is that of a loss reading the same outputs: the upstream
    gradient g keeps its entries there and is 0 elsewhere (the values include
    this ``g``); (iv) is evaluated whole for it, and checked directionally
    against the differences of that loss and as a correlation.
    """
    prm = d.params
    rows = sample_rows(d, seed)
    xv, Wv = inst["x"], inst["W"]
    gv = np.zeros_like(inst["g"])
    gv[:, rows - 1] = inst["g"][:, rows - 1]
    grid = Grid(prm, (xv, Wv, gv))
    fm = forms(d)
    dirs = directions(d, seed, rows)
    f = forward_values(d, grid, fm, rows)
    dl = dl_dW_values(d, grid, fm, rows)
    jv_W = df_dW_products(d, grid, fm, dirs["W"], rows)
    jv_x = df_dx_products(d, grid, fm, dirs["x"], rows)
    where = ("all outputs" if len(rows) == d.L_out else
             f"{len(rows)} of the {d.L_out} outputs ({2 * edge_rows(prm)} at the ends, {SAMPLED_ROWS} drawn)")
    detail = _detail(prm, seed) + f"; $J v$ along {DIRECTIONS} random directions at {where}"
    checks = [
        verify_mod.agreement("conv1d.f", LABELS["f"], f, reference_forward(prm, xv, Wv, rows), "sliding-window sum",
                             detail=_detail(prm, seed) + f"; at {where}"),
        verify_mod.directional("conv1d.df_dW", LABELS["df_dW"], lambda w: reference_forward(prm, xv, w, rows), Wv,
                               dirs["W"], jv_W, shape=d.shapes["df_dW"], detail=detail),
        verify_mod.directional("conv1d.df_dx", LABELS["df_dx"], lambda v: reference_forward(prm, v, Wv, rows), xv,
                               dirs["x"], jv_x, shape=d.shapes["df_dx"], detail=detail),
        verify_mod.directional("conv1d.dl_dW", LABELS["dl_dW"],
                               lambda w: np.sum(gv[:, rows - 1] * reference_forward(prm, xv, w, rows)),
                               Wv, dirs["W"], np.einsum("dacm,acm->d", dirs["W"], dl), shape=d.shapes["dl_dW"],
                               detail=_detail(prm, seed) + f"; along {DIRECTIONS} random directions, $g$ zero outside "
                                                           f"the {len(rows)} outputs"),
        verify_mod.agreement("conv1d.dl_dW.correlation", LABELS["correlation"], dl,
                             reference_correlation(prm, d.spread_length, xv, gv), "correlation with spread $g$",
                             detail=_detail(prm, seed)),
    ]
    values = {"rows": rows, "g": gv, "f": f, "dl_dW": dl, "directions.W": dirs["W"], "directions.x": dirs["x"],
              "df_dW_v": jv_W, "df_dx_v": jv_x}
    return checks, values


# Exact checks.


def canonical(params: Any) -> Any:
    """A small instance with the kernel, stride, dilation and padding of ``params``: 2 channels and
    the shortest input that gives at least 3 outputs."""
    from . import kernel_fits  # the group's own rule (this module is imported by the group)

    length = 1
    while True:
        q = dataclasses.replace(params, channels=2, length=length)
        if kernel_fits(q) is None and output_count(q) >= 3:
            return q
        length += 1


@functools.lru_cache(maxsize=None)
def structure_instance(key: tuple[bool, bool]) -> Any:
    """The small instance at which a structure's formulas are checked exactly: kernel 3, stride 2,
    dilation 2 if the structure has dilation, padding 1 if it has padding (:func:`canonical` of that)."""
    from . import Conv1d

    dilated, padded = key
    return canonical(Conv1d(channels=2, length=1, kernel=3, stride=2, dilation=2 if dilated else 1,
                            padding=1 if padded else 0))


INVALID = sp.Symbol(r"\text{invalid}")  # what the closed form gives for an entry that does not exist


class _Symbols:
    """``x[c, n]`` and ``W[1, c, m]`` of an instance as plain symbols (exact arithmetic).

    An input position outside ``1..L`` is the zero padding; an index that is not
    an integer in range (a tap ``m`` outside ``1..K``, say) is :data:`INVALID`.
    """

    def __init__(self, base: str, shape: tuple[int, ...], padding_axis: int | None = None) -> None:
        self.base, self.shape, self.padding_axis = base, shape, padding_axis
        self.cache: dict[tuple[int, ...], sp.Symbol] = {}

    def __getitem__(self, idx: tuple[Any, ...]) -> sp.Basic:
        if idx in self.cache:
            return self.cache[idx]
        ints = tuple(integral(i) for i in idx)
        if any(i is None for i in ints):
            return INVALID
        for axis, (i, size) in enumerate(zip(ints, self.shape)):
            if not 1 <= i <= size:
                return sp.S.Zero if axis == self.padding_axis else INVALID
        if ints not in self.cache:
            self.cache[ints] = sp.Symbol(f"{self.base}_{'_'.join(map(str, ints))}")
        return self.cache[ints]


def exact_at(fm: Forms, q: Any, *, detail: str, case: str = "") -> tuple[verify_mod.Check, verify_mod.Check]:
    """(ii) and (iii) at the sizes of ``q``, every entry, against SymPy's brute-force Jacobian.

    The forward pass is the defining sum written out term by term at ``q``'s
    sizes (``x`` and ``W`` entries as symbols, the padding as 0), differentiated
    by :func:`derivations.verify.expanded_jacobian`; the closed forms are
    evaluated exactly (integers and fractions, :func:`~.derive.exact_function`) at every index.
    """
    C, L, K = q.channels, q.length, q.kernel
    Lo = output_count(q)
    nums = numbers(q)
    sizes = [int(v) for v in nums.values()]
    sizes[SIZES.index(D_)] = Fraction(sizes[SIZES.index(D_)])  # a tap divides by D exactly
    xs, Ws = _Symbols("x", (C, L), padding_axis=1), _Symbols("W", (1, C, K))
    (cv, c_lo, c_hi), (mv, m_lo, m_hi) = _limits(fm.forward_limits, nums)
    terms = [[fm.forward(pp, *({cv: cc, mv: mm}[v] for v in (c, m)), *sizes, xs, Ws, None)
              for cc in range(c_lo, c_hi + 1) for mm in range(m_lo, m_hi + 1)] for pp in range(1, Lo + 1)]
    w_vars = [Ws[1, cc, mm] for cc in range(1, C + 1) for mm in range(1, K + 1)]
    x_vars = [xs[cc, nn] for cc in range(1, C + 1) for nn in range(1, L + 1)]
    brute = verify_mod.expanded_jacobian(terms, w_vars + x_vars)
    nW = len(w_vars)
    closed_W = (fm.df_dW(pp, cc, mm, *sizes, xs, Ws, None)
                for pp in range(1, Lo + 1) for cc in range(1, C + 1) for mm in range(1, K + 1))
    closed_x = (fm.df_dx(pp, cc, nn, *sizes, xs, Ws, None)
                for pp in range(1, Lo + 1) for cc in range(1, C + 1) for nn in range(1, L + 1))
    brute_W = (row[k] for row in brute for k in range(nW))
    brute_x = (row[k] for row in brute for k in range(nW, len(row)))
    return (verify_mod.exact_entries("conv1d.df_dW", LABELS["df_dW"], closed_W, brute_W, detail=detail,
                                     shape=(1, Lo, 1, C, K), case=case),
            verify_mod.exact_entries("conv1d.df_dx", LABELS["df_dx"], closed_x, brute_x, detail=detail,
                                     shape=(1, Lo, C, L), case=case))


@functools.lru_cache(maxsize=None)
def structure_exact(key: tuple[bool, bool]) -> tuple[verify_mod.Check, verify_mod.Check]:
    """A structure's (ii) and (iii) checked exactly at :func:`structure_instance`: once per structure
    in a process, whatever variant of the structure comes first."""
    q = structure_instance(key)
    detail = (f"$C = {q.channels}$, $L = {q.length}$, $K = {q.kernel}$, $S = {q.stride}$, $D = {q.dilation}$, "
              f"$P = {q.padding}$ (the structure's small instance), all entries")
    return exact_at(exact_forms(key), q, detail=detail, case="structure")


@functools.lru_cache(maxsize=256)
def own_exact(params: Any) -> tuple[verify_mod.Check, verify_mod.Check]:
    """(ii) and (iii) of the structure's formulas checked exactly at the variant's own sizes, once per
    parameter set in a process."""
    detail = f"$C = {params.channels}$, $L = {params.length}$, all entries"
    return exact_at(exact_forms(structure_key(params)), params, detail=detail)


def exact_checks(d: Any) -> list[verify_mod.Check]:
    """(ii) and (iii) against SymPy's brute-force Jacobian of explicit symbols.

    For :func:`derive`'s derivation: its structure's check (:func:`structure_exact`) is made
    for every variant, once per structure; a small variant (:data:`EXACT_LIMIT`) is also
    checked at its own sizes and lists that check (and the structure's only if it failed),
    a large one lists the structure's. A modified copy is checked with its own formulas,
    at its own sizes while small, else at :func:`canonical` (its formulas do not involve
    ``C`` or ``L``; the defining sum then runs over the instance's channels).
    """
    small = exact_entries_count(d.params) <= EXACT_LIMIT
    if is_cached(d):
        structural = list(structure_exact(structure_key(d.params)))
        if not small:
            return structural
        return list(own_exact(d.params)) + [ch for ch in structural if not ch.passed]
    fm = forms(d, exact=True)
    if small:
        return list(exact_at(fm, d.params, detail=f"$C = {d.params.channels}$, $L = {d.params.length}$, all entries"))
    q = canonical(d.params)
    fm = fm._replace(forward_limits=tuple((v, lo, q.channels if v == c else hi) for v, lo, hi in fm.forward_limits))
    return list(exact_at(fm, q, detail=f"$C = {q.channels}$, $L = {q.length}$ (the variant's $K$, $S$, $D$, $P$), "
                                       "all entries"))


@functools.lru_cache(maxsize=None)
def _chain_rule_errors(key: tuple[bool, bool]) -> float:
    """Entries where the chain rule through the sum over p differs from diff of the loss, for symbolic sizes."""
    st = structure(*key)
    return verify_mod.exact("conv1d.dl_dW", "", sp.Matrix([[st.dl_dW]]), sp.Matrix([[st.dl_dW_explicit]])).max_error


@functools.lru_cache(maxsize=256)
def _chain_rule_cached(params: Any) -> verify_mod.Check:
    return verify_mod.Check("conv1d.dl_dW", LABELS["chain"], (1, params.channels, params.kernel), "exact (SymPy)",
                            _chain_rule_errors(structure_key(params)), 0, r"sum over $p$ vs. diff of the loss",
                            "chain-rule")


def chain_rule_check(d: Any) -> verify_mod.Check:
    """(iv) as the chain rule through the sum over p equals ``diff`` of the loss itself.

    For :func:`derive`'s derivation this holds for its structure, symbolic
    ``L_out`` and all (checked once per structure); a modified copy is checked
    with its own numbers, ``c`` and ``m`` left symbolic.
    """
    if is_cached(d):
        return _chain_rule_cached(d.params)
    chain, explicit = d.dl_dW.doit(), d.dl_dW_explicit.doit()
    return verify_mod.exact("conv1d.dl_dW", LABELS["chain"], sp.Matrix([[chain]]), sp.Matrix([[explicit]]),
                            detail=r"sum over $p$ vs. diff of the loss", shape=d.shapes["dl_dW"], case="chain-rule")


def symbolic_checks(d: Any) -> list[verify_mod.Check]:
    """The checks that do not depend on the seed: exact and the chain rule."""
    return exact_checks(d) + [chain_rule_check(d)]


def check(d: Any, evidence: Any, seed: int) -> Verification:
    """All checks of 1.1(c), and the instance with the closed forms' values.

    ``verification.npz`` holds ``conv1d.x``, ``.W``, ``.g``, ``.f`` and
    ``.dl_dW`` always; ``.df_dW`` and ``.df_dx`` (the full Jacobians) while the
    variant is small (:func:`is_small`), else ``.rows`` (the checked outputs,
    1-based, :func:`sample_rows`; ``.g`` is 0 at the others, ``.x`` at the positions they do not
    read), ``.f`` at those outputs, ``.directions.W`` and
    ``.directions.x`` (the random directions, stacked) with ``.df_dW_v`` and
    ``.df_dx_v`` (the closed forms' Jacobian-times-direction products at those
    outputs, shape ``(directions, 1, len(rows))``).
    """
    if is_small(d.params):
        inst = instance(d, seed)
        values = closed_forms(d, inst["x"], inst["W"], inst["g"])
        checks = numeric_checks(d, inst, values, seed)
    else:
        inst = instance(d, seed, sample_rows(d, seed))
        checks, values = directional_checks(d, inst, seed)
    count = exact_entries_count(d.params)
    if is_cached(d) and count > EXACT_LIMIT:  # the Jacobians' rows say where they were checked exactly
        q = structure_instance(structure_key(d.params))
        note = verify_mod.skipped_exact(count, "Jacobian entries", EXACT_LIMIT,
                                        f"the structure's small instance ($C = {q.channels}$, $L = {q.length}$)")
        checks = [dataclasses.replace(ch, detail=f"{ch.detail}; {note}")
                  if ch.quantity in ("conv1d.df_dW", "conv1d.df_dx") else ch for ch in checks]
    checks += symbolic_checks(d)
    arrays = {"conv1d.x": inst["x"], "conv1d.W": inst["W"], "conv1d.g": values.pop("g", inst["g"])}
    arrays.update({f"conv1d.{k}": v for k, v in values.items()})
    return Verification(tuple(checks), arrays)
