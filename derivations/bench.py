"""``make bench``: the speed goals, as ratios measured in one run on this machine.

(i)   a warm single key end to end (derive/verify reused, figures and format cached, the
      document compiled) / one precompiled-format pdflatex pass of its own .tex, figures
      cached; target <= 2. The same key through the command line (a new Python process,
      imports included) is shown beside it.
(ii)  a class of students (key + handout each) from cold caches (training experiments,
      formats, figures, outcomes: everything) / (its documents x one precompiled-format
      pass / cores); target <= 1.5. Also shown against one plain pass of a text-only key
      per document (the issue's "done when").
(iii) derivation and verification of the 1-D convolution at C = 64, L = 4096, K = 5 /
      at the Fall 2025 sizes; target <= 3.
(iv)  the class batch's peak memory (this process and, separately, its largest LaTeX run).

Numbers are wall-clock seconds of this run; nothing here is a test.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import batch, build, student, texrun, variant

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "tests" / "data" / "roster.csv"


def _timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def one_pass(tex: Path, cache_dir: Path, *, fmt: bool = True, strip_pictures: bool = False) -> float:
    """Seconds of one pdflatex pass of ``tex`` in a copy of its folder, figures and format from ``cache_dir``.

    ``strip_pictures`` replaces every picture by an empty box (a text-only document); ``fmt=False``
    runs without the precompiled preamble.
    """
    with tempfile.TemporaryDirectory(prefix="hw2-bench-") as tmp:
        work = Path(tmp)
        for f in tex.parent.iterdir():
            if f.is_file() and f.suffix in (".tex", ".dat"):
                shutil.copyfile(f, work / f.name)
        copy = work / tex.name
        text = copy.read_text("utf-8")
        if strip_pictures:
            text = re.sub(r"\\tikzsetnextfilename\{[^}]*\}", "", text)
            text = re.sub(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", r"\\fbox{\\rule{3cm}{0pt}\\rule{0pt}{3cm}}",
                          text, flags=re.S)
            copy.write_text(text, "utf-8")
        # Figures and a first pass (aux, format) are prepared untimed by a full compile.
        run = texrun.compile(copy, cache_dir)
        name = texrun._format(copy, cache_dir) if fmt else None
        cmd = ["pdflatex", "-interaction=nonstopmode", "-no-shell-escape"] + ([f"-fmt={name}"] if name else [])
        cmd.append(copy.name)
        env = {**os.environ, "openin_any": "p", "openout_any": "p"}
        assert run.passes >= 1
        return _timed(lambda: subprocess.run(cmd, cwd=work, capture_output=True, env=env, check=True), repeat=3)


def single_key(cache_dir: Path) -> dict[str, float]:
    v = variant.load("fall2025")
    with tempfile.TemporaryDirectory(prefix="hw2-bench-") as tmp:
        out = Path(tmp) / "key"
        build.build(v, out, cache_dir=cache_dir)  # warm every cache (untimed)
        warm = _timed(lambda: build.build(v, out, cache_dir=cache_dir), repeat=3)
        env = {**os.environ, "HW2_CACHE": str(cache_dir)}
        cli = _timed(lambda: subprocess.run([sys.executable, "-m", "derivations", "build", "--out", str(out)],
                                            env=env, capture_output=True, check=True), repeat=2)
        tex = out / "hw2_theory.tex"
        return {"warm key (in-process)": warm, "warm key (command line)": cli,
                "format pass": one_pass(tex, cache_dir), "plain pass": one_pass(tex, cache_dir, fmt=False),
                "plain pass, text only": one_pass(tex, cache_dir, fmt=False, strip_pictures=True)}


def class_set(n: int, cache_dir: Path) -> dict[str, float]:
    entries = batch.read_roster(ROSTER)[:n]
    base = variant.load("fall2025")
    with tempfile.TemporaryDirectory(prefix="hw2-bench-") as tmp:
        secret = b"bench-secret-not-for-real-use"
        t0 = time.perf_counter()
        report = batch.build_class(entries, Path(tmp) / "class", base, secret, cache_dir=cache_dir, progress=False)
        seconds = time.perf_counter() - t0
        if report.failed:
            raise SystemExit(f"bench: {len(report.failed)} students failed, e.g. {report.failed[0]}")
        docs = 2 * len(report.built)
        key = Path(tmp) / "class" / batch.folder_name(report.built[0]) / "hw2_theory.tex"
        fmt_pass = one_pass(key, cache_dir)
        text_pass = one_pass(key, cache_dir, fmt=False, strip_pictures=True)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"students": len(report.built), "documents": docs, "class seconds": seconds, "format pass": fmt_pass,
            "text-only plain pass": text_pass, "distinct answer tuples": report.distinct,
            "peak MiB (python)": peak_self, "peak MiB (largest child)": peak_child}


def conv1d_scaling() -> dict[str, float]:
    """Derivation and verification of 1.1(c) at two sizes, each as a process meets a new parameter
    set (the caches per structure warm, those per parameter set emptied: :func:`forget_sizes`);
    the best of five runs each."""
    from .groups.conv1d import GROUP, Conv1d, forget_sizes

    base = variant.load("fall2025").conv1d
    large = Conv1d(channels=64, length=4096, kernel=5, stride=base.stride)

    def derive_and_check(p: Conv1d) -> None:
        GROUP.check(GROUP.derive(p), None, 2025)

    def fresh(p: Conv1d) -> float:
        forget_sizes()
        return _timed(lambda: derive_and_check(p))

    for p in (base, large):
        derive_and_check(p)  # imports and the structure's caches warm (untimed)
    return {"fall2025 sizes": min(fresh(base) for _ in range(5)),
            "C=64, L=4096, K=5": min(fresh(large) for _ in range(5))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m derivations.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100, help="class size for (ii) (default 100)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores; {texrun.engine_version()}; mylatexformat: {texrun.has_mylatexformat()}")
    with tempfile.TemporaryDirectory(prefix="hw2-bench-cache-") as tmp:
        cold = Path(tmp)
        c = class_set(args.students, cold)  # first, so every cache starts cold
        ratio_ii = c["class seconds"] / (c["documents"] * c["format pass"] / cores)
        ratio_ii_text = c["class seconds"] / (c["documents"] * c["text-only plain pass"])
        print(f"(ii)  class of {c['students']} ({c['documents']} documents, cold caches) {c['class seconds']:.1f} s"
              f" / ({c['documents']} x {c['format pass']:.2f} s / {cores} cores) = {ratio_ii:.2f} (target <= 1.5)")
        print(f"      per document {c['class seconds'] / c['documents']:.2f} s against one text-only plain pass"
              f" {c['text-only plain pass']:.2f} s: {ratio_ii_text:.2f} (done when <= 1);"
              f" {c['distinct answer tuples']} distinct answer tuples", flush=True)
        print(f"(iv)  peak memory: {c['peak MiB (python)']:.0f} MiB (batch process),"
              f" {c['peak MiB (largest child)']:.0f} MiB (largest LaTeX or worker process)", flush=True)
        k = single_key(cold)
    ratio_i = k["warm key (in-process)"] / k["format pass"]
    print(f"(i)   warm key {k['warm key (in-process)']:.2f} s / format pass {k['format pass']:.2f} s"
          f" = {ratio_i:.2f} (target <= 2)")
    print(f"      command line {k['warm key (command line)']:.2f} s (a new Python process: imports included);"
          f" plain pass {k['plain pass']:.2f} s, text-only plain pass {k['plain pass, text only']:.2f} s",
          flush=True)
    s = conv1d_scaling()
    ratio_iii = s["C=64, L=4096, K=5"] / s["fall2025 sizes"]
    print(f"(iii) conv1d C=64, L=4096, K=5 {s['C=64, L=4096, K=5']:.3f} s / Fall 2025 sizes"
          f" {s['fall2025 sizes']:.3f} s = {ratio_iii:.2f} (target <= 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
