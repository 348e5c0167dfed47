"""The numbers 1.3 quotes, each computed by a named function over the whole of every recorded run.

Steps are 0-based, as on the plots' x axis: ``loss[t]`` is the mini-batch
loss of step t, before its update (``loss[0]`` is the untrained network).
Nothing is skipped: a rolling window at step t covers the ``min(t, WINDOW)``
steps before t (step 0 has none and so is never a spike).

Definitions (the text states each one next to its number):

* a **spike** (:func:`spike_steps`) is a step whose loss exceeds ``ln C`` and
  :data:`SPIKE_FACTOR` times the median loss of the previous :data:`WINDOW` steps;
* the **peak ratio** (:func:`peak_ratio`) is the run's highest loss over ``ln C``;
* the **gradient ratio before a spike** (:func:`ratio_before`) is the norm of the
  gradient of step t-1 (the update that produced spike t) over the median of the
  :data:`WINDOW` steps before it; the **update ratio** is the same for the
  update length ``||theta[t] - theta[t-1]||``;
* **steps to threshold** (:func:`steps_to`) is the first step whose loss is
  below :data:`LOSS_THRESHOLD`; the fix is **slower** (:func:`fix_slower`) when
  its median over the runs is larger, a run that never gets there counting as
  infinitely slow.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .training import Run

WINDOW = 20  # steps of the rolling median
SPIKE_FACTOR = 3.0  # a spike is at least this many times the rolling median (and above ln C)
LOSS_THRESHOLD = 0.1  # "has learnt the task": mini-batch loss below this


def rolling_median(values: np.ndarray, t: int, window: int = WINDOW) -> float:
    """Median of ``values[max(0, t - window):t]``, the (up to) ``window`` steps before t; nan for t = 0."""
    past = values[max(0, t - window):t]
    return float(np.median(past)) if past.size else math.nan


def spike_steps(loss: np.ndarray, ln_c: float, factor: float = SPIKE_FACTOR, window: int = WINDOW) -> list[int]:
    """Every step t (0-based, whole run) with ``loss[t] > ln_c`` and ``loss[t] > factor * rolling median``."""
    return [t for t in range(1, len(loss))
            if loss[t] > ln_c and loss[t] > factor * rolling_median(loss, t, window)]


def peak_ratio(loss: np.ndarray, ln_c: float) -> float:
    """The highest mini-batch loss of the whole run over ``ln C``."""
    return float(np.max(loss) / ln_c)


def ratio_before(values: np.ndarray, t: int, window: int = WINDOW) -> float:
    """``values[t - 1]`` over the median of the ``window`` steps before t - 1 (the step that led to t)."""
    return float(values[t - 1] / rolling_median(values, t - 1, window)) if t >= 2 else math.nan


def steps_to(loss: np.ndarray, threshold: float = LOSS_THRESHOLD) -> int | None:
    """First step whose mini-batch loss is below ``threshold``; None if it never is."""
    below = np.flatnonzero(loss < threshold)
    return int(below[0]) if below.size else None


def median_steps_to(stats: Sequence[dict[str, Any]]) -> float:
    """Median over the runs of :func:`steps_to`, a run that never gets there counting as infinitely slow.

    Unlike the quoted median (over the runs that get there, :func:`summarise`),
    this compares two procedures fairly when some runs, or all, never get there.
    """
    return float(np.median([math.inf if s["steps_to_threshold"] is None else s["steps_to_threshold"]
                            for s in stats]))


def fix_slower(measured: dict[str, Any]) -> bool:
    """Does the fixed procedure learn more slowly: a larger :func:`median_steps_to` than the spiking one?"""
    per_seed = measured["per_seed"]
    return median_steps_to(per_seed["fixed"]) > median_steps_to(per_seed["spiking"])


def run_stats(run: Run, ln_c: float) -> dict[str, Any]:
    """The per-run numbers: spikes, peak ratio, ratios before each spike, steps to threshold, accuracy."""
    steps = spike_steps(run.loss, ln_c)
    return {
        "spike_steps": steps,
        "spikes": len(steps),
        "peak_ratio": peak_ratio(run.loss, ln_c),
        "grad_ratios": [ratio_before(run.grad_norm, t) for t in steps],
        "update_ratios": [ratio_before(run.update_norm, t) for t in steps],
        "steps_to_threshold": steps_to(run.loss),
        "final_accuracy": float(run.final_accuracy),
        "median_grad": float(np.median(run.grad_norm)),
        "max_grad": float(np.max(run.grad_norm)),
        "median_update": float(np.median(run.update_norm)),
        "max_update": float(np.max(run.update_norm)),
    }


def spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median, minimum and maximum of ``values`` (None and nan left out, and counted in ``missing``)."""
    kept = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not kept:
        return {"median": None, "min": None, "max": None, "n": 0, "missing": len(values)}
    return {"median": float(np.median(kept)), "min": min(kept), "max": max(kept), "n": len(kept),
            "missing": len(values) - len(kept)}


SUMMARISED = ("spikes", "peak_ratio", "steps_to_threshold", "final_accuracy",
              "median_grad", "max_grad", "median_update", "max_update")


def summarise(stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median and range over the seeds of each per-run number; the ratios pooled over every spike."""
    out: dict[str, Any] = {key: spread([s[key] for s in stats]) for key in SUMMARISED}
    out["runs_with_spikes"] = sum(1 for s in stats if s["spikes"] > 0)
    out["grad_ratio"] = spread([r for s in stats for r in s["grad_ratios"]])
    out["update_ratio"] = spread([r for s in stats for r in s["update_ratios"]])
    return out


def measure(settings: Any, seeds: Sequence[int], spiking: Sequence[Run], fixed: Sequence[Run],
            ln_c: float) -> dict[str, Any]:
    """Everything the answers quote, as plain Python values (``answers.json``'s ``loss_curves.run``)."""
    sp_stats = [run_stats(r, ln_c) for r in spiking]
    fx_stats = [run_stats(r, ln_c) for r in fixed]
    return {
        "seeds": [int(s) for s in seeds],
        "steps": int(settings.steps),
        "window": WINDOW, "spike_factor": SPIKE_FACTOR, "loss_threshold": LOSS_THRESHOLD,
        "spiking": summarise(sp_stats), "fixed": summarise(fx_stats),
        "per_seed": {"spiking": sp_stats, "fixed": fx_stats},
        "initial_loss": float(spiking[0].initial_loss),
        "initial_accuracy": float(spiking[0].initial_accuracy),
        "seconds": float(sum(r.seconds for r in spiking) + sum(r.seconds for r in fixed)),
    }
