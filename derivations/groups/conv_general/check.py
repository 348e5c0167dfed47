"""1.1(b): the symbolic formula, evaluated, against counting on random configurations."""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import sympy as sp
from ...registry import Verification
from ...symbolic import numeric
from ...verify import Check
from ..conv2d.check import count_positions
from .derive import D, H, P, S

TRIALS = 300


@functools.lru_cache(maxsize=16)
def compiled(h_out: sp.Expr, kh: sp.Symbol) -> Any:
    """The formula as a function of (H, K, P, S, D), compiled once per formula in a process."""
    return numeric(h_out.doit(), (H, kh, P, S, D), modules="math")


def check(derivation: Any, evidence: Any, seed: int) -> Verification:
    rng = np.random.default_rng(seed)
    kh, _ = derivation.kernel
    f_h = compiled(derivation.h_out_expanded, kh)
    worst = 0
    for _ in range(TRIALS):
        n, k, s, pad, d = (int(v) for v in rng.integers([1, 1, 1, 0, 1], [60, 8, 6, 4, 4]))
        if d * (k - 1) + 1 > n + 2 * pad:
            continue
        worst = max(worst, abs(int(f_h(n, k, pad, s, d)) - count_positions(n, k, s, pad, d)))
    return Verification((Check("conv_general.output_shape", r"$F \times H_{\mathrm{out}} \times W_{\mathrm{out}}$ (b)",
                               (3,), "count of kernel positions", float(worst), 0.5,
                               f"{TRIALS} random $(H, K, P, S, D)$"),))
