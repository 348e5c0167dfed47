"""1.1(b): template context and answers."""
from __future__ import annotations

from typing import Any

from ... import latex
from ...registry import Presentation, Verification


def present(derivation: Any, evidence: Any, verification: Verification) -> Presentation:
    g = derivation
    tex = lambda e: latex.tex(e, as_built=True)  # noqa: E731
    context = {
        "kernel": latex.dims(g.kernel),
        "input_shape": latex.dims(g.input_shape),
        "fits": [latex.tex(f) for f in g.fits],
        "k_eff": [tex(e) for e in g.k_eff_definitions],
        "h_out": tex(g.outputs[0]),
        "w_out": tex(g.outputs[1]),
        "h_out_expanded": tex(g.h_out_written_out),
        "shape": latex.dims(g.named_shape),
    }
    return Presentation(context, {"conv_general.output_shape.latex": latex.dims(g.shape)},
                        questions={"conv_general": ("conv_general.output_shape.latex",)})
