"""1.1(a) and (b) against hand-computed values from both editions."""
from __future__ import annotations

import dataclasses

import pytest

from derivations.groups.conv2d import Conv2d, derive as derive2d
from derivations.groups.conv2d.check import check as check2d, count_positions
from derivations.groups.conv2d.derive import output_length
from derivations.groups.conv_general import ConvGeneral, derive as derive_general
from derivations.groups.conv_general.check import check as check_general
from derivations.latex import tex


def test_fall2024_output_is_8_by_4(fall2024):
    # floor((17-3)/2)+1 = 8, floor((11-5)/2)+1 = 4
    assert derive2d(fall2024.conv2d).output_shape == (8, 4)


def test_fall2025_output_is_5_by_2(fall2025):
    # floor((21-4)/4)+1 = 5, floor((12-5)/4)+1 = 2
    assert derive2d(fall2025.conv2d).output_shape == (5, 2)


@pytest.mark.parametrize(
    "n, k, s, p, d, expected",
    [
        (32, 3, 1, 1, 1, 32),  # "same" padding
        (32, 3, 2, 1, 1, 16),
        (10, 3, 1, 0, 2, 6),  # dilated span 5: starts 0..5
        (10, 3, 3, 2, 2, 4),  # padded length 14, span 5: starts 0, 3, 6, 9
        (5, 5, 7, 0, 1, 1),
        (7, 1, 3, 0, 1, 3),
    ],
)
def test_output_length_with_padding_and_dilation(n, k, s, p, d, expected):
    assert output_length(n, k, s, p, d) == expected
    assert count_positions(n, k, s, p, d) == expected


def test_per_axis_parameters():
    r = derive2d(Conv2d(input=(20, 9), kernel=(3, 2), stride=(2, 3), padding=(1, 0), dilation=(2, 1)))
    # H: span 5, padded 22 -> floor(17/2)+1 = 9; W: span 2, floor(7/3)+1 = 3
    assert r.output_shape == (9, 3)
    assert [a.k_eff for a in r.axes] == [5, 2]


def test_worked_steps_show_the_substituted_numbers(fall2025):
    h = derive2d(fall2025.conv2d).axes[0]
    assert tex(h.numbers, as_built=True) == r"\left\lfloor{\frac{21 + 2 \cdot 0 - 4}{4}}\right\rfloor + 1"
    assert tex(h.quotient, as_built=True) == r"\left\lfloor{\frac{17}{4}}\right\rfloor + 1"


def test_the_rule_is_printed_from_the_formula(outcomes):
    ctx = outcomes["fall2025"].groups["conv2d"].presentation.context
    assert ctx["rule"] == r"\left\lfloor{\frac{N + 2 \cdot P - K_{\mathrm{eff}}}{S}}\right\rfloor + 1"
    assert ctx["rule_k_eff"] == r"K_{\mathrm{eff}} = D \cdot \left(K - 1\right) + 1"


@pytest.mark.parametrize("notation, kernel", [("square", "K"), ("rect", "HK")])
def test_general_formula_uses_the_editions_notation(notation, kernel):
    g = derive_general(ConvGeneral(notation))
    assert kernel in tex(g.h_out_expanded, as_built=True)
    assert str(g.shape[0]) == "F"


def test_checks_pass_for_both_presets(outcomes):
    for outcome in outcomes.values():
        for name in ("conv2d", "conv_general"):
            v = outcome.groups[name].verification
            assert v.checks and all(c.passed for c in v.checks) and dict(v.arrays) == {}


def test_check_catches_a_wrong_size(fall2025):
    r = derive2d(fall2025.conv2d)
    wrong = dataclasses.replace(r, output_shape=(6, 2))  # e.g. forgetting the floor
    assert not check2d(wrong, None, 1).checks[0].passed


def test_check_catches_a_wrong_general_formula():
    g = derive_general(ConvGeneral("square"))
    H = g.h_out_expanded.free_symbols
    wrong = dataclasses.replace(g, h_out_expanded=g.h_out_expanded + 1)  # an off-by-one
    assert H and not check_general(wrong, None, 1).checks[0].passed
