"""Names in every script the documents support: Latin with accents, Greek, Cyrillic and CJK.

``latex.escape`` wraps each run of Greek, Cyrillic or CJK text in what sets it
(LGR, T2A, a CJK environment), the preamble loads those fonts only for a
document that holds such a name, and the variant's ``Text`` rule refuses a
character no font has, naming the field, the character and its code point,
before anything is derived.
"""
from __future__ import annotations

import dataclasses
import subprocess

import pytest
from pylatex.utils import escape_latex

from derivations import build, cli, glyphs, latex, student, variant
from derivations.errors import VariantError

from conftest import Background

GREEK = "Σωκράτης Παπαδόπουλος"
CYRILLIC = "Пётр Чайковский"
CHINESE = "李小龙"
JAPANESE = "山田 花子"
KANA = "やまだ はなこ"
KOREAN = "김민준"
LATIN = "José Ñúñez Łukasz Dvořák"
HOSTILE = [r"\input{/etc/passwd}", r"\immediate\write18{touch pwned}", "# $ % & ~ _ ^ { } \\",
           r"\def\x{\x}\x", r"end}\end{document}", "a\u00a0b [c] -- d"]
ALLOWED = "allowed: Latin, Greek, Cyrillic, CJK"


def test_escape_wraps_each_run_of_another_script():
    assert latex.escape(GREEK) == r"{\fontencoding{LGR}\selectfont Σωκράτης Παπαδόπουλος}"
    assert latex.escape(CYRILLIC) == r"{\fontencoding{T2A}\selectfont Пётр Чайковский}"
    assert latex.escape(CHINESE) == r"\begin{CJK}{UTF8}{gbsn}\hwcjkbold 李小龙\end{CJK}"
    assert latex.escape(KANA) == r"\begin{CJK}{UTF8}{min}\hwcjkbold やまだ はなこ\end{CJK}"
    assert latex.escape(KOREAN) == r"\begin{CJK}{UTF8}{nanummj}김민준\end{CJK}"  # a bold face of its own
    assert latex.escape("陳大文") == r"\begin{CJK}{UTF8}{bsmi}\hwcjkbold 陳大文\end{CJK}"  # traditional: Big5
    # Specials stay outside the runs and are escaped as before.
    assert latex.escape("Σωκράτης & Пётр_1 {李}") == (
        r"{\fontencoding{LGR}\selectfont Σωκράτης} \& {\fontencoding{T2A}\selectfont Пётр}\_1 "
        r"\{\begin{CJK}{UTF8}{gbsn}\hwcjkbold 李\end{CJK}\}")


@pytest.mark.parametrize("text", HOSTILE + [LATIN, "Zoë Ægir Østergaard, Ömer Yılmaz: 100% €5 “quoted” — ok"])
def test_latin_and_hostile_text_is_escaped_exactly_as_before(text):
    assert latex.escape(text) == str(escape_latex(text))
    assert latex.scripts(text) == ()


def test_escape_takes_text_in_nfc_and_never_breaks_on_an_unknown_character():
    assert latex.escape("Jose\u0301") == "José"
    assert latex.escape("a😀b") == "a{[}U+1F600{]}b"  # the Text rule refuses it long before


def test_scripts_lists_the_scripts_other_than_latin():
    assert latex.scripts(LATIN, "Fall 2025") == ()
    assert latex.scripts(CYRILLIC, KOREAN, GREEK) == ("greek", "cyrillic", "cjk")


def _base_with(**fields: str) -> str:
    """The default preset's TOML with some ``[document]`` keys set."""
    text = variant.load("fall2025").text
    head, sep, rest = text.partition("[document]")
    table, sep2, tail = rest.partition("\n[")
    lines = [line for line in table.split("\n") if line.split(" = ")[0] not in fields]
    lines[1:1] = [f'{key} = "{value}"' for key, value in fields.items()]
    return head + sep + "\n".join(lines) + sep2 + tail


@pytest.mark.parametrize("key, value, char", [
    ("title", "Homework 😀", "😀"), ("course", "ሰላም Ethiopic", "ሰ"), ("term", "Fall\u200b2025", "\u200b"),
    ("student", "Zoe q\u0303", "\u0303"),
])
def test_a_character_no_font_has_is_refused_with_its_field_and_code_point(key, value, char):
    with pytest.raises(VariantError) as info:
        variant.parse(_base_with(**{key: value}), "v.toml")
    assert str(info.value) == (f"v.toml: document.{key} = {value!r}: character {char!r} "
                               f"(U+{ord(char):04X}) cannot be typeset; {ALLOWED}")


def test_every_supported_script_and_decomposed_accents_are_accepted():
    v = variant.parse(_base_with(title=f"{GREEK} {CHINESE}", course=CYRILLIC, term=f"{JAPANESE} · {KANA}",
                                 student=f"{KOREAN}, Jose\u0301 N\u0303u\u0301n\u0303ez"), "v.toml")
    assert v.document.course == CYRILLIC
    with pytest.raises(VariantError, match="control characters"):
        variant.parse(_base_with(term="a\u0085b"), "v.toml")  # C1 controls are control characters too


def test_a_students_printed_name_goes_through_the_same_rule():
    base = variant.load("fall2025")
    drawn = student.draw(base, "s001", secret=b"x" * 32, name=f"{KOREAN} {GREEK}")
    assert drawn.document.student == f"{KOREAN} {GREEK}"
    with pytest.raises(VariantError) as info:
        student.draw(base, "s001", secret=b"x" * 32, name="Ada 😀")  # what a roster's name column goes through
    assert str(info.value) == f"<arguments>: --name = 'Ada 😀': character '😀' (U+1F600) cannot be typeset; {ALLOWED}"


def test_the_cli_refuses_before_any_derivation(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text(_base_with(title="Key 😀"), "utf-8")
    monkeypatch.setattr(build, "run", lambda *a, **k: pytest.fail("derived a variant that cannot be typeset"))
    assert cli.main(["build", "--variant", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}: document.title = 'Key 😀': character '😀' (U+1F600) cannot be typeset; {ALLOWED}\n"
    assert not (tmp_path / "out").exists()


def test_a_latin_document_loads_nothing_more(outcomes):
    text = build.source(outcomes["fall2025"], key="handout")
    assert "CJKutf8" not in text and "LGR" not in text


@pytest.mark.latex
def test_names_in_every_script_print_literally(outcomes, tmp_path):
    """One handout (two short questions) whose title, course, term and student hold every script."""
    fall = outcomes["fall2025"]
    doc = dataclasses.replace(fall.variant.document, handout_title=f"{GREEK} {CHINESE}", course=CYRILLIC,
                              term=f"{JAPANESE} {KANA}", student=f"{KOREAN}, {LATIN}")
    v = variant.replace(fall.variant, document=doc,
                        questions=(variant.Question("conv2d_output", 1), variant.Question("conv1d_output", 1)))
    context = build.document_context(build.Outcome(v, fall.registry, fall.groups), key="handout")
    assert context.get("scripts") == ("greek", "cyrillic", "cjk"), (
        "build.document_context must pass scripts=latex.scripts(<title>, course, term, student, variant name)")
    report = build.write(build.Outcome(v, fall.registry, fall.groups), tmp_path, key="handout")
    pdf = tmp_path / "hw2_theory_handout.pdf"
    assert pdf in report.files
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    for name in (GREEK, CYRILLIC, CHINESE, JAPANESE, KANA, KOREAN, LATIN):
        assert name in text, (name, text[:400])
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Type 3" not in fonts  # every glyph from a Type 1 font: no bitmaps, text that can be copied


def _measure_glyphs(_folder):
    return glyphs.measure()  # a pdflatex probe of every candidate character, in the worker process


MEASURED_GLYPHS = Background(_measure_glyphs, process=True)


@pytest.mark.latex
@MEASURED_GLYPHS
def test_the_glyph_tables_match_the_installed_fonts():
    """The tables escape and the Text rule read are what this TeX Live sets (``python -m derivations.glyphs``)."""
    tables, cjk = MEASURED_GLYPHS.result()
    assert tables == glyphs._TABLES, "regenerate: python -m derivations.glyphs"
    assert all(cjk[f] == glyphs._cjk(f) for f in glyphs.CJK_FONTS), "regenerate: python -m derivations.glyphs"
