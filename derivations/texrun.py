"""Running TeX Live: a precompiled preamble, cached figures, and only the passes needed.

A document's LaTeX pass is dominated by its TikZ/pgfplots pictures and, in a
class set, by reading the same preamble again and again. Three caches, all in
one folder (``cache_dir``, shared across builds, students and years), remove
that work without changing a pixel of the output:

* **Format.** Everything before ``\\csname endofdump\\endcsname`` in the
  preamble is the same for every document; it is precompiled once into a
  format with ``mylatexformat`` (keyed by the hash of that text and of the
  pdfTeX version) and every pass starts from it. Without ``mylatexformat`` the
  document is compiled the plain way.
* **Figures.** Each top-level ``tikzpicture`` is named ``fig-<hash>`` by the hash
  of its source, of the preamble and of every data file it reads
  (:func:`name_figures`). TikZ's ``external`` library, in mode ``graphics if
  exists``, includes ``figures/fig-<hash>.pdf`` when it exists and draws the
  picture otherwise. A missing figure is compiled once, exactly as the
  library's own externalisation job does (the document itself, run under the
  figure's job name, so fonts and line width are the document's), and kept.
* **Cross references.** The ``.aux`` of the last document with the same
  labels (and if possible the same text up to its numbers, :func:`_aux_keys`) is reused: one
  pass when what the document reads back from it is unchanged
  (:func:`aux_signature`), a second only when that changed.

Every run is ``pdflatex -no-shell-escape`` with paranoid ``openin_any`` and
``openout_any``: the format and figures are copied into the document's own
folder, never read from elsewhere.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .errors import ToolError

DUMP_MARK = r"\csname endofdump\endcsname"
FIGURE_DIR = "figures"
MAX_PASSES = 3
_PICTURE = re.compile(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)
# Paranoid file access, no shell escape, and fixed dates: the same source gives the same bytes
# (with \pdftrailerid{} in the preamble, which fixes the document ID).
SOURCE_DATE_EPOCH = "1700000000"  # 2023-11-14, the date every PDF carries
_ENV = {"openout_any": "p", "openin_any": "p", "shell_escape": "f",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "FORCE_SOURCE_DATE": "1"}


@dataclass(frozen=True)
class TexRun:
    """What one compile did: passes run, figures compiled and reused, whether a format was used."""

    passes: int
    figures_made: int
    figures_reused: int
    format_used: bool
    log_text: str


def available() -> bool:
    return shutil.which("pdflatex") is not None


@lru_cache(maxsize=1)
def engine_version() -> str:
    out = subprocess.run(["pdflatex", "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.stdout else "pdflatex"


@lru_cache(maxsize=1)
def has_mylatexformat() -> bool:
    out = subprocess.run(["kpsewhich", "mylatexformat.ltx"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def preamble(text: str) -> str:
    """The part of the source a format holds (empty when the source has no dump mark)."""
    head, mark, _ = text.partition(DUMP_MARK)
    return head if mark else ""


def name_figures(text: str, files: Mapping[str, str] = {}) -> tuple[str, list[str]]:  # noqa: B006 - read only
    """Name every top-level picture ``fig-<hash>``; returns the new source and the names, in order.

    The hash covers the picture's source, the whole preamble (fonts, sizes,
    packages), the TeX engine and every data file (of ``files``) that the
    picture's source names, so a picture is reused exactly when it would be
    drawn the same.
    """
    head = text.partition(r"\begin{document}")[0]
    names: list[str] = []

    def named(match: re.Match[str]) -> str:
        source = match.group(0)
        data = [f"{n}\0{files[n]}" for n in sorted(files) if n in source]
        name = "fig-" + _digest(engine_version(), head, source, *data)[:20]
        names.append(name)
        return rf"\tikzsetnextfilename{{{name}}}" + source

    return _PICTURE.sub(named, text), names


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace",
                          env={**os.environ, **_ENV})


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _once(key: str) -> threading.Lock:
    """A lock per cached item: threads of one process (a class's LaTeX jobs) that need the same
    missing format or figure make it once, the others wait for it (processes may still race: each
    install is atomic)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _place(src: Path, dest: Path) -> None:
    """``src`` (a cached file) at ``dest``: a hard link where possible (a format is several MB), else a copy."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _install(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` atomically (concurrent builds may race for the same file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    os.close(fd)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _format(tex: Path, cache_dir: Path) -> str | None:
    """The name of a format holding ``tex``'s preamble, in ``tex``'s folder (made and cached if needed)."""
    head = preamble(tex.read_text("utf-8"))
    if not head or not has_mylatexformat():
        return None
    name = "hw2-" + _digest(engine_version(), head)[:16]
    cached = cache_dir / "formats" / f"{name}.fmt"
    local = tex.parent / f"{name}.fmt"
    with _once(str(cached)):
        if not cached.exists():
            proc = _run(["pdflatex", "-ini", "-interaction=nonstopmode", "-no-shell-escape", f"-jobname={name}",
                         "&pdflatex", "mylatexformat.ltx", tex.name], tex.parent)
            if proc.returncode != 0 or not local.exists():
                return None  # compile the plain way; the document's own pass reports any real error
            _install(local, cached)
            return name
    if not local.exists():
        _place(cached, local)
    return name


def _figure(tex: Path, name: str, fmt: str | None, cache_dir: Path) -> bool:
    """Put ``figures/<name>.pdf`` beside ``tex``: from the cache, or compiled once. True if compiled."""
    folder = tex.parent / FIGURE_DIR
    folder.mkdir(exist_ok=True)
    cached = cache_dir / FIGURE_DIR / name
    with _once(str(cached)):
        return _make_figure(tex, name, fmt, folder, cached)


def _make_figure(tex: Path, name: str, fmt: str | None, folder: Path, cached: Path) -> bool:
    if cached.with_suffix(".pdf").exists():
        for suffix in (".pdf", ".dpth"):
            if cached.with_suffix(suffix).exists():
                shutil.copyfile(cached.with_suffix(suffix), folder / f"{name}{suffix}")
        return False
    # The document itself, told that its real job is the document: the external library then
    # typesets only this picture, cropped. (A file of its own, because a format re-reads \jobname.)
    text = tex.read_text("utf-8")
    head, mark, body = text.partition(DUMP_MARK)
    marker = rf"\def\tikzexternalrealjob{{{tex.stem}}}"
    job = folder / f"{name}.tex"
    job.write_text(f"{head}{mark}{marker}{body}" if mark else marker + "\n" + text, "utf-8")
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-no-shell-escape",
           f"-jobname={FIGURE_DIR}/{name}"] + ([f"-fmt={fmt}"] if fmt else []) + [f"{FIGURE_DIR}/{name}.tex"]
    proc = _run(cmd, tex.parent)
    made = folder / f"{name}.pdf"
    if proc.returncode != 0 or not made.exists():
        log = folder / f"{name}.log"
        text = log.read_text("utf-8", errors="replace") if log.exists() else proc.stdout
        raise ToolError(f"LaTeX failed on a figure of {tex.name}: {first_error(text)} (log: {log})")
    for suffix in (".pdf", ".dpth"):
        if (folder / f"{name}{suffix}").exists():
            _install(folder / f"{name}{suffix}", cached.with_suffix(suffix))
    return True


def first_error(log_text: str) -> str:
    for line in log_text.splitlines():
        if line.startswith("!") or re.match(r"^\S+:\d+: ", line):
            return line.strip()
    lines = [line for line in log_text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def _aux_keys(text: str, stem: str) -> tuple[str, str]:
    """Where a document's cross references are looked up, best first: the last document with the
    same labels and the same text up to its numbers (a student of the same structure, which most
    likely paginates alike), else the last one with the same labels, in the same order."""
    labels = re.findall(r"\\label\{([^}]*)\}", text)
    return (_digest(stem, re.sub(r"[0-9]+", "0", text), *labels)[:20], _digest(stem, *labels)[:20])


def _groups(text: str, start: int, count: int) -> tuple[list[str], int]:
    """The next ``count`` brace groups of ``text`` from ``start`` (nested braces kept), and the end."""
    out, i = [], start
    while len(out) < count and i < len(text):
        if text[i] != "{":
            i += 1
            continue
        depth, j = 0, i
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        out.append(text[i + 1:j])
        i = j + 1
    return out, i


def aux_signature(aux: bytes, document: str) -> bytes:
    r"""What a pass of ``document`` reads back from ``aux``: the file without what it does not use.

    Dropped: ``\@writefile`` lines (lists of figures and contents, which the
    documents do not print), the last page ``\@abspage@last`` (read only by the
    kernel's ``shipout/lastpage`` hook, which the documents leave empty: a test
    compiles the key with a wrong value and gets the same bytes) and, in each
    ``\newlabel``, the page unless the document uses ``\pageref`` and the title
    unless it uses ``\nameref``. Kept: everything else, among it each label's
    number and link anchor and longtable column widths. A pass whose ``.aux``
    read and written have the same signature printed what a second pass would.
    """
    keep_page, keep_title = r"\pageref" in document, r"\nameref" in document
    text = aux.decode("utf-8", errors="replace")
    lines = []
    for line in text.splitlines():
        if line.startswith(("\\@writefile", "\\gdef \\@abspage@last")):
            continue
        if line.startswith("\\newlabel{"):
            (name, value), _ = _groups(line, 0, 2)
            fields, _ = _groups(value, 0, 5)  # {number}{page}, and with hyperref {title}{anchor}{extra}
            if len(fields) >= 2:
                if not keep_page:
                    fields[1] = ""
                if len(fields) == 5 and not keep_title:
                    fields[2] = ""
                line = "\\newlabel{%s}{%s}" % (name, "".join("{%s}" % f for f in fields))
        lines.append(line)
    return "\n".join(lines).encode("utf-8")


def compile(tex: Path, cache_dir: Path, *, jobs: int = 1) -> TexRun:
    """Compile ``tex`` (in its own folder) to a PDF with the caches described above."""
    if not available():
        raise ToolError("pdflatex not found; install TeX Live: make tex")
    text = tex.read_text("utf-8")
    fmt = _format(tex, cache_dir)
    names = list(dict.fromkeys(re.findall(r"\\tikzsetnextfilename\{(fig-[0-9a-f]+)\}", text)))
    if names:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            made = sum(pool.map(lambda n: _figure(tex, n, fmt, cache_dir), names))
    else:
        made = 0
    aux = tex.with_suffix(".aux")
    aux_cache = [cache_dir / "aux" / f"{key}.aux" for key in _aux_keys(text, tex.stem)]
    for cached in aux_cache:
        if cached.exists():
            shutil.copyfile(cached, aux)
            break
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-no-shell-escape",
           "-recorder"] + ([f"-fmt={fmt}"] if fmt else []) + [tex.name]
    log = tex.with_suffix(".log")
    passes = 0
    before = aux_signature(aux.read_bytes(), text) if aux.exists() else b""
    while True:
        proc = _run(cmd, tex.parent)
        passes += 1
        log_text = log.read_text("utf-8", errors="replace") if log.exists() else proc.stdout
        if proc.returncode != 0 or not tex.with_suffix(".pdf").exists():
            raise ToolError(f"LaTeX failed on {tex.name}: {first_error(log_text)} (log: {log})")
        after = aux_signature(aux.read_bytes(), text) if aux.exists() else b""
        if after == before or passes >= MAX_PASSES:
            break
        before = after
    if aux.exists():
        for cached in aux_cache:
            _install(aux, cached)
    return TexRun(passes, made, len(names) - made, fmt is not None, log_text)
