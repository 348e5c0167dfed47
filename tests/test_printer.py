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
