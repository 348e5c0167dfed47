"""1.1(c): a 1-D convolution (cross-correlation) with one filter, no bias.

Indices are 1-based as in the homework: channel ``c = 1..C``, position
``n = 1..L``, tap ``m = 1..K``, output ``p = 1..L_out``. With stride ``S``,
dilation ``D`` and zero padding ``P``, output ``p`` reads the input at

    j(p, m) = S (p - 1) + D (m - 1) + 1 - P,

with ``x[c, n] = 0`` for ``n`` outside ``1..L``. The forward pass is a SymPy
``Sum`` over ``c`` and ``m``; every Jacobian is obtained from it with ``diff``
and the Kronecker deltas resolved.

Derived once, not per size. None of the index-form results depends on the
numbers except through what is printed, so they are derived once per process
for symbolic sizes ``C, L, K, S, D, P, L_out`` (:func:`_general`); a
*structure* (:func:`structure`: with or without dilation, with or without
padding) is that derivation with ``D = 1`` or ``P = 0`` put in where absent
(without dilation, the tap's congruence condition is left out), and
:func:`derive` substitutes a variant's numbers into its structure's results.
SymPy evaluates a substituted expression exactly as it evaluates the same
expression built from the numbers, so the printed key is the same (except that
a single channel or tap no longer prints a Kronecker delta: the general formula
is printed). Only what prints explicit per-size content is made per size: the
statements, the listed taps, and the banded Jacobian blocks, whose entries are
computed only when the printer asks for them (it shows at most a corner of a
large block).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ...symbolic import DOTS, AsWritten, Between, Congruent, Entries, Listing, Name, Partial, Slash, \
    drop_guards, range_guards
from ..conv2d.derive import axis_numbers

x = sp.IndexedBase("x")
W = sp.IndexedBase("W")
g = sp.IndexedBase("g")
c, m, p, n = sp.symbols("c m p n", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
g_spread = sp.IndexedBase(r"\tilde{g}")

# The text's names: the layer's output f_W(x), the loss, the start s_p of output p,
# the short names w_m of one channel's taps, L_out.
F = Name("f_W(x)")
f = sp.IndexedBase(F)
ell = sp.Symbol("ell")
s_p = Name("s_p")
L_OUT = sp.Symbol(r"L_{\mathrm{out}}")

# The sizes of a structure, as symbols (never printed: a variant's numbers replace them).
C_, L_, K_, S_, D_ = sp.symbols("C L K S D", integer=True, positive=True)
P_ = sp.Symbol("P", integer=True, nonnegative=True)
LO_ = sp.Symbol("Lout", integer=True, positive=True)
SIZES = (C_, L_, K_, S_, D_, P_, LO_)

# dl_dW_explicit is written out term by term (and printed) while there are at most this many outputs.
EXPLICIT_OUTPUTS = 5


def short_name(tap: Any) -> sp.Symbol:
    """``w_m`` for ``W[1, c, m]``: one channel's taps, short enough for the banded block."""
    return sp.Symbol(f"w_{tap}")


# Names of the Jacobians, displayed (\frac) and inline (/).
NAMES = {"df_dW": Partial(F, W.label), "df_dx": Partial(F, x.label), "dl_dW": Partial(ell, W.label),
         "df_dW_inline": Slash(F, W.label), "df_dx_inline": Slash(F, x.label), "dl_dW_inline": Slash(ell, W.label)}


@functools.lru_cache(maxsize=1)  # the same for every variant: built once per process
def stem() -> dict[str, sp.Basic]:
    """The question's general statements: cross-correlation, the input's index ranges, the answer style."""
    s, k = sp.IndexedBase("s"), sp.IndexedBase("k")
    M = sp.Symbol("M", integer=True, positive=True)
    tap = sp.Symbol("m", integer=True)  # -M..M here, not the 1-based tap of the layer
    i, jj, kk, a, b, c = sp.symbols("i j k a b c")
    # Built unevaluated, so that they print as read: x[n + m] k[m], x[n - m].
    product = sp.Mul(x[sp.Add(n, tap, evaluate=False)], k[tap], evaluate=False)
    correlation = sp.Eq(s[n], sp.Sum(product, (tap, -M, M)), evaluate=False)
    convolution_entry = x[sp.Add(n, -tap, evaluate=False)]
    return {"support": Between(-M, tap, M), "correlation": AsWritten(correlation),
            "convolution_entry": AsWritten(convolution_entry),
            # A style example with three axes, so it says nothing about the answer's shape.
            "style_shape": (a, b, c), "style_entry": sp.Eq(f[i, jj, kk], DOTS, evaluate=False)}


@dataclass(frozen=True)
class Structure:
    """The index-form answers of 1.1(c) for symbolic sizes (:data:`SIZES`), one per pair of flags.

    Without dilation ``D`` is 1 in every expression, without padding ``P`` is 0:
    the congruence condition, and the ``D``/``P`` terms, are then absent, as in
    a derivation made with those numbers.
    """

    dilated: bool
    padded: bool
    index: sp.Expr  # j(p, m)
    forward: sp.Sum  # sum over c = 1..C, m = 1..K
    df_dW: sp.Expr
    tap: sp.Expr  # the solution m of j(p, m) = n
    conditions: tuple[sp.Basic, ...]  # Between(j(p,1), n, j(p,K)) [, Congruent(n, j(p,1), D)]
    df_dx: sp.Piecewise
    chain_rule: sp.Sum  # sum over p = 1..L_out of g[1,p] * (df[1,p]/dW[1,c,m]), unresolved
    dl_dW: sp.Sum  # the same with (ii) in
    dl_dW_explicit: sp.Sum  # diff of the loss itself (a Sum over p: L_out is a symbol here)
    dl_dW_correlation: sp.Sum  # over j = 1..S (L_out - 1) + 1

    @property
    def key(self) -> tuple[bool, bool]:
        return (self.dilated, self.padded)


def structure_key(params: Any) -> tuple[bool, bool]:
    """(dilated?, padded?): which :class:`Structure` a parameter set uses."""
    return (params.dilation > 1, params.padding > 0)


@functools.lru_cache(maxsize=None)  # four structures at most: each made once per process
def structure(dilated: bool, padded: bool) -> Structure:
    """(i)-(iv) in index form for symbolic sizes, for one pair of flags.

    The derivation itself is made once, with dilation and padding
    (:func:`_general`); a structure without one of them is that derivation
    with ``D = 1`` or ``P = 0`` put in (and, without dilation, the congruence
    condition left out: it always holds).
    """
    general = _general()
    if dilated and padded:
        return general
    fixed = {**({} if dilated else {D_: sp.Integer(1)}), **({} if padded else {P_: sp.Integer(0)})}
    put = functools.partial(substitute, numbers=fixed)
    conditions = tuple(put(cond) for cond in general.conditions[:2 if dilated else 1])
    tap = put(general.tap)
    df_dx = sp.Piecewise((W[1, c, tap], sp.And(*(cond.condition() for cond in conditions))), (0, True))
    return Structure(dilated, padded, put(general.index), put(general.forward), put(general.df_dW), tap, conditions,
                     df_dx, put(general.chain_rule), put(general.dl_dW), put(general.dl_dW_explicit),
                     put(general.dl_dW_correlation))


@functools.lru_cache(maxsize=1)
def _general() -> Structure:
    """(i)-(iv) with dilation D and padding P: ``diff`` of the defining sums, the tap solved for."""
    index = S_ * (p - 1) + D_ * (m - 1) + 1 - P_
    forward = sp.Sum(W[1, c, m] * x[c, index], (c, 1, C_), (m, 1, K_))

    c0, m0 = sp.symbols("c_0 m_0", integer=True)
    guards = range_guards({c0: C_, m0: K_})

    # (ii) d f[1,p] / d W[1,c,m]: one Kronecker delta per summation index.
    df_dW = drop_guards(sp.diff(forward, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})

    # (iii) d f[1,p] / d x[c,n]: the delta pins the tap m to the solution of
    # j(p, m) = n; it contributes when that tap is an integer in 1..K.
    tap = sp.solve(sp.Eq(index, n), m)[0]
    # 1 <= tap <= K  <=>  j(p, 1) <= n <= j(p, K), since j grows with m; and the tap is
    # an integer when n - j(p, 1) is a multiple of D.
    conditions = (Between(index.subs(m, 1), n, index.subs(m, K_)), Congruent(n, index.subs(m, 1), D_))
    in_range = sp.And(*(cond.condition() for cond in conditions))
    df_dx = sp.Piecewise((W[1, c, tap], in_range), (0, True))

    # (iv) dl/dW = sum_p dl/df[1,p] * df[1,p]/dW: the chain rule through the sum,
    # and diff of the loss itself (the check step compares the two).
    loss = sp.Sum(g[1, p] * forward, (p, 1, LO_))
    dl_dW_explicit = drop_guards(sp.diff(loss, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})
    chain_rule = sp.Sum(g[1, p] * Slash(f[1, p], W[1, c, m]), (p, 1, LO_))
    dl_dW = chain_rule.xreplace({Slash(f[1, p], W[1, c, m]): df_dW})
    # The stride-spread gradient has S (L_out - 1) + 1 entries.
    dl_dW_correlation = sp.Sum(g_spread[j] * x[c, j + D_ * (m - 1) - P_], (j, 1, S_ * (LO_ - 1) + 1))
    return Structure(True, True, index, forward, df_dW, tap, conditions, df_dx, chain_rule, dl_dW,
                     dl_dW_explicit, dl_dW_correlation)


@dataclass(frozen=True)
class Conv1dDerivation:
    """Derived answers to 1.1(c), as SymPy objects and shapes (1-based, numerator layout)."""

    params: Any
    L_out: int
    L_out_numbers: sp.Expr  # floor((L + 2P - K_eff)/S) + 1 with the numbers in
    index: sp.Expr  # j(p, m): the input position read by tap m of output p
    start: sp.Expr  # s_p = j(p, 1)
    forward: sp.Sum  # f_W(x)[1, p]
    df_dW: sp.Expr  # d f[1,p] / d W[1,c,m]
    df_dx: sp.Piecewise  # d f[1,p] / d x[c,n]
    tap: sp.Expr  # m*(n, p): the tap that reads x[c, n] for output p
    dl_dW: sp.Sum  # d l / d W[1,c,m] = sum_p g[1,p] df[1,p]/dW[1,c,m]
    dl_dW_explicit: sp.Expr  # diff of the loss itself, the sum over p written out (a Sum beyond EXPLICIT_OUTPUTS)
    dl_dW_correlation: sp.Sum  # the same, as a correlation of x with the stride-spread gradient
    spread_length: int  # length of the spread gradient: S (L_out - 1) + 1
    shapes: dict[str, tuple[int, ...]]
    taps: tuple[sp.Expr, ...]  # j(p, m) for m = 1..K
    df_dx_conditions: tuple[sp.Basic, ...]  # s_p <= n <= j(p, K) [and n = s_p (mod D)]: where tap m*(n, p) exists
    statements: dict[str, sp.Basic]  # the answers' equations and ranges as the text states them
    blocks: dict[str, "Block"] = dataclasses.field(default_factory=dict)  # see channel_blocks

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, self.L_out)


def derive(params: Any) -> Conv1dDerivation:
    """(i)-(iv) for the variant's sizes: its structure's answers with the numbers in.

    Made once per parameter set in a process (the parameters are frozen): a
    student's key, solutions and handout share one derivation.
    """
    try:
        return _derive_cached(params)
    except TypeError:  # unhashable parameters (not a Conv1d): no cache
        return _derive(params)


def is_cached(d: "Conv1dDerivation") -> bool:
    """``d`` is the derivation :func:`derive` made for ``d.params`` (not a modified copy).

    Such a derivation holds exactly its structure's expressions with
    :func:`numbers` substituted, so work done once per structure applies to it.
    """
    try:
        return _derive_cached(d.params) is d
    except TypeError:
        return False


def output_count(params: Any) -> int:
    """L_out: floor((L + 2P - D(K - 1) - 1) / S) + 1, in integer arithmetic."""
    span = params.dilation * (params.kernel - 1) + 1
    return (params.length + 2 * params.padding - span) // params.stride + 1


def numbers(params: Any) -> dict[sp.Symbol, sp.Integer]:
    """The variant's value of each size symbol of :data:`SIZES`."""
    values = (params.channels, params.length, params.kernel, params.stride, params.dilation, params.padding,
              output_count(params))
    return {sym: sp.Integer(v) for sym, v in zip(SIZES, values)}


K_EFF_ = sp.Symbol("Keff", integer=True, positive=True)


@functools.lru_cache(maxsize=1)
def _output_rule() -> sp.Expr:
    """1.1(a)'s one-axis rule (:func:`~..conv2d.derive.axis_numbers`) for symbolic sizes, unevaluated."""
    return axis_numbers(L_, K_EFF_, S_, P_)


def output_numbers(params: Any) -> sp.Expr:
    """``floor((L + 2P - K_eff)/S) + 1`` with the numbers in, unevaluated: the same expression as
    ``axis_numbers(L, K, S, P, D)``, made by substituting into the rule built once (building it
    again would switch SymPy's evaluation off and on, which clears SymPy's cache)."""
    values = {L_: params.length, K_EFF_: params.dilation * (params.kernel - 1) + 1, S_: params.stride,
              P_: params.padding}
    return as_built(_output_rule(), {k: sp.Integer(v) for k, v in values.items()})


def as_built(expr: sp.Basic, numbers: dict[sp.Symbol, sp.Integer]) -> sp.Basic:
    """``expr`` with the numbers in and every node rebuilt unevaluated (its terms as built)."""
    if not expr.args:
        return numbers.get(expr, expr)
    return expr.func(*(as_built(a, numbers) for a in expr.args), evaluate=False)


def _derive(params: Any) -> Conv1dDerivation:
    C, L, K, S, D, P = (params.channels, params.length, params.kernel, params.stride,
                        params.dilation, params.padding)
    st = structure(*structure_key(params))
    nums = numbers(params)
    L_out = int(nums[LO_])
    put = functools.partial(substitute, numbers=nums)

    index, forward, df_dW, tap, df_dx = (put(e) for e in (st.index, st.forward, st.df_dW, st.tap, st.df_dx))
    conditions = tuple(put(cond) for cond in st.conditions)
    chain_rule, dl_dW, dl_dW_corr = put(st.chain_rule), put(st.dl_dW), put(st.dl_dW_correlation)
    dl_dW_explicit = put(st.dl_dW_explicit)
    if L_out <= EXPLICIT_OUTPUTS:  # the sum over p written out (printed while it fits a line or two)
        dl_dW_explicit = written_out(dl_dW_explicit)
    # Spread g by the stride: gs[j] = g[1, p] at j = S(p-1)+1, zero between
    # (unevaluated, printed as built, so the stride S shows as the spacing).
    spread_at = sp.Add(sp.Mul(S, sp.Add(p, -1, evaluate=False), evaluate=False), 1, evaluate=False)
    spread = S * (L_out - 1) + 1

    # Numerator layout: a Jacobian's shape is the output's followed by the input's;
    # the scalar loss has shape ().
    base = {"f": (1, L_out), "W": (1, C, K), "x": (C, L), "g": (1, L_out)}
    shapes = {**base, "df_dW": base["f"] + base["W"], "df_dx": base["f"] + base["x"], "dl_dW": () + base["W"]}
    taps = tuple(index.xreplace({m: sp.Integer(mm)}) for mm in range(1, K + 1))
    eq = lambda a, b: sp.Eq(a, b, evaluate=False)  # noqa: E731  (statements are shown, never decided)
    statements = {
        **stem(), "input_ranges": (Between(1, c, C), Between(1, n, L)),
        "L_out": eq(L_OUT, output_numbers(params)), "start": eq(s_p, taps[0]),
        "padding": (sp.Lt(n, 1, evaluate=False), sp.Gt(n, L, evaluate=False)),
        "forward": eq(f[1, p], forward),
        "df_dW": eq(Partial(f[1, p], W[1, c, m]), df_dW), "block_dW": Entries(Partial(f[1, p], W[1, c, m]), p, m),
        "tap_equation": eq(index, n), "tap_range": Between(1, m, K),
        "df_dx_lhs": Partial(f[1, p], x[c, n]), "block_dx": Entries(Partial(f[1, p], x[c, n]), p, n),
        "short_name": eq(short_name(m), W[1, c, m]),
        "g": eq(g.label, Slash(ell, F)),
        "chain_rule": eq(Slash(ell, W[1, c, m]), chain_rule),
        "dl_dW": eq(Partial(ell, W[1, c, m]), dl_dW),
        "spread": (eq(g_spread[j], g[1, p]), eq(j, spread_at), eq(g_spread[j], 0), eq(j, Listing(1, DOTS, spread))),
        "dl_dW_correlation": eq(Partial(ell, W[1, c, m]), dl_dW_corr),
    }
    out = Conv1dDerivation(params, L_out, statements["L_out"].rhs, index, taps[0], forward,
                           df_dW, df_dx, tap, dl_dW, dl_dW_explicit, dl_dW_corr, spread, shapes, taps,
                           conditions, statements)
    return dataclasses.replace(out, blocks=channel_blocks(out))


_derive_cached = functools.lru_cache(maxsize=256)(_derive)


def substitute(expr: sp.Basic, numbers: dict[sp.Symbol, sp.Integer]) -> sp.Basic:
    """``expr.xreplace(numbers)``, without asking SymPy to decide the relations.

    Every node is rebuilt (and evaluated) as ``xreplace`` would, except that a
    relation such as ``2 p - 1 <= n`` and a ``Piecewise`` are rebuilt
    unevaluated: deciding them costs assumption queries, and with the indices
    free they are never decided here (each relation holds ``p`` and ``n``), so
    the result is the same expression.
    """
    if not expr.args:
        return numbers.get(expr, expr)
    args = tuple(substitute(a, numbers) for a in expr.args)
    if args == expr.args:
        return expr
    if isinstance(expr, (sp.core.relational.Relational, sp.Piecewise)):
        return expr.func(*args, evaluate=False)
    return expr.func(*args)


def written_out(total: sp.Sum) -> sp.Expr:
    """A one-index ``Sum`` with integer limits as the sum of its terms (what ``doit`` gives here, directly)."""
    (index, lo, hi), = total.limits
    return sp.Add(*(total.function.xreplace({index: sp.Integer(k)}) for k in range(int(lo), int(hi) + 1)))


# Exact evaluation of element formulas at integer indices (the blocks here, the exact checks in check.py).


class _ExactPrinter(PythonCodePrinter):
    """Python source in exact arithmetic: a Rational is a ``Fraction``, never a float."""

    def _print_Rational(self, expr: sp.Rational) -> str:
        return f"Fraction({expr.p}, {expr.q})"

    _print_Half = _print_Rational


@functools.lru_cache(maxsize=256)  # once per formula in a process
def exact_function(expr: sp.Expr, args: tuple[sp.Basic, ...]) -> Callable[..., Any]:
    """``expr`` compiled to Python with exact rational arithmetic.

    Integer arguments stay Python ints, a division yields a ``Fraction``, a
    ``Piecewise`` is a conditional expression (only the chosen branch is
    evaluated) and an entry ``x[i, k]`` calls ``x.__getitem__((i, k))`` on the
    object passed for ``x``: the caller decides what an entry is (a SymPy
    symbol, or 0 in the padding). Pass a size that divides as a ``Fraction``.
    """
    return sp.lambdify(list(args), expr, modules=[{"Fraction": Fraction}], printer=_ExactPrinter)


@functools.lru_cache(maxsize=None)
def block_functions(key: tuple[bool, bool]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The structure's (ii) and (iii) element formulas, compiled once: ``(p, c, m|n, *SIZES, x, W, g)``."""
    st = structure(*key)
    return (exact_function(st.df_dW, (p, c, m, *SIZES, x, W, g)),
            exact_function(st.df_dx, (p, c, n, *SIZES, x, W, g)))


def integral(value: Any) -> int | None:
    """``value`` as an int if it is an integer (int or Fraction), else None."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else None
    return int(value) if isinstance(value, int) else None


class _Entry:
    """``base[i, k]`` as a SymPy entry with the channel kept symbolic; ``short`` names W's taps ``w_k``."""

    def __init__(self, base: sp.IndexedBase, short: bool = False) -> None:
        self.base, self.short = base, short

    def __getitem__(self, idx: tuple[Any, ...]) -> sp.Basic:
        ints = tuple(i if isinstance(i, sp.Basic) else sp.Integer(integral(i)) for i in idx)
        return short_name(ints[-1]) if self.short else self.base[ints]


class Block(Sequence):
    """The explicit Jacobian block of one symbolic channel ``c``, entries made when first read.

    ``rows`` x ``cols`` entries ``entry(row, col)`` (1-based); the printer reads
    at most a corner of a large block (:func:`derivations.latex.elided`), so a
    large variant never computes the rest.
    """

    def __init__(self, rows: int, cols: int, entry: Callable[[int, int], sp.Basic]) -> None:
        self.shape = (rows, cols)
        self._entry = functools.lru_cache(maxsize=None)(entry)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, r: int) -> "_BlockRow":  # type: ignore[override]
        if not -self.shape[0] <= r < self.shape[0]:
            raise IndexError(r)
        return _BlockRow(self, r % self.shape[0])


class _BlockRow(Sequence):
    def __init__(self, block: Block, r: int) -> None:
        self.block, self.r = block, r

    def __len__(self) -> int:
        return self.block.shape[1]

    def __getitem__(self, k: int) -> sp.Basic:  # type: ignore[override]
        if not -len(self) <= k < len(self):
            raise IndexError(k)
        return self.block._entry(self.r + 1, k % len(self) + 1)


def channel_blocks(d: Conv1dDerivation) -> dict[str, Block]:
    """The explicit Jacobian blocks for one (symbolic) channel c at the variant's sizes.

    ``dW``: rows p, columns m (entries x[c, .]); ``dx``: rows p, columns n
    (entries W[1, c, .] or 0): a banded matrix, each row shifted by the stride.
    Short names ``w_m = W[1, c, m]`` keep the banded block narrow enough to print.
    Each entry is the structure's element formula evaluated exactly at the
    variant's numbers (the same entry as substituting them into ``d.df_dW`` or ``d.df_dx``).
    """
    dW_fn, dx_fn = block_functions(structure_key(d.params))
    sizes = [int(v) for v in numbers(d.params).values()]
    sizes[SIZES.index(D_)] = Fraction(sizes[SIZES.index(D_)])  # the tap divides by D exactly
    xs, ws, wshort = _Entry(x), _Entry(W), _Entry(W, short=True)

    def dW(pp: int, mm: int) -> sp.Basic:
        return sp.sympify(dW_fn(pp, c, mm, *sizes, xs, ws, None))

    def dx(pp: int, nn: int) -> sp.Basic:
        return sp.sympify(dx_fn(pp, c, nn, *sizes, xs, wshort, None))

    return {"dW": Block(d.L_out, d.params.kernel, dW), "dx": Block(d.L_out, d.params.length, dx)}
