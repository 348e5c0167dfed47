"""Per-student variants: reproducible, different per student, valid, round-trip through TOML."""
from __future__ import annotations

import pytest

from derivations import cli, registry, student, variant
from derivations.errors import VariantError



def test_to_toml_round_trips_the_presets():
    for name in variant.presets():
        v = variant.load(name)
        assert variant.parse(variant.to_toml(v), v.source) == v


def test_same_student_same_numbers_other_student_other_numbers(fall2025):
    a1, a2 = student.draw(fall2025, "Ada Lovelace"), student.draw(fall2025, "Ada Lovelace")
    b = student.draw(fall2025, "Alan Turing")
    assert a1 == a2
    assert (a1.conv2d, a1.conv1d, a1.seed) != (b.conv2d, b.conv1d, b.seed)
    assert a1.document.student == "Ada Lovelace" and a1.questions == fall2025.questions


@pytest.mark.parametrize("name", [f"student {i}" for i in range(3)])
def test_drawn_variants_derive_and_verify(fall2025, name):
    v = student.draw(fall2025, name)
    for group in (registry.default().group(n) for n in ("conv2d", "conv1d")):  # the groups a draw changes
        checks = group.check(group.derive(v.params[group.name]), None, v.seed).checks
        assert checks and all(c.passed for c in checks)


def test_hostile_student_name_is_data(fall2025):
    v = student.draw(fall2025, r'Robert"); \input{x} %')
    assert v.document.student == r'Robert"); \input{x} %'


def test_empty_student_name_is_refused(fall2025):
    with pytest.raises(VariantError, match="--student"):
        student.draw(fall2025, "  ")


def test_cli_prints_the_students_variant(capsys):
    assert cli.main(["variant", "--student", "Ada Lovelace"]) == 0
    out = capsys.readouterr().out
    assert "  # C, input channels printed in the question" in out  # every key documented
    v = variant.parse(out, "ada.toml")
    assert v.name == "fall2025-ada-lovelace" and v.document.student == "Ada Lovelace"
