"""End to end: the CLI builds both presets; bad input gets exit 2 and writes nothing.

Every compiled document comes from the session's shared builds (conftest.compiled);
the CLI itself is called in-process.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

from pathlib import Path

import numpy as np
import pytest

from derivations import build, cli, render, variant
from derivations.errors import ToolError

from conftest import on_spare_core

BASE = variant.load("fall2025").text


@pytest.mark.latex
@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
def test_key_and_handout_have_their_files_and_fit_the_margins(compiled, preset):
    key, key_report = compiled[(preset, "key")]
    handout, handout_report = compiled[(preset, "handout")]
    assert sorted(p.name for p in key.iterdir()) == sorted(build.OUTPUTS + ("loss_curves.dat",))
    assert sorted(p.name for p in handout.iterdir()) == ["hw2_theory_handout.pdf", "hw2_theory_handout.tex",
                                                         "loss_curves.dat"]
    for report in (key_report, handout_report):
        assert report.files[0].suffix == ".pdf" and report.files[0].read_bytes().startswith(b"%PDF")
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
@on_spare_core
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


@pytest.mark.latex
@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
def test_handout_gives_no_answer_away(compiled, preset):
    """No boxed answer of the key appears in the handout or its files; the handout never calls itself a key."""
    key_tex = (compiled[(preset, "key")][0] / "hw2_theory.tex").read_text("utf-8")
    boxed = _boxed(key_tex)
    assert len(boxed) >= 12
    folder = compiled[(preset, "handout")][0]
    texts = {p.name: p.read_text("utf-8") for p in folder.iterdir() if p.suffix in (".tex", ".dat")}
    for name, text in texts.items():
        # A formula anywhere gives it away; a short answer (a number such as 6) counts where it is boxed.
        leaks = [b for b in boxed if (b in text if len(b) >= 4 else rf"\boxed{{{b}}}" in text)]
        assert leaks == [], (name, leaks)
    pdf_text = subprocess.run(["pdftotext", str(folder / "hw2_theory_handout.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout
    assert "key" not in pdf_text.lower() and "solution" not in pdf_text.lower()


def _boxed(tex: str) -> list[str]:
    """The contents of every \\boxed{...} (balanced braces)."""
    out, start = [], 0
    while (i := tex.find(r"\boxed{", start)) >= 0:
        depth, j = 0, i + len(r"\boxed")
        for j in range(j, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                break
        out.append(tex[i + len(r"\boxed{"): j].strip())
        start = j
    return out


def test_handout_is_refused_beside_answers(tmp_path, capsys):
    (tmp_path / "answers.json").write_text("{}")
    assert cli.main(["build", "--handout", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds answers.json; a handout is never written beside answers" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]


def test_each_audience_has_its_title_and_content(outcomes):
    outcome = outcomes["fall2025"]
    staff, students, handout = (build.source(outcome, key=a) for a in ("staff", "students", "handout"))
    assert r"Homework 2, Theory: Answer Key" in staff and r"\section*{Verification}" in staff
    assert "Homework 2, Theory: Solutions" in students and r"\begin{solution}" in students
    for text in (students, handout):
        assert "Verification" not in text and "SymPy" not in text and "Answer Key" not in text
        assert "this key" not in text and "the key" not in text
    assert r"\begin{solution}" not in handout and r"Homework 2, Theory\par}" in handout
    assert "Part 2, the\n   implementation notebooks, is not covered" in staff


def test_answer_space_is_left_in_the_handout_only(outcomes):
    outcome = outcomes["fall2025"]
    v = variant.parse(BASE.replace("[document]", "[document]\nanswer_space = 4.5", 1), "space.toml")
    spaced = build.Outcome(v, outcome.registry, outcome.groups)
    assert build.source(spaced, key="handout").count(r"\vspace{4.5cm}") == len(v.questions)
    assert r"\vspace{4.5cm}" not in build.source(spaced, key="staff")


def test_verification_table_writes_math_as_math(outcomes):
    """Outside $...$ the table's method and detail cells hold words, never formulas such as l = sum u[t]^T h[t]."""
    import re

    for outcome in outcomes.values():
        for check in outcome.checks:
            for text in (check.method, check.detail):
                words = "".join(text.split("$")[0::2])
                assert not re.search(r"[=^_\\]|\[t\]", words), (check.id, text)


def _note_after(tex: str, question: str) -> str:
    """The first staff note after a question's own text (its solution), or ''."""
    start = tex.index(question)
    end = tex.find(r"\qpart", start + len(question))
    body = tex[start:end if end > 0 else None]
    return body[body.index(r"\staffnote"):] if r"\staffnote" in body else ""


@pytest.mark.parametrize("preset", ["fall2025", "fall2024"])
def test_grading_notes_are_for_staff_only(outcomes, preset):
    """Each solution where grading matters has a staff note with the accepted forms and the real slips,
    printed from the context; the students' solutions and the handout carry none of it."""
    outcome = outcomes[preset]
    staff, students, handout = (build.source(outcome, key=a) for a in ("staff", "students", "handout"))
    gated = outcome.groups["gated_rnn"].presentation.context
    attn = outcome.groups["attention_rnn"].presentation.context
    notes = {
        "Give the dimension of": [gated["dims_dl"], gated["dims_dl_swapped"],
                                                                    gated["dl_dWx_numerator"], "double-counted"],
        r"Write down $\partial \ell / \partial h[T]$": [attn["dl"]["local"], attn["dl"]["total"],
                                                        "Accept either reading"],
    }
    if outcome.variant.asks("attn_dh_dhprev"):
        notes["write down the Jacobian"] = [attn["dh"]["slip"], attn["dh"]["g"], "does not type-check"]
    if outcome.variant.asks("attn_dl_dhprev"):
        notes["Give the expression for"] = [attn["general"]["slip"], attn["general"]["g"], "double count"]
    for question, quoted in notes.items():
        note = _note_after(staff, question)
        assert note, (preset, question)
        for text in quoted:
            assert text in note, (preset, question, text)
    assert "common slip" not in staff
    for text in (students, handout):
        assert r"\staffnote{" not in text and "Real slips" not in text
        assert gated["dl_dWx_numerator"] not in text


def test_students_solutions_fit_seven_pages_and_carry_no_staff_material(compiled):
    """Fall 2025's published solutions: at most 7 pages, only their own PDF and source (no plot data:
    they show no figure of the experiment), no staff or tool material in the printed text."""
    folder, report = compiled[("fall2025", "students")]
    assert 0 < report.pages <= 7, report.pages
    assert sorted(p.name for p in folder.iterdir()) == ["hw2_theory_solutions.pdf", "hw2_theory_solutions.tex"]
    text = subprocess.run(["pdftotext", str(folder / "hw2_theory_solutions.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    for word in ("Staff note", "Verification", "SymPy", "NumPy", "finite difference", "generator", "Answer Key",
                 "Figure 4"):
        assert word not in text, word


def test_an_unwritable_output_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(build, "run", lambda *a, **k: pytest.fail("derived although --out cannot be written"))
    assert cli.main(["build", "--out", str(blocker / "key")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # running as root: permissions do not bind
        return
    assert cli.main(["build", "--out", str(locked / "key")]) == 2
    assert "is not writable" in capsys.readouterr().err


@pytest.mark.latex
def test_a_failed_build_leaves_the_previous_key_and_no_scratch(compiled, outcomes, tmp_path, monkeypatch):
    # (``compiled``: the session's background compiles are done before anything is patched.)
    out = tmp_path / "out"
    out.mkdir()
    (out / "hw2_theory.pdf").write_bytes(b"%PDF previous key")
    broken = r"\documentclass{article}\begin{document}\undefinedmacro\end{document}"
    monkeypatch.setattr(build, "source", lambda outcome, key=True: broken)
    with pytest.raises(ToolError, match=r"Undefined control sequence.*\(log: .*\.log\)"):
        build.write(outcomes["fall2025"], out, cache_dir=tmp_path / "cache")
    assert (out / "hw2_theory.pdf").read_bytes() == b"%PDF previous key"
    assert sorted(p.name for p in out.iterdir()) == ["hw2_theory.pdf"]
    # The private scratch folder is gone (other builds of the session may be running beside this one).
    left = [t for t in Path(tempfile.gettempdir()).glob("hw2-build-*/*.tex") if "undefinedmacro" in t.read_text()]
    assert left == []
    assert list((tmp_path / "cache" / "logs").glob("*.log"))  # the log is kept where the message says


@pytest.mark.latex
def test_two_builds_give_the_same_bytes(compiled, outcomes, tmp_path):
    """Same variant, same seed: byte-identical PDF, source, answers.json, verification.npz and plot data."""
    first = compiled[("fall2025", "key")][0]
    again = tmp_path / "again"
    build.write(outcomes["fall2025"], again)
    for name in ("hw2_theory.pdf", "hw2_theory.tex", "answers.json", "verification.npz", "loss_curves.dat"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


@pytest.mark.latex
def test_a_broken_template_names_itself_and_leaves_the_old_key(compiled, outcomes, tmp_path, monkeypatch):
    """A template that writes bad LaTeX: one line naming the LaTeX error, the template file and line,
    and the log; the previous key stays."""
    original = render.render

    def broken(context, group_dirs=(), template=render.MAIN_TEMPLATE):
        return original(context, group_dirs, template).replace("Write derivatives in numerator layout.",
                                                               r"Write derivatives in numerator layout. \undefinedmacro")

    monkeypatch.setattr(render, "render", broken)
    out = tmp_path / "handout"
    out.mkdir()
    (out / "hw2_theory_handout.pdf").write_bytes(b"%PDF previous handout")
    with pytest.raises(ToolError) as err:
        build.write(outcomes["fall2025"], out, key="handout", cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and "Undefined control sequence" in message
    assert "[template conventions.tex.j2, line " in message and "(log: " in message
    assert (out / "hw2_theory_handout.pdf").read_bytes() == b"%PDF previous handout"
