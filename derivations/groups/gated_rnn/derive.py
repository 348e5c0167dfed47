"""The derivation of 1.2.1: SymPy only (no checks, no numbers, no printing).

* shapes come from SymPy ``MatrixSymbol`` shapes (``W_c x[t]`` is ``m x 1``);
  the facts the answers rest on (the two products can be added, equation (2)
  returns a state, ``dl/dW_x`` has the shape of ``W_x``) are kept side by
  side for :mod:`.check`;
* the step Jacobians are derived entry by entry for symbolic ``n``, ``m``,
  ``i``, ``j``: ``diff`` of the defining sums with respect to ``h[t-1][j]``,
  then recognised as a matrix form (:mod:`.forms`) whose general entry must
  equal the derivative exactly (a check);
* ``dl/dW_x`` is the per-step direct derivative (``W_x`` enters ``h[t]`` only
  through ``(1 - c[t]) (.) W_x x[t]`` once ``h[t-1]`` is held fixed), weighted
  by the *total* ``dl/dh[t]`` and summed over ``t``;
* the sigmoid's largest slope is the stationary point of ``c (1 - c)``;
* :class:`Statements` holds the other formulas the text states (the
  definitions, the time ranges, the chain of Jacobians, the norm bound), as
  SymPy objects and notation from :mod:`derivations.symbolic`.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import sympy as sp

from sympy.calculus.util import function_range

from ...symbolic import (DOTS, CartesianPower, Chain, Diag, Factors, Held, Listing, Norm, Partial, Sigmoid, Slash,
                         drop_guards, range_guards)
from . import forms as F
from .forms import C, HP, RANGES, SIGMOID, V, WC, WH, WX, G, X, a, b, i, j, k, m, s

GUARDS = range_guards(RANGES)


@dataclass(frozen=True)
class Entrywise:
    """The entrywise derivation for symbolic n, m and 1-based indices i, j, a, b.

    ``*_raw`` is what SymPy's ``diff`` returns (index-range guards removed);
    ``*_entry`` the recognised form in terms of ``c[i]``, ``h[i]``, ``v[i] =
    (W_x x[t])_i``; :mod:`.check` proves ``raw == entry`` after substituting
    ``c[i] = sigma(z_i)``, ``v[i] = sum_k W_x[i,k] x[k]``.
    """

    z: sp.Expr  # z_i = sum_k W_c[i,k] x[k] + sum_k W_h[i,k] h[k]
    v: sp.Expr  # (W_x x[t])_i
    c: sp.Expr  # c_i = sigma(z_i)
    h: sp.Expr  # h_i[t]
    dz_raw: sp.Expr  # d z_i / d h[j]
    dc_raw: sp.Expr  # d c_i / d h[j]
    dh_raw: sp.Expr  # d h_i / d h[j]
    direct_raw: sp.Expr  # d h_i / d W_x[a, b] with h[t-1] (hence c[t]) held fixed
    dl_raw: sp.Expr  # sum_i g[i] d h_i / d W_x[a, b]: step t's share of dl/dW_x[a, b]
    dc_entry: sp.Expr
    dh_entry: sp.Expr
    direct_entry: sp.Expr
    dl_entry: sp.Expr
    gate: sp.Eq  # c_i = sigma(z_i), the entry of (1)
    direct_lhs: sp.Expr  # d h_i[t] / d (W_x)_ab with h[t-1] held fixed (notation)
    dl_lhs: sp.Expr  # sum_i g_i[t] times it


@dataclass(frozen=True)
class SlopeMaximum:
    """``max c (1 - c)`` over the gate values ``c`` in (0, 1): both sides of the argument."""

    stationary: tuple[sp.Expr, ...]  # the solutions of d/dc [c (1 - c)] = 0
    curvature: tuple[sp.Expr, ...]  # the second derivative at each of them
    value: sp.Expr  # the slope at the (one) stationary point


@dataclass(frozen=True)
class Statements:
    """The formulas the text states besides the answers (SymPy objects and notation)."""

    inputs: sp.Expr  # x[1], ..., x[K]
    initial: sp.Eq  # h[0] = 0
    gate_equation: sp.Eq  # (1)
    state_equation: sp.Eq  # (2)
    gate_range: sp.Set  # the values of sigma: (0, 1)
    gate_space: sp.Expr  # (0, 1)^m
    slope_saturated: sp.Expr  # sigma'(s) as s -> oo (a saturated gate): 0
    gate_products: tuple[sp.MatMul, sp.MatMul]  # W_c x[t], W_h h[t-1]
    input_map: sp.MatMul  # W_x x[t]
    carried: sp.Basic  # c[t] (.) h[t-1]
    let_in: sp.Basic  # 1 - c[t]
    sigmoid_identity: sp.Expr  # sigma(s) (1 - sigma(s))
    hadamard_rule: sp.Eq  # the product rule for entrywise products
    g_definition: sp.Eq  # g[t] = dl/dh[t]
    forward_steps: sp.Eq  # t = 1, ..., K
    backward_steps: sp.Eq  # t = K, ..., 2: the steps that compute g[t-1] from g[t]
    backward_start: sp.Eq  # g[K] = gbar[K]
    unrolled: sp.Expr  # dh[t]/dh[t-1] ... dh[r+1]/dh[r]
    gap: sp.Expr  # t - s, the steps a gradient crosses
    growth: sp.Eq  # dh[t]/dh[s] as the chain of step Jacobians
    growth_slash: sp.Expr  # dh[t]/dh[s] inline
    growth_norm: sp.Expr  # its spectral norm
    recurrent_norm: sp.Expr  # ||W_h||_2
    drive: sp.Expr  # |h_i[t-1] - (W_x x[t])_i|
    gate_path_bound: sp.Expr  # max sigma' * max_i drive * ||W_h||_2


@dataclass(frozen=True)
class GatedRnnDerivation:
    """Derived answers to 1.2.1 (SymPy objects and shapes; numerator layout)."""

    params: Any
    preactivation: sp.MatAdd  # W_c x[t] + W_h h[t-1], equation (1)
    state_update: sp.MatAdd  # equation (2)
    shapes: dict[str, tuple[sp.Expr, ...]]
    state_shape: tuple[sp.Expr, ...]  # the shape of the right-hand side of equation (2)
    sigmoid: sp.Expr  # sigma(s)
    sigmoid_derivative: sp.Expr  # sigma'(s) as SymPy's diff returns it
    slope: SlopeMaximum
    entrywise: Entrywise
    dc_dhprev: sp.MatMul
    dh_dhprev: sp.MatAdd
    product_rule: sp.MatAdd
    dl_dWx: sp.Sum
    dl_dWx_term: sp.MatMul
    dl_dWx_outer: sp.Sum  # the same sum, of outer products
    dl_dWx_numerator: sp.Sum  # the same gradient in strict numerator layout (n x m): an accepted answer
    backward_step: sp.MatAdd
    # The pieces of the answers the prose names (each built by its builder).
    gate_factor: sp.Basic  # diag(c[t]): the state carried through the gate
    gate_path: sp.MatMul  # h[t-1]'s effect on h[t] through the gate
    gate_derivative: sp.Basic  # c[t] (.) (1 - c[t]) = sigma' at the gate
    input_term: sp.Basic  # (1 - c[t]) (.) W_x x[t]
    statements: Statements

    @property
    def sigmoid_slope_max(self) -> sp.Expr:
        """max over real s of sigma'(s)."""
        return self.slope.value

    @property
    def step(self) -> int:
        """The 1-based step t >= 2 at which the step Jacobians are checked (the middle one)."""
        return max(2, (self.params.steps + 1) // 2)


def derive_entrywise() -> Entrywise:
    """Differentiate the defining sums entry by entry (symbolic n, m)."""
    z = sp.Sum(WC[i, k] * X[k], (k, 1, F.n)) + sp.Sum(WH[i, k] * HP[k], (k, 1, m))
    v = sp.Sum(WX[i, k] * X[k], (k, 1, F.n))
    c = SIGMOID(z)
    h = c * HP[i] + (1 - c) * v
    dc_raw = drop_guards(sp.diff(c, HP[j]).doit(), GUARDS)
    dh_raw = drop_guards(sp.diff(h, HP[j]).doit(), GUARDS)
    # W_x appears in h_i[t] only through v; c_i[t] depends on h[t-1], held
    # fixed here, so this is the direct (one-step) derivative. Chain rule with
    # the row g = dl/dh[t]: sum over the entries i of h[t].
    i_sum = sp.Symbol("i_s", integer=True)
    direct = drop_guards(sp.diff(h, WX[a, b]).doit(), GUARDS)
    dl_raw = drop_guards(sp.Sum(G[i_sum] * direct.subs(i, i_sum), (i_sum, 1, m)).doit(), GUARDS)
    return Entrywise(
        z=z, v=v, c=c, h=h, dz_raw=drop_guards(sp.diff(z, HP[j]).doit(), GUARDS),
        dc_raw=dc_raw, dh_raw=dh_raw, direct_raw=direct, dl_raw=dl_raw,
        dc_entry=F.dc_entry_form(C[i], WH[i, j]),
        dh_entry=F.dh_entry_form(C[i], sp.KroneckerDelta(i, j), HP[i], V[i], WH[i, j]),
        direct_entry=F.direct_entry_form(C[i], sp.KroneckerDelta(i, a), X[b]),
        dl_entry=F.dl_entry_form(G[a], C[a], X[b]),
        gate=sp.Eq(C[i], Sigmoid(F.Z[i])),
        direct_lhs=Held(Partial(F.H[i], WX[a, b]), F.h_prev),
        dl_lhs=sp.Sum(Factors(G[i], Held(Partial(F.H[i], WX[a, b]), F.h_prev)), (i, 1, m)),
    )


def derive_shapes() -> dict[str, tuple[sp.Expr, ...]]:
    """Shapes read off the MatrixSymbol expressions (nothing typed in).

    ``c`` has the shape of the preactivation ``W_c x[t] + W_h h[t-1]`` (the
    sigmoid acts entrywise); that the two products have one shape is a check.
    """
    c_shape = F.preactivation(F.W_c, F.x_t, F.W_h, F.h_prev).shape
    return {
        "W_c x": F.mul(F.W_c, F.x_t).shape,
        "W_h h": F.mul(F.W_h, F.h_prev).shape,
        "c": c_shape,
        "h": F.h_prev.shape,
        "x": F.x_t.shape,
        "W_x": F.W_x.shape,
        "dc_dhprev": F.dc_dhprev_form(F.c_t, F.W_h).shape,
        "dh_dhprev": F.dh_dhprev_form(F.c_t, F.h_prev, F.W_x, F.x_t, F.W_h).shape,
        "dl_dWx": F.dl_dWx_term_form(F.g_t, F.c_t, F.x_t).shape,
        "dl_dWx^T": sp.Transpose(F.dl_dWx_term_form(F.g_t, F.c_t, F.x_t)).shape,  # strict numerator layout: an accepted alternative
        "g": F.g_t.shape,
    }


def slope_maximum() -> SlopeMaximum:
    """The largest value of sigma'(s) = c (1 - c), c = sigma(s) in (0, 1).

    ``c (1 - c)`` is a parabola in ``c``; a single stationary point inside
    (0, 1) with negative curvature is the maximum (``sympy.maximum`` on sigma'
    itself gives the same 1/4, about twenty times slower). :mod:`.check`
    confirms the conditions.
    """
    gate = sp.Symbol("c", positive=True)
    slope = gate * (1 - gate)
    stationary = tuple(sp.solve(sp.diff(slope, gate), gate))
    curvature = tuple(sp.diff(slope, gate, 2).subs(gate, p) for p in stationary)
    value = slope.subs(gate, stationary[0]) if stationary else sp.nan  # none: the check fails
    return SlopeMaximum(stationary, curvature, value)


def statements(slope_max: sp.Expr, slope: sp.Expr) -> Statements:
    """The definitions and side formulas of the text, built from the same notation."""
    first = sp.Integer(1)
    # g[t-1] is computed from g[t] while t - 1 is still a step.
    backward_last = sp.solve(sp.Eq(F.t - 1, first), F.t)[0]
    h_s = F.at("h", F.s_step, m)
    gate_range = function_range(SIGMOID(s), s, sp.S.Reals)
    return Statements(
        inputs=Listing(F.at("x", first, F.n), DOTS, F.at("x", F.K, F.n)),
        initial=sp.Eq(F.at("h", 0, m), 0, evaluate=False),
        gate_equation=sp.Eq(F.c_t, Sigmoid(F.preactivation(F.W_c, F.x_t, F.W_h, F.h_prev)), evaluate=False),
        state_equation=sp.Eq(F.h_t, F.state_update(F.c_t, F.h_prev, F.W_x, F.x_t), evaluate=False),
        gate_range=gate_range,
        gate_space=CartesianPower(gate_range, m),
        slope_saturated=sp.limit(slope, s, sp.oo),
        gate_products=(F.mul(F.W_c, F.x_t), F.mul(F.W_h, F.h_prev)),
        input_map=F.mul(F.W_x, F.x_t),
        carried=F.carried(F.c_t, F.h_prev),
        let_in=F.one_minus(F.c_t),
        sigmoid_identity=sp.Mul(Sigmoid(s), 1 - Sigmoid(s), evaluate=False),
        hadamard_rule=F.hadamard_rule(*(sp.MatrixSymbol(name, m, 1) for name in ("u", "v", "h"))),
        g_definition=sp.Eq(F.g_t, Slash(F.ell, F.h_t), evaluate=False),
        forward_steps=sp.Eq(F.t, Listing(first, DOTS, F.K), evaluate=False),
        backward_steps=sp.Eq(F.t, Listing(F.K, DOTS, backward_last), evaluate=False),
        backward_start=sp.Eq(F.at("g", F.K, 1, m), F.at(r"\bar{g}", F.K, 1, m), evaluate=False),
        unrolled=Chain(Slash(F.h_t, F.h_prev), Slash(F.at("h", "r+1", m), F.at("h", "r", m))),
        gap=sp.Add(F.t, -F.s_step, evaluate=False),
        growth=sp.Eq(Partial(F.h_t, h_s), Chain(Partial(F.h_t, F.h_prev), Partial(F.at("h", "s+1", m), h_s)),
                     evaluate=False),
        growth_slash=Slash(F.h_t, h_s),
        growth_norm=Norm(Slash(F.h_t, h_s)),
        recurrent_norm=Norm(F.W_h),
        drive=F.drive_form(HP[i], V[i]),
        gate_path_bound=F.gate_path_bound_form(slope_max, HP[i], V[i], i),
    )


def derive(params: Any) -> GatedRnnDerivation:
    """1.2.1 for symbolic n, m (``params`` only sizes the numeric checks).

    Nothing symbolic depends on ``params``: the derivation is made once per
    process (:func:`symbolic_derivation`) and only ``params`` is set here, so a
    second variant (another student's sizes) costs nothing.
    """
    return dataclasses.replace(symbolic_derivation(), params=params)


def same_symbolic(d: GatedRnnDerivation, other: GatedRnnDerivation) -> bool:
    """``d`` holds exactly ``other``'s symbolic results (the same objects), whatever its ``params``."""
    return all(getattr(d, f.name) is getattr(other, f.name)
               for f in dataclasses.fields(GatedRnnDerivation) if f.name != "params")


@functools.lru_cache(maxsize=1)
def symbolic_derivation() -> GatedRnnDerivation:
    """The whole derivation, without parameters (``params=None``); made once per process."""
    shapes = derive_shapes()
    c_sym = sp.MatrixSymbol("c", *shapes["c"])
    slope = slope_maximum()
    sigmoid_derivative = sp.diff(SIGMOID(s), s)
    return GatedRnnDerivation(
        params=None,
        preactivation=F.preactivation(F.W_c, F.x_t, F.W_h, F.h_prev),
        state_update=F.state_update(F.c_t, F.h_prev, F.W_x, F.x_t),
        shapes=shapes,
        state_shape=F.state_update(c_sym, F.h_prev, F.W_x, F.x_t).shape,
        sigmoid=SIGMOID(s),
        sigmoid_derivative=sigmoid_derivative,
        slope=slope,
        entrywise=derive_entrywise(),
        dc_dhprev=F.dc_dhprev_form(F.c_t, F.W_h),
        dh_dhprev=F.dh_dhprev_form(F.c_t, F.h_prev, F.W_x, F.x_t, F.W_h),
        product_rule=F.product_rule_form(F.c_t, F.h_prev, F.W_x, F.x_t, F.dc_symbol),
        dl_dWx=F.sum_over_steps(F.dl_dWx_term_form(F.g_t, F.c_t, F.x_t)),
        dl_dWx_term=F.dl_dWx_term_form(F.g_t, F.c_t, F.x_t),
        dl_dWx_outer=F.sum_over_steps(F.dl_dWx_outer_form(F.g_t, F.c_t, F.x_t)),
        dl_dWx_numerator=F.sum_over_steps(F.dl_dWx_numerator_form(F.g_t, F.c_t, F.x_t)),
        backward_step=F.backward_step_form(F.g_direct, F.g_t, F.J_t),
        gate_factor=Diag(F.c_t),
        gate_path=F.gate_path(F.c_t, F.h_prev, F.W_x, F.x_t, F.W_h),
        gate_derivative=F.gate_derivative(F.c_t),
        input_term=F.input_term(F.c_t, F.W_x, F.x_t),
        statements=statements(slope.value, sigmoid_derivative),
    )
