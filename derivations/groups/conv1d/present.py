"""1.1(c): template context and answers, printed once from the derivation."""
from __future__ import annotations

import functools
from typing import Any

import sympy as sp

from ... import latex
from ...registry import Presentation, Verification
from ...symbolic import DOTS, Listing, Name
from .derive import EXPLICIT_OUTPUTS, NAMES, W, c, p

MAX_COLUMNS = 12  # explicit Jacobian blocks wider than this are elided with dots
MAX_ROWS = 12
MAX_LISTED = 4  # longer lists of taps are elided with dots
MAX_OUTPUTS_LISTED = 6  # likewise the output positions p


def elide(items: tuple[Any, ...], limit: int) -> Listing:
    """All items while there are at most ``limit``, else the first two, dots and the last."""
    return Listing(*items) if len(items) <= limit else Listing(*items[:2], DOTS, items[-1])


@functools.lru_cache(maxsize=4096)
def tex(expr: Any, *, as_built: bool = False) -> str:
    """:func:`derivations.latex.tex`, remembered: the stem, the names and many statements are the same
    expressions for every student of a class (SymPy expressions are immutable; equal ones print alike)."""
    return latex.tex(expr, as_built=as_built)


class _Printed:
    """A Jacobian block whose entries the printer reads as their LaTeX: each distinct entry
    (there are few: a band of K taps and zeros) is printed once, by :func:`tex`."""

    def __init__(self, rows: Any) -> None:
        self.rows, self.printed = rows, {}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, r: int) -> "_PrintedRow":
        return _PrintedRow(self, self.rows[r])


class _PrintedRow:
    def __init__(self, block: _Printed, row: Any) -> None:
        self.block, self.row = block, row

    def __len__(self) -> int:
        return len(self.row)

    def __getitem__(self, k: int) -> Name:
        entry, printed = self.row[k], self.block.printed
        if entry not in printed:
            printed[entry] = Name(tex(entry))
        return printed[entry]


def block(entries: Any) -> str:
    """The block printed as a matrix, the middle elided with dots when it is too big."""
    return latex.elided(_Printed(entries), MAX_ROWS, MAX_COLUMNS)


def present(d: Any, evidence: Any, verification: Verification) -> Presentation:
    prm = d.params
    K, L = prm.kernel, prm.length
    st = d.statements
    condition = r",\ ".join(tex(cond) for cond in d.df_dx_conditions)
    forward = tex(d.forward)
    df_dW = tex(d.df_dW)
    df_dx_value = tex(W[1, c, d.tap])
    dl_dW = tex(d.dl_dW)
    jac = lambda a, b: "(" + latex.dims(d.shapes[a]) + r") \times (" + latex.dims(d.shapes[b]) + ")"  # noqa: E731
    spread_value, spread_at, spread_zero, spread_range = st["spread"]
    context = {
        "C": prm.channels, "L": L, "K": K, "S": prm.stride, "D": prm.dilation, "P": prm.padding,
        "has_dilation": prm.dilation > 1, "has_padding": prm.padding > 0,
        "names": {name: tex(e) for name, e in NAMES.items()},
        # the stem
        "support": tex(st["support"]),
        "correlation": tex(st["correlation"]),
        "convolution_entry": tex(st["convolution_entry"]),
        "input_ranges": [tex(r) for r in st["input_ranges"]],
        "style_shape": latex.shape(st["style_shape"]),
        "style_entry": tex(st["style_entry"]),
        # (i)
        "L_out": d.L_out,
        "L_out_definition": tex(st["L_out"], as_built=True),
        "index": tex(d.index),
        "start_definition": tex(st["start"]),
        "taps": tex(elide(d.taps, MAX_LISTED)),
        "padding_region": [tex(r) for r in st["padding"]],
        "forward_definition": tex(st["forward"]),
        "p_range": tex(sp.Eq(p, elide(tuple(range(1, d.L_out + 1)), MAX_OUTPUTS_LISTED), evaluate=False)),
        "shape_f": latex.shape(d.shapes["f"]),
        "shape_W": latex.shape(d.shapes["W"]),
        "shape_x": latex.shape(d.shapes["x"]),
        # (ii)
        "shape_df_dW": latex.shape(d.shapes["df_dW"]),
        "jac_df_dW": jac("f", "W"),
        "df_dW_definition": tex(st["df_dW"]),
        "block_dW_lhs": tex(st["block_dW"]),
        "block_dW": block(d.blocks["dW"]),
        # (iii)
        "shape_df_dx": latex.shape(d.shapes["df_dx"]),
        "jac_df_dx": jac("f", "x"),
        "tap_equation": tex(st["tap_equation"]),
        "tap_range": tex(st["tap_range"]),
        "df_dx_lhs": tex(st["df_dx_lhs"]),
        "df_dx_value": df_dx_value,
        "df_dx_condition": condition,
        "short_name": tex(st["short_name"]),
        "block_dx_lhs": tex(st["block_dx"]),
        "block_dx": block(d.blocks["dx"]),
        "block_dx_elided": L > MAX_COLUMNS,
        # (iv)
        "g_definition": tex(st["g"]),
        "chain_rule": tex(st["chain_rule"]),
        "shape_dl_dW": latex.shape(d.shapes["dl_dW"]),
        "dl_dW_definition": tex(st["dl_dW"]),
        "dl_dW_explicit": tex(d.dl_dW_explicit),
        "show_explicit": d.L_out <= EXPLICIT_OUTPUTS,  # written out only while it fits a line or two
        "spread_value": tex(spread_value), "spread_at": tex(spread_at, as_built=True), "spread_zero": tex(spread_zero),
        "spread_range": tex(spread_range),
        "dl_dW_correlation": tex(st["dl_dW_correlation"]),
    }
    answers = {
        "conv1d.output_shape": list(d.shapes["f"]),
        "conv1d.df_dW.shape": list(d.shapes["df_dW"]),
        "conv1d.df_dx.shape": list(d.shapes["df_dx"]),
        "conv1d.dl_dW.shape": list(d.shapes["dl_dW"]),
        "conv1d.f.latex": forward,
        "conv1d.df_dW.latex": df_dW,
        "conv1d.df_dx.latex": df_dx_value + r" \text{ if } " + condition + r", \text{ else } 0",
        "conv1d.dl_dW.latex": dl_dW,
    }
    questions = {
        "conv1d_output": ("conv1d.output_shape", "conv1d.f.latex"),
        "conv1d_dW": ("conv1d.df_dW.shape", "conv1d.df_dW.latex"),
        "conv1d_dx": ("conv1d.df_dx.shape", "conv1d.df_dx.latex"),
        "conv1d_dl_dW": ("conv1d.dl_dW.shape", "conv1d.dl_dW.latex"),
    }
    return Presentation(context, answers, questions=questions)
