"""Question 1.2.1: a recurrent network with a sigmoid gate.

For ``t = 1..K``, with ``x[t]`` in R^n, ``h[t]`` in R^m and ``h[0] = 0``,

    c[t] = sigma(W_c x[t] + W_h h[t-1]),
    h[t] = c[t] (.) h[t-1] + (1 - c[t]) (.) W_x x[t],

``sigma`` the elementwise sigmoid and ``(.)`` the Hadamard product. Every
answer is symbolic in ``n`` and ``m``; the variant's ``[gated_rnn]`` sizes only
the numeric verification instance.

How each answer is obtained:

* shapes come from SymPy ``MatrixSymbol`` shapes (``W_c x[t]`` is ``m x 1``);
* the step Jacobians are derived entry by entry for symbolic ``n``, ``m``,
  ``i``, ``j``: ``diff`` of the defining sums with respect to ``h[t-1][j]``,
  then recognised as a matrix form (built from ``MatrixSymbol``, ``DiagMatrix``
  and ``HadamardProduct``) whose general entry must equal the derivative
  exactly (a check in :func:`verify`), and compared with SymPy's brute-force
  ``jacobian`` of explicit symbols at small sizes;
* ``dl/dW_x`` is the per-step direct derivative (``W_x`` enters ``h[t]`` only
  through ``(1 - c[t]) (.) W_x x[t]`` once ``h[t-1]`` is held fixed), weighted by
  the *total* ``dl/dh[t]`` and summed over ``t``;
* the vanishing/exploding figure evaluates the derived step Jacobian
  (lambdified) along random trajectories.

Exact comparisons involve nested sigmoids; instead of ``simplify`` they
replace each ``exp(...)`` atom by a symbol and require the numerator of the
difference to expand to zero (:func:`rational_difference`), which is exact and
fast enough to keep derive + verify at a few seconds.

The same builder functions (``dc_dhprev_form`` and friends) produce the
printed matrix forms, the lambdified numeric versions and the explicit SymPy
matrices of the exact checks, so what is printed is what is checked.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixElement

from . import latex
from . import verify as verify_mod
from .variant import GatedRnn

# --------------------------------------------------------------------------
# Notation: sizes, the cell's matrices as SymPy MatrixSymbols (their names are
# the homework's notation), and the indexed objects of the entrywise derivation.

n, m = sp.symbols("n m", integer=True, positive=True)
K = sp.Symbol("K", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)

W_c = sp.MatrixSymbol("W_c", m, n)
W_h = sp.MatrixSymbol("W_h", m, m)
W_x = sp.MatrixSymbol("W_x", m, n)
x_t = sp.MatrixSymbol("x[t]", n, 1)
h_prev = sp.MatrixSymbol("h[t-1]", m, 1)
c_t = sp.MatrixSymbol("c[t]", m, 1)
# g[t] = dl/dh[t], the TOTAL derivative, a 1 x m row vector (numerator layout).
g_t = sp.MatrixSymbol("g[t]", 1, m)
g_direct = sp.MatrixSymbol(r"\bar{g}[t-1]", 1, m)  # the direct term: l's own dependence on h[t-1]
J_t = sp.MatrixSymbol(r"\frac{\partial h[t]}{\partial h[t-1]}", m, m)
dc_symbol = sp.MatrixSymbol(r"\frac{\partial c[t]}{\partial h[t-1]}", m, m)

# Entrywise objects (1-based indices): x[k], W_c[i, k], ..., v[i] = (W_x x[t])_i.
i, j, a, b = sp.symbols("i j a b", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
X, WC, WH, WX, HP, C, V, G = (sp.IndexedBase(s) for s in ("x", "W_c", "W_h", "W_x", "h", "c", "v", "g"))
RANGES = {i: m, j: m, a: m, b: n}  # the range 1..R of each free index

s = sp.Symbol("s")
SIGMOID = sp.Lambda(s, 1 / (1 + sp.exp(-s)))

# The Jacobian product of the vanishing/exploding figure.
FIG_SIZE = 32  # n = m of the experiment (the answer is about large-ish cells)
FIG_STEPS = 40  # t - s = 1..FIG_STEPS
FIG_BURN_IN = 10  # steps run before s, so that h[s] is a typical state
FIG_DRAWS = 12  # independent (weights, inputs) draws per scale; the median is plotted
FIG_SCALES = (0.5, 4.0)  # entries of W_c, W_h, W_x are N(0, scale^2 / m)
FIG_QUOTE = 20  # the t - s at which the text quotes the norms
SATURATED = 0.05  # a gate entry counts as saturated outside (0.05, 0.95)

# Sizes (n, m) of the exact SymPy checks: one square and one non-square cell.
EXACT_SIZES = ((2, 2), (1, 3))
EXACT_DL_SIZE = (1, 2)  # (n, m) of the exact dl/dW_x check over K = 2 steps
EXACT_DL_STEPS = 2


class Diag(DiagMatrix):
    """SymPy's ``DiagMatrix`` with the ``arg`` accessor the homework printer reads.

    ``doit`` stays structural: SymPy's version asks the assumptions system
    whether the vector is diagonal, which is slow (printing and lambdify call
    it on every negated term) and never applies to an m x 1 vector here.
    """

    @property
    def arg(self) -> sp.Basic:
        return self.args[0]

    def doit(self, **hints: Any) -> "Diag":
        return Diag(self.args[0].doit(**hints)) if hints.get("deep", True) else self


def _add(*terms: sp.Basic) -> sp.MatAdd:
    """A matrix sum kept in the given order (the printer shows it as written)."""
    return sp.MatAdd(*terms, evaluate=False)


def _mul(*factors: sp.Basic) -> sp.MatMul:
    """A matrix product kept as written (``-1`` first for a negated term)."""
    return sp.MatMul(*factors, evaluate=False)


def _sum_over_steps(term: sp.Basic) -> sp.Sum:
    """``sum_{t=1}^K term`` without re-evaluating ``term``.

    ``Sum(...)`` multiplies its function by the orientation ``1``, which
    re-sorts unevaluated matrix expressions; this builds the same object
    without that step, so ``1 - c[t]`` still prints in that order.
    """
    return sp.Expr.__new__(sp.Sum, term, sp.Tuple(t, 1, K))


# --------------------------------------------------------------------------
# The matrix forms, as builders of their arguments. Called with the
# MatrixSymbols above they give the printed answers; with concrete-size
# symbols they are lambdified; with explicit matrices they are the exact checks.


def one_minus(c: sp.Basic) -> sp.MatAdd:
    """``1 - c`` for a column vector ``c`` (``1`` the all-ones vector)."""
    return _add(sp.OneMatrix(*c.shape), _mul(-1, c))


def gate_derivative(c: sp.Basic) -> sp.Basic:
    """``sigma'(z) = c (.) (1 - c)`` with ``c = sigma(z)`` elementwise."""
    return sp.HadamardProduct(c, one_minus(c))


def preactivation(Wc: sp.Basic, x: sp.Basic, Wh: sp.Basic, h: sp.Basic) -> sp.MatAdd:
    """``W_c x[t] + W_h h[t-1]``: the argument of the gate's sigmoid."""
    return _add(_mul(Wc, x), _mul(Wh, h))


def state_update(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic) -> sp.MatAdd:
    """``c (.) h[t-1] + (1 - c) (.) W_x x[t]``: equation (2)."""
    return _add(sp.HadamardProduct(c, h), sp.HadamardProduct(one_minus(c), _mul(Wx, x)))


def dc_dhprev_form(c: sp.Basic, Wh: sp.Basic) -> sp.MatMul:
    """``dc[t]/dh[t-1] = diag(c (.) (1 - c)) W_h`` (m x m)."""
    return _mul(Diag(gate_derivative(c)), Wh)


def dh_dhprev_form(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic, Wh: sp.Basic) -> sp.MatAdd:
    """``dh[t]/dh[t-1] = diag(c) + diag(h[t-1] - W_x x[t]) diag(c (.) (1 - c)) W_h`` (m x m)."""
    return _add(Diag(c), _mul(Diag(_add(h, _mul(-1, Wx, x))), Diag(gate_derivative(c)), Wh))


def product_rule_form(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic, dc: sp.Basic) -> sp.MatAdd:
    """The product rule on (2) before ``dc/dh[t-1]`` is inserted."""
    return _add(Diag(c), _mul(Diag(h), dc), _mul(-1, Diag(_mul(Wx, x)), dc))


def dl_dWx_term_form(g: sp.Basic, c: sp.Basic, x: sp.Basic) -> sp.MatMul:
    """Step ``t``'s share of ``dl/dW_x``: ``(g[t]^T (.) (1 - c[t])) x[t]^T`` (m x n)."""
    return _mul(sp.HadamardProduct(sp.Transpose(g), one_minus(c)), sp.Transpose(x))


def dl_dWx_outer_form(g: sp.Basic, c: sp.Basic, x: sp.Basic) -> sp.MatMul:
    """The same share as an outer product: ``diag(1 - c[t]) g[t]^T x[t]^T``."""
    return _mul(Diag(one_minus(c)), sp.Transpose(g), sp.Transpose(x))


def backward_step_form(g_dir: sp.Basic, g: sp.Basic, J: sp.Basic) -> sp.MatAdd:
    """``g[t-1] = gbar[t-1] + g[t] dh[t]/dh[t-1]``: the backward recursion (rows)."""
    return _add(g_dir, _mul(g, J))


# --------------------------------------------------------------------------
# The derivation


@dataclass(frozen=True)
class Entrywise:
    """The entrywise derivation for symbolic n, m and 1-based indices i, j, a, b.

    ``*_raw`` is what SymPy's ``diff`` returns (index-range guards removed);
    ``*_entry`` the recognised form in terms of ``c[i]``, ``h[i]``, ``v[i] =
    (W_x x[t])_i``; :func:`verify` proves ``raw == entry`` after substituting
    ``c[i] = sigma(z_i)``, ``v[i] = sum_k W_x[i,k] x[k]``.
    """

    z: sp.Expr  # z_i = sum_k W_c[i,k] x[k] + sum_k W_h[i,k] h[k]
    v: sp.Expr  # (W_x x[t])_i
    c: sp.Expr  # c_i = sigma(z_i)
    h: sp.Expr  # h_i[t]
    dc_raw: sp.Expr  # d c_i / d h[j]
    dh_raw: sp.Expr  # d h_i / d h[j]
    direct_raw: sp.Expr  # d h_i / d W_x[a, b] with h[t-1] (hence c[t]) held fixed
    dl_raw: sp.Expr  # sum_i g[i] d h_i / d W_x[a, b]: step t's share of dl/dW_x[a, b]
    dc_entry: sp.Expr
    dh_entry: sp.Expr
    direct_entry: sp.Expr
    dl_entry: sp.Expr


@dataclass(frozen=True)
class GrowthCurve:
    """The norm of d h[t]/d h[s] against t - s for one weight scale (median over draws)."""

    scale: float
    gaps: tuple[int, ...]
    norms: tuple[float, ...]  # median spectral norm of the product of step Jacobians
    step_norm: float  # median spectral norm of one step Jacobian
    carry: float  # median gate entry c
    gate_slope: float  # median c (1 - c), the sigmoid's slope at the gate
    saturated: float  # fraction of gate entries outside (SATURATED, 1 - SATURATED)
    drive: float  # median |h[t-1] - W_x x[t]| over entries
    wh_norm: float  # median spectral norm of W_h over the draws

    def at(self, gap: int) -> float:
        return self.norms[self.gaps.index(gap)]


@dataclass(frozen=True)
class GatedRnnResult:
    """Derived answers to 1.2.1 (SymPy objects, shapes and numbers; numerator layout)."""

    params: GatedRnn
    seed: int
    shapes: dict[str, tuple[sp.Expr, ...]]
    sigmoid_derivative: sp.Expr  # sigma'(s) as SymPy's diff returns it
    sigmoid_slope_max: sp.Expr  # max over real s of sigma'(s)
    entrywise: Entrywise
    dc_dhprev: sp.MatMul
    dh_dhprev: sp.MatAdd
    product_rule: sp.MatAdd
    dl_dWx: sp.Sum
    dl_dWx_term: sp.MatMul
    dl_dWx_outer: sp.MatMul
    backward_step: sp.MatAdd
    curves: tuple[GrowthCurve, ...]
    double_count_gap: float  # how far the double-counted BPTT sum is off, on the check instance

    @property
    def step(self) -> int:
        """The 1-based step t >= 2 at which the step Jacobians are checked (the middle one)."""
        return max(2, (self.params.steps + 1) // 2)


def _in_range(cond: sp.Basic) -> bool:
    """Whether ``cond`` only restates that free indices lie in their ranges."""
    parts = cond.args if isinstance(cond, sp.And) else (cond,)
    known = {sp.Le(idx, top) for idx, top in RANGES.items()} | {sp.Ge(idx, 1) for idx in RANGES}
    known |= {sp.Le(1, idx) for idx in RANGES}
    return all(p in known or p is sp.true for p in parts)


def drop_guards(expr: sp.Expr) -> sp.Expr:
    """Collapse ``Piecewise((e, j <= m), (0, True))`` to ``e``: indices are in range.

    ``diff`` of a ``Sum`` with respect to an entry resolves a Kronecker delta
    and guards the result with the summation range; inside it the guard holds.
    """

    def collapse(pw: sp.Piecewise) -> sp.Expr:
        expr0, cond0 = pw.args[0]
        return expr0 if _in_range(cond0) else pw

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), collapse)


def dc_entry_form(c: sp.Expr, w: sp.Expr) -> sp.Expr:
    """``c_i (1 - c_i) (W_h)_ij``, kept in reading order."""
    return sp.Mul(c, 1 - c, w, evaluate=False)


def dh_entry_form(c: sp.Expr, delta: sp.Expr, h: sp.Expr, v: sp.Expr, w: sp.Expr) -> sp.Expr:
    """``c_i delta_ij + (h_i - (W_x x)_i) c_i (1 - c_i) (W_h)_ij``, in reading order."""
    return sp.Add(sp.Mul(c, delta, evaluate=False),
                  sp.Mul(sp.Add(h, -v, evaluate=False), c, 1 - c, w, evaluate=False), evaluate=False)


def direct_entry_form(c: sp.Expr, delta: sp.Expr, x: sp.Expr) -> sp.Expr:
    """``(1 - c_i) delta_ia x_b``: d h_i[t] / d (W_x)_ab with h[t-1] held fixed."""
    return sp.Mul(1 - c, delta, x, evaluate=False)


def dl_entry_form(g: sp.Expr, c: sp.Expr, x: sp.Expr) -> sp.Expr:
    """``g_a (1 - c_a) x_b``: step t's share of dl/d(W_x)_ab."""
    return sp.Mul(g, 1 - c, x, evaluate=False)


def derive_entrywise() -> Entrywise:
    """Differentiate the defining sums entry by entry (symbolic n, m)."""
    z = sp.Sum(WC[i, k] * X[k], (k, 1, n)) + sp.Sum(WH[i, k] * HP[k], (k, 1, m))
    v = sp.Sum(WX[i, k] * X[k], (k, 1, n))
    c = SIGMOID(z)
    h = c * HP[i] + (1 - c) * v
    dc_raw = drop_guards(sp.diff(c, HP[j]).doit())
    dh_raw = drop_guards(sp.diff(h, HP[j]).doit())
    # W_x appears in h_i[t] only through v; c_i[t] depends on h[t-1], held
    # fixed here, so this is the direct (one-step) derivative. Chain rule with
    # the row g = dl/dh[t]: sum over the entries i of h[t].
    i_sum = sp.Symbol("i_s", integer=True)
    direct = drop_guards(sp.diff(h, WX[a, b]).doit())
    dl_raw = drop_guards(sp.Sum(G[i_sum] * direct.subs(i, i_sum), (i_sum, 1, m)).doit())
    return Entrywise(
        z=z, v=v, c=c, h=h, dc_raw=dc_raw, dh_raw=dh_raw, direct_raw=direct, dl_raw=dl_raw,
        dc_entry=dc_entry_form(C[i], WH[i, j]),
        dh_entry=dh_entry_form(C[i], sp.KroneckerDelta(i, j), HP[i], V[i], WH[i, j]),
        direct_entry=direct_entry_form(C[i], sp.KroneckerDelta(i, a), X[b]),
        dl_entry=dl_entry_form(G[a], C[a], X[b]),
    )


def derive_shapes() -> dict[str, tuple[sp.Expr, ...]]:
    """Shapes read off the MatrixSymbol expressions (nothing typed in)."""
    z = preactivation(W_c, x_t, W_h, h_prev)
    if _mul(W_c, x_t).shape != _mul(W_h, h_prev).shape:
        raise AssertionError("W_c x[t] and W_h h[t-1] cannot be added")
    c_shape = z.shape  # sigma acts entrywise and keeps the shape
    c_sym = sp.MatrixSymbol("c", *c_shape)
    h_new = state_update(c_sym, h_prev, W_x, x_t)
    if h_new.shape != h_prev.shape:
        raise AssertionError("equation (2) does not return a state of the shape of h[t-1]")
    return {
        "W_c x": _mul(W_c, x_t).shape,
        "W_h h": _mul(W_h, h_prev).shape,
        "c": c_shape,
        "h": h_prev.shape,
        "x": x_t.shape,
        "W_x": W_x.shape,
        "dc_dhprev": dc_dhprev_form(c_t, W_h).shape,
        "dh_dhprev": dh_dhprev_form(c_t, h_prev, W_x, x_t, W_h).shape,
        "dl_dWx": dl_dWx_term_form(g_t, c_t, x_t).shape,
        "g": g_t.shape,
    }


def slope_maximum() -> sp.Expr:
    """The largest value of sigma'(s) = c (1 - c), c = sigma(s) in (0, 1).

    ``c (1 - c)`` is a concave parabola in ``c``; its one stationary point lies
    in (0, 1) and is the maximum (``sympy.maximum`` on sigma' itself gives the
    same 1/4, about twenty times slower).
    """
    gate = sp.Symbol("c", positive=True)
    slope = gate * (1 - gate)
    (stationary,) = sp.solve(sp.diff(slope, gate), gate)
    if not (0 < stationary < 1 and sp.diff(slope, gate, 2) < 0):
        raise AssertionError("the gate's slope has no interior maximum")
    return slope.subs(gate, stationary)


def derive_params(params: GatedRnn, seed: int) -> GatedRnnResult:
    shapes = derive_shapes()
    if shapes["dl_dWx"] != W_x.shape:
        raise AssertionError("dl/dW_x does not have the shape of W_x")
    return GatedRnnResult(
        params=params,
        seed=seed,
        shapes=shapes,
        sigmoid_derivative=sp.diff(SIGMOID(s), s),
        sigmoid_slope_max=slope_maximum(),
        entrywise=derive_entrywise(),
        dc_dhprev=dc_dhprev_form(c_t, W_h),
        dh_dhprev=dh_dhprev_form(c_t, h_prev, W_x, x_t, W_h),
        product_rule=product_rule_form(c_t, h_prev, W_x, x_t, dc_symbol),
        dl_dWx=_sum_over_steps(dl_dWx_term_form(g_t, c_t, x_t)),
        dl_dWx_term=dl_dWx_term_form(g_t, c_t, x_t),
        dl_dWx_outer=dl_dWx_outer_form(g_t, c_t, x_t),
        backward_step=backward_step_form(g_direct, g_t, J_t),
        curves=growth_curves(seed),
        double_count_gap=double_count_gap(params, seed),
    )


# --------------------------------------------------------------------------
# Numeric evaluation of the matrix forms (lambdified at concrete sizes)


@dataclass(frozen=True)
class NumericForms:
    """The closed forms as NumPy functions at sizes (n, m); vectors are 1-D arrays."""

    dc_dhprev: Callable[[np.ndarray, np.ndarray], np.ndarray]
    dh_dhprev: Callable[..., np.ndarray]
    dl_dWx_term: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@functools.lru_cache(maxsize=8)
def numeric_forms(N: int, M: int) -> NumericForms:
    """Lambdify the builders with identifier-named MatrixSymbols of concrete shapes."""
    c = sp.MatrixSymbol("c", M, 1)
    h = sp.MatrixSymbol("h_prev", M, 1)
    x = sp.MatrixSymbol("x", N, 1)
    g = sp.MatrixSymbol("g", 1, M)
    Wx = sp.MatrixSymbol("W_x", M, N)
    Wh = sp.MatrixSymbol("W_h", M, M)
    dc = sp.lambdify([c, Wh], dc_dhprev_form(c, Wh), modules="numpy")
    dh = sp.lambdify([c, h, x, Wx, Wh], dh_dhprev_form(c, h, Wx, x, Wh), modules="numpy")
    dl = sp.lambdify([g, c, x], dl_dWx_term_form(g, c, x), modules="numpy")
    col = lambda v: np.asarray(v, float).reshape(-1, 1)  # noqa: E731
    return NumericForms(
        dc_dhprev=lambda cv, Whv: np.asarray(dc(col(cv), Whv), float),
        dh_dhprev=lambda cv, hv, xv, Wxv, Whv: np.asarray(dh(col(cv), col(hv), col(xv), Wxv, Whv), float),
        dl_dWx_term=lambda gv, cv, xv: np.asarray(dl(col(gv).T, col(cv), col(xv)), float),
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def forward(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
            h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run the cell in plain NumPy: ``hs[t] = h[t]`` (t = 0..K), ``cs[t-1] = c[t]``."""
    steps, size = xs.shape[0], Wh.shape[0]
    hs = np.zeros((steps + 1, size))
    if h0 is not None:
        hs[0] = h0
    cs = np.zeros((steps, size))
    for step in range(1, steps + 1):
        c = sigmoid(Wc @ xs[step - 1] + Wh @ hs[step - 1])
        hs[step] = c * hs[step - 1] + (1 - c) * (Wx @ xs[step - 1])
        cs[step - 1] = c
    return hs, cs


def loss(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray, us: np.ndarray) -> float:
    """``l = sum_t u[t]^T h[t]``, the loss of the numeric checks."""
    hs, _ = forward(xs, Wc, Wh, Wx)
    return float(np.sum(us * hs[1:]))


def total_gradients(forms: NumericForms, xs: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
                    us: np.ndarray, hs: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """``g[t] = dl/dh[t]`` (total) by the backward recursion with the derived step Jacobian.

    ``g[K] = u[K]^T``; ``g[t] = u[t]^T + g[t+1] dh[t+1]/dh[t]``. Row ``t-1`` of
    the result is ``g[t]``.
    """
    steps = xs.shape[0]
    gs = np.zeros_like(us)
    gs[steps - 1] = us[steps - 1]
    for step in range(steps - 1, 0, -1):  # g[step] from g[step + 1]
        J_next = forms.dh_dhprev(cs[step], hs[step], xs[step], Wx, Wh)  # dh[step+1]/dh[step]
        gs[step - 1] = us[step - 1] + gs[step] @ J_next
    return gs


def closed_dl_dWx(forms: NumericForms, xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
                  us: np.ndarray) -> np.ndarray:
    """``sum_t (g[t]^T (.) (1 - c[t])) x[t]^T`` with the total g[t]."""
    hs, cs = forward(xs, Wc, Wh, Wx)
    gs = total_gradients(forms, xs, Wh, Wx, us, hs, cs)
    return sum(forms.dl_dWx_term(gs[r], cs[r], xs[r]) for r in range(xs.shape[0]))


def double_counted_dl_dWx(forms: NumericForms, xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray,
                          Wx: np.ndarray, us: np.ndarray) -> np.ndarray:
    """A common slip, for comparison: the BPTT products added on top of the TOTAL g[t].

    ``sum_t g[t] [D_t + sum_{r<t} (J[t] ... J[r+1]) D_r]`` with ``D_r`` step r's
    direct derivative: every path through later steps is already inside the
    total ``g[t]``, so this counts it again.
    """
    hs, cs = forward(xs, Wc, Wh, Wx)
    gs = total_gradients(forms, xs, Wh, Wx, us, hs, cs)
    steps = xs.shape[0]
    out = np.zeros_like(Wx)
    for step in range(1, steps + 1):
        row = gs[step - 1]  # g[step] P(step, r), walking r down from step
        for r in range(step, 0, -1):
            out += forms.dl_dWx_term(row, cs[r - 1], xs[r - 1])
            if r > 1:
                row = row @ forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh)
    return out


def double_count_gap(params: GatedRnn, seed: int) -> float:
    """Relative difference between the double-counted sum and the answer on the check instance."""
    inst = instance(params, seed)
    forms = numeric_forms(params.n, params.m)
    args = (inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"])
    return verify_mod.relative_error(double_counted_dl_dWx(forms, *args), closed_dl_dWx(forms, *args))


def growth_curves(seed: int) -> tuple[GrowthCurve, ...]:
    """Spectral norm of ``dh[t]/dh[s] = J[t] ... J[s+1]`` against ``t - s``.

    For each weight scale, FIG_DRAWS independent draws of ``W_c, W_h, W_x``
    (entries N(0, scale^2/m)) and standard normal inputs; the step Jacobians
    ``J`` are the derived closed form, lambdified.
    """
    size = FIG_SIZE
    forms = numeric_forms(size, size)
    rng = np.random.default_rng(seed)
    curves = []
    for scale in FIG_SCALES:
        norms = np.zeros((FIG_DRAWS, FIG_STEPS))
        steps, gates, drives, wh_norms = [], [], [], []
        for draw in range(FIG_DRAWS):
            Wc, Wh, Wx = (rng.normal(0.0, scale / np.sqrt(size), (size, size)) for _ in range(3))
            xs = rng.standard_normal((FIG_BURN_IN + FIG_STEPS, size))
            hs, cs = forward(xs, Wc, Wh, Wx)
            products = np.zeros((FIG_STEPS, size, size))
            jacobians = np.zeros((FIG_STEPS, size, size))
            product = np.eye(size)
            for gap in range(1, FIG_STEPS + 1):
                r = FIG_BURN_IN + gap  # the step t = s + gap, s = FIG_BURN_IN
                jacobians[gap - 1] = forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh)
                product = jacobians[gap - 1] @ product
                products[gap - 1] = product
                gates.append(cs[r - 1])
                drives.append(np.abs(hs[r - 1] - Wx @ xs[r - 1]))
            wh_norms.append(np.linalg.norm(Wh, 2))
            # Spectral norms = largest singular values, in one batched call each.
            norms[draw] = np.linalg.svd(products, compute_uv=False)[:, 0]
            steps.extend(np.linalg.svd(jacobians, compute_uv=False)[:, 0])
        gate = np.concatenate(gates)
        curves.append(GrowthCurve(
            scale=scale,
            gaps=tuple(range(1, FIG_STEPS + 1)),
            norms=tuple(float(v) for v in np.exp(np.median(np.log(norms), axis=0))),
            step_norm=float(np.median(steps)),
            carry=float(np.median(gate)),
            gate_slope=float(np.median(gate * (1 - gate))),
            saturated=float(np.mean((gate < SATURATED) | (gate > 1 - SATURATED))),
            drive=float(np.median(np.concatenate(drives))),
            wh_norm=float(np.median(wh_norms)),
        ))
    return tuple(curves)


# --------------------------------------------------------------------------
# Verification


def instance(params: GatedRnn, seed: int) -> dict[str, np.ndarray]:
    """A random float64 instance: inputs, weights and the loss weights u[t]."""
    rng = np.random.default_rng(seed)
    N, M, steps = params.n, params.m, params.steps
    xs, Wc, Wh, Wx, us = verify_mod.random_instance(rng, (steps, N), (M, N), (M, M), (M, N), (steps, M))
    return {"x": xs, "Wc": Wc, "Wh": Wh, "Wx": Wx, "u": us}


def closed_values(result: GatedRnnResult, inst: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The closed forms on the instance (0-based arrays)."""
    prm = result.params
    forms = numeric_forms(prm.n, prm.m)
    xs, Wc, Wh, Wx, us = inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"]
    hs, cs = forward(xs, Wc, Wh, Wx)
    r = result.step
    return {
        "dc_dhprev": forms.dc_dhprev(cs[r - 1], Wh),
        "dh_dhprev": forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh),
        "g": total_gradients(forms, xs, Wh, Wx, us, hs, cs),
        "dl_dWx": closed_dl_dWx(forms, xs, Wc, Wh, Wx, us),
    }


def loss_from_state(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray, us: np.ndarray,
                    step: int, h_step: np.ndarray) -> float:
    """``l`` as a function of ``h[step]`` alone (the steps before are fixed)."""
    hs, _ = forward(xs, Wc, Wh, Wx)
    later, _ = forward(xs[step:], Wc, Wh, Wx, h0=h_step)
    return float(np.sum(us[: step - 1] * hs[1:step]) + np.sum(us[step - 1:] * later))


def canonical_deltas(expr: sp.Expr) -> sp.Expr:
    """Write every Kronecker delta as ``delta(d, 0)`` with one sign of ``d``.

    ``delta(i-1, j-1)``, ``delta(j, i)`` and ``delta(i, j)`` all become the same
    object, so shifted (0-based) entries compare equal to 1-based ones.
    """

    def canon(d: sp.KroneckerDelta) -> sp.Expr:
        diff = sp.expand(d.args[0] - d.args[1])
        return sp.KroneckerDelta(-diff if diff.could_extract_minus_sign() else diff, 0)

    return expr.replace(lambda e: isinstance(e, sp.KroneckerDelta), canon)


def to_entry(matrix_form: sp.Basic, row: sp.Expr, col: sp.Expr, bases: Mapping[sp.MatrixSymbol, sp.IndexedBase],
             ) -> sp.Expr:
    """Entry (row, col) (1-based, symbolic) of a matrix form, in the Indexed objects.

    ``W_x x[t]`` is first renamed ``v`` so the comparison does not depend on
    how a sum's dummy index is shifted; entries of MatrixSymbols become
    1-based Indexed entries.
    """
    v_sym = sp.MatrixSymbol("v", m, 1)
    expr = matrix_form.subs(_mul(W_x, x_t), v_sym)
    entry = expr[row - 1, col - 1].doit()
    bases = {**bases, v_sym: V}

    def convert(e: MatrixElement) -> sp.Basic:
        if e.parent not in bases:
            return e
        r0, c0 = e.indices
        if e.parent.shape[1] == 1:
            return bases[e.parent][r0 + 1]
        if e.parent.shape[0] == 1:
            return bases[e.parent][c0 + 1]
        return bases[e.parent][r0 + 1, c0 + 1]

    entry = entry.replace(lambda e: isinstance(e, MatrixElement), convert)
    return drop_guards(canonical_deltas(entry))


def rational_difference(closed: sp.MatrixBase, brute: sp.MatrixBase) -> sp.Matrix:
    """Entrywise numerator of ``closed - brute`` over a common denominator, expanded.

    Every ``exp(...)`` atom is first replaced by its own symbol ``E_r`` (the
    same renaming on both sides): if the difference vanishes as a rational
    function of independent symbols it vanishes at ``E_r = exp(...)`` too. The
    denominators are products of powers of ``1 + E_r > 0``, so the difference is
    zero exactly when this numerator is. (Equivalent to ``simplify`` on the
    difference, and much faster on nested sigmoids.)
    """
    atoms = sorted(closed.atoms(sp.exp) | brute.atoms(sp.exp), key=sp.default_sort_key)
    names = {atom: sp.Symbol(f"E_{r}", positive=True) for r, atom in enumerate(atoms)}
    diff = (sp.Matrix(closed) - sp.Matrix(brute)).xreplace(names)
    return diff.applyfunc(lambda e: sp.expand(sp.numer(sp.together(e))))


def exact_zero(quantity: str, label: str, closed: sp.MatrixBase, brute: sp.MatrixBase, *, detail: str,
               shape: tuple) -> verify_mod.Check:
    """``verify.exact`` on the rational difference (see :func:`rational_difference`)."""
    difference = rational_difference(closed, brute)
    return verify_mod.exact(quantity, label, difference, sp.zeros(*difference.shape), detail=detail, shape=shape)


def general_checks(result: GatedRnnResult) -> list[verify_mod.Check]:
    """For symbolic n, m: each matrix form's entry (i, j) equals SymPy's diff of the sums.

    The recognised entry is written back in the defining sums
    (``c_i = sigma(z_i)``, ``v_i = (W_x x)_i``); ``exp(-z_i)`` is then one atom
    on both sides.
    """
    ew = result.entrywise
    bases = {c_t: C, h_prev: HP, W_h: WH, x_t: X, g_t: G}
    specs = [
        ("gated_rnn.dc_dhprev", r"$\partial c[t]/\partial h[t-1]$", result.dc_dhprev, (i, j), ew.dc_raw,
         result.shapes["dc_dhprev"]),
        ("gated_rnn.dh_dhprev", r"$\partial h[t]/\partial h[t-1]$", result.dh_dhprev, (i, j), ew.dh_raw,
         result.shapes["dh_dhprev"]),
        ("gated_rnn.dh_dWx", r"$\partial h[t]/\partial W_x$, $h[t-1]$ fixed", None, (i, a), ew.direct_raw,
         (m, m, n)),
        ("gated_rnn.dl_dWx", r"$\partial \ell/\partial W_x$, one step", result.dl_dWx_term, (a, b), ew.dl_raw,
         result.shapes["dl_dWx"]),
    ]
    out = []
    for quantity, label, form, (row, col), raw, shape in specs:
        back = {C[row]: ew.c.subs(i, row), V[row]: ew.v.subs(i, row)}
        entry = to_entry(form, row, col, bases).xreplace(back) if form is not None else \
            ew.direct_entry.xreplace(back)
        out.append(exact_zero(quantity, label, sp.Matrix([[canonical_deltas(entry)]]),
                              sp.Matrix([[canonical_deltas(raw)]]), shape=shape,
                              detail="symbolic n, m: general entry vs. diff of the sums"))
    return out


def evaluate(expr: sp.Basic, values: Mapping[sp.Basic, sp.Matrix], sizes: Mapping[sp.Symbol, int]) -> Any:
    """A matrix form with explicit SymPy matrices for its MatrixSymbols, as a Matrix.

    Walks the (few) node types the builders use; SymPy's own ``as_explicit``
    goes through symbolic entry sums and is far slower on these trees.
    """
    if expr in values:
        return sp.Matrix(values[expr])
    if isinstance(expr, sp.OneMatrix):
        return sp.ones(*(int(sp.sympify(d).xreplace(sizes)) for d in expr.shape))
    args = [evaluate(arg, values, sizes) for arg in expr.args] if isinstance(expr, sp.MatrixExpr) else []
    if isinstance(expr, sp.MatAdd):
        return sum(args[1:], args[0])
    if isinstance(expr, sp.MatMul):
        out = args[0]
        for arg in args[1:]:
            out = out * arg
        return out
    if isinstance(expr, sp.HadamardProduct):
        out = args[0]
        for arg in args[1:]:
            out = out.multiply_elementwise(arg)
        return out
    if isinstance(expr, DiagMatrix):
        return sp.diag(*args[0])
    if isinstance(expr, sp.Transpose):
        return args[0].T
    if not isinstance(expr, sp.MatrixExpr):
        return expr  # a scalar factor such as -1
    raise TypeError(f"cannot evaluate {type(expr).__name__}")


def _explicit(expr: sp.Basic, values: Mapping[sp.Basic, sp.Basic], N: int, M: int) -> sp.Matrix:
    """A builder's output with explicit SymPy matrices substituted."""
    return evaluate(expr, values, {n: N, m: M})


def _sigmoid_vec(z: sp.Matrix) -> sp.Matrix:
    return z.applyfunc(lambda e: 1 / (1 + sp.exp(-e)))


def _explicit_cell(N: int, M: int) -> dict[str, sp.Matrix]:
    """Explicit symbol matrices of one step: x, h[t-1], W_c, W_h, W_x."""
    def mat(name: str, rows: int, cols: int) -> sp.Matrix:
        entry = (lambda r, q: f"{name}_{r + 1}{q + 1}") if cols > 1 else (lambda r, q: f"{name}_{r + 1}")
        return sp.Matrix(rows, cols, lambda r, q: sp.Symbol(entry(r, q)))

    return {"x": mat("x", N, 1), "h": mat("h", M, 1), "Wc": mat("Wc", M, N), "Wh": mat("Wh", M, M),
            "Wx": mat("Wx", M, N)}


def exact_step_checks(N: int, M: int, shapes: Mapping[str, tuple]) -> list[verify_mod.Check]:
    """The two step Jacobians against SymPy's ``jacobian`` of explicit symbols."""
    e = _explicit_cell(N, M)
    c = _sigmoid_vec(e["Wc"] * e["x"] + e["Wh"] * e["h"])
    h_new = c.multiply_elementwise(e["h"]) + (sp.ones(M, 1) - c).multiply_elementwise(e["Wx"] * e["x"])
    values = {c_t: sp.ImmutableMatrix(c), h_prev: sp.ImmutableMatrix(e["h"]), x_t: sp.ImmutableMatrix(e["x"]),
              W_x: sp.ImmutableMatrix(e["Wx"]), W_h: sp.ImmutableMatrix(e["Wh"])}
    detail = f"n={N}, m={M}, all entries"
    sub = {n: N, m: M}
    return [
        exact_zero("gated_rnn.dc_dhprev", r"$\partial c[t]/\partial h[t-1]$",
                   _explicit(dc_dhprev_form(c_t, W_h), values, N, M), c.jacobian(e["h"]), detail=detail,
                   shape=tuple(d.subs(sub) for d in shapes["dc_dhprev"])),
        exact_zero("gated_rnn.dh_dhprev", r"$\partial h[t]/\partial h[t-1]$",
                   _explicit(dh_dhprev_form(c_t, h_prev, W_x, x_t, W_h), values, N, M),
                   h_new.jacobian(e["h"]), detail=detail,
                   shape=tuple(d.subs(sub) for d in shapes["dh_dhprev"])),
    ]


def exact_dl_check(N: int, M: int, steps: int) -> verify_mod.Check:
    """``dl/dW_x`` over ``steps`` steps against ``diff`` of ``l = sum_t u[t]^T h[t]``.

    The closed form gets the TOTAL g[t] from the backward recursion with the
    closed-form step Jacobian, exactly as in the answer. Lists are indexed by
    the step: ``hs[t] = h[t]`` (t = 0..K); ``xs``, ``us``, ``cs`` and ``gs``
    hold steps 1..K at positions 0..K-1.
    """
    e = _explicit_cell(N, M)
    Wc, Wh, Wx = e["Wc"], e["Wh"], e["Wx"]

    def column(name: str, rows: int, step: int) -> sp.Matrix:
        return sp.Matrix([sp.Symbol(f"{name}{step}_{r + 1}") for r in range(rows)])

    xs = [column("x", N, step) for step in range(1, steps + 1)]
    us = [column("u", M, step) for step in range(1, steps + 1)]
    hs, cs = [sp.zeros(M, 1)], []
    for x in xs:
        c = _sigmoid_vec(Wc * x + Wh * hs[-1])
        hs.append(c.multiply_elementwise(hs[-1]) + (sp.ones(M, 1) - c).multiply_elementwise(Wx * x))
        cs.append(c)
    ell = sum((u.T * h)[0, 0] for u, h in zip(us, hs[1:]))
    brute = sp.Matrix(M, N, lambda r, q: sp.diff(ell, Wx[r, q]))

    def step_jacobian(step: int) -> sp.Matrix:  # dh[step]/dh[step-1], closed form
        vals = {c_t: cs[step - 1], h_prev: hs[step - 1], x_t: xs[step - 1], W_x: Wx, W_h: Wh}
        return _explicit(dh_dhprev_form(c_t, h_prev, W_x, x_t, W_h), vals, N, M)

    gs = [sp.zeros(1, M)] * steps
    gs[-1] = us[-1].T  # g[K] = u[K]^T
    for step in range(steps - 1, 0, -1):  # g[step] = u[step]^T + g[step+1] dh[step+1]/dh[step]
        gs[step - 1] = us[step - 1].T + gs[step] * step_jacobian(step + 1)
    closed = sp.zeros(M, N)
    for g, c, x in zip(gs, cs, xs):
        closed += _explicit(dl_dWx_term_form(g_t, c_t, x_t), {g_t: g, c_t: c, x_t: x}, N, M)
    return exact_zero("gated_rnn.dl_dWx", r"$\partial \ell/\partial W_x$", closed, brute,
                      detail=f"n={N}, m={M}, K={steps}, l = sum u[t]^T h[t]", shape=(M, N))


def verify(result: GatedRnnResult, seed: int) -> tuple[list[verify_mod.Check], dict[str, np.ndarray]]:
    """All checks of 1.2.1, and the instance with the closed forms' values."""
    prm = result.params
    inst = instance(prm, seed)
    xs, Wc, Wh, Wx, us = inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"]
    values = closed_values(result, inst)
    hs, _ = forward(xs, Wc, Wh, Wx)
    r = result.step
    detail = f"n={prm.n}, m={prm.m}, K={prm.steps}, t={r}, seed {seed}"

    def gate_of(hp: np.ndarray) -> np.ndarray:
        return sigmoid(Wc @ xs[r - 1] + Wh @ hp)

    def state_of(hp: np.ndarray) -> np.ndarray:
        c = gate_of(hp)
        return c * hp + (1 - c) * (Wx @ xs[r - 1])

    out = general_checks(result)
    for N, M in EXACT_SIZES:
        out += exact_step_checks(N, M, result.shapes)
    out.append(exact_dl_check(*EXACT_DL_SIZE, EXACT_DL_STEPS))
    out += [
        verify_mod.finite_difference("gated_rnn.dc_dhprev", r"$\partial c[t]/\partial h[t-1]$", gate_of,
                                     hs[r - 1], values["dc_dhprev"], detail=detail),
        verify_mod.finite_difference("gated_rnn.dh_dhprev", r"$\partial h[t]/\partial h[t-1]$", state_of,
                                     hs[r - 1], values["dh_dhprev"], detail=detail),
        # g[t] is a 1 x m row: the loss is wrapped as a length-1 output.
        verify_mod.finite_difference("gated_rnn.g", r"total $g[t] = \partial \ell/\partial h[t]$ (backward recursion)",
                                     lambda hv: np.array([loss_from_state(xs, Wc, Wh, Wx, us, r, hv)]), hs[r],
                                     values["g"][r - 1].reshape(1, -1), detail=detail + r", l = sum u[t]^T h[t]"),
        verify_mod.finite_difference("gated_rnn.dl_dWx", r"$\partial \ell/\partial W_x$",
                                     lambda w: loss(xs, Wc, Wh, w, us), Wx, values["dl_dWx"],
                                     detail=f"n={prm.n}, m={prm.m}, K={prm.steps}, seed {seed}, "
                                            + r"l = sum u[t]^T h[t]"),
    ]
    arrays = {
        "gated_rnn.x": xs, "gated_rnn.Wc": Wc, "gated_rnn.Wh": Wh, "gated_rnn.Wx": Wx, "gated_rnn.u": us,
        "gated_rnn.dl_dWx": values["dl_dWx"], "gated_rnn.t": np.array(r),
        "gated_rnn.dh_dhprev": values["dh_dhprev"], "gated_rnn.dc_dhprev": values["dc_dhprev"],
    }
    return out, arrays


# --------------------------------------------------------------------------
# The question-group protocol (see derivations.build)


def derive(variant: Any) -> GatedRnnResult:
    return derive_params(variant.gated_rnn, variant.seed)


def answers(result: GatedRnnResult) -> dict[str, Any]:
    ctx = context(result)
    sh = result.shapes
    return {
        "gated_rnn.c.shape": [str(sh["c"][0])],
        "gated_rnn.c.latex": ctx["c_space"],
        "gated_rnn.dc_dhprev.shape": [str(d) for d in sh["dc_dhprev"]],
        "gated_rnn.dc_dhprev.latex": ctx["dc_dhprev"],
        "gated_rnn.dh_dhprev.shape": [str(d) for d in sh["dh_dhprev"]],
        "gated_rnn.dh_dhprev.latex": ctx["dh_dhprev"],
        "gated_rnn.dl_dWx.shape": [str(d) for d in sh["dl_dWx"]],
        "gated_rnn.dl_dWx.latex": ctx["dl_dWx"],
        "gated_rnn.vanishing": {
            "norm": "spectral", "size": FIG_SIZE, "draws": FIG_DRAWS,
            "median_norm_at_gap": {str(cv.scale): {str(gap): cv.at(gap) for gap in (1, FIG_QUOTE, FIG_STEPS)}
                                   for cv in result.curves},
        },
    }


def _number(value: float) -> str:
    """A positive number for the prose: 3 significant digits, powers of ten when far from 1."""
    if 1e-2 <= value < 1e4:
        return f"{value:.3g}"
    mant, exp = f"{value:.2e}".split("e")
    return rf"{float(mant):.3g}\times 10^{{{int(exp)}}}"


def _coordinates(curve: GrowthCurve) -> str:
    return " ".join(f"({gap},{val:.6e})" for gap, val in zip(curve.gaps, curve.norms))


def _curve_context(cv: GrowthCurve) -> dict[str, Any]:
    return {
        "scale": f"{cv.scale:g}",
        "coordinates": _coordinates(cv),
        "at_one": _number(cv.at(1)),
        "at_quote": _number(cv.at(FIG_QUOTE)),
        "at_end": _number(cv.at(FIG_STEPS)),
        "step_norm": _number(cv.step_norm),
        "carry": f"{cv.carry:.2f}",
        "gate_slope": _number(cv.gate_slope),
        "saturated": f"{100 * cv.saturated:.0f}",
        "drive": _number(cv.drive),
        "wh_norm": _number(cv.wh_norm),
        "shrinks": cv.at(FIG_QUOTE) < 1e-2,
        "grows": cv.at(FIG_QUOTE) > 1e2,
    }


def context(result: GatedRnnResult) -> dict[str, Any]:
    sh = result.shapes
    ew = result.entrywise
    # Entry notation for the prose (names only): subscripts index entries,
    # brackets index time. The builders that made the checked candidates make
    # the printed ones, so the order of factors is the reading order.
    ci, hi, vi, whij = (sp.Symbol(r"c_{i}[t]"), sp.Symbol(r"h_{i}[t-1]"), sp.Symbol(r"(W_x x[t])_{i}"),
                        sp.Symbol(r"(W_h)_{ij}"))
    z_sym = sp.Symbol(r"z_{i}")
    dc_raw = ew.dc_raw.xreplace({sp.exp(-ew.z): sp.exp(-z_sym), WH[i, j]: whij})
    z_def = ew.z.xreplace({WC[i, k]: sp.Symbol(r"(W_c)_{ik}"), WH[i, k]: sp.Symbol(r"(W_h)_{ik}"),
                           X[k]: sp.Symbol(r"x_{k}[t]"), HP[k]: sp.Symbol(r"h_{k}[t-1]")})
    sig_sym = sp.Symbol(r"\sigma(s)")
    curves = [_curve_context(cv) for cv in result.curves]
    ymin = min(min(cv.norms) for cv in result.curves)
    ymax = max(max(cv.norms) for cv in result.curves)
    tex = lambda e: latex.tex(e, as_built=True)  # noqa: E731  (keeps the order of construction)
    # The product rule for entrywise products, and the bound on the gate path's norm.
    u_vec, v_vec = sp.MatrixSymbol("u", m, 1), sp.MatrixSymbol("v", m, 1)
    du, dv = (sp.MatrixSymbol(rf"\frac{{\partial {name}}}{{\partial h}}", m, m) for name in ("u", "v"))
    return {
        "hadamard_rule_lhs": r"\frac{\partial (u \odot v)}{\partial h}",
        "hadamard_rule": tex(_add(_mul(Diag(u_vec), dv), _mul(Diag(v_vec), du))),
        "slope_max": latex.tex(result.sigmoid_slope_max),
        # The derived slope bound, then the two norms it multiplies (notation only).
        "gate_path_bound": latex.tex(result.sigmoid_slope_max)
        + r"\, \max_i \left|h_i[t-1] - (W_x x[t])_i\right| \, \|W_h\|_2",
        "shape_Wc_x": latex.shape(sh["W_c x"]),
        "shape_Wh_h": latex.shape(sh["W_h h"]),
        "shape_c": latex.shape(sh["c"]),
        "c_space": latex.shape(sh["c"][:1]),
        "shape_h": latex.shape(sh["h"][:1]),
        "shape_x": latex.shape(sh["x"][:1]),
        "shape_Wc": latex.shape(W_c.shape),
        "shape_Wh": latex.shape(W_h.shape),
        "shape_Wx": latex.shape(W_x.shape),
        "shape_g": latex.shape(sh["g"]),
        "shape_dc": latex.shape(sh["dc_dhprev"]),
        "shape_dh": latex.shape(sh["dh_dhprev"]),
        "shape_dl": latex.shape(sh["dl_dWx"]),
        "dims_Wc": latex.dims(W_c.shape),
        "dims_dc": latex.dims(sh["dc_dhprev"]),
        "dims_dl": latex.dims(sh["dl_dWx"]),
        "dims_dl_swapped": latex.dims(tuple(reversed(sh["dl_dWx"]))),
        "m": latex.tex(m), "n": latex.tex(n), "K": latex.tex(K),
        "preactivation": tex(preactivation(W_c, x_t, W_h, h_prev)),
        "state_update": tex(state_update(c_t, h_prev, W_x, x_t)),
        "sigmoid": latex.tex(SIGMOID(s)),
        "sigmoid_derivative": latex.tex(result.sigmoid_derivative),
        "sigmoid_identity": tex(sp.Mul(sig_sym, 1 - sig_sym, evaluate=False)),
        "z_def": latex.tex(z_def),
        "dz_dh": latex.tex(drop_guards(sp.diff(ew.z, HP[j]).doit()).xreplace({WH[i, j]: whij})),
        "dc_raw": latex.tex(dc_raw),
        "dc_entry": tex(dc_entry_form(ci, whij)),
        "dh_entry": tex(dh_entry_form(ci, sp.Symbol(r"\delta_{ij}"), hi, vi, whij)),
        "direct_entry": tex(direct_entry_form(ci, sp.Symbol(r"\delta_{ia}"), sp.Symbol(r"x_{b}[t]"))),
        "dl_entry": tex(dl_entry_form(sp.Symbol(r"g_{a}[t]"), sp.Symbol(r"c_{a}[t]"), sp.Symbol(r"x_{b}[t]"))),
        "dc_dhprev": tex(result.dc_dhprev),
        "dh_dhprev": tex(result.dh_dhprev),
        "product_rule": tex(result.product_rule),
        "dc_symbol": latex.tex(dc_symbol),
        "jac_symbol": latex.tex(J_t),
        "dl_dWx": tex(result.dl_dWx),
        "dl_dWx_outer": tex(_sum_over_steps(result.dl_dWx_outer)),
        "dl_dWx_term": tex(result.dl_dWx_term),
        "backward_step": tex(result.backward_step),
        "gate_factor": tex(Diag(c_t)),
        "gate_path": tex(_mul(Diag(_add(h_prev, _mul(-1, W_x, x_t))), Diag(gate_derivative(c_t)), W_h)),
        "gate_derivative": tex(gate_derivative(c_t)),
        "input_term": tex(sp.HadamardProduct(one_minus(c_t), _mul(W_x, x_t))),
        "double_count_gap": f"{100 * result.double_count_gap:.0f}",
        "fig": {
            "size": FIG_SIZE, "steps": FIG_STEPS, "burn_in": FIG_BURN_IN, "draws": FIG_DRAWS,
            "quote": FIG_QUOTE, "saturated": f"{SATURATED:g}", "saturated_hi": f"{1 - SATURATED:g}",
            "ymin": f"{10 ** np.floor(np.log10(ymin)):.0e}", "ymax": f"{10 ** (np.ceil(np.log10(ymax)) + 1):.0e}",
            "curves": curves, "small": curves[0], "large": curves[-1],
        },
        "step": result.step,
    }
