"""1.3: the derived start values against the untrained network of the recorded runs.

These checks are statistical, not exact: the tolerance is a few standard
errors of the held-out estimate (accuracy) and the spread of near-uniform
logits (loss). A third check confirms that both procedures started from the
same weights.
"""
from __future__ import annotations

import numpy as np

from ... import verify
from ...registry import Verification
from .derive import StartValues
from .experiment import Evidence


def initial_loss(start: StartValues, evidence: Evidence) -> verify.Check:
    """``ln C`` against the untrained model's held-out loss (relative error below 0.1)."""
    n = evidence.settings.eval_batch
    value = float(start.loss_value)
    return verify.Check("loss_curves.initial_loss", r"initial loss $\ln C$ (start)", (1,), "untrained model",
                        abs(evidence.spiking.initial_loss - value) / value, 0.1,
                        f"untrained model, {n} held-out sequences")


def initial_accuracy(start: StartValues, evidence: Evidence) -> verify.Check:
    """``1/C`` against the untrained model's held-out accuracy (within 5 standard errors)."""
    n = evidence.settings.eval_batch
    acc = float(start.accuracy_value)
    acc_se = np.sqrt(acc * (1 - acc) / n)
    return verify.Check("loss_curves.initial_accuracy", r"initial accuracy $1/C$ (start)", (1,), "untrained model",
                        abs(evidence.spiking.initial_accuracy - acc), float(5 * acc_se),
                        f"untrained model, {n} held-out sequences")


def same_start(evidence: Evidence) -> verify.Check:
    """Same model, same seeds: both procedures start from the same weights, seed by seed."""
    return verify.agreement("loss_curves.same_start", "same start, both procedures (fix)",
                            np.array([r.initial_loss for r in evidence.fixed_runs]),
                            np.array([r.initial_loss for r in evidence.spiking_runs]),
                            "held-out loss of both runs", detail="same weights, seeds and data")


def check(derivation: StartValues, evidence: Evidence, seed: int) -> Verification:
    """The three checks of 1.3; no arrays (the runs themselves are in ``loss_curves.dat``)."""
    return Verification((initial_loss(derivation, evidence), initial_accuracy(derivation, evidence),
                         same_start(evidence)))
