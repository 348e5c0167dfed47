"""Command line: ``python -m derivations build [--variant NAME|PATH] [--out DIR]``.

Exit status 0 on success, 2 on a bad variant or a failed tool/verification,
with one line on stderr naming what went wrong.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import build as build_mod
from . import student
from . import variant as variant_mod
from .errors import DerivationError, OutputError, ToolError, VariantError, VerificationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m derivations",
                                     description="Derive, verify and typeset the HW2 theory answer key.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the key (PDF, LaTeX source, answers.json, verification.npz)")
    b.add_argument("--variant", default=variant_mod.DEFAULT_PRESET,
                   help="preset name (%s) or path to a .toml file" % ", ".join(variant_mod.presets()))
    b.add_argument("--out", default="build", type=Path, help="output folder (default: build)")
    b.add_argument("--audience", choices=("staff", "students"), default="staff",
                   help="staff: the full key with grading material and the verification table (default); "
                        "students: the solutions to publish")
    b.add_argument("--handout", action="store_true", help="questions only, no solutions (student handout)")
    b.add_argument("--student", metavar="ID", help="the student's id: VARIANT's numbers drawn for this student "
                   "from the id and the course secret (reproducible)")
    _student_options(b)
    c = sub.add_parser("check", help="validate a variant and run every verification, write nothing")
    c.add_argument("--variant", default=variant_mod.DEFAULT_PRESET)
    c.add_argument("--student")
    _student_options(c)
    v = sub.add_parser("variant", help="print the TOML of a variant (with --student: that student's numbers)")
    v.add_argument("--variant", default=variant_mod.DEFAULT_PRESET)
    v.add_argument("--student")
    _student_options(v)
    sub.add_parser("presets", help="list the shipped presets")
    sub.add_parser("reference", help="print the variant reference (docs/variant-reference.md) as Markdown")
    from . import batch

    batch.add_commands(sub)  # batch, merge, rebuild: a class of students
    from . import stress

    stress.add_command(sub)  # stress: many random valid variants derived, verified, a few compiled
    return parser


def _student_options(p: argparse.ArgumentParser) -> None:
    """``--secret`` and ``--name``, used with ``--student ID``."""
    p.add_argument("--secret", type=Path, metavar="FILE",
                   help=f"the course secret the student's numbers are drawn with (default: {student.DEFAULT_SECRET} "
                        "in the working folder, made on first use; a FILE given here must exist); never printed")
    p.add_argument("--name", metavar="NAME", help="the student's name printed under the title (never hashed)")


def for_student(variant: variant_mod.Variant, args: argparse.Namespace) -> variant_mod.Variant:
    """``variant`` as drawn for ``--student`` (with ``--secret``, ``--name``), or as it is without it."""
    sid, name = getattr(args, "student", None), getattr(args, "name", None)
    if sid is None:
        if name is not None:
            raise VariantError("<arguments>", "--name", name[:60], "allowed: only together with --student ID")
        return variant
    sid = student.normalize_id(sid)  # a bad id is reported before a secret is made
    path = getattr(args, "secret", None)
    secret = student.load_secret(path, create=path is None)
    return student.draw(variant, sid, secret=secret, name=name or "")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "reference":
            from . import reference

            print(reference.markdown(), end="")
            return 0
        if args.command == "presets":
            print("\n".join(variant_mod.presets()))
            return 0
        if args.command in ("batch", "merge", "rebuild"):
            from . import batch

            return batch.main(args)
        if args.command == "stress":
            from . import stress

            return stress.main(args)
        variant = variant_mod.load(args.variant)
        variant = for_student(variant, args)
        if args.command == "variant":
            # A preset or file as written (its comments kept); a drawn variant with its keys documented.
            print(variant.text or variant_mod.to_toml(variant), end="")
            return 0
        if args.command == "check":
            outcome = build_mod.run(variant)
            print(f"{variant.name}: {len(outcome.checks)} checks passed")
            defaults = variant_mod.defaults_used(variant)
            if defaults:
                print("defaults used (keys the file leaves out; see docs/variant-reference.md): "
                      + ", ".join(defaults))
            return 0
        report = build_mod.build(variant, args.out, key="handout" if args.handout else args.audience)
    except VariantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (VerificationError, ToolError, DerivationError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wide = [w for w in report.overfull if w > render_limit()]
    print(f"{variant.name}: {len(report.checks)} checks passed; wrote "
          + ", ".join(str(f) for f in report.files) + f" in {report.seconds['total']:.1f} s")
    if wide:
        print(f"warning: {len(wide)} overfull line(s) wider than {render_limit():g}pt "
              f"(max {max(wide):.1f}pt)", file=sys.stderr)
    return 0


def render_limit() -> float:
    from .render import OVERFULL_LIMIT_PT

    return OVERFULL_LIMIT_PT
