"""1.1(c): template context and answers, printed once from the derivation."""
from __future__ import annotations

from typing import Any

from ... import latex
from ...registry import Presentation, Verification
from .derive import W, c

MAX_COLUMNS = 12  # explicit Jacobian blocks wider than this are elided with dots
MAX_ROWS = 12


def present(d: Any, evidence: Any, verification: Verification) -> Presentation:
    prm = d.params
    K, L = prm.kernel, prm.length
    first, last = d.taps[0], d.taps[-1]
    condition = latex.tex(first) + r" \le n \le " + latex.tex(last)
    if prm.dilation > 1:
        condition += r",\ n \equiv " + latex.tex(first) + r" \pmod{" + str(prm.dilation) + "}"
    if K > 4:  # long lists elided with dots
        taps = ", ".join(latex.tex(t) for t in d.taps[:2]) + r", \dots, " + latex.tex(last)
    else:
        taps = ", ".join(latex.tex(t) for t in d.taps)
    forward = latex.tex(d.forward)
    df_dW = latex.tex(d.df_dW)
    df_dx_value = latex.tex(W[1, c, d.tap])
    dl_dW = latex.tex(d.dl_dW)
    jac = lambda a, b: "(" + latex.dims(d.shapes[a]) + r") \times (" + latex.dims(d.shapes[b]) + ")"  # noqa: E731
    context = {
        "C": prm.channels, "L": L, "K": K, "S": prm.stride, "D": prm.dilation, "P": prm.padding,
        "L_out": d.L_out,
        "L_out_formula": latex.tex(d.L_out_numbers, as_built=True),
        "index": latex.tex(d.index),
        "start": latex.tex(d.start),
        "taps": taps,
        "p_range": ", ".join(str(i) for i in range(1, d.L_out + 1)) if d.L_out <= 6
        else rf"1, 2, \dots, {d.L_out}",
        "shape_f": latex.shape(d.shapes["f"]),
        "shape_W": latex.shape(d.shapes["W"]),
        "shape_x": latex.shape(d.shapes["x"]),
        "shape_df_dW": latex.shape(d.shapes["df_dW"]),
        "jac_df_dW": jac("f", "W"),
        "shape_df_dx": latex.shape(d.shapes["df_dx"]),
        "jac_df_dx": jac("f", "x"),
        "shape_dl_dW": latex.shape(d.shapes["dl_dW"]),
        "forward": forward,
        "df_dW": df_dW,
        "df_dx_value": df_dx_value,
        "df_dx_condition": condition,
        "dl_dW": dl_dW,
        "dl_dW_explicit": latex.tex(d.dl_dW_explicit),
        "show_explicit": d.L_out <= 5,  # written out only while it fits a line or two
        "dl_dW_correlation": latex.tex(d.dl_dW_correlation),
        "spread_length": d.spread_length,
        "block_dW": latex.elided(d.blocks["dW"], MAX_ROWS, MAX_COLUMNS),
        "block_dx": latex.elided(d.blocks["dx"], MAX_ROWS, MAX_COLUMNS),
        "block_dx_elided": L > MAX_COLUMNS,
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
    return Presentation(context, answers)
