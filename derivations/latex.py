"""The one LaTeX printing layer.

Math reaches the document only through :func:`tex`, a thin front to a
:class:`sympy.printing.latex.LatexPrinter` subclass that speaks the homework's
notation: ``x[c, n]`` for indexed entries, ``\\odot`` for Hadamard products,
``\\operatorname{diag}``. Prose from users reaches it only through
:func:`escape`. Nothing here edits printed LaTeX with regular expressions.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Iterable, Sequence

import sympy as sp
from pylatex.utils import escape_latex
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence_traditional

from . import glyphs
from .symbolic import DOTS


def escape(text: str) -> str:
    """User text as LaTeX that prints it literally, in whichever script it is written.

    The text is taken in Unicode NFC and cut into runs of one script
    (:func:`derivations.glyphs.runs`). Latin runs go through PyLaTeX's
    ``escape_latex``: every LaTeX special character becomes text (``\\`` ->
    ``\\textbackslash{}``, ``{`` -> ``\\{`` and so on), so a variant's strings can never
    run commands. Greek, Cyrillic and CJK runs hold letters and spaces only (no
    special character) and are wrapped in what sets them (:func:`wrap`); a
    document holding any needs the fonts the preamble loads for ``scripts``
    (:func:`scripts`). A character no font has, which the variant's ``Text``
    rule refuses long before, prints as its code point (``[U+1F600]``) rather
    than breaking the LaTeX run.
    """
    return "".join(wrap(kind, run) for kind, run in glyphs.runs(unicodedata.normalize("NFC", str(text))))


def wrap(script: str | None, run: str) -> str:
    """LaTeX that sets ``run``, a run of one script (see :func:`escape`)."""
    if script == "latin":
        return str(escape_latex(run))
    if script == "greek":
        return r"{\fontencoding{LGR}\selectfont " + run + "}"
    if script == "cyrillic":
        return r"{\fontencoding{T2A}\selectfont " + run + "}"
    if script == "cjk":
        # \hwcjkbold (base.tex.j2) strokes the outlines in bold text, for fonts without a bold face.
        return "".join(rf"\begin{{CJK}}{{UTF8}}{{{font}}}" + (r"\hwcjkbold " if font in glyphs.CJK_NO_BOLD else "")
                       + part + r"\end{CJK}" for font, part in glyphs.cjk_parts(run))
    return "".join(str(escape_latex(f"[U+{ord(ch):04X}]")) for ch in run)


def scripts(*texts: str) -> tuple[str, ...]:
    """The scripts other than Latin that ``texts`` are written in, in :data:`glyphs.SCRIPTS` order.

    The document template loads their fonts (into a format of its own) only
    when this is not empty, so a Latin-only document is compiled exactly as before.
    """
    found = {glyphs.script(ch) for text in texts for ch in unicodedata.normalize("NFC", str(text))}
    return tuple(s for s in glyphs.SCRIPTS if s != "latin" and s in found)


def prose(text: str) -> str:
    """Program-written text with inline math: the parts between ``$`` signs stay LaTeX, the rest is escaped.

    Only for strings the generator writes itself (check labels and details);
    user text goes through :func:`escape`.
    """
    parts = str(text).split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced $ in {text!r}")
    return "".join(escape(p) if i % 2 == 0 else f"${p}$" for i, p in enumerate(parts))


class HomeworkPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the homework's notation."""

    # A thin space between factors keeps products of indexed entries readable.
    _default_settings = {**LatexPrinter._default_settings, "mul_symbol": r"\,", "ln_notation": True}

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        base = self._print(expr.base.label)
        idx = ", ".join(self._print(i) for i in expr.indices)
        return rf"{base}[{idx}]"

    def _print_HadamardProduct(self, expr: Any) -> str:
        return r" \odot ".join(self.parenthesize(a, 60) for a in expr.args)

    def _print_DiagMatrix(self, expr: Any) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_DiagonalizeVector(self, expr: Any) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_Diag(self, expr: Any) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    # Notation-only expressions of derivations.symbolic: a pattern each.
    _PARTIAL = {
        "Partial": r"\frac{{\partial {a}}}{{\partial {b}}}",
        "Total": r"\frac{{\mathrm{{d}} {a}}}{{\mathrm{{d}} {b}}}",
        "Slash": r"\partial {a}/\partial {b}",
        "Small": r"\tfrac{{\partial {a}}}{{\partial {b}}}",
    }

    def _print_Partial(self, expr: Any) -> str:
        a, b = (self._print(x) for x in expr.args)
        return self._PARTIAL[type(expr).__name__].format(a=a, b=b)

    _print_Total = _print_Slash = _print_Small = _print_Partial

    def _print_Bracket(self, expr: Any) -> str:
        return "[" + ", ".join(r"\dots" if a == DOTS else self._print(a) for a in expr.args) + "]"

    def _print_Softargmax(self, expr: Any) -> str:
        return rf"\operatorname{{softargmax}}\left({self._print(expr.args[0])}\right)"

    def _print_Name(self, expr: Any) -> str:
        return expr.name

    def _print_Listing(self, expr: Any) -> str:
        return ", ".join(r"\dots" if a == DOTS else self._print(a) for a in expr.args)

    def _print_AsWritten(self, expr: Any) -> str:
        order = self._settings["order"]
        self._settings["order"] = "none"  # terms and factors as built, for this subtree only
        try:
            return self._print(expr.args[0])
        finally:
            self._settings["order"] = order

    def _print_Entries(self, expr: Any) -> str:
        entry, *idx = (self._print(a) for a in expr.args)
        return rf"\left[{entry}\right]_{{{', '.join(idx)}}}"

    def _print_Between(self, expr: Any) -> str:
        return r" \le ".join(self._print(a) for a in expr.args)

    def _print_Congruent(self, expr: Any) -> str:
        a, b, d = (self._print(x) for x in expr.args)
        return rf"{a} \equiv {b} \pmod{{{d}}}"

    # Notation of 1.2 (derivations.symbolic), a pattern each. A one-character
    # subscript is printed bare (``\max_i``, ``\|W\|_2``), a longer one in braces.
    @staticmethod
    def _subscript(text: str) -> str:
        return f"_{text}" if len(text) == 1 else f"_{{{text}}}"

    def _print_Chain(self, expr: Any) -> str:
        return r" \cdots ".join(self._print(a) for a in expr.args)

    def _print_Factors(self, expr: Any) -> str:
        return r"\, ".join(self.parenthesize(a, 50, strict=True) for a in expr.args)  # 50: PRECEDENCE["Mul"]

    def _print_Factored(self, expr: Any) -> str:
        head, bracket = expr.args
        order = self._settings["order"]
        self._settings["order"] = "none"  # the bracket's terms as built
        try:
            inner = self._print(bracket)
        finally:
            self._settings["order"] = order
        return rf"{self._print(head)}\left({inner}\right)"

    def _print_Paren(self, expr: Any) -> str:
        return f"({self._print(expr.args[0])})"

    def _print_Sigmoid(self, expr: Any) -> str:
        arg = expr.args[0]
        if arg.is_Atom or isinstance(arg, sp.MatrixSymbol):
            return rf"\sigma({self._print(arg)})"
        return rf"\sigma\bigl( {self._print(arg)} \bigr)"

    def _print_Norm(self, expr: Any) -> str:
        arg, p = expr.args
        return rf"\|{self._print(arg)}\|" + self._subscript(self._print(p))

    def _print_MaxOver(self, expr: Any) -> str:
        arg, index = expr.args
        return r"\max" + self._subscript(self._print(index)) + " " + self._print(arg)

    def _print_Held(self, expr: Any) -> str:
        derivative, fixed = (self._print(a) for a in expr.args)
        return rf"{derivative}\bigg|_{{{fixed}\ \mathrm{{fixed}}}}"

    def _print_Gradient(self, expr: Any) -> str:
        f, x = (self._print(a) for a in expr.args)
        return rf"\nabla_{{{x}}}\, {f}"

    def _print_Gaussian(self, expr: Any) -> str:
        fold = self._settings["fold_short_frac"]
        self._settings["fold_short_frac"] = True  # a/b inline, for this subtree only
        try:
            mean, variance = (self._print(a) for a in expr.args)
        finally:
            self._settings["fold_short_frac"] = fold
        return rf"\mathcal{{N}}({mean}, {variance})"

    def _print_CartesianPower(self, expr: Any) -> str:
        base, power = (self._print(a) for a in expr.args)
        return f"{base}^{{{power}}}"

    def _print_Transpose(self, expr: Any) -> str:
        r"""``A^\top``: the transpose never reads as the time index ``T``."""
        mat = expr.arg
        if isinstance(mat, sp.MatrixExpr) and not isinstance(mat, sp.MatrixSymbol):
            return rf"\left({self._print(mat)}\right)^{{\top}}"
        base = self.parenthesize(mat, precedence_traditional(expr), True)
        return rf"\left({base}\right)^{{\top}}" if "^" in base else rf"{base}^{{\top}}"

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp: Any = None) -> str:
        i, j = (self._print(a) for a in expr.args)
        out = rf"\delta_{{{i},\,{j}}}"
        return rf"\left({out}\right)^{{{exp}}}" if exp else out


_PRINTER = HomeworkPrinter()
_PRINTER_AS_BUILT = HomeworkPrinter({"order": "none", "mul_symbol": "dot"})


def tex(expr: Any, *, as_built: bool = False) -> str:
    """LaTeX of a SymPy expression (or a number) in the homework's notation.

    ``as_built=True`` keeps the order of terms in which an unevaluated
    expression was constructed (for showing a formula with numbers substituted).
    """
    printer = _PRINTER_AS_BUILT if as_built else _PRINTER
    return printer.doprint(sp.sympify(expr) if isinstance(expr, (int, float)) else expr)


def shape(dims: Sequence[Any]) -> str:
    r"""``\mathbb{R}^{a \times b}`` for a shape given as ints or SymPy symbols."""
    return r"\mathbb{R}^{" + r" \times ".join(tex(d) for d in dims) + "}"


def dims(dims: Sequence[Any]) -> str:
    r"""``a \times b`` (no \mathbb{R})."""
    return r" \times ".join(tex(d) for d in dims)


def matrix(rows: Sequence[Sequence[str]], kind: str = "bmatrix") -> str:
    """A matrix environment from already printed LaTeX cells."""
    body = r" \\ ".join(" & ".join(r) for r in rows)
    return rf"\begin{{{kind}}}{body}\end{{{kind}}}"


def elided(entries: Sequence[Sequence[Any]], max_rows: int, max_cols: int) -> str:
    """Print a matrix of SymPy entries, eliding the middle with dots when it is too big."""

    def pick(n: int, m: int) -> list[int | None]:
        if n <= m:
            return list(range(n))
        head = m // 2
        return list(range(head)) + [None] + list(range(n - (m - head - 1), n))

    rows = pick(len(entries), max_rows)
    cols = pick(len(entries[0]), max_cols)
    out = []
    for r in rows:
        line = []
        for c in cols:
            if r is None and c is None:
                line.append(r"\ddots")
            elif r is None:
                line.append(r"\vdots")
            elif c is None:
                line.append(r"\cdots")
            else:
                line.append(tex(entries[r][c]))
        out.append(line)
    return matrix(out)


def join(items: Iterable[str], sep: str = ", ") -> str:
    return sep.join(items)


def number(value: float, digits: int = 3) -> str:
    """A number for the prose: ``digits`` significant digits, a power of ten when far from 1."""
    if value == 0 or 1e-2 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    mant, exp = f"{value:.{digits - 1}e}".split("e")
    return rf"{float(mant):.{digits}g}\times 10^{{{int(exp)}}}"


def fixed(value: float, digits: int = 2) -> str:
    """A number with ``digits`` decimals (percentages, ratios, losses)."""
    return f"{value:.{digits}f}"


def sci(value: float) -> str:
    """A float in compact scientific LaTeX (for the verification table)."""
    if value == 0:
        return "0"
    mant, exp = f"{value:.1e}".split("e")
    return rf"{mant}\times10^{{{int(exp)}}}"


CARDINALS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def cardinal(value: int) -> str:
    """A count in words for the prose ("three matrices"); digits from eleven on."""
    return CARDINALS[value] if 0 <= value < len(CARDINALS) else str(value)
