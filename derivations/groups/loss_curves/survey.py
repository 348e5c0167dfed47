"""Which class counts 1.3 may give a student: the experiment for each, and the rules it breaks.

``python -m derivations.groups.loss_curves.survey [C ...] [--cache DIR]`` runs
the experiment of the default settings with each class count (default: those of
:data:`.vary.PASSING_CLASSES`), reading the runs from the cache when present
(``$HW2_CACHE`` or ``build/.cache``; a cold setting trains ten runs, about 10 s),
and prints one line per class count: spikes per run (median and range over the
seeds) with and without the fix, the runs that spike, the gradient ratio before
a spike, and the rules of :data:`.vary.RULES` it breaks. Run it after a change
of the experiment, and keep in :data:`.vary.PASSING_CLASSES` (and so in
:data:`.vary.VARIED_CLASSES`, drawn from them) only class counts that break none.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
from typing import Any

from . import LossCurves
from .experiment import Evidence, experiment
from .vary import PASSING_CLASSES, failures


def evidence(classes: int, cache_dir: pathlib.Path | None) -> Evidence:
    """The experiment of the default settings with ``classes`` classes (cached)."""
    return experiment(dataclasses.replace(LossCurves(), classes=classes), 0, cache_dir)


def _spread(d: dict[str, Any], digits: int = 0) -> str:
    if d["median"] is None:
        return "-"
    return f"{d['median']:.{digits}f} ({d['min']:.{digits}f}-{d['max']:.{digits}f})"


def line(ev: Evidence) -> str:
    """One class count's numbers and verdict, as the survey prints them."""
    m = ev.measured
    sp, fx = m["spiking"], m["fixed"]
    broken = failures(m)
    return (f"C={ev.settings.classes:2d}  spikes without fix {_spread(sp['spikes'])} in {sp['runs_with_spikes']}"
            f"/{len(ev.seeds)} runs, plotted run {m['per_seed']['spiking'][0]['spikes']}; with fix "
            f"{_spread(fx['spikes'])} in {fx['runs_with_spikes']}/{len(ev.seeds)}, peak {_spread(fx['peak_ratio'], 2)}"
            f" x ln C; gradient before a spike {_spread(sp['grad_ratio'], 1)} x; "
            + ("ok" if not broken else "breaks: " + "; ".join(broken)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m derivations.groups.loss_curves.survey", description=__doc__)
    parser.add_argument("classes", nargs="*", type=int, default=list(PASSING_CLASSES))
    parser.add_argument("--cache", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get("HW2_CACHE", "build/.cache")))
    args = parser.parse_args(argv)
    bad = 0
    for c in args.classes:
        ev = evidence(c, args.cache)
        bad += bool(failures(ev.measured))
        print(line(ev), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
