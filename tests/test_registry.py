"""The question-group protocol: a toy group added from a temporary folder, registry rules,
failures of a group's step, the outline, and answers.json holding every check."""
from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from derivations import build, cli, registry, variant
from derivations.errors import DerivationError, VariantError
from derivations.registry import QuestionSpec, Registry, RegistryError

from conftest import HAVE_LATEX

# The whole toy group: one parameter, one question, one check, one template.
TOY_INIT = '''
"""A toy question group: the square of a number, derived and checked."""
from dataclasses import dataclass

import sympy as sp

from derivations import latex
from derivations.params import Range, param
from derivations.registry import Presentation, QuestionGroup, QuestionSpec, Verification
from derivations.verify import Check


@dataclass(frozen=True)
class Toy:
    base: int = param("int", 3, Range(1, 99), doc="the number that is squared")


def derive(p):
    x = sp.Symbol("x")
    return {"formula": x**2, "value": (x**2).subs(x, p.base), "base": p.base}


def check(d, evidence, seed):
    error = float(abs(int(d["value"]) - d["base"] * d["base"]))
    return Verification((Check("toy.square", "$x^2$", (), "integer product", error, 0.5, "the variant's base"),))


def present(d, evidence, verification):
    value = latex.tex(d["value"])
    return Presentation({"base": d["base"], "formula": latex.tex(d["formula"]), "value": value},
                        {"toy.square": int(d["value"])})


GROUP = QuestionGroup(name="toy", title="a toy square", params=Toy,
                      questions=(QuestionSpec("toy_square", "the square of base"),), section="toy",
                      derive=derive, check=check, present=present, package=__name__)
'''
TOY_SECTION = r"""\section*{9\quad Toy section\hfill{\normalfont\small ((( section.points ))) pt}}
"""
TOY_QUESTION = r"""((* from "macros.tex.j2" import solution *))
((* set q = toy *))
\qpart{((( part.label )))}{((( part.points )))}
Square the number $((( q.base )))$.
((* call solution(key) *))
With $f(x) = ((( q.formula )))$: \[ \boxed{((( q.value )))} \]
((* endcall *))
"""


def write_toy(folder: Path, name: str = "toy_group") -> Path:
    pkg = folder / name
    (pkg / "templates" / "questions").mkdir(parents=True)
    (pkg / "templates" / "sections").mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(TOY_INIT), "utf-8")
    (pkg / "templates" / "sections" / "toy.tex.j2").write_text(TOY_SECTION, "utf-8")
    (pkg / "templates" / "questions" / "toy_square.tex.j2").write_text(TOY_QUESTION, "utf-8")
    return pkg


@pytest.fixture
def toy(tmp_path, monkeypatch):
    write_toy(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_group")
    yield module.GROUP
    sys.modules.pop("toy_group", None)


def toy_variant(reg: Registry, extra: str = "[toy]\nbase = 7\n") -> variant.Variant:
    text = (variant.load("fall2025").text.split("[questions]")[0] + extra
            + "\n[questions]\nconv2d_output = 1\ntoy_square = 2\n")
    return variant.parse(text, "toy.toml", reg)


def test_a_toy_group_from_a_temporary_folder_joins_the_key(toy):
    reg = registry.default().with_group(toy)
    v = toy_variant(reg)
    assert v.toy.base == 7 and v.asks("toy_square")
    outcome = build.run(v, reg)
    assert [c.id for c in outcome.checks] == ["conv2d.output_shape:count-of-kernel-positions",
                                              "toy.square:integer-product"]
    tex = build.source(outcome)
    assert r"Square the number $7$" in tex and r"\boxed{49}" in tex
    assert r"Toy section\hfill{\normalfont\small 2 pt}" in tex
    assert build.answers(outcome)["toy.square"] == 49
    # The generated parts of the variant machinery know the group too.
    assert "[toy]" in variant.to_toml(v, reg) and "toy_square = 2" in variant.to_toml(v, reg)
    assert variant.parse(variant.to_toml(v, reg), "toy.toml", reg) == v


@pytest.mark.latex
@pytest.mark.skipif(not HAVE_LATEX, reason="TeX Live is not installed")
def test_the_toy_key_compiles(toy, tmp_path):
    reg = registry.default().with_group(toy)
    report = build.build(toy_variant(reg), tmp_path / "out", registry=reg)
    assert (tmp_path / "out" / "hw2_theory.pdf").read_bytes().startswith(b"%PDF")
    assert len(report.checks) == 2


def test_the_toy_group_validates_its_parameter(toy):
    reg = registry.default().with_group(toy)
    with pytest.raises(VariantError, match=r"toy.toml: toy.base = 100: allowed: 1..99"):
        toy_variant(reg, "[toy]\nbase = 100\n")
    with pytest.raises(VariantError, match=r"toy.toml: toy.power = 2: unknown key; allowed keys: base"):
        toy_variant(reg, "[toy]\npower = 2\n")
    assert toy_variant(reg, "").toy.base == 3  # an optional table takes its defaults


def test_without_the_group_its_question_is_unknown():
    with pytest.raises(VariantError, match=r"questions.toy_square = 2: unknown sub-question"):
        toy_variant(registry.default(), "")


def test_registry_refuses_clashing_names_and_question_ids(toy):
    reg = registry.default()
    with pytest.raises(RegistryError, match="group name 'conv1d'"):
        Registry(list(reg) + [reg.group("conv1d")])
    clash = type(toy)(**{**toy.__dict__, "name": "toy2", "questions": (QuestionSpec("conv1d_dW", "clash"),)})
    with pytest.raises(RegistryError, match="question id 'conv1d_dW'"):
        reg.with_group(clash)


def test_a_failing_derivation_exits_2_with_one_line(toy, tmp_path, capsys, monkeypatch):
    def broken(p):
        raise ZeroDivisionError("division by zero\nsecond line")

    reg = registry.default().with_group(type(toy)(**{**toy.__dict__, "derive": broken}))
    with pytest.raises(DerivationError, match=r"^toy: derive failed: ZeroDivisionError: division by zero$"):
        build.run(toy_variant(reg), reg)
    # Through the CLI: the default registry is swapped for the broken one.
    monkeypatch.setattr(registry, "_DEFAULT", reg)
    bad = tmp_path / "toy.toml"
    bad.write_text(variant.to_toml(toy_variant(reg), reg), "utf-8")
    assert cli.main(["check", "--variant", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == "error: toy: derive failed: ZeroDivisionError: division by zero\n"


def test_a_repeated_check_id_is_refused(toy):
    def twice(d, evidence, seed):
        one = toy.check(d, evidence, seed).checks[0]
        return registry.Verification((one, one))

    reg = registry.default().with_group(type(toy)(**{**toy.__dict__, "check": twice}))
    with pytest.raises(DerivationError, match="check ids are not unique: toy.square:integer-product"):
        build.run(toy_variant(reg), reg)


def test_outline_labels_and_points(fall2024):
    sections = build.outline(fall2024)
    assert [s["id"] for s in sections] == ["cnn", "gated_rnn", "attention_rnn", "loss_curves"]
    cnn = sections[0]
    assert [p["label"] for p in cnn["parts"]] == ["a", "b", "c"]
    assert [s["label"] for s in cnn["parts"][2]["subparts"]] == ["i", "ii", "iii", "iv"]
    assert [s["points"] for s in cnn["parts"][2]["subparts"]] == [1, 4, 4, 5]
    assert cnn["parts"][2]["points"] == 14 and cnn["points"] == 17
    # 1.2.1 carries the 1.2 heading with the points of 1.2.1 and 1.2.2; 1.2.2 has none.
    assert sections[1]["heading"] == {"template": "sections/rnn.tex.j2", "points": 14 + 14}
    assert sections[2]["heading"] is None and sections[3]["heading"] is None
    assert [p["label"] for p in sections[2]["parts"]] == ["a", "b", "c", "d", "e"]  # 2024 has no diagram part
    assert sum(s["points"] for s in sections) == sum(q.points for q in fall2024.questions)


def test_answers_json_holds_every_check(outcomes):
    for outcome in outcomes.values():
        entries = build.answers(outcome)["verification"]
        assert len(entries) == len(outcome.checks) == len({c.id for c in outcome.checks})
        assert list(entries) == [c.id for c in outcome.checks]
        assert all(e["passed"] for e in entries.values())
