"""1.1(a): template context and answers."""
from __future__ import annotations

from typing import Any

from ... import latex
from ...registry import Presentation, Verification


def present(derivation: Any, evidence: Any, verification: Verification) -> Presentation:
    prm = derivation.params
    tex = lambda e: latex.tex(e, as_built=True)  # noqa: E731  (the order of construction)
    axes = [{
        "name": a.name,
        "out": latex.tex(a.out),
        "k_eff_formula": tex(a.k_eff_formula),
        "k_eff_numbers": tex(a.k_eff_numbers),
        "k_eff": a.k_eff,
        "formula": tex(a.formula),
        "numbers": tex(a.numbers),
        "quotient": tex(a.quotient),
        "value": a.value,
        "k_eff_symbol": latex.tex(a.k_eff_symbol),
        # Both steps fit on one line for homework-sized numbers only.
        "wide": max(prm.input) >= 100 or max(prm.kernel) >= 10,
    } for a in derivation.axes]
    answer = latex.dims(derivation.output_shape)
    context = {
        "input": latex.dims(prm.input),
        "kernel": latex.dims(prm.kernel),
        **{name: latex.tex(eq) for name, eq in derivation.settings.items()},
        "has_padding": any(prm.padding),
        "has_dilation": any(d != 1 for d in prm.dilation),
        "rule_k_eff": tex(derivation.rule_k_eff),
        "rule_starts": latex.tex(derivation.rule_starts),
        "rule": tex(derivation.rule),
        "axes": axes,
        "answer": answer,
    }
    answers = {"conv2d.output_shape": list(derivation.output_shape), "conv2d.output_shape.latex": answer}
    return Presentation(context, answers,
                        questions={"conv2d_output": ("conv2d.output_shape", "conv2d.output_shape.latex")})
