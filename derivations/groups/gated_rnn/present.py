"""1.2.1: the template context and the answers.json entries, built once from the results.

Printing only: formulas come from the derivation (its answers and its
:class:`~.derive.Statements`); numbers come from the experiment and from the
verification's measures. The templates insert them and type no formula.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import sympy as sp

from ... import latex
from ...registry import Presentation, Verification
from ...symbolic import DOTS, Gaussian, Listing, Paren
from . import forms as F
from .derive import GatedRnnDerivation, same_symbolic, symbolic_derivation
from .experiment import (FIG_BURN_IN, FIG_DRAWS, FIG_QUOTE, FIG_SIZE, FIG_STEPS, SATURATED, WEIGHT_STD,
                         GatedRnnEvidence, GrowthCurve)
from .forms import HP, WC, WH, WX, C, G, V, X, a, b, i, j, k


def tex(expr: Any) -> str:
    """LaTeX keeping the order of construction (the builders' reading order)."""
    return latex.tex(expr, as_built=True)


def _coordinates(curve: GrowthCurve) -> str:
    return " ".join(f"({gap},{val:.6e})" for gap, val in zip(curve.gaps, curve.norms))


def _curve_context(cv: GrowthCurve) -> dict[str, Any]:
    return {
        "scale": f"{cv.scale:g}",
        "coordinates": _coordinates(cv),
        "at_one": latex.number(cv.at(1)),
        "at_quote": latex.number(cv.at(FIG_QUOTE)),
        "at_end": latex.number(cv.at(FIG_STEPS)),
        "step_norm": latex.number(cv.step_norm),
        "carry": latex.fixed(cv.carry),
        "gate_slope": latex.number(cv.gate_slope),
        "saturated": f"{100 * cv.saturated:.0f}",
        "drive": latex.number(cv.drive),
        "wh_norm": latex.number(cv.wh_norm),
        "shrinks": cv.at(FIG_QUOTE) < 1e-2,
        "grows": cv.at(FIG_QUOTE) > 1e2,
    }


def figure_context(d: GatedRnnDerivation, curves: tuple[GrowthCurve, ...]) -> dict[str, Any]:
    """The vanishing/exploding figure: its settings, coordinates and quoted numbers."""
    rows = [_curve_context(cv) for cv in curves]
    ymin = min(min(cv.norms) for cv in curves)
    ymax = max(max(cv.norms) for cv in curves)
    gap = d.statements.gap
    return {
        "size": FIG_SIZE, "steps": FIG_STEPS, "burn_in": FIG_BURN_IN, "draws": FIG_DRAWS,
        "cell": tex(sp.Eq(F.n, sp.Eq(F.m, FIG_SIZE, evaluate=False), evaluate=False)),  # n = m = 32
        "weights": tex(Gaussian(0, WEIGHT_STD ** 2)),
        "gaps": tex(sp.Eq(gap, Listing(1, DOTS, FIG_STEPS), evaluate=False)),
        "at_quote": tex(sp.Eq(gap, FIG_QUOTE, evaluate=False)),
        "at_end": tex(sp.Eq(gap, FIG_STEPS, evaluate=False)),
        "unsaturated": tex(sp.Interval.open(SATURATED, 1 - SATURATED)),
        "ymin": f"{10 ** np.floor(np.log10(ymin)):.0e}", "ymax": f"{10 ** (np.ceil(np.log10(ymax)) + 1):.0e}",
        "curves": rows, "small": rows[0], "large": rows[-1],
    }


@functools.lru_cache(maxsize=4)
def _figure_shared(curves: tuple[GrowthCurve, ...]) -> dict[str, Any]:
    """The figure's context for the process's own derivation, once per figure (a class shares one)."""
    return figure_context(symbolic_derivation(), curves)


def entry_context(d: GatedRnnDerivation) -> dict[str, str]:
    """The entrywise derivation in the prose's entry notation (renamed symbols, printed)."""
    ew = d.entrywise
    # Subscripts index entries, brackets index time. The builders that made the
    # checked candidates make the printed ones, so factors are in reading order.
    ci, hi, vi, whij = (sp.Symbol(r"c_{i}[t]"), sp.Symbol(r"h_{i}[t-1]"), sp.Symbol(r"(W_x x[t])_{i}"),
                        sp.Symbol(r"(W_h)_{ij}"))
    z_sym = sp.Symbol(r"z_{i}")
    x_b = sp.Symbol(r"x_{b}[t]")
    names = {C[i]: ci, HP[i]: hi, V[i]: vi, F.Z[i]: z_sym, F.H[i]: sp.Symbol(r"h_{i}[t]"),
             WX[a, b]: sp.Symbol(r"(W_x)_{ab}"), G[i]: sp.Symbol(r"g_{i}[t]")}
    st = d.statements
    return {
        "gate_entry": tex(ew.gate.xreplace(names)),
        "direct_lhs": tex(ew.direct_lhs.xreplace(names)),
        "dl_lhs": tex(ew.dl_lhs.xreplace(names)),
        # Built again from the renamed entries (xreplace would re-sort the as-built forms).
        "drive": tex(F.drive_form(hi, vi)),
        "gate_path_bound": tex(F.gate_path_bound_form(d.sigmoid_slope_max, hi, vi, i)),
        "z_def": latex.tex(ew.z.xreplace({WC[i, k]: sp.Symbol(r"(W_c)_{ik}"), WH[i, k]: sp.Symbol(r"(W_h)_{ik}"),
                                          X[k]: sp.Symbol(r"x_{k}[t]"), HP[k]: sp.Symbol(r"h_{k}[t-1]")})),
        "dz_dh": latex.tex(ew.dz_raw.xreplace({WH[i, j]: whij})),
        "dc_raw": latex.tex(ew.dc_raw.xreplace({sp.exp(-ew.z): sp.exp(-z_sym), WH[i, j]: whij})),
        "dc_entry": tex(F.dc_entry_form(ci, whij)),
        "dh_entry": tex(F.dh_entry_form(ci, sp.Symbol(r"\delta_{ij}"), hi, vi, whij)),
        "direct_entry": tex(F.direct_entry_form(ci, sp.Symbol(r"\delta_{ia}"), x_b)),
        "dl_entry": tex(F.dl_entry_form(sp.Symbol(r"g_{a}[t]"), sp.Symbol(r"c_{a}[t]"), x_b)),
    }


def printed(d: GatedRnnDerivation) -> dict[str, Any]:
    """Every formula of the section printed: it depends on ``d``'s symbolic results only (not on
    its sizes), so the process's own derivation is printed once (:func:`_printed_shared`)."""
    if same_symbolic(d, symbolic_derivation()):
        return _printed_shared()
    return _print_all(d)


@functools.lru_cache(maxsize=1)
def _printed_shared() -> dict[str, Any]:
    return _print_all(symbolic_derivation())


def _print_all(d: GatedRnnDerivation) -> dict[str, Any]:
    sh = d.shapes
    st = d.statements
    return {
        "inputs": tex(st.inputs),
        "initial": tex(st.initial),
        "gate_equation": {"lhs": tex(st.gate_equation.lhs), "rhs": tex(st.gate_equation.rhs)},
        "state_equation": {"lhs": tex(st.state_equation.lhs), "rhs": tex(st.state_equation.rhs)},
        "gate_space": tex(st.gate_space),
        "gate_inf": latex.tex(st.gate_range.inf), "gate_sup": latex.tex(st.gate_range.sup),
        "slope_saturated": latex.tex(st.slope_saturated),
        "Wc_x": tex(st.gate_products[0]), "Wh_h": tex(st.gate_products[1]),
        "input_map": tex(st.input_map),
        "carried": tex(st.carried),
        "let_in": tex(st.let_in),
        "let_in_label": tex(Paren(st.let_in)),
        "hadamard_rule": tex(st.hadamard_rule),
        "g_definition": tex(st.g_definition),
        "forward_steps": tex(st.forward_steps),
        "backward_steps": tex(st.backward_steps),
        "backward_start": tex(st.backward_start),
        "unrolled": tex(st.unrolled),
        "gap": tex(st.gap),
        "growth": tex(st.growth),
        "growth_slash": tex(st.growth_slash),
        "growth_norm": tex(st.growth_norm),
        "recurrent_norm": tex(st.recurrent_norm),
        "slope_max": latex.tex(d.sigmoid_slope_max),
        "shape_Wc_x": latex.shape(sh["W_c x"][:1]),  # a column vector: R^m
        "shape_Wh_h": latex.shape(sh["W_h h"][:1]),
        "shape_c": latex.shape(sh["c"]),
        "c_space": latex.shape(sh["c"][:1]),
        "shape_h": latex.shape(sh["h"][:1]),
        "shape_x": latex.shape(sh["x"][:1]),
        "shape_Wc": latex.shape(F.W_c.shape),
        "shape_Wh": latex.shape(F.W_h.shape),
        "shape_Wx": latex.shape(F.W_x.shape),
        "shape_g": latex.shape(sh["g"]),
        "shape_dc": latex.shape(sh["dc_dhprev"]),
        "shape_dh": latex.shape(sh["dh_dhprev"]),
        "shape_dl": latex.shape(sh["dl_dWx"]),
        "dims_Wc": latex.dims(F.W_c.shape),
        "dims_dc": latex.dims(sh["dc_dhprev"]),
        "dims_dl": latex.dims(sh["dl_dWx"]),
        "dims_dl_swapped": latex.dims(sh["dl_dWx^T"]),
        "m": latex.tex(F.m), "n": latex.tex(F.n),
        "preactivation": tex(d.preactivation),
        "sigmoid": latex.tex(d.sigmoid),
        "sigmoid_derivative": latex.tex(d.sigmoid_derivative),
        "sigmoid_identity": tex(st.sigmoid_identity),
        **entry_context(d),
        "dc_dhprev": tex(d.dc_dhprev),
        "dh_dhprev": tex(d.dh_dhprev),
        "product_rule": tex(d.product_rule),
        "dc_symbol": latex.tex(F.dc_symbol),
        "jac_symbol": latex.tex(F.J_t),
        "dl_dWx": tex(d.dl_dWx),
        "dl_dWx_outer": tex(d.dl_dWx_outer),
        "dl_dWx_term": tex(d.dl_dWx_term),
        # Strict numerator layout's n x m form (the transpose), accepted in grading.
        "dl_dWx_numerator": tex(d.dl_dWx_numerator),
        "backward_step": tex(d.backward_step),
        "gate_factor": tex(d.gate_factor),
        "gate_derivative": tex(d.gate_derivative),
        "input_term": tex(d.input_term),
    }


def present(derivation: GatedRnnDerivation, evidence: GatedRnnEvidence,
            verification: Verification) -> Presentation:
    d = derivation
    sh = d.shapes
    context = {
        **printed(d),
        "double_count_gap": f"{100 * verification.measures['double_count_gap']:.0f}",
        "fig": (_figure_shared(evidence.curves) if same_symbolic(d, symbolic_derivation())
                else figure_context(d, evidence.curves)),
        "step": d.step,
    }
    answers = {
        "gated_rnn.c.shape": [str(sh["c"][0])],
        "gated_rnn.c.latex": context["c_space"],
        "gated_rnn.dc_dhprev.shape": [str(x) for x in sh["dc_dhprev"]],
        "gated_rnn.dc_dhprev.latex": context["dc_dhprev"],
        "gated_rnn.dh_dhprev.shape": [str(x) for x in sh["dh_dhprev"]],
        "gated_rnn.dh_dhprev.latex": context["dh_dhprev"],
        "gated_rnn.dl_dWx.shape": [str(x) for x in sh["dl_dWx"]],
        "gated_rnn.dl_dWx.latex": context["dl_dWx"],
        "gated_rnn.vanishing": {
            "norm": "spectral", "size": FIG_SIZE, "draws": FIG_DRAWS,
            "median_norm_at_gap": {str(cv.scale): {str(gap): cv.at(gap) for gap in (1, FIG_QUOTE, FIG_STEPS)}
                                   for cv in evidence.curves},
        },
    }
    questions = {
        "gated_diagram": (),  # a drawing: nothing machine-readable
        "gated_c_dim": ("gated_rnn.c.shape", "gated_rnn.c.latex"),
        "gated_jacobians": ("gated_rnn.dc_dhprev.shape", "gated_rnn.dc_dhprev.latex",
                            "gated_rnn.dh_dhprev.shape", "gated_rnn.dh_dhprev.latex"),
        "gated_dl_dWx": ("gated_rnn.dl_dWx.shape", "gated_rnn.dl_dWx.latex"),
        "gated_vanishing": ("gated_rnn.vanishing",),
    }
    return Presentation(context, answers, questions=questions)
