"""End to end: the CLI builds both presets; bad input gets exit 2 and writes nothing.

Every compiled document comes from the session's shared builds (conftest.compiled);
the CLI itself is called in-process.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from derivations import build, cli, render, variant
from derivations.errors import ToolError

BASE = variant.load("fall2025").text


@pytest.mark.latex
@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
def test_key_and_handout_have_their_files_and_fit_the_margins(compiled, preset):
    key, key_report = compiled[(preset, "key")]
    handout, handout_report = compiled[(preset, "handout")]
    assert sorted(p.name for p in key.iterdir()) == sorted(build.OUTPUTS + ("loss_curves.dat",))
    assert sorted(p.name for p in handout.iterdir()) == ["hw2_theory.pdf", "hw2_theory.tex", "loss_curves.dat"]
    for folder, report in ((key, key_report), (handout, handout_report)):
        assert (folder / "hw2_theory.pdf").read_bytes().startswith(b"%PDF")
        assert all(w <= render.OVERFULL_LIMIT_PT for w in report.overfull), report.overfull


@pytest.mark.latex
def test_answers_json_matches_the_editions(compiled):
    a25 = json.loads((compiled[("fall2025", "key")][0] / "answers.json").read_text())
    a24 = json.loads((compiled[("fall2024", "key")][0] / "answers.json").read_text())
    assert a25["conv2d.output_shape"] == [5, 2] and a24["conv2d.output_shape"] == [8, 4]
    assert a25["conv1d.output_shape"] == [1, 3] and a24["conv1d.output_shape"] == [1, 5]
    assert a25["conv1d.df_dW.shape"] == [1, 3, 1, 5, 3]
    assert a25["conv1d.df_dx.shape"] == [1, 3, 5, 7]
    assert a24["conv1d.dl_dW.shape"] == [1, 7, 3]
    assert all(isinstance(v, str) for k, v in a25.items() if k.endswith(".latex"))
    assert all(entry["passed"] for entry in a25["verification"].values())


@pytest.mark.latex
def test_verification_npz_holds_the_closed_forms(compiled):
    data = np.load(compiled[("fall2025", "key")][0] / "verification.npz")
    x, W, g = data["conv1d.x"], data["conv1d.W"], data["conv1d.g"]
    # Recompute f and dl/dW independently from the stored instance (0-based, stride 2).
    f = np.array([[np.sum(W[0] * x[:, 2 * p:2 * p + 3]) for p in range(3)]])
    assert np.allclose(data["conv1d.f"], f)
    assert np.allclose(data["conv1d.dl_dW"], np.einsum("p,pabc->abc", g[0], data["conv1d.df_dW"][0]))
    assert data["conv1d.df_dx"].shape == (1, 3, 5, 7)


def test_key_source_has_the_boxed_answers(outcomes):
    tex = build.source(outcomes["fall2024"])
    assert r"\boxed{\text{output size } 8 \times 4}" in tex
    assert tex.count(r"\boxed") >= 6


def test_handout_source_has_questions_but_no_solutions(outcomes):
    for outcome in outcomes.values():
        tex = build.source(outcome, key=False)
        assert r"\qpart{a}{1}" in tex and r"\begin{solution}" not in tex and r"\boxed" not in tex


@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
@pytest.mark.parametrize("key", [True, False], ids=["key", "handout"])
def test_every_asked_question_renders(outcomes, preset, key):
    """Each question id of the edition has its own part in the source (key and handout)."""
    outcome = outcomes[preset]
    tex = build.source(outcome, key=key)
    for section in build.outline(outcome.variant):
        for part in section["parts"]:
            for item in part.get("subparts", [part]):
                macro = r"\qsub" if "subparts" in part else r"\qpart"
                assert f"{macro}{{{item['label']}}}{{{item['points']}}}" in tex, (preset, item["id"])


@pytest.mark.parametrize("old, new, expected", [
    ("kernel = [4, 5]", "kernel = [40, 5]", "conv2d.kernel = [40, 5]: dilated kernel height 40 exceeds"),
    ("channels = 5\n", "", "conv1d.channels = <missing>: required key"),
    ("length = 7", "length = 7.5", "conv1d.length = 7.5: allowed: an integer"),
])
def test_bad_variant_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, old, new, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace(old, new, 1), "utf-8")
    out = tmp_path / "out"
    assert cli.main(["build", "--variant", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}: {expected}" in err
    assert not out.exists()


def test_unknown_preset_exits_2(tmp_path, capsys):
    assert cli.main(["build", "--variant", "fall2019", "--out", str(tmp_path / "o")]) == 2
    assert "allowed: a preset (fall2025, fall2024)" in capsys.readouterr().err


def test_failed_verification_stops_the_build(tmp_path, monkeypatch, capsys):
    import dataclasses

    from derivations import registry

    group = registry.default().group("conv1d")
    m = __import__("derivations.groups.conv1d.derive", fromlist=["m"]).m

    def broken(params):  # a wrong Jacobian: the tap index shifted by one
        r = group.derive(params)
        return dataclasses.replace(r, df_dW=r.df_dW.subs(m, m + 1))

    reg = registry.Registry([dataclasses.replace(g, derive=broken) if g.name == "conv1d" else g
                             for g in registry.default()])
    monkeypatch.setattr(registry, "_DEFAULT", reg)
    bad = tmp_path / "conv.toml"  # only 1.1(c) asked: only the conv1d group runs
    bad.write_text(BASE.split("[questions]")[0] + "[questions]\nconv1d_dW = 3\n", "utf-8")
    assert cli.main(["build", "--variant", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: verification failed for conv1d.df_dW")
    assert not (tmp_path / "o").exists()


def test_hostile_title_is_escaped(outcomes):
    v = variant.parse(BASE.replace('title = "Homework 2, Theory: Answer Key"',
                                   r'title = "\\immediate\\write18{touch pwned} #1 & 100% ~ $x^2$ {}"', 1), "h.toml")
    outcome = build.Outcome(v, outcomes["fall2025"].registry, outcomes["fall2025"].groups)
    tex = build.source(outcome)
    assert r"\textbackslash{}immediate\textbackslash{}write18\{touch pwned\} \#1 \& 100\% " in tex


@pytest.mark.latex
def test_a_hostile_title_compiles_to_text_without_shell_escape(tmp_path):
    title = r"\\immediate\\write18{touch pwned} #1 & 100% ~ $x^2$ {}"
    v = variant.parse(BASE.replace('title = "Homework 2, Theory: Answer Key"', f'title = "{title}"', 1)
                      .split("[questions]")[0] + "[questions]\nconv2d_output = 1\n", "h.toml")
    report = build.build(v, tmp_path)  # one small compiled sample
    assert report.files[0].exists() and not (tmp_path / "pwned").exists()


def test_variant_command_keeps_the_presets_comments(capsys):
    assert cli.main(["variant"]) == 0
    out = capsys.readouterr().out
    assert out == BASE and "# Which sub-questions this edition asks" in out


@pytest.mark.latex
def test_latex_failure_is_a_tool_error(tmp_path):
    bad = tmp_path / "bad.tex"
    bad.write_text(r"\documentclass{article}\begin{document}\undefinedmacro\end{document}")
    with pytest.raises(ToolError, match="LaTeX failed on bad.tex"):
        render.compile_pdf(bad)
