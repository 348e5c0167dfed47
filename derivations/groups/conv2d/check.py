"""1.1(a) against an independent count of kernel positions."""
from __future__ import annotations

from typing import Any

from ...registry import Verification
from ...verify import Check


def count_positions(n: int, k: int, s: int, p: int = 0, d: int = 1) -> int:
    """Independent count: slide the dilated kernel over the padded axis and count fits."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, n + 2 * p, s) if start + span <= n + 2 * p)


def check(derivation: Any, evidence: Any, seed: int) -> Verification:
    p = derivation.params
    counted = [count_positions(p.input[i], p.kernel[i], p.stride[i], p.padding[i], p.dilation[i]) for i in (0, 1)]
    # Integer sizes: the error is the largest absolute difference, which must be 0.
    error = float(max(abs(a - b) for a, b in zip(derivation.output_shape, counted)))
    return Verification((Check("conv2d.output_shape", r"$H_{\mathrm{out}} \times W_{\mathrm{out}}$ (a)", (2,),
                               "count of kernel positions", error, 0.5, "the variant's sizes"),))
