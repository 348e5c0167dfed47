"""The gated cell's notation and its formulas, each typed once.

For ``t = 1..K``, with ``x[t]`` in R^n, ``h[t]`` in R^m and ``h[0] = 0``,

    c[t] = sigma(W_c x[t] + W_h h[t-1]),                      (1)
    h[t] = c[t] (.) h[t-1] + (1 - c[t]) (.) W_x x[t],          (2)

``sigma`` the elementwise sigmoid and ``(.)`` the Hadamard product.

The matrix forms are *builders* of their arguments. Called with the
MatrixSymbols below they give the printed answers; with concrete-size
symbols they are compiled to NumPy (:mod:`.numeric`); with explicit SymPy
matrices (:func:`evaluate`) they are the closed forms of the exact checks,
and the definitions (1) and (2) evaluated the same way are the explicit
cell of those checks (:func:`explicit_step`). So what is printed is what is
checked, and the cell is written once.
"""
from __future__ import annotations

from typing import Any, Mapping

import sympy as sp

from ... import latex
from ...symbolic import Diag, Factors, MaxOver, Norm, Paren, Partial

# --------------------------------------------------------------------------
# Notation: sizes, the cell's matrices as SymPy MatrixSymbols (their names are
# the homework's notation), and the indexed objects of the entrywise derivation.

n, m = sp.symbols("n m", integer=True, positive=True)
K = sp.Symbol("K", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)

s_step = sp.Symbol("s", integer=True, positive=True)  # an earlier step (the vanishing part)


def at(base: str, time: Any, rows: Any, cols: Any = 1) -> sp.MatrixSymbol:
    """``base[time]``, the time written as the homework writes it (``h[t-1]``, ``x[K]``)."""
    return sp.MatrixSymbol(f"{base}[{time}]", rows, cols)


def jacobian(num: sp.MatrixSymbol, den: sp.MatrixSymbol) -> sp.MatrixSymbol:
    r"""The Jacobian ``\frac{\partial num}{\partial den}`` as a matrix symbol (numerator layout)."""
    return sp.MatrixSymbol(latex.tex(Partial(num, den)), num.shape[0], den.shape[0])


W_c = sp.MatrixSymbol("W_c", m, n)
W_h = sp.MatrixSymbol("W_h", m, m)
W_x = sp.MatrixSymbol("W_x", m, n)
x_t = at("x", "t", n)
h_prev = at("h", "t-1", m)
h_t = at("h", "t", m)
c_t = at("c", "t", m)
# g[t] = dl/dh[t], the TOTAL derivative, a 1 x m row vector (numerator layout).
g_t = at("g", "t", 1, m)
g_direct = at(r"\bar{g}", "t-1", 1, m)  # the direct term: l's own dependence on h[t-1]
J_t = jacobian(h_t, h_prev)
dc_symbol = jacobian(c_t, h_prev)
ell = sp.Symbol(r"\ell")

# Entrywise objects (1-based indices): x[k], W_c[i, k], ..., v[i] = (W_x x[t])_i.
i, j, a, b = sp.symbols("i j a b", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
X, WC, WH, WX, HP, C, V, G = (sp.IndexedBase(s) for s in ("x", "W_c", "W_h", "W_x", "h", "c", "v", "g"))
Z, H = sp.IndexedBase("z"), sp.IndexedBase("h_t")  # z_i (the sigmoid's argument) and h_i[t]: notation only
RANGES = {i: m, j: m, a: m, b: n}  # the range 1..R of each free index

s = sp.Symbol("s")
SIGMOID = sp.Lambda(s, 1 / (1 + sp.exp(-s)))


def add(*terms: sp.Basic) -> sp.MatAdd:
    """A matrix sum kept in the given order (the printer shows it as written)."""
    return sp.MatAdd(*terms, evaluate=False)


def mul(*factors: sp.Basic) -> sp.MatMul:
    """A matrix product kept as written (``-1`` first for a negated term)."""
    return sp.MatMul(*factors, evaluate=False)


def sum_over_steps(term: sp.Basic) -> sp.Sum:
    """``sum_{t=1}^K term`` without re-evaluating ``term``.

    ``Sum(...)`` multiplies its function by the orientation ``1``, which
    re-sorts unevaluated matrix expressions; this builds the same object
    without that step, so ``1 - c[t]`` still prints in that order.
    """
    return sp.Expr.__new__(sp.Sum, term, sp.Tuple(t, 1, K))


# --------------------------------------------------------------------------
# The matrix forms


def one_minus(c: sp.Basic) -> sp.MatAdd:
    """``1 - c`` for a column vector ``c`` (``1`` the all-ones vector)."""
    return add(sp.OneMatrix(*c.shape), mul(-1, c))


def gate_derivative(c: sp.Basic) -> sp.Basic:
    """``sigma'(z) = c (.) (1 - c)`` with ``c = sigma(z)`` elementwise."""
    return sp.HadamardProduct(c, one_minus(c))


def preactivation(Wc: sp.Basic, x: sp.Basic, Wh: sp.Basic, h: sp.Basic) -> sp.MatAdd:
    """``W_c x[t] + W_h h[t-1]``: the argument of the gate's sigmoid, equation (1)."""
    return add(mul(Wc, x), mul(Wh, h))


def state_update(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic) -> sp.MatAdd:
    """``c (.) h[t-1] + (1 - c) (.) W_x x[t]``: equation (2)."""
    return add(carried(c, h), input_term(c, Wx, x))


def carried(c: sp.Basic, h: sp.Basic) -> sp.HadamardProduct:
    """``c (.) h[t-1]``: the share of the old state kept, equation (2)."""
    return sp.HadamardProduct(c, h)


def input_term(c: sp.Basic, Wx: sp.Basic, x: sp.Basic) -> sp.HadamardProduct:
    """``(1 - c) (.) W_x x[t]``: the gated input of equation (2)."""
    return sp.HadamardProduct(one_minus(c), mul(Wx, x))


def gate_path(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic, Wh: sp.Basic) -> sp.MatMul:
    """``diag(h[t-1] - W_x x[t]) diag(c (.) (1 - c)) W_h``: h[t-1]'s effect through the gate."""
    return mul(Diag(add(h, mul(-1, Wx, x))), Diag(gate_derivative(c)), Wh)


def dc_dhprev_form(c: sp.Basic, Wh: sp.Basic) -> sp.MatMul:
    """``dc[t]/dh[t-1] = diag(c (.) (1 - c)) W_h`` (m x m)."""
    return mul(Diag(gate_derivative(c)), Wh)


def dh_dhprev_form(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic, Wh: sp.Basic) -> sp.MatAdd:
    """``dh[t]/dh[t-1] = diag(c) + diag(h[t-1] - W_x x[t]) diag(c (.) (1 - c)) W_h`` (m x m)."""
    return add(Diag(c), gate_path(c, h, Wx, x, Wh))


def product_rule_form(c: sp.Basic, h: sp.Basic, Wx: sp.Basic, x: sp.Basic, dc: sp.Basic) -> sp.MatAdd:
    """The product rule on (2) before ``dc/dh[t-1]`` is inserted."""
    return add(Diag(c), mul(Diag(h), dc), mul(-1, Diag(mul(Wx, x)), dc))


def hadamard_rule_form(u: sp.Basic, v: sp.Basic, du: sp.Basic, dv: sp.Basic) -> sp.MatAdd:
    """``d(u (.) v)/dh = diag(u) dv/dh + diag(v) du/dh``: the product rule for entrywise products."""
    return add(mul(Diag(u), dv), mul(Diag(v), du))


def hadamard_rule(u: sp.MatrixSymbol, v: sp.MatrixSymbol, h: sp.MatrixSymbol) -> sp.Eq:
    """The product rule for entrywise products of ``u``, ``v`` with respect to ``h``, as an equation."""
    rhs = hadamard_rule_form(u, v, jacobian(u, h), jacobian(v, h))
    return sp.Eq(Partial(Paren(sp.HadamardProduct(u, v)), h), rhs, evaluate=False)


def dl_dWx_term_form(g: sp.Basic, c: sp.Basic, x: sp.Basic) -> sp.MatMul:
    """Step ``t``'s share of ``dl/dW_x``: ``(g[t]^T (.) (1 - c[t])) x[t]^T`` (m x n)."""
    return mul(sp.HadamardProduct(sp.Transpose(g), one_minus(c)), sp.Transpose(x))


def dl_dWx_outer_form(g: sp.Basic, c: sp.Basic, x: sp.Basic) -> sp.MatMul:
    """The same share as an outer product: ``diag(1 - c[t]) g[t]^T x[t]^T``."""
    return mul(Diag(one_minus(c)), sp.Transpose(g), sp.Transpose(x))


def dl_dWx_numerator_form(g: sp.Basic, c: sp.Basic, x: sp.Basic) -> sp.MatMul:
    """The same share in strict numerator layout (n x m), the transpose: ``x[t] g[t] diag(1 - c[t])``."""
    return mul(x, g, Diag(one_minus(c)))


def backward_step_form(g_dir: sp.Basic, g: sp.Basic, J: sp.Basic) -> sp.MatAdd:
    """``g[t-1] = gbar[t-1] + g[t] dh[t]/dh[t-1]``: the backward recursion (rows)."""
    return add(g_dir, mul(g, J))


# --------------------------------------------------------------------------
# Entry forms (the recognised general entries, in reading order)


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


def drive_form(h: sp.Expr, v: sp.Expr) -> sp.Expr:
    """``|h_i[t-1] - (W_x x[t])_i|``: the gap that scales the gate path, in reading order."""
    return sp.Abs(sp.Add(h, -v, evaluate=False), evaluate=False)


def gate_path_bound_form(slope_max: sp.Expr, h: sp.Expr, v: sp.Expr, index: sp.Symbol) -> sp.Expr:
    """``max sigma' * max_i |h_i - v_i| * ||W_h||_2``: the bound on the gate path's spectral norm."""
    return Factors(slope_max, MaxOver(drive_form(h, v), index), Norm(W_h))


# --------------------------------------------------------------------------
# Explicit matrices (the exact checks)


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
    if isinstance(expr, Diag):
        return sp.diag(*args[0])
    if isinstance(expr, sp.Transpose):
        return args[0].T
    if not isinstance(expr, sp.MatrixExpr):
        return expr  # a scalar factor such as -1
    raise TypeError(f"cannot evaluate {type(expr).__name__}")


def explicit(expr: sp.Basic, values: Mapping[sp.Basic, sp.Basic], N: int, M: int) -> sp.Matrix:
    """A builder's output with explicit SymPy matrices substituted, at sizes n = N, m = M."""
    return evaluate(expr, {key: sp.ImmutableMatrix(v) for key, v in values.items()}, {n: N, m: M})


def explicit_cell(N: int, M: int) -> dict[str, sp.Matrix]:
    """Explicit symbol matrices of one step: x, h[t-1], W_c, W_h, W_x."""
    def mat(name: str, rows: int, cols: int) -> sp.Matrix:
        entry = (lambda r, q: f"{name}_{r + 1}{q + 1}") if cols > 1 else (lambda r, q: f"{name}_{r + 1}")
        return sp.Matrix(rows, cols, lambda r, q: sp.Symbol(entry(r, q)))

    return {"x": mat("x", N, 1), "h": mat("h", M, 1), "Wc": mat("Wc", M, N), "Wh": mat("Wh", M, M),
            "Wx": mat("Wx", M, N)}


def explicit_step(Wc: sp.Matrix, Wh: sp.Matrix, Wx: sp.Matrix, x: sp.Matrix,
                  h: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """``(c[t], h[t])`` of one step with explicit matrices: equations (1) and (2) evaluated."""
    N, M = x.shape[0], h.shape[0]
    z = explicit(preactivation(W_c, x_t, W_h, h_prev), {W_c: Wc, x_t: x, W_h: Wh, h_prev: h}, N, M)
    c = z.applyfunc(SIGMOID)
    return c, explicit(state_update(c_t, h_prev, W_x, x_t), {c_t: c, h_prev: h, W_x: Wx, x_t: x}, N, M)
