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
  infinitely slow (**faster**, :func:`fix_faster`, when it is smaller).

The claims the text makes about the runs are decided here too, each by a named
function of the measured numbers (:func:`measure`) with its definition in its
docstring, so that a sentence is printed only when its data bear it out
(:func:`claims` collects them for the templates and ``answers.json``): spikes
were observed at all (:func:`spikes_observed`), in the plotted run
(:func:`plotted_run_spikes`), above a run's own start (:func:`spikes_exceed_start`);
the gradient jumped before them (:func:`gradient_jumps`), and so did the update
(:func:`update_jumps`, :func:`update_ratio_is_gradient_ratio`); the fix removed
them (:func:`fix_spike_free`, :func:`fix_removes_spikes`) although its raw
gradients were not smaller (:func:`fixed_gradients_not_smaller`) while its
updates were shorter (:func:`fixed_updates_shorter`, :func:`updates_within`),
so the step length made the spikes (:func:`step_length_shown`); the fixed runs'
highest loss is start noise (:func:`fixed_peak_is_start_noise`).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .training import Run

WINDOW = 20  # steps of the rolling median
SPIKE_FACTOR = 3.0  # a spike is at least this many times the rolling median (and above ln C)
LOSS_THRESHOLD = 0.1  # "has learnt the task": mini-batch loss below this
JUMP_FACTOR = 3.0  # "far above its recent size": a ratio before a spike (ratio_before) of at least this
QUIET_PEAK = 1.1  # a fixed run's highest loss at most this many times ln C: the noise of an untrained loss
RTOL = 1e-9  # two computed lengths (or ratios) that are equal in exact arithmetic agree to this


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


def fix_faster(measured: dict[str, Any]) -> bool:
    """Does the fixed procedure learn faster: a smaller :func:`median_steps_to` than the spiking one?

    Neither :func:`fix_slower` nor this holds when both medians are equal (both
    infinite included: half of the runs of each procedure or more never get there).
    """
    per_seed = measured["per_seed"]
    return median_steps_to(per_seed["fixed"]) < median_steps_to(per_seed["spiking"])


def early_steps(steps: int) -> int:
    """The "first steps" of a run of ``steps`` steps: ``max(steps // 4, WINDOW)``, the figure's zoomed panel."""
    return max(steps // 4, WINDOW)


def peak_step(loss: np.ndarray) -> int:
    """The step of the run's highest mini-batch loss (the first such step)."""
    return int(np.argmax(loss))


def spikes_above(loss: np.ndarray, steps: Sequence[int]) -> int:
    """How many of the spike steps ``steps`` have a loss above the run's start, ``loss[0]``."""
    return sum(1 for t in steps if loss[t] > loss[0])


def run_stats(run: Run, ln_c: float) -> dict[str, Any]:
    """The per-run numbers: spikes, peak ratio and step, ratios before each spike, steps to threshold, accuracy."""
    steps = spike_steps(run.loss, ln_c)
    return {
        "spike_steps": steps,
        "spikes": len(steps),
        "spikes_above_start": spikes_above(run.loss, steps),
        "peak_ratio": peak_ratio(run.loss, ln_c),
        "peak_step": peak_step(run.loss),
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


# ----------------------------------------------------------------------------------------------
# The claims the text makes about the runs, each decided from the measured numbers (:func:`measure`).
# "Runs without the fix" are the spiking procedure's, "runs with the fix" the fixed one's, every seed.


def spikes_observed(measured: dict[str, Any]) -> bool:
    """Did at least one run without the fix spike (:func:`spike_steps`)?"""
    return measured["spiking"]["runs_with_spikes"] > 0


def plotted_run_spikes(measured: dict[str, Any]) -> bool:
    """Does the plotted run without the fix (the first seed's) spike?"""
    return measured["per_seed"]["spiking"][0]["spikes"] > 0


def spikes_exceed_start(measured: dict[str, Any]) -> bool:
    """Did a spike of a run without the fix rise above that run's own start, its step-0 loss (:func:`spikes_above`)?"""
    return any(s["spikes_above_start"] > 0 for s in measured["per_seed"]["spiking"])


def _ratios(measured: dict[str, Any], name: str) -> list[float]:
    """The ratios ``name`` (``grad_ratios``, ``update_ratios``) before every spike of the runs without the fix,
    pooled, the undefined ones (nan: a spike at step 1) left out, as in the quoted spread (:func:`spread`)."""
    return [r for s in measured["per_seed"]["spiking"] for r in s[name] if not math.isnan(r)]


def gradient_jumps(measured: dict[str, Any]) -> bool:
    """Did the gradient jump before the spikes: is the median, over every spike of the runs without the fix,
    of the gradient ratio (:func:`ratio_before`) at least :data:`JUMP_FACTOR`? False without a defined ratio."""
    ratios = _ratios(measured, "grad_ratios")
    return bool(ratios) and float(np.median(ratios)) >= JUMP_FACTOR


def update_jumps(measured: dict[str, Any]) -> bool:
    """Did the update jump before the spikes: is the median, over every spike of the runs without the fix,
    of the update ratio (:func:`ratio_before`) at least :data:`JUMP_FACTOR`? False without a defined ratio."""
    ratios = _ratios(measured, "update_ratios")
    return bool(ratios) and float(np.median(ratios)) >= JUMP_FACTOR


def update_ratio_is_gradient_ratio(measured: dict[str, Any]) -> bool:
    """Did the update length jump exactly as the gradient did: at every spike of the runs without the fix
    whose ratios are defined (after step 1), is the update ratio equal to the gradient ratio (relative
    :data:`RTOL`)? (Plain SGD at a constant learning rate makes them equal; RMSprop and Adam do not.)
    False without such a spike."""
    pairs = [(g, u) for s in measured["per_seed"]["spiking"] for g, u in zip(s["grad_ratios"], s["update_ratios"])
             if not (math.isnan(g) and math.isnan(u))]
    return bool(pairs) and all(abs(u - g) <= RTOL * abs(g) for g, u in pairs)


def fix_spike_free(measured: dict[str, Any]) -> bool:
    """Did no run with the fix spike?"""
    return measured["fixed"]["runs_with_spikes"] == 0


def fix_removes_spikes(measured: dict[str, Any]) -> bool:
    """Did the fix remove the spikes: some run without the fix spiked (:func:`spikes_observed`) and no run with
    it did (:func:`fix_spike_free`)?"""
    return spikes_observed(measured) and fix_spike_free(measured)


def fixed_gradients_not_smaller(measured: dict[str, Any]) -> bool:
    """Are the raw (unclipped) gradients with the fix as large or larger: the median over the seeds of each
    run's median gradient norm, with the fix at least that without?"""
    return measured["fixed"]["median_grad"]["median"] >= measured["spiking"]["median_grad"]["median"]


def fixed_updates_shorter(measured: dict[str, Any]) -> bool:
    """Are the updates with the fix shorter: the median over the seeds of each run's longest update, with the
    fix smaller than without?"""
    return measured["fixed"]["max_update"]["median"] < measured["spiking"]["max_update"]["median"]


def updates_within(measured: dict[str, Any], bound: float) -> bool:
    """Is every update of every run with the fix at most ``bound`` long (relative :data:`RTOL` for rounding)?

    With plain SGD the bound ``fix_lr * clip_norm`` holds by construction (the update is the learning rate,
    at most ``fix_lr``, times a gradient of norm at most ``clip_norm``); RMSprop and Adam divide the clipped
    gradient by a running root mean square, so for them it is no bound at all.
    """
    return max(s["max_update"] for s in measured["per_seed"]["fixed"]) <= bound * (1 + RTOL)


def step_length_shown(measured: dict[str, Any]) -> bool:
    """Do the runs show that the step length, not the gradient alone, makes the spikes: the fix removed the
    spikes (:func:`fix_removes_spikes`) although its raw gradients were not smaller
    (:func:`fixed_gradients_not_smaller`), and its updates were shorter (:func:`fixed_updates_shorter`)?"""
    return fix_removes_spikes(measured) and fixed_gradients_not_smaller(measured) and fixed_updates_shorter(measured)


def fixed_peak_is_start_noise(measured: dict[str, Any]) -> bool:
    """Is the highest loss of every run with the fix the noise of the untrained loss: at most :data:`QUIET_PEAK`
    times ln C, at a step among the first :func:`early_steps`?"""
    early = early_steps(measured["steps"])
    return all(s["peak_ratio"] <= QUIET_PEAK and s["peak_step"] < early for s in measured["per_seed"]["fixed"])


def claims(measured: dict[str, Any], bound: float) -> dict[str, bool]:
    """Every claim above for one experiment, by name (``bound``: the clipped SGD's ``fix_lr * clip_norm``)."""
    return {
        "spikes_observed": spikes_observed(measured),
        "plotted_run_spikes": plotted_run_spikes(measured),
        "spikes_exceed_start": spikes_exceed_start(measured),
        "gradient_jumps": gradient_jumps(measured),
        "update_jumps": update_jumps(measured),
        "update_ratio_is_gradient_ratio": update_ratio_is_gradient_ratio(measured),
        "fix_spike_free": fix_spike_free(measured),
        "fix_removes_spikes": fix_removes_spikes(measured),
        "fixed_gradients_not_smaller": fixed_gradients_not_smaller(measured),
        "fixed_updates_shorter": fixed_updates_shorter(measured),
        "updates_within": updates_within(measured, bound),
        "step_length_shown": step_length_shown(measured),
        "fixed_peak_is_start_noise": fixed_peak_is_start_noise(measured),
        "fix_slower": fix_slower(measured),
        "fix_faster": fix_faster(measured),
    }
