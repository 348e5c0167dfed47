"""The shared symbolic core: notation objects and the helpers every group uses.

* :class:`Diag` -- ``diag(v)`` of a column vector, one class for every group;
* notation-only expressions (:class:`Partial`, :class:`Total`, :class:`Slash`,
  :class:`Small`, :class:`Bracket`, :class:`Softargmax`, :class:`Name`,
  :class:`Listing`, :class:`AsWritten`, :class:`Entries`; :class:`Between` and
  :class:`Congruent` also give their SymPy condition; for 1.2 :class:`Chain`,
  :class:`Factors`, :class:`Factored`, :class:`Paren`, :class:`Sigmoid`,
  :class:`Norm`, :class:`MaxOver`, :class:`CartesianPower`, :class:`Held`, :class:`Gradient`,
  :class:`Gaussian`): they carry no
  mathematics and are printed by :class:`derivations.latex.HomeworkPrinter`'s
  ``_print_<Class>`` methods, never by hooks of their own;
* :func:`drop_guards` -- the one remover of index-range guards that ``diff``
  of a ``Sum`` leaves behind;
* :func:`rational_difference` -- the one exact-check generaliser: every
  ``exp`` atom becomes a fresh positive symbol, and the numerator of the
  difference over a common denominator must expand to zero;
* :func:`numeric` -- the one ``lambdify`` helper (safe argument names, since
  the printed names are LaTeX).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix


class Diag(DiagMatrix):
    r"""``\operatorname{diag}(v)`` of a column vector ``v``.

    ``doit`` stays structural: SymPy's version asks the assumptions system
    whether the vector is diagonal, which is slow (printing and lambdify call
    it on every negated term) and never applies to an m x 1 vector here.
    """

    @property
    def arg(self) -> sp.Basic:
        return self.args[0]

    def doit(self, **hints: Any) -> "Diag":
        return Diag(self.args[0].doit(**hints)) if hints.get("deep", True) else self


class Partial(sp.Expr):
    r"""``\partial a / \partial b`` (a Jacobian; kept in order in products)."""

    is_commutative = False

    def __new__(cls, num: sp.Basic, den: sp.Basic) -> "Partial":
        return sp.Expr.__new__(cls, num, den)


class Total(Partial):
    r"""``d a / d b``: the total derivative through every path."""


class Slash(Partial):
    r"""``\partial a / \partial b`` written inline with a slash."""


class Small(Partial):
    r"""``\tfrac{\partial a}{\partial b}``: a Jacobian in running text."""


DOTS = sp.Symbol(r"\dots")


class Bracket(sp.Expr):
    """``[a, b, ..., c]``: a listing of scalars; the item ``DOTS`` prints an ellipsis."""

    def __new__(cls, *items: sp.Basic) -> "Bracket":
        return sp.Expr.__new__(cls, *items)


class Softargmax(sp.Expr):
    r"""``\operatorname{softargmax}(\cdot)`` applied to a listing."""

    def __new__(cls, arg: sp.Basic) -> "Softargmax":
        return sp.Expr.__new__(cls, arg)


class Name(sp.Symbol):
    """A symbol printed exactly as its name, e.g. ``f_W(x)`` (no sub/superscript parsing)."""


class Listing(sp.Expr):
    """``a, b, ..., c`` without brackets; the item ``DOTS`` prints an ellipsis."""

    def __new__(cls, *items: Any) -> "Listing":
        return sp.Expr.__new__(cls, *map(sp.sympify, items))


class AsWritten(sp.Expr):
    """An expression printed with its sums and products in the order they were built."""

    def __new__(cls, arg: sp.Basic) -> "AsWritten":
        return sp.Expr.__new__(cls, arg)


class Entries(sp.Expr):
    r"""``\left[e\right]_{p, m}``: the array whose entry at the given indices is ``e``."""

    def __new__(cls, entry: sp.Basic, *indices: Any) -> "Entries":
        return sp.Expr.__new__(cls, entry, *map(sp.sympify, indices))


class Between(sp.Expr):
    r"""``lo \le x \le hi`` as one chain; :meth:`condition` is the same as a SymPy ``And``."""

    def __new__(cls, lo: sp.Basic, x: sp.Basic, hi: sp.Basic) -> "Between":
        return sp.Expr.__new__(cls, sp.sympify(lo), x, sp.sympify(hi))

    def condition(self) -> sp.Basic:
        lo, x, hi = self.args
        return sp.And(lo <= x, x <= hi)


class Congruent(sp.Expr):
    r"""``a \equiv b \pmod{d}``; :meth:`condition` is ``Mod(a - b, d) = 0``."""

    def __new__(cls, a: sp.Basic, b: sp.Basic, modulus: sp.Basic) -> "Congruent":
        return sp.Expr.__new__(cls, a, b, sp.sympify(modulus))

    def condition(self) -> sp.Basic:
        a, b, d = self.args
        return sp.Eq(sp.Mod(a - b, d), 0)


# Notation of the recurrent groups (1.2): printed by HomeworkPrinter, no mathematics.


class Chain(sp.Expr):
    r"""``a \cdots b``: a product of Jacobians with the middle factors elided, in order."""

    is_commutative = False

    def __new__(cls, *factors: sp.Basic) -> "Chain":
        return sp.Expr.__new__(cls, *factors)


class Factors(sp.Expr):
    r"""``a\, b\, c``: a product kept as written (no coefficient pulled into a fraction)."""

    is_commutative = False

    def __new__(cls, *factors: Any) -> "Factors":
        return sp.Expr.__new__(cls, *map(sp.sympify, factors))


class Factored(sp.Expr):
    r"""``h\left(b\right)``: a common factor ``h`` times a bracket, its terms as built."""

    def __new__(cls, head: sp.Basic, bracket: sp.Basic) -> "Factored":
        return sp.Expr.__new__(cls, head, bracket)


class Paren(sp.Expr):
    """``(a)``: an expression in plain parentheses (a label, a numerator)."""

    def __new__(cls, arg: sp.Basic) -> "Paren":
        return sp.Expr.__new__(cls, arg)


class Sigmoid(sp.Expr):
    r"""``\sigma(z)``: the logistic sigmoid applied entrywise (the notation, not its formula)."""

    def __new__(cls, arg: sp.Basic) -> "Sigmoid":
        return sp.Expr.__new__(cls, arg)


class Norm(sp.Expr):
    r"""``\|a\|_p``."""

    def __new__(cls, arg: sp.Basic, p: Any = 2) -> "Norm":
        return sp.Expr.__new__(cls, arg, sp.sympify(p))


class MaxOver(sp.Expr):
    r"""``\max_i a``: the largest value of ``a`` over the index ``i``."""

    def __new__(cls, arg: sp.Basic, index: sp.Symbol) -> "MaxOver":
        return sp.Expr.__new__(cls, arg, index)


class Held(sp.Expr):
    r"""``d|_{x fixed}``: a derivative taken with ``x`` held fixed."""

    def __new__(cls, derivative: sp.Basic, fixed: sp.Basic) -> "Held":
        return sp.Expr.__new__(cls, derivative, fixed)


class Gradient(sp.Expr):
    r"""``\nabla_x f``: the gradient (a column) of the scalar ``f`` with respect to ``x``."""

    def __new__(cls, f: sp.Basic, x: sp.Basic) -> "Gradient":
        return sp.Expr.__new__(cls, f, x)


class CartesianPower(sp.Expr):
    """``S^n``: the n-fold product of a set with itself (``(0, 1)^m``)."""

    def __new__(cls, base: sp.Basic, power: Any) -> "CartesianPower":
        return sp.Expr.__new__(cls, base, sp.sympify(power))


class Gaussian(sp.Expr):
    r"""``\mathcal{N}(mean, variance)``."""

    def __new__(cls, mean: Any, variance: Any) -> "Gaussian":
        return sp.Expr.__new__(cls, sp.sympify(mean), sp.sympify(variance))


def range_guards(ranges: dict[sp.Symbol, Any]) -> set[sp.Basic]:
    """The conditions ``1 <= i`` and ``i <= top`` for each index ``i`` and its top."""
    out: set[sp.Basic] = {sp.true}
    for idx, top in ranges.items():
        out |= {sp.Le(idx, top), sp.Ge(idx, 1), sp.Le(1, idx), sp.Ge(top, idx)}
    return out


def drop_guards(expr: sp.Basic, guards: Iterable[sp.Basic]) -> sp.Basic:
    """Collapse ``Piecewise((e, cond), ...)`` to ``e`` when ``cond`` only restates index ranges.

    ``diff`` of a ``Sum`` with respect to an entry resolves a Kronecker delta
    and guards the result with the summation range; for indices inside their
    ranges (every condition in ``guards``, e.g. from :func:`range_guards`) the
    guard holds.
    """
    known = set(guards)

    def collapse(pw: sp.Piecewise) -> sp.Basic:
        expr0, cond0 = pw.args[0]
        parts = set(cond0.args) if isinstance(cond0, sp.And) else {cond0}
        return expr0 if parts <= known else pw

    return sp.sympify(expr).replace(lambda e: isinstance(e, sp.Piecewise), collapse)


def rational_difference(closed: sp.MatrixBase, brute: sp.MatrixBase, *, powers: bool = False) -> sp.Matrix:
    """Entrywise numerator of ``closed - brute`` over a common denominator, expanded.

    Every ``exp(...)`` atom is first replaced by its own positive symbol (the
    same renaming on both sides): if the difference vanishes as a rational
    function of independent symbols it vanishes at ``E_r = exp(...)`` too.
    The denominators are sums and products of exponentials, positive, so the
    difference is zero exactly when this numerator is. (Equivalent to
    ``simplify`` on the difference, and much faster on nested sigmoids and
    softmaxes.)

    With ``powers``, ``exp(c u)`` for a rational ``c`` becomes ``E_r**c``, one
    symbol per primitive exponent ``u``: SymPy merges ``exp(u)**2`` (a squared
    softmax weight) into ``exp(2 u)``, which must stay the square of ``exp(u)``
    for the difference to vanish.
    """
    atoms = sorted(closed.atoms(sp.exp) | brute.atoms(sp.exp), key=sp.default_sort_key)
    if powers:
        parts = {atom: atom.args[0].as_content_primitive() for atom in atoms}
        bases = sorted({u for _, u in parts.values()}, key=sp.default_sort_key)
        symbols = {u: sp.Symbol(f"E_{r}", positive=True) for r, u in enumerate(bases)}
        names = {atom: symbols[u] ** c for atom, (c, u) in parts.items()}
    else:
        names = {atom: sp.Symbol(f"E_{r}", positive=True) for r, atom in enumerate(atoms)}
    diff = (sp.Matrix(closed) - sp.Matrix(brute)).xreplace(names)
    return diff.applyfunc(lambda e: sp.expand(sp.numer(sp.together(e))))


def numeric(expr: Any, args: Sequence[sp.Basic], modules: str = "numpy") -> Callable[..., Any]:
    """``lambdify(args, expr)`` with identifier names for the arguments.

    The printed names are LaTeX (``h[t-1]``, ``\\bar{g}``), which are not
    Python identifiers; such an argument is renamed ``argN`` of the same kind
    and shape before compiling. Arguments with identifier names (symbols,
    ``IndexedBase`` arrays read entry by entry) are passed as they are.
    """
    def rename(a: sp.Basic, p: int) -> sp.Basic:
        if str(a).isidentifier():
            return a
        return sp.MatrixSymbol(f"arg{p}", *a.shape) if isinstance(a, sp.MatrixSymbol) else sp.Symbol(f"arg{p}")

    safe = {a: rename(a, p) for p, a in enumerate(args)}
    return sp.lambdify([safe[a] for a in args], sp.sympify(expr).xreplace(safe), modules)
