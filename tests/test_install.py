"""The package installs (templates and presets as package data) and builds outside the repository."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import HAVE_LATEX, ROOT, Background

PROBE = textwrap.dedent("""
    import derivations, sys
    from derivations import registry, render, variant
    assert "site-packages" in derivations.__file__, derivations.__file__
    env = render.environment(registry.default().template_dirs())
    names = ["hw2_theory.tex.j2", "base.tex.j2", "verification.tex.j2", "sections/cnn.tex.j2", "sections/rnn.tex.j2"]
    for g in registry.default():
        names += [f"questions/{q.id}.tex.j2" for q in g.questions]
        names += sorted({f"questions/{q.part_of}.tex.j2" for q in g.questions if q.part_of})
        names.append(f"sections/{g.section}.tex.j2")
    for name in names:
        env.get_template(name)
    print(len(names), "templates;", ",".join(variant.presets()))
""")


def _install_and_build(tmp_path: Path):
    """Install into a fresh venv, probe the templates, build a small key in a folder elsewhere:
    all subprocesses, on the spare core. Returns (probe, build or None, the working folder)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", "build", ".git", "*.egg-info", "__pycache__",
                                                             ".pytest_cache", "tests"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    # The dependencies (sympy, numpy, jinja2, pylatex) come from the running environment; its
    # site-packages is added as a plain path, so its editable install of this repository is not.
    deps = [p for p in sys.path if p.rstrip("/").endswith("site-packages")]
    (site / "dependencies.pth").write_text("\n".join(deps) + "\n", "utf-8")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True, capture_output=True)
    python = str(venv / "bin" / "python")
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = subprocess.run([python, "-c", PROBE], cwd=work, capture_output=True, text=True)
    if probe.returncode != 0 or not HAVE_LATEX:
        return probe, None, work
    small = work / "small.toml"
    base = (ROOT / "derivations" / "presets" / "fall2025.toml").read_text("utf-8")
    small.write_text(base.split("[questions]")[0] + "[questions]\nconv2d_output = 1\nconv_general = 2\n", "utf-8")
    proc = subprocess.run([python, "-m", "derivations", "build", "--variant", "small.toml", "--out", "key"],
                          cwd=work, capture_output=True, text=True)
    return probe, proc, work


INSTALLED = Background(_install_and_build)


@INSTALLED
def test_installed_package_builds_a_key_outside_the_repository():
    probe, proc, work = INSTALLED.result()
    assert probe.returncode == 0, probe.stderr
    assert "templates; fall2025,fall2024" in probe.stdout
    if not HAVE_LATEX:
        pytest.skip("TeX Live is not installed: the templates resolve, the PDF is not compiled")
    assert proc.returncode == 0, proc.stderr
    assert (work / "key" / "hw2_theory.pdf").read_bytes().startswith(b"%PDF")
