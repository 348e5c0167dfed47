"""1.3: every number the text quotes, recomputed independently from the saved runs.

The saved data are the runs of the session's shared build (read from the
experiment cache). Each quantity is recomputed here with plain NumPy from its
definition as the text states it, not with :mod:`derivations.groups.loss_curves.analysis`.
"""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest


@pytest.fixture(scope="module")
def group(outcomes):
    return outcomes["fall2025"].groups["loss_curves"]


@pytest.fixture(scope="module")
def ev(group):
    return group.evidence


LN4 = math.log(4)


def my_spikes(loss):
    """Loss above ln C and above 3x the median of the (up to) 20 steps before it."""
    return [t for t in range(1, len(loss))
            if loss[t] > LN4 and loss[t] > 3 * statistics.median(loss[max(0, t - 20):t].tolist())]


def my_ratio(values, t):
    prev = values[max(0, t - 1 - 20):t - 1].tolist()
    return values[t - 1] / statistics.median(prev)


def my_steps_to(loss):
    hits = [t for t, x in enumerate(loss) if x < 0.1]
    return hits[0] if hits else None


def med_range(xs, digits=0, scale=1.0):
    xs = [x for x in xs if x is not None]
    f = (lambda v: f"{scale * v:.{digits}f}") if digits else (lambda v: str(int(round(scale * v))))
    return f(statistics.median(xs)), f(min(xs)), f(max(xs))


def quoted(ctx_entry):
    return ctx_entry["med"], ctx_entry["lo"], ctx_entry["hi"]


@pytest.mark.parametrize("proc", ["spiking", "fixed"])
def test_spike_counts_and_peaks(ev, group, proc):
    runs = ev.spiking_runs if proc == "spiking" else ev.fixed_runs
    ctx = group.presentation.context[proc]
    counts = [len(my_spikes(r.loss)) for r in runs]
    assert quoted(ctx["spikes"]) == med_range(counts)
    assert ctx["runs_with_spikes"] == sum(c > 0 for c in counts)
    assert quoted(ctx["peak_ratio"]) == med_range([r.loss.max() / LN4 for r in runs], 2)
    assert quoted(ctx["steps_to"])[1:] == med_range([my_steps_to(r.loss) for r in runs])[1:]
    assert quoted(ctx["accuracy"]) == med_range([r.final_accuracy for r in runs], 1, 100.0)
    assert quoted(ctx["median_grad"]) == med_range([float(np.median(r.grad_norm)) for r in runs], 2)
    assert quoted(ctx["max_update"]) == med_range([r.update_norm.max() for r in runs], 2)


def test_ratios_before_spikes(ev, group):
    ctx = group.presentation.context["spiking"]
    grad = [my_ratio(r.grad_norm, t) for r in ev.spiking_runs for t in my_spikes(r.loss)]
    upd = [my_ratio(r.update_norm, t) for r in ev.spiking_runs for t in my_spikes(r.loss)]
    if grad:
        assert quoted(ctx["grad_ratio"]) == med_range(grad, 1)
        assert quoted(ctx["update_ratio"]) == med_range(upd, 1)
    plotted = my_spikes(ev.spiking.loss)
    assert group.presentation.context["plotted_spikes"] == ", ".join(map(str, plotted))


def test_claims_in_the_boxes_hold(ev, group):
    """'No clipped run spiked', 'clipping also slows learning', 'no update longer than lr * clip'."""
    ctx = group.presentation.context
    assert ctx["fix_spike_free"] == all(not my_spikes(r.loss) for r in ev.fixed_runs)
    # slower: the median over the runs of the first step below the threshold, a run that never gets
    # there counting as infinitely slow
    fx = [my_steps_to(r.loss) for r in ev.fixed_runs]
    sp = [my_steps_to(r.loss) for r in ev.spiking_runs]
    never = len(ev.spiking.loss) + 10**9
    fx_med = statistics.median([never if x is None else x for x in fx])
    assert ctx["fix_slower"] == (fx_med > statistics.median([never if x is None else x for x in sp]))
    assert max(r.update_norm.max() for r in ev.fixed_runs) <= float(ctx["max_update"]) * (1 + 1e-9)
    # the fixed runs' raw gradients are not smaller: the damage is the step length
    assert statistics.median(float(np.median(r.grad_norm)) for r in ev.fixed_runs) > \
        statistics.median(float(np.median(r.grad_norm)) for r in ev.spiking_runs)


def test_no_step_is_skipped(ev, group):
    """Every quoted per-step number covers the whole run, from step 0."""
    run = group.presentation.answers["loss_curves.run"]
    assert run["steps"] == len(ev.spiking.loss) == ev.settings.steps
    assert run["seeds"] == list(range(ev.settings.seed, ev.settings.seed + ev.settings.seeds))
