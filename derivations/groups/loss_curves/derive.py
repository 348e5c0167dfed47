"""The start values of 1.3, derived with SymPy: ``ln C`` and ``1/C``.

An untrained network that predicts (about) uniformly over ``C`` classes has
cross-entropy ``-log(1/C) = log C`` whatever the label; on balanced labels, a
guess independent of the label is right with probability ``1/C``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp


@dataclass(frozen=True)
class StartValues:
    """Loss and accuracy of an uninformed classifier, symbolically and at the variant's C."""

    params: Any
    C: sp.Symbol
    classes_definition: sp.Eq  # C = 4
    cross_entropy: sp.Expr  # -log p_y: the loss of one example with label y
    loss_definition: sp.Expr  # -log(1/C)
    loss: sp.Expr  # log C
    accuracy_definition: sp.Expr  # sum_c P(yhat=c) P(y=c)
    accuracy: sp.Expr  # 1/C
    classes: int
    loss_value: sp.Expr  # log 4
    accuracy_value: sp.Expr  # 1/4
    update_bound: sp.Expr  # eta tau: the longest update of the clipped procedure (its learning rate x clip norm)


def derive(params: Any) -> StartValues:
    """Derive log C and 1/C: cross-entropy and accuracy of a uniform, uninformed guess."""
    C = sp.Symbol("C", integer=True, positive=True)
    c = sp.Symbol("c", integer=True, positive=True)
    q = sp.Function("q")  # the network's (label-independent) prediction frequencies
    # Cross-entropy -log p_y of the uniform prediction p_y = 1/C, whatever the label y is.
    p_y = sp.Symbol("p_y", positive=True)
    cross_entropy = -sp.log(p_y)
    loss_def = cross_entropy.subs(p_y, 1 / C)
    loss = sp.expand_log(-sp.log(1 / C), force=True)
    # Balanced labels, P(y = c) = 1/C, and a guess independent of the label:
    # P(correct) = sum_c P(yhat = c) P(y = c) = (1/C) sum_c q(c) = 1/C.
    acc_def = sp.Sum(q(c) / C, (c, 1, C))
    accuracy = sp.factor_terms(acc_def).subs(sp.Sum(q(c), (c, 1, C)), 1)
    classes = params.classes
    eta, tau = sp.symbols("eta tau", positive=True)  # the fixed procedure's learning rate and gradient-norm clip
    return StartValues(params, C, sp.Eq(C, classes, evaluate=False), cross_entropy, loss_def, loss, acc_def,
                       accuracy, classes, loss.subs(C, classes), accuracy.subs(C, classes), eta * tau)
