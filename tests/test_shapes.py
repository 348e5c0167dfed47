"""1.1(a) and (b) against hand-computed values from both editions."""
from __future__ import annotations

import dataclasses

import pytest

from derivations import shapes
from derivations.latex import tex
from derivations.variant import Conv2d, ConvGeneral


def test_fall2024_output_is_8_by_4(fall2024):
    # floor((17-3)/2)+1 = 8, floor((11-5)/2)+1 = 4
    assert shapes.derive_conv2d(fall2024.conv2d).output_shape == (8, 4)


def test_fall2025_output_is_5_by_2(fall2025):
    # floor((21-4)/4)+1 = 5, floor((12-5)/4)+1 = 2
    assert shapes.derive_conv2d(fall2025.conv2d).output_shape == (5, 2)


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
    assert shapes.output_length(n, k, s, p, d) == expected
    assert shapes.count_positions(n, k, s, p, d) == expected


def test_per_axis_parameters():
    r = shapes.derive_conv2d(Conv2d(input=(20, 9), kernel=(3, 2), stride=(2, 3), padding=(1, 0), dilation=(2, 1)))
    # H: span 5, padded 22 -> floor(17/2)+1 = 9; W: span 2, floor(7/3)+1 = 3
    assert r.output_shape == (9, 3)
    assert [a.k_eff for a in r.axes] == [5, 2]


def test_worked_steps_show_the_substituted_numbers(fall2025):
    r = shapes.derive_conv2d(fall2025.conv2d)
    h = r.axes[0]
    assert tex(h.numbers, as_built=True) == r"\left\lfloor{\frac{21 + 2 \cdot 0 - 4}{4}}\right\rfloor + 1"
    assert tex(h.quotient, as_built=True) == r"\left\lfloor{\frac{17}{4}}\right\rfloor + 1"


@pytest.mark.parametrize("notation, kernel", [("square", "K"), ("rect", "HK")])
def test_general_formula_uses_the_editions_notation(notation, kernel):
    g = shapes.derive_general(ConvGeneral(notation))
    assert kernel in tex(g.h_out_expanded, as_built=True)
    assert str(g.filters) == "F"


def test_checks_pass_for_both_presets(fall2024, fall2025):
    for v in (fall2024, fall2025):
        r = shapes.derive(v)
        checks, arrays = shapes.verify(r, v.seed)
        assert checks and all(c.passed for c in checks)
        assert arrays == {}


def test_check_catches_a_wrong_size(fall2025):
    r = shapes.derive(fall2025)
    wrong = dataclasses.replace(r.conv2d, output_shape=(6, 2))  # e.g. forgetting the floor
    checks = shapes.checks(wrong, r.general, 1)
    assert not checks[0].passed
