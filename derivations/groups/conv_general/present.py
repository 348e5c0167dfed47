"""1.1(b): template context and answers."""
from __future__ import annotations

from typing import Any

from ... import latex
from ...registry import Presentation, Verification


def present(derivation: Any, evidence: Any, verification: Verification) -> Presentation:
    g = derivation
    tex = lambda e: latex.tex(e, as_built=True)  # noqa: E731
    square = g.notation == "square"
    pairs = list(zip(g.k_eff_symbols, g.k_eff))[: 1 if square else 2]
    context = {
        "square": square,
        "kernel": latex.dims((g.kernel[0], g.kernel[0]) if square else g.kernel),
        "k_eff": [latex.tex(sym) + " = " + tex(e) for sym, e in pairs],
        "h_out": tex(g.h_out),
        "w_out": tex(g.w_out),
        "h_out_expanded": tex(g.h_out_expanded),
        "w_out_expanded": tex(g.w_out_expanded),
        "shape": latex.dims(g.named_shape),
    }
    return Presentation(context, {"conv_general.output_shape.latex": latex.dims(g.shape)})
