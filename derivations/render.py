"""Jinja2 LaTeX templates and the TeX Live compile.

Templates use delimiters that cannot clash with LaTeX (``((* *))`` for blocks,
``((( )))`` for values, ``((= =))`` for comments), ``StrictUndefined`` so a
missing value is an error rather than an empty string, and receive ready
strings and numbers only. User prose passes through the ``escape_tex`` filter.
LaTeX runs without shell escape.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from importlib import resources
from typing import Any, Mapping, Sequence

import jinja2

from . import texrun
from .errors import ToolError
from .latex import escape

MAIN_TEMPLATE = "hw2_theory.tex.j2"
OVERFULL_LIMIT_PT = 10.0


def document_templates() -> Path:
    """The document-level templates: package data of ``derivations.templates``.

    An installed package has them there; an editable install of a source
    checkout finds the top-level ``templates/`` folder they come from.
    """
    try:
        return Path(str(resources.files("derivations.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def environment(group_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """Jinja2 with LaTeX-safe delimiters over the document templates and each group's own.

    One environment per list of folders in a process, so each template is compiled once (a class
    renders hundreds of documents from the same templates); an edited template file is reloaded
    (Jinja2 compares its modification time).
    """
    return _environment(tuple(str(d) for d in (document_templates(), *group_dirs)))


@functools.lru_cache(maxsize=16)
def _environment(dirs: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dirs)),
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["escape_tex"] = escape
    return env


def render(context: Mapping[str, Any], group_dirs: Sequence[Path] = (), template: str = MAIN_TEMPLATE) -> str:
    """Render the document's LaTeX source from a ready context."""
    return environment(group_dirs).get_template(template).render(**context)


@dataclass(frozen=True)
class CompileResult:
    pdf: Path
    log: Path
    overfull: tuple[float, ...]  # widths in pt of every overfull hbox
    pages: int = 0  # as the log reports it
    run: "texrun.TexRun | None" = None  # passes, figures made and reused, format used


def latex_available() -> bool:
    return texrun.available()


def overfull_boxes(log_text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log_text))


def compile_pdf(tex_file: Path, cache_dir: Path | None = None, *, jobs: int = 1) -> CompileResult:
    """Compile ``tex_file`` in its own folder with pdflatex (no shell escape), reusing the caches of
    :mod:`derivations.texrun` in ``cache_dir`` (default: a private cache in the document's folder)."""
    run = texrun.compile(tex_file, cache_dir if cache_dir is not None else tex_file.parent / ".texcache", jobs=jobs)
    written = re.findall(r"Output written on .*?\((\d+) pages?", run.log_text)
    return CompileResult(tex_file.with_suffix(".pdf"), tex_file.with_suffix(".log"), overfull_boxes(run.log_text),
                         int(written[-1]) if written else 0, run)


_JINJA = re.compile(r"\(\(\(.*?\)\)\)|\(\(\*.*?\*\)\)|\(\(=.*?=\)\)")


def locate(tex_line: str, group_dirs: Sequence[Path] = ()) -> tuple[str, int] | None:
    """The template file and line that wrote ``tex_line`` (the longest literal text they share).

    Templates write their own text verbatim and values in between; the line of
    a template whose literal pieces (Jinja tags removed) best cover the LaTeX
    line is where it came from. None when no piece of 6 or more characters
    matches (the line is all values).
    """
    line = tex_line.strip()
    best: tuple[int, str, int] | None = None
    for root in [document_templates(), *group_dirs]:
        for path in sorted(root.rglob("*.tex.j2")):
            for number, text in enumerate(path.read_text("utf-8").splitlines(), 1):
                pieces = [p.strip() for p in _JINJA.split(text) if p and len(p.strip()) >= 6]
                score = sum(len(p) for p in pieces if p in line)
                if score and (best is None or score > best[0]):
                    best = (score, str(path.relative_to(root)), number)
    return None if best is None else (best[1], best[2])

