"""The declared numeric experiment of 1.2.1: the vanishing/exploding figure.

Spectral norm of ``dh[t]/dh[s] = J[t] ... J[s+1]`` against ``t - s`` on random
cells at two weight scales; the step Jacobians ``J`` are the derived closed
form, compiled (:func:`.numeric.numeric_forms`). About 0.2 s, made once per
seed in a process (a class shares one figure seed, so its students share one run).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ...symbolic import numeric
from . import forms as F
from .numeric import forward, numeric_forms

FIG_SIZE = 32  # n = m of the experiment (the answer is about large-ish cells)
FIG_STEPS = 40  # t - s = 1..FIG_STEPS
FIG_BURN_IN = 10  # steps run before s, so that h[s] is a typical state
FIG_DRAWS = 12  # independent (weights, inputs) draws per scale; the median is plotted
FIG_SCALES = (0.5, 4.0)  # entries of W_c, W_h, W_x are N(0, scale^2 / m)
FIG_QUOTE = 20  # the t - s at which the text quotes the norms
SATURATED = 0.05  # a gate entry counts as saturated outside (0.05, 0.95)
# The weights' entries are N(0, scale^2 / m): their standard deviation, printed and compiled.
SCALE = sp.Symbol(r"\mathrm{scale}", positive=True)
WEIGHT_STD = SCALE / sp.sqrt(F.m)


@dataclass(frozen=True)
class GrowthCurve:
    """The norm of d h[t]/d h[s] against t - s for one weight scale (median over draws)."""

    scale: float
    gaps: tuple[int, ...]
    norms: tuple[float, ...]  # median spectral norm of the product of step Jacobians
    step_norm: float  # median spectral norm of one step Jacobian
    carry: float  # median gate entry c
    gate_slope: float  # median c (1 - c), the sigmoid's slope at the gate
    saturated: float  # fraction of gate entries outside (SATURATED, 1 - SATURATED)
    drive: float  # median |h[t-1] - W_x x[t]| over entries
    wh_norm: float  # median spectral norm of W_h over the draws

    def at(self, gap: int) -> float:
        return self.norms[self.gaps.index(gap)]


@dataclass(frozen=True)
class GatedRnnEvidence:
    """What the experiment measured: one growth curve per weight scale."""

    curves: tuple[GrowthCurve, ...]


@functools.lru_cache(maxsize=8)
def growth_curves(seed: int) -> tuple[GrowthCurve, ...]:
    """For each weight scale, FIG_DRAWS independent draws of ``W_c, W_h, W_x``
    (entries N(0, scale^2/m)) and standard normal inputs, from ``seed``."""
    size = FIG_SIZE
    forms = numeric_forms(size, size)
    weight_std = numeric(WEIGHT_STD, [SCALE, F.m])
    rng = np.random.default_rng(seed)
    curves = []
    for scale in FIG_SCALES:
        norms = np.zeros((FIG_DRAWS, FIG_STEPS))
        steps, gates, drives, wh_norms = [], [], [], []
        for draw in range(FIG_DRAWS):
            Wc, Wh, Wx = (rng.normal(0.0, weight_std(scale, size), (size, size)) for _ in range(3))
            xs = rng.standard_normal((FIG_BURN_IN + FIG_STEPS, size))
            hs, cs = forward(xs, Wc, Wh, Wx)
            products = np.zeros((FIG_STEPS, size, size))
            jacobians = np.zeros((FIG_STEPS, size, size))
            product = np.eye(size)
            for gap in range(1, FIG_STEPS + 1):
                r = FIG_BURN_IN + gap  # the step t = s + gap, s = FIG_BURN_IN
                jacobians[gap - 1] = forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh)
                product = jacobians[gap - 1] @ product
                products[gap - 1] = product
                gates.append(cs[r - 1])
                drives.append(np.abs(hs[r - 1] - Wx @ xs[r - 1]))
            wh_norms.append(np.linalg.norm(Wh, 2))
            # Spectral norms = largest singular values, in one batched call each.
            norms[draw] = np.linalg.svd(products, compute_uv=False)[:, 0]
            steps.extend(np.linalg.svd(jacobians, compute_uv=False)[:, 0])
        gate = np.concatenate(gates)
        curves.append(GrowthCurve(
            scale=scale,
            gaps=tuple(range(1, FIG_STEPS + 1)),
            norms=tuple(float(v) for v in np.exp(np.median(np.log(norms), axis=0))),
            step_norm=float(np.median(steps)),
            carry=float(np.median(gate)),
            gate_slope=float(np.median(gate * (1 - gate))),
            saturated=float(np.mean((gate < SATURATED) | (gate > 1 - SATURATED))),
            drive=float(np.median(np.concatenate(drives))),
            wh_norm=float(np.median(wh_norms)),
        ))
    return tuple(curves)


def experiment(params: Any, seed: int, cache_dir: Path | None = None) -> GatedRnnEvidence:
    """The figure's curves from ``params.figure_seed``, or the variant's seed when it is 0 (no cache)."""
    return GatedRnnEvidence(growth_curves(getattr(params, "figure_seed", 0) or seed))
