"""End to end: the CLI builds both presets; bad input gets exit 2 and writes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from derivations import build, cli, render, variant
from derivations.errors import ToolError

ROOT = Path(__file__).resolve().parent.parent
BASE = resources.files("derivations.presets").joinpath("fall2025.toml").read_text("utf-8")


@pytest.fixture(scope="module")
def built(built_presets):
    for folder, stderr in built_presets.values():
        assert "warning" not in stderr, stderr  # no overfull line wider than 10pt
    return {name: folder for name, (folder, _) in built_presets.items()}


@pytest.mark.latex
@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
def test_build_writes_the_four_files(built, preset):
    folder = built[preset]
    assert sorted(p.name for p in folder.iterdir()) == sorted(build.OUTPUTS + ("loss_curves.dat",))  # the plot data the .tex reads
    assert (folder / "hw2_theory.pdf").read_bytes().startswith(b"%PDF")
    assert r"\begin{document}" in (folder / "hw2_theory.tex").read_text("utf-8")


@pytest.mark.latex
def test_answers_json_matches_the_editions(built):
    a25 = json.loads((built["fall2025"] / "answers.json").read_text())
    a24 = json.loads((built["fall2024"] / "answers.json").read_text())
    assert a25["conv2d.output_shape"] == [5, 2] and a24["conv2d.output_shape"] == [8, 4]
    assert a25["conv1d.output_shape"] == [1, 3] and a24["conv1d.output_shape"] == [1, 5]
    assert a25["conv1d.df_dW.shape"] == [1, 3, 1, 5, 3]
    assert a25["conv1d.df_dx.shape"] == [1, 3, 5, 7]
    assert a24["conv1d.dl_dW.shape"] == [1, 7, 3]
    assert all(isinstance(v, str) for k, v in a25.items() if k.endswith(".latex"))
    assert all(entry["passed"] for entry in a25["verification"].values())


@pytest.mark.latex
def test_verification_npz_holds_the_closed_forms(built):
    data = np.load(built["fall2025"] / "verification.npz")
    x, W, g = data["conv1d.x"], data["conv1d.W"], data["conv1d.g"]
    # Recompute f and dl/dW independently from the stored instance (0-based, stride 2).
    f = np.array([[np.sum(W[0] * x[:, 2 * p:2 * p + 3]) for p in range(3)]])
    assert np.allclose(data["conv1d.f"], f)
    assert np.allclose(data["conv1d.dl_dW"], np.einsum("p,pabc->abc", g[0], data["conv1d.df_dW"][0]))
    assert data["conv1d.df_dx"].shape == (1, 3, 5, 7)


@pytest.mark.latex
def test_pdf_text_has_the_boxed_answers(built):
    tex = (built["fall2024"] / "hw2_theory.tex").read_text("utf-8")
    assert r"\boxed{\text{output size } 8 \times 4}" in tex
    assert tex.count(r"\boxed") >= 6


def run_cli(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "derivations", *args], cwd=ROOT, capture_output=True, text=True)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("old, new, expected", [
    ("kernel = [4, 5]", "kernel = [40, 5]", "conv2d.kernel = [40, 5]: dilated kernel height 40 exceeds"),
    ("channels = 5\n", "", "conv1d.channels = <missing>: required key"),
    ("length = 7", "length = 7.5", "conv1d.length = 7.5: allowed: an integer"),
])
def test_bad_variant_exits_2_with_one_line_and_writes_nothing(tmp_path, old, new, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace(old, new, 1), "utf-8")
    out = tmp_path / "out"
    code, err = run_cli("build", "--variant", str(bad), "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and f"{bad}: {expected}" in err
    assert not out.exists()


def test_unknown_preset_exits_2(tmp_path):
    code, err = run_cli("build", "--variant", "fall2019", "--out", str(tmp_path / "o"))
    assert code == 2 and "allowed: a preset (fall2025, fall2024)" in err


def test_failed_verification_stops_the_build(tmp_path, monkeypatch, capsys):
    from derivations import conv1d

    real = conv1d.derive_params

    def broken(params):  # a wrong Jacobian: the transpose of the right tap index
        import dataclasses

        r = real(params)
        return dataclasses.replace(r, df_dW=r.df_dW.subs(conv1d.m, conv1d.m + 1))

    monkeypatch.setattr(conv1d, "derive_params", broken)
    code = cli.main(["build", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: verification failed for conv1d.df_dW")
    assert not (tmp_path / "o").exists()


@pytest.mark.latex
def test_hostile_title_is_escaped_and_latex_has_no_shell_escape(tmp_path):
    v = variant.parse(BASE.replace('title = "Homework 2, Theory: Answer Key"',
                                   r'title = "\\immediate\\write18{touch pwned} #1 & 100% ~ $x^2$ {}"', 1), "h.toml")
    report = build.build(v, tmp_path)
    tex = (tmp_path / "hw2_theory.tex").read_text("utf-8")
    assert r"\textbackslash{}immediate\textbackslash{}write18\{touch pwned\} \#1 \& 100\% " in tex
    assert not (tmp_path / "pwned").exists()
    assert report.files[0].exists()


@pytest.mark.latex
def test_handout_has_questions_but_no_solutions(tmp_path):
    code, err = run_cli("build", "--handout", "--out", str(tmp_path))
    assert code == 0, err
    tex = (tmp_path / "hw2_theory.tex").read_text("utf-8")
    assert r"\qpart{a}{1}" in tex and r"\begin{solution}" not in tex and r"\boxed" not in tex
    assert not (tmp_path / "answers.json").exists() and not (tmp_path / "verification.npz").exists()


@pytest.mark.latex
def test_latex_failure_is_a_tool_error(tmp_path):
    bad = tmp_path / "bad.tex"
    bad.write_text(r"\documentclass{article}\begin{document}\undefinedmacro\end{document}")
    with pytest.raises(ToolError, match="LaTeX failed on bad.tex"):
        render.compile_pdf(bad)
