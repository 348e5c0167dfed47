"""The TeX runner's caches: figures named by content, compiled once and reused; a precompiled
preamble; one pass when the cross references are known; stored outcomes reused only for the same
variant and code."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from derivations import build, texrun, variant
from derivations.errors import ToolError

from conftest import Background

SMALL = r"""\documentclass{article}
\usepackage{tikz}
\usetikzlibrary{external}
\csname endofdump\endcsname
\tikzexternalize[mode=graphics if exists, only named=true, prefix=figures/]
\begin{document}
\section{One}\label{sec:one}
See section~\ref{sec:one}.
\begin{tikzpicture}\draw (0,0) -- (PICTURE,1);\end{tikzpicture}
\end{document}
"""


def _doc(folder: Path, picture: str = "1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text, names = texrun.name_figures(SMALL.replace("PICTURE", picture))
    assert len(names) == 1
    tex = folder / "small.tex"
    tex.write_text(text, "utf-8")
    return tex


def test_figure_names_follow_the_picture_and_the_data_it_reads():
    pic = r"\begin{tikzpicture}\addplot table {data.dat};\end{tikzpicture}"
    other = r"\begin{tikzpicture}\draw (0,0) -- (1,1);\end{tikzpicture}"
    doc = "\\documentclass{article}\n\\begin{document}\n" + pic + other + "\n\\end{document}\n"
    _, (a, b) = texrun.name_figures(doc, {"data.dat": "1 2\n"})
    _, (a2, b2) = texrun.name_figures(doc, {"data.dat": "1 3\n"})
    _, (a3, b3) = texrun.name_figures(doc.replace("article", "report"), {"data.dat": "1 2\n"})
    assert a != a2 and b == b2  # only the picture that reads the data changes
    assert a3 != a and b3 != b  # the preamble (fonts, sizes) is part of every name
    text, _ = texrun.name_figures(doc, {"data.dat": "1 2\n"})
    assert text.count(r"\tikzsetnextfilename{fig-") == 2


# The compiles below run in the suite's worker process from the start of the session
# (conftest.Background); the tests wait for them and check what each compile did.


def _three_compiles(tmp_path: Path) -> tuple[Path, texrun.TexRun, texrun.TexRun, texrun.TexRun]:
    """A document, the same one in another folder, then one with another picture: one cache."""
    cache = tmp_path / "cache"
    first = texrun.compile(_doc(tmp_path / "a"), cache)
    second = texrun.compile(_doc(tmp_path / "b"), cache)
    changed = texrun.compile(_doc(tmp_path / "c", picture="2"), cache)
    return tmp_path, first, second, changed


THREE_COMPILES = Background(_three_compiles, process=True)


@pytest.mark.latex
@THREE_COMPILES
def test_second_compile_reuses_figure_format_and_cross_references():
    tmp_path, first, second, changed = THREE_COMPILES.result()
    assert first.figures_made == 1 and first.figures_reused == 0 and first.passes == 2
    assert first.format_used == texrun.has_mylatexformat()
    assert second.figures_made == 0 and second.figures_reused == 1 and second.passes == 1
    assert (tmp_path / "b" / "small.pdf").read_bytes().startswith(b"%PDF")
    assert "??" not in second.log_text  # the reference resolved in one pass
    assert changed.figures_made == 1


def _broken_figure(tmp_path: Path) -> texrun.TexRun:
    return texrun.compile(_doc(tmp_path / "a", picture=r"\undefinedmacro"), tmp_path / "cache")


BROKEN_FIGURE = Background(_broken_figure, process=True)


@pytest.mark.latex
@BROKEN_FIGURE
def test_a_broken_figure_is_a_tool_error():
    with pytest.raises(ToolError, match="LaTeX failed on a figure of small.tex"):
        BROKEN_FIGURE.result()


def test_a_stored_outcome_is_reused_only_for_the_same_variant(tmp_path):
    v = variant.load("fall2025")
    small = variant.replace(v, questions=tuple(q for q in v.questions if q.id == "conv2d_output"))
    first = build.run(small, cache_dir=tmp_path, reuse=True)
    registry = first.registry
    conv2d = registry.group("conv2d")

    def broken(params):
        raise RuntimeError("derive must not run again")

    patched = type(registry)([dataclasses.replace(g, derive=broken) if g is conv2d else g for g in registry])
    again = build.run(small, registry=patched, cache_dir=tmp_path, reuse=True)
    assert again.groups["conv2d"].presentation == first.groups["conv2d"].presentation
    other = variant.replace(small, seed=small.seed + 1)
    with pytest.raises(Exception, match="derive must not run again"):
        build.run(other, registry=patched, cache_dir=tmp_path, reuse=True)


XREF = r"""\documentclass{article}
\begin{document}
FILLER
\begin{figure}[h]\centering\fbox{A}\caption{CAPTION}\label{fig:a}\end{figure}
See figure~\ref{fig:a}REFPAGE.
AFTER
\end{document}
"""


def _xref(folder: Path, filler: str = "", caption: str = "One", pageref: bool = False, after: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tex = folder / "xref.tex"
    tex.write_text(XREF.replace("FILLER", filler).replace("CAPTION", caption).replace("AFTER", after)
                   .replace("REFPAGE", r" on page~\pageref{fig:a}" if pageref else ""), "utf-8")
    return tex


# Compiled in this order with one cache: each document's folder and _xref's arguments.
XREF_SEQUENCE = {
    "a": {},
    "b": {"filler": "Some words.", "caption": "Two"},
    "b2": {"filler": r"\null\newpage"},
    "c": {"filler": r"\begin{figure}[h]\caption{x}\end{figure}"},
    "d": {"after": r"\newpage\null"},
    "e": {"filler": r"\null\newpage"},
    "f": {"after": r"\newpage\null", "pageref": True},
    "g": {"filler": r"\null\newpage", "pageref": True},
}


def _xref_passes(tmp_path: Path) -> dict[str, int]:
    """The passes each document of XREF_SEQUENCE took, compiled in order with one cache."""
    cache = tmp_path / "cache"
    return {name: texrun.compile(_xref(tmp_path / name, **kw), cache).passes for name, kw in XREF_SEQUENCE.items()}


XREF_PASSES = Background(_xref_passes, process=True)


@XREF_PASSES
def test_one_pass_when_only_what_the_document_does_not_read_changed():
    passes = XREF_PASSES.result()
    assert passes["a"] == 2  # nothing known yet
    # Another caption and more text: the reference reads only the figure's number.
    assert passes["b"] == 1
    # One more page: the last page changed, which only the kernel's lastpage hook reads, and the
    # documents leave it empty (test_the_key_does_not_read_its_last_page).
    assert passes["b2"] == 1
    # A figure before it changes the number: a second pass.
    assert passes["c"] == 2
    # A document that prints the page does read it.
    # The figure on page 2 instead of 1 (after "d"), as many pages: one pass, unless the document
    # prints the page ("g", after "f").
    assert passes["e"] == 1
    assert passes["g"] == 2


def test_aux_signature_keeps_numbers_and_anchors():
    aux = (b"\\relax\n\\@writefile{lof}{\\contentsline {figure}{1}{2}}\n"
           b"\\newlabel{fig:a}{{1}{2}{A {nested} title}{figure.1}{}}\n\\gdef \\@abspage@last{2}\n")
    sig = texrun.aux_signature(aux, "")
    assert sig == b"\\relax\n\\newlabel{fig:a}{{1}{}{}{figure.1}{}}"
    assert b"{2}{A {nested} title}" in texrun.aux_signature(aux, r"\pageref{fig:a} \nameref{fig:a}")


@pytest.mark.latex
def test_the_key_does_not_read_its_last_page(compiled, tmp_path):
    """aux_signature ignores \\@abspage@last: the key compiled with a wrong last page is the same PDF."""
    import os
    import subprocess

    folder, _ = compiled[("fall2025", "key")]
    work = tmp_path / "key"
    work.mkdir()
    for f in folder.iterdir():
        if f.suffix in (".tex", ".dat"):
            (work / f.name).write_bytes(f.read_bytes())
    tex = work / "hw2_theory.tex"
    texrun.compile(tex, tmp_path / "cache")
    right = tex.with_suffix(".pdf").read_bytes()
    aux = tex.with_suffix(".aux").read_text("utf-8")
    assert "\\@abspage@last{" in aux
    wrong = re.sub(r"\\@abspage@last\{\d+\}", r"\\@abspage@last{1}", aux)
    assert wrong != aux
    tex.with_suffix(".aux").write_text(wrong, "utf-8")
    fmt = [f.stem for f in work.glob("*.fmt")]
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-no-shell-escape", *(f"-fmt={n}" for n in fmt[:1]),
                    tex.name], cwd=work, capture_output=True, check=True, env={**os.environ, **texrun._ENV})
    assert tex.with_suffix(".pdf").read_bytes() == right
