"""1.3: template context, answers and the plot table, built once from the results."""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import latex
from ...registry import Presentation, Verification
from . import analysis
from .derive import StartValues
from .experiment import Evidence
from .task import COURSE_CLASSES, class_list, n_markers, n_orders
from .training import Run

DATA_FILE = "loss_curves.dat"

#: Columns of the key's table: both procedures of the plotted seed.
PLOT_COLUMNS = ("step", "loss_spiky", "loss_fixed", "acc_spiky", "acc_fixed",
                "gnorm_spiky", "gnorm_fixed", "unorm_spiky", "unorm_fixed", "wnorm_spiky", "wnorm_fixed")
#: Columns of the handout's table: the spiking run only (the fixed run is 1.3(c)'s answer).
HANDOUT_COLUMNS = ("step", "loss_spiky", "acc_spiky")
_FIELDS = {"loss": "loss", "acc": "accuracy", "gnorm": "grad_norm", "unorm": "update_norm", "wnorm": "weight_norm"}


def plot_table(spiking: Run, fixed: Run, columns: tuple[str, ...] = PLOT_COLUMNS) -> str:
    """A whitespace-separated table for pgfplots, one row per step.

    ``step`` is 0-based like the arrays: row t holds the mini-batch loss of
    step t (row 0 = the untrained network). Columns: ``columns`` (default
    :data:`PLOT_COLUMNS`); use e.g. ``\\addplot table[x=step, y=loss_spiky] {file.dat};``.
    """
    n = len(spiking.loss)
    if len(fixed.loss) != n:
        raise ValueError("both runs must have the same number of steps")
    cols = [np.arange(n)]
    for name in columns[1:]:
        kind, proc = name.split("_")
        cols.append(getattr(spiking if proc == "spiky" else fixed, _FIELDS[kind]))
    lines = [" ".join(columns)]
    for row in zip(*cols):
        lines.append(f"{int(row[0])} " + " ".join(f"{x:.6g}" for x in row[1:]))
    return "\n".join(lines) + "\n"


def setting(value: float) -> str:
    """A setting echoed as the instructor typed it (``2``, ``0.1``, ``1e-05``): plain text, no math."""
    return f"{value:g}"


def spread_text(d: dict[str, Any], digits: int = 0, scale: float = 1.0) -> dict[str, Any]:
    """A summary of :func:`.analysis.spread` as printed: median, min and max with ``digits`` decimals."""
    def num(x):
        return None if x is None else latex.fixed(scale * x, digits) if digits else str(int(round(scale * x)))
    return {"med": num(d["median"]), "lo": num(d["min"]), "hi": num(d["max"]), "n": d["n"], "missing": d["missing"]}


def markers_phrase(markers: int) -> str:
    """``2 marker symbols``, ``1 marker symbol``: the count of markers as the statement prints it."""
    return f"{markers} marker symbol" + ("" if markers == 1 else "s")


def procedure(summary: dict[str, Any]) -> dict[str, Any]:
    """The printed numbers of one procedure over the seeds."""
    return {
        "spikes": spread_text(summary["spikes"]),
        "runs_with_spikes": summary["runs_with_spikes"],
        "peak_ratio": spread_text(summary["peak_ratio"], 2),
        "grad_ratio": spread_text(summary["grad_ratio"], 1),
        "update_ratio": spread_text(summary["update_ratio"], 1),
        "steps_to": spread_text(summary["steps_to_threshold"]),
        "accuracy": spread_text(summary["final_accuracy"], 1, 100.0),
        "median_grad": spread_text(summary["median_grad"], 2),
        "max_grad": spread_text(summary["max_grad"], 1),
        "median_update": spread_text(summary["median_update"], 3),
        "max_update": spread_text(summary["max_update"], 2),
    }


def context(st: StartValues, ev: Evidence) -> dict[str, Any]:
    s, cfg, fixed = ev.measured, ev.settings, latex.fixed
    claims = analysis.claims(s, ev.max_update)
    plotted = s["per_seed"]["spiking"][0]["spike_steps"]
    return {
        "classes": st.classes,
        "classes_definition": latex.tex(st.classes_definition),
        "cross_entropy": latex.tex(st.cross_entropy),
        "class_names": class_list(st.classes),
        "markers": n_markers(st.classes),
        "marker_symbols": markers_phrase(n_markers(st.classes)),
        "orders": n_orders(st.classes),
        "all_orders": n_orders(st.classes) == st.classes,  # False: only the first C orders are classes
        "course_task": st.classes == COURSE_CLASSES,  # the course notebook's own four classes
        "course_classes": latex.cardinal(COURSE_CLASSES), "course_class_names": class_list(COURSE_CLASSES),
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
        "optimizer": {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam"}[cfg.optimizer],
        "lr": setting(cfg.lr), "fix_lr": setting(ev.fix_lr), "clip": setting(cfg.clip_norm),
        "fix_lr_differs": setting(ev.fix_lr) != setting(cfg.lr),
        "max_update_formula": latex.tex(st.update_bound), "max_update": setting(ev.max_update),
        "warmup": cfg.warmup_steps,
        "seed": ev.seeds[0], "seed_last": ev.seeds[-1], "n_seeds": len(ev.seeds),
        "window": s["window"], "spike_factor": setting(s["spike_factor"]), "threshold": setting(s["loss_threshold"]),
        "jump_factor": setting(analysis.JUMP_FACTOR), "quiet_peak": setting(analysis.QUIET_PEAK),
        "data_file": DATA_FILE,
        "zoom_steps": analysis.early_steps(cfg.steps),
        "spiking": procedure(s["spiking"]), "fixed": procedure(s["fixed"]),
        # Every claim the text makes about the runs, decided from them (analysis.claims): a template
        # states a claim only where its boolean holds.
        "claims": claims,
        "fix_spike_free": claims["fix_spike_free"],
        "fix_slower": claims["fix_slower"],
        "sgd": cfg.optimizer == "sgd",  # the update is lr x (clipped) gradient: the bound fix_lr x clip_norm
        "fix_changes_lr": setting(ev.fix_lr) != setting(cfg.lr) or cfg.warmup_steps > 0,
        "plotted_spikes": ", ".join(map(str, plotted)),
        "plotted_spike_count": len(plotted),
        "runs_above_start": sum(1 for r in s["per_seed"]["spiking"] if r["spikes_above_start"] > 0),
        "seconds": fixed(s["seconds"], 1),
        "cache_hit": ev.cache_hit,
    }


def answers(st: StartValues, ev: Evidence) -> dict[str, Any]:
    s = ev.measured
    c = analysis.claims(s, ev.max_update)
    return {
        "loss_curves.initial_loss": float(st.loss_value),
        "loss_curves.initial_accuracy": float(st.accuracy_value),
        "loss_curves.initial_loss.latex": latex.tex(st.loss_value),
        "loss_curves.initial_accuracy.latex": latex.tex(st.accuracy_value),
        "loss_curves.measured.initial_loss": s["initial_loss"],
        "loss_curves.measured.initial_accuracy": s["initial_accuracy"],
        # Everything measured except the training's wall-clock time (machine-dependent: answers.json
        # is the same on every machine).
        "loss_curves.run": {k: v for k, v in s.items() if k != "seconds"},
        # The short answers of 1.3(a)-(c): the general answers to the questions, each beside the medians over
        # the seeds and the booleans (analysis.claims) that say how far these runs show it: a cause or a fix is
        # not claimed as shown by runs that do not show it.
        "loss_curves.spikes.cause": "exploding gradients: oversized update steps on a cliff of the loss surface",
        "loss_curves.spikes.observed": c["spikes_observed"],
        "loss_curves.spikes.gradient_jumps": c["gradient_jumps"],
        "loss_curves.spikes.step_length_shown": c["step_length_shown"],
        "loss_curves.spikes.per_run": s["spiking"]["spikes"]["median"],
        "loss_curves.spikes.peak_over_ln_c": s["spiking"]["peak_ratio"]["median"],
        "loss_curves.spikes.exceed_start": c["spikes_exceed_start"],
        "loss_curves.fix": "clip the gradient norm (or lower or warm up the learning rate)",
        "loss_curves.fix.removes_spikes": c["fix_removes_spikes"],
        "loss_curves.fixed.spikes_per_run": s["fixed"]["spikes"]["median"],
        "loss_curves.claims": c,
    }


#: Which answers.json entries answer which question. The start values answer 1.3(d) as numbers; the
#: three text answers come with the medians of the recorded runs and the booleans that say whether the
#: runs show them (spikes per run and whether any run spiked for (a), the highest loss over ln C and
#: whether a spike rose above its run's start for (b), spikes per clipped run and whether clipping
#: removed observed spikes for (c); all runs: ``loss_curves.run``, every claim: ``loss_curves.claims``).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "loss_spikes": ("loss_curves.spikes.cause", "loss_curves.spikes.per_run", "loss_curves.spikes.observed",
                    "loss_curves.spikes.step_length_shown"),
    "loss_above_initial": ("loss_curves.initial_loss", "loss_curves.spikes.peak_over_ln_c",
                           "loss_curves.spikes.exceed_start"),
    "loss_fix": ("loss_curves.fix", "loss_curves.fixed.spikes_per_run", "loss_curves.fix.removes_spikes"),
    "loss_start": ("loss_curves.initial_loss", "loss_curves.initial_accuracy"),
    "loss_start_accuracy": ("loss_curves.initial_accuracy",),
}


def present(derivation: StartValues, evidence: Evidence, verification: Verification) -> Presentation:
    """Context and answers; the key's table has both procedures, the handout's only the spiking run."""
    return Presentation(context(derivation, evidence), answers(derivation, evidence),
                        {DATA_FILE: plot_table(evidence.spiking, evidence.fixed)},
                        handout_files={DATA_FILE: plot_table(evidence.spiking, evidence.fixed, HANDOUT_COLUMNS)},
                        student_files={},  # the published solutions carry no figure
                        questions=QUESTIONS)
