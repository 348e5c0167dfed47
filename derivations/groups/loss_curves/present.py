"""1.3: template context, answers and the plot table, built once from the results."""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import latex
from ...registry import Presentation, Verification
from .analysis import SKIP
from .derive import StartValues
from .experiment import Evidence
from .task import CLASS_NAMES, n_markers
from .training import Run

DATA_FILE = "loss_curves.dat"

PLOT_COLUMNS = ("step", "loss_spiky", "loss_fixed", "acc_spiky", "acc_fixed",
                "gnorm_spiky", "gnorm_fixed", "wnorm_spiky", "wnorm_fixed")


def plot_table(spiking: Run, fixed: Run) -> str:
    """A whitespace-separated table for pgfplots, one row per step.

    ``step`` is 0-based like the arrays: row t holds the mini-batch loss after
    t updates (row 0 = the untrained network). Columns: :data:`PLOT_COLUMNS`;
    use e.g. ``\\addplot table[x=step, y=loss_spiky] {file.dat};``.
    """
    n = len(spiking.loss)
    if len(fixed.loss) != n:
        raise ValueError("both runs must have the same number of steps")
    cols = [np.arange(n), spiking.loss, fixed.loss, spiking.accuracy, fixed.accuracy,
            spiking.grad_norm, fixed.grad_norm, spiking.weight_norm, fixed.weight_norm]
    lines = [" ".join(PLOT_COLUMNS)]
    for row in zip(*cols):
        lines.append(f"{int(row[0])} " + " ".join(f"{x:.6g}" for x in row[1:]))
    return "\n".join(lines) + "\n"


def setting(value: float) -> str:
    """A setting echoed as the instructor typed it (``2``, ``0.1``, ``1e-05``): plain text, no math."""
    return f"{value:g}"


def context(st: StartValues, ev: Evidence) -> dict[str, Any]:
    s, cfg, fixed = ev.measured, ev.settings, latex.fixed
    return {
        "classes": st.classes,
        "classes_definition": latex.tex(st.classes_definition),
        "cross_entropy": latex.tex(st.cross_entropy),
        "class_names": CLASS_NAMES[st.classes],
        "markers": n_markers(st.classes),
        "loss_def": latex.tex(st.loss_definition),
        "loss": latex.tex(st.loss),
        "acc_def": latex.tex(st.accuracy_definition),
        "acc": latex.tex(st.accuracy),
        "loss_value": latex.tex(st.loss_value),
        "loss_number": fixed(float(st.loss_value), 3),
        "acc_value": latex.tex(st.accuracy_value),
        "acc_number": fixed(float(st.accuracy_value), 3),
        "measured_loss": fixed(s["initial_loss"], 3),
        "measured_acc": fixed(s["initial_accuracy"], 3),
        "eval_batch": cfg.eval_batch,
        "seq_len": cfg.seq_len, "hidden": cfg.hidden, "batch": cfg.batch, "steps": cfg.steps,
        "optimizer": "SGD" if cfg.optimizer == "sgd" else "Adam",
        "lr": setting(cfg.lr), "fix_lr": setting(ev.fix_lr), "clip": setting(cfg.clip_norm),
        "fix_lr_differs": setting(ev.fix_lr) != setting(cfg.lr),
        "max_update_formula": latex.tex(st.update_bound), "max_update": setting(ev.max_update),
        "warmup": cfg.warmup_steps, "seed": cfg.seed,
        "data_file": DATA_FILE,
        "zoom_steps": max(cfg.steps // 4, 20),
        "skip": SKIP,
        "episodes": s["episodes"], "left_episodes": s["left_episodes"],
        "first_spike": s["first_spike"],
        "spike_steps": ", ".join(map(str, s["spike_steps"])),
        "peak_step": s["peak_step"], "peak_loss": fixed(s["peak_loss"]), "peak_ratio": fixed(s["peak_ratio"], 1),
        "peak_grad_before": fixed(s["peak_grad_before"], 2),
        "peak_update": fixed(s["peak_update"], 2), "median_update": fixed(s["median_update"], 4),
        "median_grad": fixed(s["median_grad"], 4),
        "max_grad": fixed(s["max_grad"], 1),
        "weight_max": fixed(s["weight_max"], 1),
        "late_step": s["late_step"], "late_loss": fixed(s["late_loss"]), "late_ratio": fixed(s["late_ratio"], 1),
        "late_is_spike": s["late_ratio"] > 1.0,
        "fixed_max_loss": fixed(s["fixed_max_loss"]), "fixed_max_ratio": fixed(s["fixed_max_ratio"], 2),
        "fixed_spikes": s["fixed_spikes"], "fixed_max_grad": fixed(s["fixed_max_grad"], 1),
        "spiking_final_acc": fixed(100 * s["spiking_final_acc"], 1),
        "fixed_final_acc": fixed(100 * s["fixed_final_acc"], 1),
        "spiking_final_loss": fixed(s["spiking_final_loss"], 3),
        "fixed_final_loss": fixed(s["fixed_final_loss"], 3),
        "seconds": fixed(s["seconds"], 1),
        "cache_hit": ev.cache_hit,
    }


def answers(st: StartValues, ev: Evidence) -> dict[str, Any]:
    s = ev.measured
    return {
        "loss_curves.initial_loss": float(st.loss_value),
        "loss_curves.initial_accuracy": float(st.accuracy_value),
        "loss_curves.initial_loss.latex": latex.tex(st.loss_value),
        "loss_curves.initial_accuracy.latex": latex.tex(st.accuracy_value),
        "loss_curves.measured.initial_loss": s["initial_loss"],
        "loss_curves.measured.initial_accuracy": s["initial_accuracy"],
        # spike_steps last, as the key has always listed it
        "loss_curves.run": {k: v for k, v in s.items() if k != "spike_steps"} | {"spike_steps": s["spike_steps"]},
    }


def present(derivation: StartValues, evidence: Evidence, verification: Verification) -> Presentation:
    return Presentation(context(derivation, evidence), answers(derivation, evidence),
                        {DATA_FILE: plot_table(evidence.spiking, evidence.fixed)})
