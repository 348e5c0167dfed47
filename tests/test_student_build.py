"""Drawn variants through the pipeline, and the command line with --student, --secret, --name.

Only the questions of the groups this suite varies and can build in seconds are
asked (1.1 and 1.2.1): the other sections are the same for every student here.
"""
from __future__ import annotations

import dataclasses

import pytest

from derivations import build, cli, registry, student, variant

SECRET = b"a-course-secret-for-the-tests-0123456789"
GROUPS = ("conv2d", "conv_general", "conv1d", "gated_rnn")
STUDENTS = ("s001", "s002", "Ada Lovelace")


def fast(v: variant.Variant) -> variant.Variant:
    """``v`` asking only the questions of :data:`GROUPS`."""
    reg = registry.default()
    return dataclasses.replace(v, questions=tuple(q for q in v.questions if reg.owner(q.id).name in GROUPS))


@pytest.fixture(scope="module")
def drawn(fall2025):
    """Each student's variant (printed name "Name <id>") and its derive -> check -> present outcome."""
    out = {}
    for sid in STUDENTS:
        v = student.draw(fast(fall2025), sid, secret=SECRET, name=f"Name {sid}")
        out[sid] = (v, build.run(v))
    return out


def test_drawn_variants_derive_and_verify(drawn):
    seen = set()
    for sid, (v, outcome) in drawn.items():
        assert set(outcome.groups) == set(GROUPS)
        assert outcome.checks and all(c.passed for c in outcome.checks), sid
        answers = build.answers(outcome)
        seen.add((tuple(answers["conv2d.output_shape"]), tuple(answers["conv1d.df_dx.shape"])))
        # The instance of the numeric checks has the student's sizes.
        arrays = outcome.groups["gated_rnn"].verification.arrays
        assert arrays["gated_rnn.x"].shape == (v.gated_rnn.steps, v.gated_rnn.n)
        assert outcome.groups["conv1d"].verification.arrays["conv1d.x"].shape == (v.conv1d.channels, v.conv1d.length)
    assert len(seen) == len(STUDENTS)


def test_a_handout_prints_the_name_but_never_the_seed_or_the_secret(drawn):
    v, outcome = drawn["s001"]
    handout = build.source(outcome, key="handout")
    solutions = build.source(outcome, key="students")
    staff = build.source(outcome, key="staff")
    for tex in (handout, solutions):
        assert "Name s001" in tex and str(v.seed) not in tex and "seed" not in tex.split(r"\section")[0]
    assert f"(seed {v.seed})" in staff
    for tex in (handout, solutions, staff):
        assert SECRET.decode() not in tex and student.fingerprint(SECRET) not in tex


def test_symbolic_work_is_done_once_per_structure(drawn):
    """In one process: a student's key, solutions and handout share one derivation per group, and
    another student's gated cell reuses the size-independent derivation and its exact checks."""
    reg = registry.default()
    (v1, _), (v2, _) = drawn["s001"], drawn["s002"]
    for name in ("conv2d", "conv1d"):
        group = reg.group(name)
        assert group.derive(v1.params[name]) is group.derive(v1.params[name])
    gated = reg.group("gated_rnn")
    d1, d2 = gated.derive(v1.gated_rnn), gated.derive(v2.gated_rnn)
    assert d1.params != d2.params and d1.dh_dhprev is d2.dh_dhprev and d1.entrywise is d2.entrywise
    c1, c2 = gated.check(d1, None, v1.seed).checks, gated.check(d2, None, v2.seed).checks
    exact = [c for c in c1 if c.method.startswith("exact")]
    assert exact and all(any(c is o for o in c2) for c in exact)  # the same Check objects: made once
    conv1d = reg.group("conv1d")
    d = conv1d.derive(v1.conv1d)
    first, again = conv1d.check(d, None, v1.seed).checks, conv1d.check(d, None, v1.seed).checks
    assert [c for c in again if c.method.startswith("exact")][0] is [c for c in first if c.method.startswith("exact")][0]


# --------------------------------------------------------------------------
# The command line, in a fresh working folder


@pytest.fixture
def folder(tmp_path, monkeypatch, fall2025):
    """A working folder holding ``fast.toml`` (the default edition, 1.1 and 1.2.1 asked)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast.toml").write_text(variant.to_toml(fast(fall2025)), "utf-8")
    return tmp_path


def test_cli_student_round_trip(folder, capsys):
    assert cli.main(["variant", "--variant", "fast.toml", "--student", "s001", "--name", "Ada Lovelace"]) == 0
    first = capsys.readouterr()
    secret = (folder / "course.secret").read_bytes().strip()
    assert first.err.count("\n") == 1 and "course.secret" in first.err  # the notice, once
    v = variant.parse(first.out, "fall2025-s001.toml")
    assert v.name == "fall2025-s001" and v.document.student == "Ada Lovelace"
    assert v == student.draw(variant.load("fast.toml"), "s001", secret=secret, name="Ada Lovelace")
    # Again: the same numbers, no notice; the name changes only the name.
    assert cli.main(["variant", "--variant", "fast.toml", "--student", "s001 ", "--name", "A. L."]) == 0
    second = capsys.readouterr()
    assert second.err == "" and variant.parse(second.out, "s.toml").params == v.params
    # Another secret file: other numbers.
    (folder / "other.secret").write_text("another-secret-value-0123456789\n")
    assert cli.main(["variant", "--variant", "fast.toml", "--student", "s001", "--secret", "other.secret"]) == 0
    other = variant.parse(capsys.readouterr().out, "o.toml")
    assert (other.conv2d, other.conv1d) != (v.conv2d, v.conv1d)
    # check: the student's variant derived and verified; the secret is never printed.
    assert cli.main(["check", "--variant", "fast.toml", "--student", "s001"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("fall2025-s001: ") and "checks passed" in out.out
    for text in (first.out, first.err, second.out, out.out, out.err):
        assert secret.decode() not in text


@pytest.mark.parametrize("args, expected", [
    (["--student", "s001", "--secret", "missing.secret"], "missing.secret: --secret = <missing>: allowed: an existing"),
    (["--student", "   "], "<arguments>: --student = '   ': allowed: a non-empty student id"),
    (["--name", "Ada"], "<arguments>: --name = 'Ada': allowed: only together with --student ID"),
])
def test_cli_bad_student_input_exits_2_with_one_line(folder, capsys, args, expected):
    assert cli.main(["variant", "--variant", "fast.toml", *args]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and expected in out.err
    assert not (folder / "missing.secret").exists()
