"""A class at once (derivations.batch): roster, shards and merge, manifest, answers.csv, re-runs,
rebuilds, failures, and answers.json's questions table.

Most tests replace LaTeX by a stand-in writer (``fake_latex``) and ask a small
variant (a few sub-questions), so a student takes a fraction of a second; the
tests marked ``latex`` share one compiled class of three students
(``compiled_class``) and rebuild one of them. The class, and the same class built
again, are built by the CLI (``cli.main``) in the suite's worker process, on the
spare core from the start of the session (conftest.Background).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from derivations import batch, build, cli, student, variant
from derivations.errors import DerivationError

from conftest import Background, in_worker

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "tests" / "data" / "roster.csv"
BASE = variant.load("fall2025").text
SECRET = "0123456789abcdef" * 4


def small_variant(folder: Path, questions: str) -> Path:
    path = folder / "small.toml"
    path.write_text(BASE.split("[questions]")[0] + "[questions]\n" + questions, "utf-8")
    return path


@pytest.fixture
def inputs(tmp_path):
    """A class of four in a temporary folder: roster, a small variant (1.1(a), (b)) and a secret."""
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,seed\ns1,Ada Lovelace,\ns2,José Núñez,77\ns3,Zoë Ångström,\ns4,Alan Turing,\n", "utf-8")
    secret = tmp_path / "course.secret"
    secret.write_text(SECRET + "\n")
    return {"roster": roster, "variant": small_variant(tmp_path, "conv2d_output = 1\nconv_general = 2\n"),
            "secret": secret, "out": tmp_path / "class"}


def args(inp, *extra: str) -> list[str]:
    return ["batch", "--roster", str(inp["roster"]), "--variant", str(inp["variant"]), "--secret",
            str(inp["secret"]), "--out", str(inp["out"]), *extra]


@pytest.fixture
def fake_latex(monkeypatch):
    """build.write without LaTeX: the audience's files, with a stand-in PDF; counts the documents."""
    calls = []

    def write(outcome, out_dir, *, key=True, **_):
        aud = build.audience_of(key)
        calls.append((outcome.variant.name, aud.name))
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{aud.stem}.tex").write_text(f"% {outcome.variant.name} {aud.name}\n", "utf-8")
        (out_dir / f"{aud.stem}.pdf").write_bytes(b"%PDF-stand-in " + outcome.variant.name.encode())
        if aud.staff:
            (out_dir / "answers.json").write_text(json.dumps(build.answers(outcome), indent=2) + "\n", "utf-8")
            np.savez(out_dir / "verification.npz", **build.arrays(outcome))
        return build.BuildReport(out_dir, [], outcome.checks, ())

    monkeypatch.setattr(build, "write", write)
    return calls


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- roster


def test_roster_parses_ids_names_and_seeds(tmp_path):
    path = tmp_path / "r.csv"
    # A byte-order mark, blank lines, a row without its (optional) seed, an NFD id.
    path.write_text("\ufeffid,name,seed\n\n s1 ,Ada Lovelace,\nJose\u0301,José Núñez,42\ns3,Zoë\n", "utf-8")
    entries = batch.read_roster(path)
    assert [(e.index, e.line, e.id, e.name, e.seed) for e in entries] == [
        (0, 3, "s1", "Ada Lovelace", None), (1, 4, "José", "José Núñez", 42), (2, 5, "s3", "Zoë", None)]


def test_the_shipped_roster_has_a_hundred_students():
    entries = batch.read_roster(ROSTER)
    assert [e.id for e in entries] == [f"s{i:03d}" for i in range(1, 101)]
    assert len({e.name for e in entries}) == 100 and all(e.name for e in entries)
    assert sum(e.seed is not None for e in entries) == 10


@pytest.mark.parametrize("text, expected", [
    ("id,seed\ns1,3\n", "line 1: header 'id,seed' lacks the column 'name'"),
    ("name\nAda\n", "line 1: header 'name' lacks the column 'id'"),
    ("id,name,email\ns1,Ada,a@b\n", "line 1: unknown column 'email'; allowed: id, name, seed"),
    ("id,name\ns1,Ada\nS2,Bob\n s1,Ada again\n", "line 4: id = 's1': duplicate of the id 's1' on line 2"),
    ("id,name\nJos\u00e9,A\nJose\u0301,B\n",
     "line 3: id = 'Jose\u0301': duplicate of the id 'Jos\u00e9' on line 2 ('Jos\u00e9')"),
    ("id,name,seed\ns1,Ada,12x\n", "line 2: seed = '12x': allowed: an integer 0..4294967295"),
    ("id,name,seed\ns1,Ada,1\ns2,Bob,-3\n", "line 3: seed = '-3': allowed: an integer 0..4294967295"),
    ("id,name,seed\ns1,Ada,4294967296\n", "line 2: seed = '4294967296'"),
    ("id,name\n,Ada\n", "line 2: id = '': every student needs an id"),
    ("id,name\ns1,Ada,extra\n", "line 2: 3 fields 's1,Ada,extra'; the header has 2"),
    ("id,name\ns1\n", "line 2: 1 field(s) 's1'; missing name"),
    ("id,name\n", "no students (only the header)"),
    ("", "line 1: empty roster"),
])
def test_bad_roster_exits_2_with_one_line_and_writes_nothing(inputs, monkeypatch, capsys, text, expected):
    monkeypatch.chdir(inputs["out"].parent)
    inputs["roster"].write_text(text, "utf-8")
    inputs["secret"].unlink()  # not even the secret is made
    a = args(inputs)
    a.remove("--secret"), a.remove(str(inputs["secret"]))
    assert cli.main(a) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {inputs['roster']}: ") and expected in err, err
    assert not inputs["out"].exists() and not (inputs["out"].parent / "course.secret").exists()


def test_missing_roster_file(inputs, capsys):
    inputs["roster"].unlink()
    assert cli.main(args(inputs)) == 2
    assert capsys.readouterr().err == f"error: {inputs['roster']}: no such roster file\n"


# --------------------------------------------------------------------------- shards


def test_shard_i_of_n_takes_the_students_whose_index_is_i_minus_1_mod_n():
    entries = [batch.Entry(i, i + 2, f"s{i}", "", None) for i in range(10)]
    slices = [[e.index for e in batch.in_shard(entries, (i, 3))] for i in (1, 2, 3)]
    assert slices == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert batch.in_shard(entries, None) == entries
    assert batch.parse_shard(" 2 / 3 ") == (2, 3)


@pytest.mark.parametrize("shard", ["0/3", "4/3", "a/b", "3"])
def test_bad_shard_exits_2(inputs, capsys, shard):
    assert cli.main(args(inputs, "--shard", shard)) == 2
    err = capsys.readouterr().err
    assert err == f"error: --shard = {shard!r}: allowed: i/N with 1 <= i <= N, e.g. 2/4\n"
    assert not inputs["out"].exists()


def test_shards_merge_into_the_tables_of_one_run(inputs, fake_latex, tmp_path, capsys):
    for i in (1, 2):
        assert cli.main(args(inputs, "--shard", f"{i}/2")) == 0
    out = inputs["out"]
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "answers.shard-1-of-2.csv", "answers.shard-2-of-2.csv", "manifest.shard-1-of-2.json",
        "manifest.shard-2-of-2.json"]
    shard1 = json.loads((out / "manifest.shard-1-of-2.json").read_text())
    assert [e["id"] for e in shard1["students"]] == ["s1", "s3"] and shard1["class"]["shard"] == "1/2"
    assert cli.main(["merge", str(out)]) == 0
    assert "merged: 4 built; 4 distinct answer tuple(s)" in capsys.readouterr().out
    # The same class in one run, in another folder.
    whole = dict(inputs, out=tmp_path / "whole")
    assert cli.main(args(whole)) == 0
    assert (out / "answers.csv").read_text() == (whole["out"] / "answers.csv").read_text()
    merged = json.loads((out / "manifest.json").read_text())
    single = json.loads((whole["out"] / "manifest.json").read_text())
    assert [e["id"] for e in merged["students"]] == ["s1", "s2", "s3", "s4"]
    assert merged["students"] == single["students"]
    assert merged["class"]["distinct_answer_tuples"] == single["class"]["distinct_answer_tuples"] == 4
    assert merged["class"]["shard"] is None and merged["class"]["built"] == 4


def test_merge_refuses_a_missing_shard(inputs, fake_latex, capsys):
    assert cli.main(args(inputs, "--shard", "2/3")) == 0
    capsys.readouterr()
    assert cli.main(["merge", str(inputs["out"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shard(s) 1, 3 of 3 missing" in err
    assert not (inputs["out"] / "answers.csv").exists()


# --------------------------------------------------------------------------- manifest and answers.csv


def test_manifest_and_answers_csv(inputs, fake_latex, capsys):
    assert cli.main(args(inputs)) == 0
    printed = capsys.readouterr().out
    assert "4 built; 4 distinct answer tuple(s) among 4 student(s)" in printed
    out = inputs["out"]
    text = (out / "manifest.json").read_text("utf-8")
    m = json.loads(text)
    assert SECRET not in text and SECRET[:16] not in text  # the fingerprint only
    secret = student.load_secret(inputs["secret"], create=False)
    base = variant.load(inputs["variant"])
    assert m["class"]["secret_fingerprint"] == student.fingerprint(secret)
    assert m["class"]["base_variant"]["toml"] == variant.to_toml(base)
    assert m["class"]["base_variant"]["sha256"] == hashlib.sha256(variant.to_toml(base).encode()).hexdigest()
    assert m["class"]["distinct_answer_tuples"] == 4 and m["failed"] == []
    assert [(e["id"], e["name"], e["seed_from"]) for e in m["students"]] == [
        ("s1", "Ada Lovelace", "secret"), ("s2", "José Núñez", "roster"), ("s3", "Zoë Ångström", "secret"),
        ("s4", "Alan Turing", "secret")]
    for e in m["students"]:
        folder = out / e["folder"]
        assert e["generator"] == f"derivations {build.__version__}" and e["source"] == batch.source_hash()
        assert sorted(e["files"]) == sorted(batch.STUDENT_FILES) == sorted(p.name for p in folder.iterdir())
        assert all(sha(folder / name) == digest for name, digest in e["files"].items())
        assert e["variant_sha256"] == sha(folder / "variant.toml")
        v = variant.load(folder / "variant.toml")
        expected_seed = 77 if e["id"] == "s2" else student.student_seed(base, e["id"], secret)
        assert e["seed"] == v.seed == expected_seed and v.document.student == e["name"]
    # answers.csv: a row per student in roster order, numbers only, columns in their fixed order.
    rows = list(csv.reader(io.StringIO((out / "answers.csv").read_text())))
    assert rows[0] == ["id", "conv2d_output:conv2d.output_shape[0]", "conv2d_output:conv2d.output_shape[1]"]
    assert [r[0] for r in rows[1:]] == ["s1", "s2", "s3", "s4"]
    for r in rows[1:]:
        answers = json.loads((out / r[0] / "answers.json").read_text())
        assert [int(x) for x in r[1:]] == answers["questions"]["conv2d_output"]["answers"]["conv2d.output_shape"]


def test_answers_csv_columns_flatten_numbers_in_a_fixed_order():
    answers = {"questions": {
        "conv1d_dW": {"answers": {"conv1d.df_dW.shape": [1, 3, 1, 5, 3], "conv1d.df_dW.latex": "x"}},
        "conv2d_output": {"answers": {"conv2d.output_shape": [5, 12]}},
        "gated_c_dim": {"answers": {"gated_rnn.c.shape": ["m"]}},  # symbolic: not a number
        "gated_vanishing": {"answers": {"gated_rnn.vanishing": {"size": 32}}},  # a record: left to answers.json
        "loss_start": {"answers": {"loss_curves.initial_loss": 1.3862943611198906, "flag": True}},
    }}
    row = batch.numeric_answers(answers)
    assert batch.columns([row]) == [
        "conv2d_output:conv2d.output_shape[0]", "conv2d_output:conv2d.output_shape[1]",
        *(f"conv1d_dW:conv1d.df_dW.shape[{i}]" for i in range(5)), "loss_start:loss_curves.initial_loss"]
    # [10] sorts after [9]; the order comes from the names, not from which student came first.
    names = ["conv2d_output:k[10]", "conv2d_output:k[9]", "conv1d_output:a", "conv2d_output:k[0]"]
    assert batch.columns([dict.fromkeys(names, 1)]) == [
        "conv2d_output:k[0]", "conv2d_output:k[9]", "conv2d_output:k[10]", "conv1d_output:a"]
    text = batch.csv_text([("a", {"x:y": 1.5}), ("b", {"x:y": 1.5}), ("c", {})])
    assert text == "id,x:y\na,1.5\nb,1.5\nc,\n"
    assert batch.distinct_tuples([("a", {"x:y": 1.5}), ("b", {"x:y": 1.5}), ("c", {})]) == 2


def test_folder_names_are_safe_and_distinct():
    assert batch.folder_name("s001") == "s001"
    names = {batch.folder_name(i) for i in ("José", "Jos_", "a/b", "a_b", "manifest.json", "..", "a b")}
    assert len(names) == 7 and all(n and "/" not in n and "." not in n for n in names)


# --------------------------------------------------------------------------- re-runs and failures


def test_a_rerun_rebuilds_only_what_changed(inputs, fake_latex, capsys):
    assert cli.main(args(inputs)) == 0
    assert len(fake_latex) == 8  # four keys, four handouts
    assert cli.main(args(inputs)) == 0
    assert len(fake_latex) == 8 and "0 built, 4 unchanged" in capsys.readouterr().out
    out = inputs["out"]
    with open(out / "s3" / "hw2_theory.tex", "a") as f:  # edited by hand: s3 is built again
        f.write("% edited\n")
    inputs["roster"].write_text(inputs["roster"].read_text().replace("Alan Turing", "Alan M. Turing"))
    before = json.loads((out / "manifest.json").read_text())["students"]
    assert cli.main(args(inputs)) == 0
    assert "2 built, 2 unchanged" in capsys.readouterr().out
    assert sorted({name for name, _ in fake_latex[8:]}) == ["fall2025-s3", "fall2025-s4"]
    after = json.loads((out / "manifest.json").read_text())["students"]
    assert after[:2] == before[:2] and after[3]["name"] == "Alan M. Turing"


def test_one_failing_student_is_reported_and_the_others_are_built(inputs, fake_latex, monkeypatch, capsys):
    real_run = build.run

    def run(v, *a, **kw):
        if v.document.student == "José Núñez":
            raise RuntimeError("injected\nsecond line")
        return real_run(v, *a, **kw)

    monkeypatch.setattr(build, "run", run)
    assert cli.main(args(inputs)) == 1
    captured = capsys.readouterr()
    assert "3 built, 1 failed" in captured.out
    assert captured.err == "failed: s2: RuntimeError: injected\n"
    m = json.loads((inputs["out"] / "manifest.json").read_text())
    assert [e["id"] for e in m["students"]] == ["s1", "s3", "s4"]
    assert m["failed"] == [{"id": "s2", "reason": "RuntimeError: injected"}]
    assert not (inputs["out"] / "s2").exists()
    assert [r.split(",")[0] for r in (inputs["out"] / "answers.csv").read_text().splitlines()] == ["id", "s1", "s3", "s4"]
    # A failed compile is a failure of that student only, too; a re-run retries it.
    monkeypatch.setattr(build, "run", real_run)
    write = build.write

    def failing_write(outcome, out_dir, *, key=True, **kw):
        if outcome.variant.name == "fall2025-s2" and build.audience_of(key).name == "handout":
            raise batch.ToolError("LaTeX failed on hw2_theory_handout.tex: ! Emergency stop.")
        return write(outcome, out_dir, key=key, **kw)

    monkeypatch.setattr(build, "write", failing_write)
    assert cli.main(args(inputs)) == 1
    captured = capsys.readouterr()
    assert "0 built, 3 unchanged, 1 failed" in captured.out
    assert captured.err == "failed: s2: LaTeX failed on hw2_theory_handout.tex: ! Emergency stop.\n"
    assert not (inputs["out"] / "s2").exists() and not list(inputs["out"].glob(".s2-*"))  # nothing half-made
    monkeypatch.setattr(build, "write", write)
    assert cli.main(args(inputs)) == 0
    assert "1 built, 3 unchanged;" in capsys.readouterr().out


def test_progress_is_a_counter_on_a_terminal_and_silent_otherwise(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain counter, whether or not tqdm is installed

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = batch.Progress(2, stream=stream)
    bar.update("s1"), bar.update("s2 failed"), bar.close()
    assert stream.getvalue() == "\r1/2 students (s1)\x1b[K\r2/2 students (s2 failed)\x1b[K\n"
    quiet = io.StringIO()
    bar = batch.Progress(2, stream=quiet)
    bar.update("s1"), bar.close()
    assert quiet.getvalue() == ""


# --------------------------------------------------------------------------- answers.json: questions


def test_questions_table_lists_the_asked_questions_in_order_with_labels_and_points(outcomes):
    for preset in ("fall2025", "fall2024"):
        outcome = outcomes[preset]
        answers = build.answers(outcome)
        table = answers["questions"]
        assert list(table) == [q.id for q in outcome.variant.questions]
        assert [e["points"] for e in table.values()] == [q.points for q in outcome.variant.questions]
        for qid, entry in table.items():
            assert all(answers[k] == v for k, v in entry["answers"].items()), qid
        tex = build.source(outcome)
        for number in {e["label"].split("(")[0] for e in table.values()}:  # the sections' printed numbers
            assert f"{number}\\quad" in tex
    t25 = build.answers(outcomes["fall2025"])["questions"]
    t24 = build.answers(outcomes["fall2024"])["questions"]
    assert t25["conv2d_output"] == {"label": "1.1(a)", "points": 1, "answers": {
        "conv2d.output_shape": [5, 2], "conv2d.output_shape.latex": r"5 \times 2"}}
    assert (t25["conv1d_dW"]["label"], t25["conv1d_dW"]["points"]) == ("1.1(c)(ii)", 3)
    assert (t24["conv1d_dW"]["label"], t24["conv1d_dW"]["points"]) == ("1.1(c)(ii)", 4)
    assert (t24["attn_dl_dhprev"]["label"], t24["attn_dl_dhprev"]["points"]) == ("1.2.2(d)", 5)
    assert (t25["gated_vanishing"]["label"], t24["gated_vanishing"]["label"]) == ("1.2.1(d)", "1.2.1(e)")
    assert "gated_jacobians" not in t25 and list(t24["gated_jacobians"]["answers"]) == [
        "gated_rnn.dc_dhprev.shape", "gated_rnn.dc_dhprev.latex", "gated_rnn.dh_dhprev.shape",
        "gated_rnn.dh_dhprev.latex"]
    assert t25["gated_diagram"]["answers"] == {}  # a drawing


def test_questions_table_follows_what_the_edition_asks(tmp_path):
    v = variant.load(small_variant(tmp_path, "conv2d_output = 2\nconv1d_output = 1\nconv1d_dx = 3\n"))
    assert build.question_labels(v) == {"conv2d_output": ("1.1(a)", 2), "conv1d_output": ("1.1(b)(i)", 1),
                                        "conv1d_dx": ("1.1(b)(ii)", 3)}
    assert build.section_numbers(build.registry_mod.default()) == {
        "cnn": "1.1", "rnn": "1.2", "gated_rnn": "1.2.1", "attention_rnn": "1.2.2", "loss_curves": "1.3"}


def test_questions_table_refuses_an_answer_a_group_does_not_give(tmp_path):
    v = variant.load(small_variant(tmp_path, "conv2d_output = 1\n"))
    outcome = build.run(v)
    result = outcome.groups["conv2d"]
    wrong = dataclasses.replace(result.presentation, questions={"conv2d_output": ("conv2d.nothing",)})
    groups = {**outcome.groups, "conv2d": dataclasses.replace(result, presentation=wrong)}
    with pytest.raises(DerivationError, match=r"conv2d: present failed: .*names conv2d.nothing, not among"):
        build.answers(dataclasses.replace(outcome, groups=groups))


# --------------------------------------------------------------------------- with LaTeX


def _build_class(folder: Path) -> tuple[dict, int]:
    """The class's inputs, and the exit status of the CLI that built it (in the worker)."""
    roster = folder / "roster.csv"
    roster.write_text("id,name,seed\ns001,Ada Lovelace,\ns002,Łukasz Wałęsa,5\ns003,Zoë O'Brien,\n", "utf-8")
    secret = folder / "course.secret"
    secret.write_text(SECRET + "\n")
    inp = {"roster": roster, "variant": small_variant(folder, "conv2d_output = 1\nconv1d_output = 1\n"),
           "secret": secret, "out": folder / "class"}
    return inp, in_worker(cli.main, args(inp, "--jobs", "2"))


CLASS = Background(_build_class, fixture="compiled_class")


@pytest.fixture(scope="module")
def compiled_class():
    """Three students compiled for real (key and handout), shared by the tests below."""
    inp, status = CLASS.result()
    assert status == 0
    return inp


@pytest.mark.latex
def test_a_compiled_class_has_every_students_documents(compiled_class):
    out = compiled_class["out"]
    m = json.loads((out / "manifest.json").read_text())
    assert [e["id"] for e in m["students"]] == ["s001", "s002", "s003"] and m["failed"] == []
    for e in m["students"]:
        folder = out / e["folder"]
        for name in ("hw2_theory.pdf", "hw2_theory_handout.pdf"):
            assert (folder / name).read_bytes().startswith(b"%PDF")
        assert e["name"].split()[0] in (folder / "hw2_theory.tex").read_text("utf-8")
    header = (out / "answers.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["id", "conv2d_output:conv2d.output_shape[0]", "conv2d_output:conv2d.output_shape[1]"]
    assert header[3:] == ["conv1d_output:conv1d.output_shape[0]", "conv1d_output:conv1d.output_shape[1]"]


@pytest.mark.latex
def test_rebuild_of_one_student_gives_identical_files(compiled_class, tmp_path, capsys):
    out = compiled_class["out"]
    again = tmp_path / "again"
    assert cli.main(["rebuild", str(out / "manifest.json"), "--id", " s002", "--out", str(again),
                     "--secret", str(compiled_class["secret"])]) == 0
    printed = capsys.readouterr().out
    assert "rebuilt s002" in printed and "the deterministic files are identical" in printed
    for name in ("answers.json", "variant.toml", "hw2_theory.tex"):
        assert (again / name).read_bytes() == (out / "s002" / name).read_bytes()
    assert "hw2_theory.pdf: " in printed and "hw2_theory_handout.pdf: " in printed


def test_rebuild_refuses_another_secret_or_an_unknown_id(inputs, fake_latex, tmp_path, capsys):
    assert cli.main(args(inputs)) == 0
    capsys.readouterr()
    manifest = str(inputs["out"] / "manifest.json")
    other = tmp_path / "other.secret"
    other.write_text("f" * 64)
    assert cli.main(["rebuild", manifest, "--id", "s1", "--out", str(tmp_path / "r"), "--secret", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the manifest's" in err and "f" * 16 not in err
    assert cli.main(["rebuild", manifest, "--id", "s9", "--out", str(tmp_path / "r"),
                     "--secret", str(inputs["secret"])]) == 2
    assert capsys.readouterr().err == f"error: {manifest}: no student with id 's9'\n"
    assert not (tmp_path / "r").exists()


def test_rebuild_reports_a_deterministic_file_that_differs(inputs, fake_latex, tmp_path, capsys):
    assert cli.main(args(inputs)) == 0
    path = inputs["out"] / "manifest.json"
    m = json.loads(path.read_text())
    m["students"][0]["files"]["answers.json"] = "0" * 64
    path.write_text(json.dumps(m))
    capsys.readouterr()
    assert cli.main(["rebuild", str(path), "--id", "s1", "--out", str(tmp_path / "r"),
                     "--secret", str(inputs["secret"])]) == 1
    printed = capsys.readouterr().out
    assert "answers.json: DIFFERS from the manifest" in printed and "variant.toml: identical" in printed
    assert "1 deterministic file(s) differ" in printed


def _build_class_again(tmp_path: Path) -> tuple[dict, int]:
    """The class of CLASS built again, after it: the inputs, and the CLI's exit status (in the worker)."""
    first, _ = CLASS.result()
    # The inputs copied into another folder: where the files lie must not reach any output.
    again = {"out": tmp_path / "again"}
    for key in ("roster", "variant", "secret"):
        again[key] = tmp_path / first[key].name
        again[key].write_bytes(first[key].read_bytes())
    return again, in_worker(cli.main, args(again, "--jobs", "2"))


CLASS_AGAIN = Background(_build_class_again, after=(CLASS,))


@pytest.mark.latex
@CLASS_AGAIN
def test_a_class_built_twice_is_byte_identical(compiled_class):
    """The same roster, variant and secret (copied into another folder) built again into another
    folder, with the same cache folder (figures and the format reused), gives the same bytes:
    answers.csv, manifest.json and every student's files, PDFs and verification.npz included."""
    first = compiled_class["out"]
    again, status = CLASS_AGAIN.result()
    assert status == 0
    second = again["out"]
    for name in ("answers.csv", "manifest.json"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name
    m = json.loads((first / "manifest.json").read_text("utf-8"))
    assert len(m["students"]) == 3
    for e in m["students"]:
        names = sorted(p.name for p in (first / e["folder"]).iterdir())
        assert names == sorted(p.name for p in (second / e["folder"]).iterdir())
        assert {"hw2_theory.pdf", "hw2_theory.tex", "answers.json", "verification.npz"} <= set(names)
        for name in names:
            assert (second / e["folder"] / name).read_bytes() == (first / e["folder"] / name).read_bytes(), \
                f"{e['id']}/{name}"


def test_experiments_run_ahead_once_per_distinct_setting(tmp_path):
    """The class's cached experiments are run ahead in a worker, once per setting, into the cache."""
    import importlib

    exp = importlib.import_module("derivations.groups.loss_curves.experiment")
    v = variant.load("fall2025")
    short = dataclasses.replace(v.params["loss_curves"], steps=30, seeds=2, eval_batch=40)
    a = v.with_params(loss_curves=short)
    b = v.with_params(loss_curves=dataclasses.replace(short, classes=10))
    workers, ahead = batch.start_experiments([a, b, a], tmp_path)
    try:
        for f in ahead.values():
            f.result()
    finally:
        workers.shutdown()
    assert sorted(k[1].classes for k in ahead) == [4, 10]
    assert batch.experiments_of(b, ahead) == [ahead[("loss_curves", b.params["loss_curves"])]]
    for x in (a, b):
        assert exp.cache_path(x.params["loss_curves"], tmp_path).exists()
        assert exp.experiment(x.params["loss_curves"], 0, tmp_path).cache_hit  # the student's call reads it
    # Variants that ask no cached experiment run nothing ahead.
    assert batch.start_experiments([], tmp_path) == (None, {})


def test_warm_fills_the_caches_once_per_group_and_params(monkeypatch):
    """While a class waits for its experiments, warm derives, checks and presents the groups that need
    none, once per (group, params), and never runs a cached experiment itself."""
    import importlib

    exp = importlib.import_module("derivations.groups.loss_curves.experiment")
    monkeypatch.setattr(exp, "run_all", lambda *a: pytest.fail("warm ran the cached experiment"))
    v = variant.load("fall2025")
    done: set = set()
    batch.warm(v, done)
    names = {name for name, _ in done}
    assert "loss_curves" not in names and {"conv2d", "conv1d", "attention_rnn", "gated_rnn"} <= names
    before = set(done)
    batch.warm(v, done)
    assert done == before
