"""Per-student variants: new numbers for every student, drawn reproducibly from the name.

The same student always gets the same variant (the numbers come from a SHA-256
of the name and the base variant), different students get different ones, and
each drawn variant is validated like any other file, so its key is derived and
verified as usual.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from . import variant as variant_mod
from .errors import VariantError
from .groups.conv1d import Conv1d
from .groups.conv2d import Conv2d
from .variant import Variant


def _rng(base: Variant, student: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{base.name}\0{student}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def draw(base: Variant, student: str) -> Variant:
    """A variant of ``base`` with the numeric parameters redrawn for ``student``.

    The sizes stay in ranges where the questions read naturally: 2-D inputs
    of 10 to 32 pixels, kernels 2 to 5, strides 1 to 4, no padding; a 1-D input
    of 3 to 8 channels and length 7 to 13 with kernel 2 to 4 and stride 1 to 3.
    What is asked, and its points, stays the base edition's.
    """
    if not student.strip():
        raise VariantError(base.source, "--student", student, "allowed: a non-empty name")
    rng = _rng(base, student)

    def integers(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    h, w = integers(12, 32), integers(10, 32)
    conv2d = Conv2d(input=(h, w), kernel=(integers(2, 5), integers(2, 5)), stride=(integers(1, 4),) * 2)
    conv1d = Conv1d(channels=integers(3, 8), length=integers(7, 13), kernel=integers(2, 4), stride=integers(1, 3))
    slug = "".join(ch if ch.isalnum() else "-" for ch in student.strip().lower()).strip("-")
    drawn = variant_mod.replace(
        base,
        name=f"{base.name}-{slug}"[:variant_mod.MAX_TEXT],
        seed=int(rng.integers(0, 2**31)),
        document=dataclasses.replace(base.document, student=student.strip()),
        conv2d=conv2d,
        conv1d=conv1d,
    )
    # Round-trip through the text so the drawn variant passes every validation rule.
    return variant_mod.parse(variant_mod.to_toml(drawn), f"{drawn.name}.toml")
