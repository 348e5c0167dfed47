"""The numbers 1.3 quotes, read off the two recorded runs.

Steps are 0-based, as on the plots' x axis: ``loss[t]`` is the mini-batch
loss after ``t`` updates (``loss[0]`` is the untrained network).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .training import Run

SKIP = 10  # the first steps are mini-batch noise around the initial loss


def spikes(run: Run, initial_loss: float, factor: float = 1.0, skip: int = SKIP) -> list[int]:
    """Steps (0-based, ``>= skip``) whose mini-batch loss exceeds ``factor * initial_loss``.

    The first ``skip`` steps are ignored: there the loss is still near its
    initial value and mini-batch noise alone crosses the threshold.
    """
    idx = np.flatnonzero(run.loss[skip:] > factor * initial_loss) + skip
    return [int(i) for i in idx]


def episodes(steps: list[int]) -> list[tuple[int, int]]:
    """Group consecutive spike steps into (first, last) episodes."""
    out: list[tuple[int, int]] = []
    for s in steps:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def measure(settings: Any, sp_run: Run, fx_run: Run) -> dict[str, Any]:
    """The numbers the answers quote, as plain Python values (``answers.json``'s ``loss_curves.run``)."""
    init = sp_run.initial_loss
    spiking_episodes = episodes(spikes(sp_run, init, 1.0, SKIP))
    steps = len(sp_run.loss)
    # "The spikes on the left": the highest spike in the first half of training.
    half = max(steps // 2, SKIP + 1)
    peak = int(np.argmax(sp_run.loss[SKIP:half])) + SKIP
    late = int(np.argmax(sp_run.loss[half:])) + half if steps > half else peak
    left = [e for e in spiking_episodes if e[0] < half]
    return {
        "steps": steps,
        "episodes": len(spiking_episodes),
        "left_episodes": len(left),
        "first_spike": spiking_episodes[0][0] if spiking_episodes else None,
        "spike_steps": [e[0] for e in spiking_episodes[:6]],
        "peak_step": peak,
        "peak_loss": float(sp_run.loss[peak]),
        "peak_ratio": float(sp_run.loss[peak] / init),
        # loss[t] is measured before update t, so spike t follows update t - 1,
        # whose length is lr * ||g[t - 1]|| (no clipping in this run).
        "peak_grad_before": float(sp_run.grad_norm[max(peak - 1, 0)]),
        "peak_update": float(settings.lr * sp_run.grad_norm[max(peak - 1, 0)]),
        "median_update": float(settings.lr * np.median(sp_run.grad_norm)),
        "median_grad": float(np.median(sp_run.grad_norm)),
        "max_grad": float(sp_run.grad_norm.max()),
        "late_step": late,
        "late_loss": float(sp_run.loss[late]),
        "late_ratio": float(sp_run.loss[late] / init),
        "weight_max": float(sp_run.weight_norm.max()),
        "fixed_max_loss": float(fx_run.loss[SKIP:].max()),
        "fixed_max_ratio": float(fx_run.loss[SKIP:].max() / init),
        "fixed_spikes": len(episodes(spikes(fx_run, init, 1.0, SKIP))),
        "fixed_max_grad": float(fx_run.grad_norm.max()),
        "spiking_final_acc": sp_run.final_accuracy,
        "fixed_final_acc": fx_run.final_accuracy,
        "spiking_final_loss": sp_run.final_loss,
        "fixed_final_loss": fx_run.final_loss,
        "initial_loss": init,
        "initial_accuracy": sp_run.initial_accuracy,
        "seconds": sp_run.seconds + fx_run.seconds,
    }
