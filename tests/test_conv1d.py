"""1.1(c): the derived element formulas against independent loops."""
from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
import sympy as sp

from derivations import verify
from derivations.errors import VerificationError
from derivations.groups import conv1d
from derivations.groups.conv1d import Conv1d

# The step modules (the package's names `check` and `derive` are the step functions).
checks_mod = importlib.import_module("derivations.groups.conv1d.check")
derive_mod = importlib.import_module("derivations.groups.conv1d.derive")


def loop_forward(x, W, S, D=1, P=0):
    """Independent 0-based forward: out[p] = sum_c sum_m W[c,m] x[c, S p + D m - P]."""
    C, L = x.shape
    K = W.shape[-1]
    L_out = (L + 2 * P - D * (K - 1) - 1) // S + 1
    out = np.zeros((1, L_out))
    for p in range(L_out):
        for c in range(C):
            for m in range(K):
                n = S * p + D * m - P
                if 0 <= n < L:
                    out[0, p] += W[0, c, m] * x[c, n]
    return out


def test_output_lengths_of_both_editions(fall2024, fall2025):
    assert conv1d.derive(fall2024.conv1d).L_out == 5  # floor((11-3)/2)+1
    assert conv1d.derive(fall2025.conv1d).L_out == 3  # floor((7-3)/2)+1
    assert conv1d.derive(fall2025.conv1d).shapes == {
        "f": (1, 3), "W": (1, 5, 3), "x": (5, 7), "df_dW": (1, 3, 1, 5, 3), "df_dx": (1, 3, 5, 7), "dl_dW": (1, 5, 3),
        "g": (1, 3)}
    assert conv1d.derive(fall2024.conv1d).shapes["df_dx"] == (1, 5, 7, 11)


def test_element_formulas_read_like_the_key(fall2025):
    r = conv1d.derive(fall2025.conv1d)
    x, W = derive_mod.x, derive_mod.W
    c, m, p, n = derive_mod.c, derive_mod.m, derive_mod.p, derive_mod.n
    # x[c, s_p + m - 1] with s_p = 2p - 1
    assert sp.simplify(r.df_dW - x[c, 2 * p - 1 + m - 1]) == 0
    assert r.df_dx.subs({p: 2, n: 4}) == W[1, c, 2]  # n = s_2 + 1 = 4 -> tap 2
    assert r.df_dx.subs({p: 2, n: 2}) == 0  # outside the window 3..5
    assert r.start == 2 * p - 1


CASES = [
    dict(channels=5, length=7, kernel=3, stride=2),
    dict(channels=7, length=11, kernel=3, stride=2),
    dict(channels=2, length=9, kernel=3, stride=1, padding=1),
    dict(channels=3, length=12, kernel=3, stride=2, dilation=2),
    dict(channels=2, length=10, kernel=2, stride=3, dilation=3, padding=2),
]


@pytest.mark.parametrize("case", CASES)
def test_closed_forms_match_independent_loops(case):
    prm = Conv1d(**case)
    r = conv1d.derive(prm)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((prm.channels, prm.length))
    W = rng.standard_normal((1, prm.channels, prm.kernel))
    g = rng.standard_normal((1, r.L_out))
    v = checks_mod.closed_forms(r, x, W, g)
    S, D, P = prm.stride, prm.dilation, prm.padding
    assert np.allclose(v["f"], loop_forward(x, W, S, D, P))
    # df/dW and df/dx are exactly the coefficients of the (linear) forward map.
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = 1
        assert np.allclose(v["df_dW"][(0, slice(None)) + idx], loop_forward(x, e, S, D, P)[0])
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1
        assert np.allclose(v["df_dx"][(0, slice(None)) + idx], loop_forward(e, W, S, D, P)[0])
    # dl/dW = sum_p g[p] df[p]/dW
    assert np.allclose(v["dl_dW"], np.einsum("p,pabc->abc", g[0], v["df_dW"][0]))


@pytest.mark.parametrize("case", CASES[2:])
def test_all_checks_pass_with_padding_and_dilation(case):
    checks = conv1d.check(conv1d.derive(Conv1d(**case)), None, 3).checks
    assert {c.method for c in checks} >= {"finite differences", "exact (SymPy)"}
    assert all(c.passed for c in checks), [(c.quantity, c.max_error) for c in checks if not c.passed]


def test_npz_arrays_have_the_contract_shapes(outcomes):
    arrays = outcomes["fall2025"].groups["conv1d"].verification.arrays
    assert {k: v.shape for k, v in arrays.items()} == {
        "conv1d.x": (5, 7), "conv1d.W": (1, 5, 3), "conv1d.g": (1, 3), "conv1d.f": (1, 3),
        "conv1d.df_dW": (1, 3, 1, 5, 3), "conv1d.df_dx": (1, 3, 5, 7), "conv1d.dl_dW": (1, 5, 3)}


def test_verification_catches_a_wrong_closed_form(fall2025):
    r = conv1d.derive(fall2025.conv1d)
    c, p, n = derive_mod.c, derive_mod.p, derive_mod.n
    # A classic slip: forgetting the stride when locating the tap (n - p + 1 instead of n - 2p + 2).
    wrong = dataclasses.replace(r, df_dx=sp.Piecewise((derive_mod.W[1, c, n - p + 1], (n >= p) & (n <= p + 2)),
                                                      (0, True)))
    # Only the checks of the Jacobian with respect to x need to run.
    inst = checks_mod.instance(wrong, 1)
    values = checks_mod.closed_forms(wrong, inst["x"], inst["W"], inst["g"])
    checks = checks_mod.numeric_checks(wrong, inst, values, 1) + checks_mod.exact_checks(wrong)
    failed = {(ch.quantity, ch.method) for ch in checks if not ch.passed}
    assert ("conv1d.df_dx", "finite differences") in failed
    assert ("conv1d.df_dx", "exact (SymPy)") in failed
    with pytest.raises(VerificationError, match="conv1d.df_dx"):
        verify.require(checks)


def test_central_difference_of_a_known_jacobian():
    A = np.arange(6.0).reshape(2, 3)
    J = verify.central_difference(lambda v: A @ v, np.ones(3))
    assert np.allclose(J, A)


def test_chain_rule_check_catches_a_wrong_sum(fall2025):
    r = conv1d.derive(fall2025.conv1d)
    assert checks_mod.chain_rule_check(r).passed
    wrong = dataclasses.replace(r, dl_dW=sp.Sum(derive_mod.g[1, derive_mod.p] * r.df_dW, (derive_mod.p, 1, r.L_out - 1)))
    assert not checks_mod.chain_rule_check(wrong).passed  # the last output forgotten
