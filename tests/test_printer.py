"""The one LaTeX printer: the homework's notation, through _print_<Class> methods."""
from __future__ import annotations

import sympy as sp

from derivations import latex
from derivations.symbolic import DOTS, Bracket, Diag, Partial, Slash, Small, Softargmax, Total


def test_indexed_entries_use_brackets():
    x = sp.IndexedBase("x")
    c, n = sp.symbols("c n")
    assert latex.tex(x[c, n + 1]) == "x[c, n + 1]"


def test_hadamard_and_diag():
    a, b = sp.MatrixSymbol("a", 3, 1), sp.MatrixSymbol("b", 3, 1)
    assert latex.tex(sp.HadamardProduct(a, b)) == r"a \odot b"
    assert latex.tex(Diag(a)) == r"\operatorname{diag}\left(a\right)"
    assert Diag(a).shape == (3, 3)


def test_kronecker_delta():
    i, j = sp.symbols("i j")
    assert latex.tex(sp.KroneckerDelta(i, j)) == r"\delta_{i,\,j}"


def test_derivative_notations():
    h, x = sp.Symbol("h"), sp.Symbol("x")
    assert latex.tex(Partial(h, x)) == r"\frac{\partial h}{\partial x}"
    assert latex.tex(Total(h, x)) == r"\frac{\mathrm{d} h}{\mathrm{d} x}"
    assert latex.tex(Slash(h, x)) == r"\partial h/\partial x"
    assert latex.tex(Small(h, x)) == r"\tfrac{\partial h}{\partial x}"


def test_listings():
    a, b = sp.symbols("a b")
    assert latex.tex(Bracket(a, DOTS, b)) == r"[a, \dots, b]"
    assert latex.tex(Softargmax(Bracket(a, b))) == r"\operatorname{softargmax}\left([a, b]\right)"


def test_shapes_and_matrices():
    m = sp.Symbol("m")
    assert latex.shape((1, m)) == r"\mathbb{R}^{1 \times m}"
    assert latex.matrix([["1", "0"], ["0", "1"]]) == r"\begin{bmatrix}1 & 0 \\ 0 & 1\end{bmatrix}"
    big = [[sp.Integer(r * 10 + c) for c in range(20)] for r in range(20)]
    out = latex.elided(big, 5, 5)
    assert r"\ddots" in out and r"\vdots" in out and r"\cdots" in out and "199" in out


def test_numbers():
    assert latex.number(0.41234) == "0.412"
    assert latex.number(123456.0) == r"1.23\times 10^{5}"
    assert latex.number(0.00012) == r"1.2\times 10^{-4}"
    assert latex.fixed(2.345, 1) == "2.3"
    assert latex.sci(0.0) == "0" and latex.sci(2.5e-10) == r"2.5\times10^{-10}"


def test_user_text_is_escaped():
    assert latex.escape(r"\input{x} 100% #1 & ~ $") == \
        r"\textbackslash{}input\{x\} 100\% \#1 \& \textasciitilde{} \$"


def test_statement_notations():
    from derivations.symbolic import AsWritten, Between, Congruent, Entries, Listing, Name
    n, m, p, M = sp.symbols("n m p M")
    x, f = sp.IndexedBase("x"), sp.IndexedBase(Name("f_W(x)"))
    assert latex.tex(f[1, p]) == "f_W(x)[1, p]"
    assert latex.tex(Listing(0, 2 * p, DOTS)) == r"0, 2\,p, \dots"
    assert latex.tex(AsWritten(x[sp.Add(n, -m, evaluate=False)])) == "x[n - m]"
    assert latex.tex(x[n - m]) == "x[- m + n]"  # the setting is restored after AsWritten
    assert latex.tex(Entries(Partial(f[1, p], x[n]), p, n)) == \
        r"\left[\frac{\partial f_W(x)[1, p]}{\partial x[n]}\right]_{p, n}"
    assert latex.tex(Between(-M, m, M)) == r"- M \le m \le M"
    assert Between(1, m, M).condition() == sp.And(sp.Le(1, m), sp.Le(m, M))
    assert latex.tex(Congruent(n, p, 2)) == r"n \equiv p \pmod{2}"
    assert Congruent(n, p, 2).condition() == sp.Eq(sp.Mod(n - p, 2), 0)


def test_recurrent_notations():
    """1.2's notation classes print as the homework writes them; counts in words."""
    from derivations.symbolic import (CartesianPower, Chain, Factored, Factors, Gaussian, Gradient, Held, MaxOver,
                                      Norm, Paren, Sigmoid)

    a, b, i, m = sp.symbols("a b i m")
    h, hp = sp.MatrixSymbol("h[t]", m, 1), sp.MatrixSymbol("h[t-1]", m, 1)
    assert latex.tex(Chain(Partial(a, b), Partial(b, a))) == \
        r"\frac{\partial a}{\partial b} \cdots \frac{\partial b}{\partial a}"
    assert latex.tex(Factors(sp.Rational(1, 4), MaxOver(sp.Abs(a), i), Norm(h))) == \
        r"\frac{1}{4}\, \max_i \left|{a}\right|\, \|h[t]\|_2"
    assert latex.tex(Factored(a, sp.Add(1, -b, evaluate=False))) == r"a\left(1 - b\right)"
    assert latex.tex(Paren(sp.HadamardProduct(h, hp))) == r"(h[t] \odot h[t-1])"
    assert latex.tex(Sigmoid(a)) == r"\sigma(a)"
    assert latex.tex(Sigmoid(sp.MatAdd(h, hp, evaluate=False)), as_built=True) == r"\sigma\bigl( h[t] + h[t-1] \bigr)"
    assert latex.tex(Held(Partial(a, b), hp)) == r"\frac{\partial a}{\partial b}\bigg|_{h[t-1]\ \mathrm{fixed}}"
    assert latex.tex(Gradient(a, hp)) == r"\nabla_{h[t-1]}\, a"
    assert latex.tex(Gaussian(0, a ** 2 / m)) == r"\mathcal{N}(0, a^{2} / m)"
    assert latex.tex(CartesianPower(sp.Interval.open(0, 1), m)) == r"\left(0, 1\right)^{m}"
    assert (latex.cardinal(3), latex.cardinal(12)) == ("three", "12")


def test_transpose_is_top_not_T():
    g, x = sp.MatrixSymbol("g", 1, 3), sp.MatrixSymbol("x", 3, 1)
    assert latex.tex(sp.Transpose(g) * sp.Transpose(x)) == r"g^{\top} x^{\top}"
    assert latex.tex(sp.Transpose(x * g)) == r"\left(x g\right)^{\top}"


def test_no_transpose_written_as_T_in_any_document(outcomes):
    """``^T`` / ``^{T}`` as a transpose would read as the time index T: every document uses ``^\\top``."""
    import re

    from derivations import build

    for outcome in outcomes.values():
        for audience in ("staff", "students", "handout"):
            tex = build.source(outcome, key=audience)
            # ^{T} after a closing brace of a limit (\sum_{t=1}^{T}) is an upper limit, not a transpose.
            found = re.findall(r"(?<![}])\^\{?T\}?(?![_a-zA-Z{])", tex)
            assert found == [], audience
