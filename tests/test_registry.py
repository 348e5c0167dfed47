"""The question-group protocol: a toy group added from a temporary folder, registry rules,
failures of a group's step, the outline, and answers.json holding every check."""
from __future__ import annotations

import dataclasses

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
    # Fall 2024 states 1.1 = 15, 1.1(c) = 12, 1.2 = 30; its sub-points add up to 17, 14 and 28.
    assert (cnn["parts"][2]["points"], cnn["parts"][2]["sum"], cnn["parts"][2]["mismatch"]) == (12, 14, True)
    assert (cnn["points"], cnn["sum"], cnn["mismatch"]) == (15, 17, True)
    # 1.2.1 carries the 1.2 heading with the points of 1.2.1 and 1.2.2; 1.2.2 has none.
    heading = sections[1]["heading"]
    assert heading["template"] == "sections/rnn.tex.j2" and (heading["points"], heading["sum"]) == (30, 14 + 14)
    assert sections[2]["heading"] is None and sections[3]["heading"] is None
    assert (sections[3]["points"], sections[3]["mismatch"]) == (5, False)
    assert [p["label"] for p in sections[2]["parts"]] == ["a", "b", "c", "d", "e"]  # 2024 has no diagram part
    assert sum(s["sum"] for s in sections) == sum(q.points for q in fall2024.questions)


def test_staff_notes_say_where_stated_totals_differ(outcomes):
    staff = build.source(outcomes["fall2024"], key="staff")
    assert staff.count(r"\staffnote{The edition states") == 3
    assert "states 15 pt for this section; its sub-questions add up\nto 17 pt" in staff
    assert r"\staffnote{" not in build.source(outcomes["fall2024"], key="students")
    assert r"\staffnote{The edition states" not in build.source(outcomes["fall2025"], key="staff")


def test_question_options_are_validated_and_round_trip(fall2024):
    assert fall2024.questions[[q.id for q in fall2024.questions].index("gated_dl_dWx")].options == ("in_terms",
                                                                                                   "parallels")
    text = fall2024.text.replace('ask = ["in_terms", "parallels"]', 'ask = ["colour"]')
    with pytest.raises(VariantError, match=r"questions.gated_dl_dWx.ask = \['colour'\]: allowed: a list of 'in_terms'"):
        variant.parse(text, "v.toml")
    with pytest.raises(VariantError, match=r"stated_points.cnn2 = 3: unknown; allowed: cnn"):
        variant.parse(fall2024.text + "cnn2 = 3\n", "v.toml")
    assert variant.parse(variant.to_toml(fall2024), fall2024.source) == fall2024


def test_answers_json_holds_every_check(outcomes):
    for outcome in outcomes.values():
        entries = build.answers(outcome)["verification"]
        assert len(entries) == len(outcome.checks) == len({c.id for c in outcome.checks})
        assert list(entries) == [c.id for c in outcome.checks]
        assert all(e["passed"] for e in entries.values())


def test_each_edition_asks_its_own_clauses(outcomes):
    """Fall 2024 asks for the weight count of AttentionRNN(inf) and 'in terms of l, h, W_x'; both editions ask
    what the backward and forward passes share. Each statement asks exactly its edition's clauses, and each
    key answers every clause it asks."""
    f24, f25 = (build.source(outcomes[p], key="handout") for p in ("fall2024", "fall2025"))
    k24, k25 = (build.source(outcomes[p]) for p in ("fall2024", "fall2025"))
    assert "How many weight matrices" in f24 and "How many weight matrices" not in f25
    assert "written with $\\ell$" in f24 and "written with $\\ell$" not in f25
    assert "In terms of $\\ell$" in k24 and "In terms of $\\ell$" not in k25
    for handout, key in ((f24, k24), (f25, k25)):
        assert "backward pass and the\nforward pass" in handout and "Backward and forward pass." in key
    # Without the clause, neither the question nor the key mentions it.
    outcome = outcomes["fall2025"]
    plain = tuple(dataclasses.replace(q, options=()) if q.id == "gated_dl_dWx" else q for q in outcome.variant.questions)
    bare = build.Outcome(variant.replace(outcome.variant, questions=plain), outcome.registry, outcome.groups)
    assert "backward pass and the\nforward pass" not in build.source(bare, key="handout")
    assert "Backward and forward pass." not in build.source(bare)
