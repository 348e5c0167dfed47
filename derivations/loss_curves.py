"""Question 1.3: spikes in the training loss of a recurrent classifier.

Two kinds of answer live here. The starting values are derived with SymPy: an
untrained network that predicts (about) uniformly over ``C`` classes has
cross-entropy ``-log(1/C) = log C`` and, whatever it guesses, accuracy ``1/C``
on balanced labels. The spikes are shown, not asserted: the experiment of
:mod:`derivations.loss_experiment` is run (or read from its cache) with the
spiking and with the fixed training procedure, and every number the answers
quote is read off those recorded runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from . import latex, loss_experiment
from . import verify as verify_mod
from .loss_experiment import ExperimentSettings, Run

CLASS_NAMES = {2: "A, B", 4: "Q, R, S, U", 8: "A to H"}
DATA_FILE = "loss_curves.dat"
SKIP = 10  # the first steps are mini-batch noise around the initial loss


@dataclass(frozen=True)
class StartValues:
    """Loss and accuracy of an uninformed classifier, symbolically and at the variant's C."""

    C: sp.Symbol
    loss_definition: sp.Expr  # -log(1/C)
    loss: sp.Expr  # log C
    accuracy_definition: sp.Expr  # sum_c P(yhat=c) P(y=c)
    accuracy: sp.Expr  # 1/C
    classes: int
    loss_value: sp.Expr  # log 4
    accuracy_value: sp.Expr  # 1/4


@dataclass(frozen=True)
class LossCurvesResult:
    settings: ExperimentSettings
    start: StartValues
    spiking: Run
    fixed: Run
    cache_hit: bool


def start_values(classes: int) -> StartValues:
    """Derive log C and 1/C: cross-entropy and accuracy of a uniform, uninformed guess."""
    C = sp.Symbol("C", integer=True, positive=True)
    c = sp.Symbol("c", integer=True, positive=True)
    q = sp.Function("q")  # the network's (label-independent) prediction frequencies
    # Cross-entropy of the uniform prediction p_y = 1/C for whatever the label y is.
    loss_def = -sp.log(1 / C, evaluate=False)
    loss = sp.expand_log(-sp.log(1 / C), force=True)
    # Balanced labels, P(y = c) = 1/C, and a guess independent of the label:
    # P(correct) = sum_c P(yhat = c) P(y = c) = (1/C) sum_c q(c) = 1/C.
    acc_def = sp.Sum(q(c) / C, (c, 1, C))
    accuracy = sp.factor_terms(acc_def).subs(sp.Sum(q(c), (c, 1, C)), 1)
    return StartValues(C, loss_def, loss, acc_def, accuracy, classes,
                       loss.subs(C, classes), accuracy.subs(C, classes))


def derive(variant: Any, cache_dir: Path | None = None) -> LossCurvesResult:
    """Start values from ``classes``; both training runs from the cache or a fresh run."""
    settings = variant.loss_curves
    cache = Path(cache_dir) if cache_dir is not None else Path("build") / ".cache"
    spiking, fixed, hit = loss_experiment.run_both(settings, cache)
    return LossCurvesResult(settings, start_values(settings.classes), spiking, fixed, hit)


def verify(result: LossCurvesResult, seed: int) -> tuple[list[verify_mod.Check], dict[str, np.ndarray]]:
    """The derived start values against the untrained network's held-out numbers.

    These are statistical, not exact: the tolerance is a few standard errors of
    the held-out estimate (accuracy) and the spread of near-uniform logits (loss).
    """
    s = result.start
    n = result.settings.eval_batch
    acc = float(s.accuracy_value)
    acc_se = np.sqrt(acc * (1 - acc) / n)
    detail = f"untrained model, {n} held-out sequences"
    checks = [
        verify_mod.Check("loss_curves.initial_loss", r"initial loss $\ln C$ (start)", (1,),
                         "untrained model", abs(result.spiking.initial_loss - float(s.loss_value)) / float(s.loss_value),
                         0.1, detail),
        verify_mod.Check("loss_curves.initial_accuracy", r"initial accuracy $1/C$ (start)", (1,),
                         "untrained model", abs(result.spiking.initial_accuracy - acc), float(5 * acc_se), detail),
        # Same model, same seed: both procedures start from the same weights.
        verify_mod.agreement("loss_curves.same_start", "same start, both procedures (fix)",
                             np.array([result.fixed.initial_loss]), np.array([result.spiking.initial_loss]),
                             "held-out loss of both runs", detail="same weights, seed and data"),
    ]
    return checks, {}


def _episodes(steps: list[int]) -> list[tuple[int, int]]:
    """Group consecutive spike steps into (first, last) episodes."""
    out: list[tuple[int, int]] = []
    for s in steps:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def summary(result: LossCurvesResult) -> dict[str, Any]:
    """The numbers the answers quote, read off the recorded runs.

    Steps are 0-based, as on the plots' x axis.
    """
    sp_run, fx_run = result.spiking, result.fixed
    init = sp_run.initial_loss
    spikes = loss_experiment.spikes(sp_run, init, 1.0, SKIP)
    episodes = _episodes(spikes)
    steps = len(sp_run.loss)
    # "The spikes on the left": the highest spike in the first half of training.
    half = max(steps // 2, SKIP + 1)
    peak = int(np.argmax(sp_run.loss[SKIP:half])) + SKIP
    late = int(np.argmax(sp_run.loss[half:])) + half if steps > half else peak
    left = [e for e in episodes if e[0] < half]
    return {
        "steps": steps,
        "episodes": len(episodes),
        "left_episodes": len(left),
        "first_spike": episodes[0][0] if episodes else None,
        "spike_steps": [e[0] for e in episodes[:6]],
        "peak_step": peak,
        "peak_loss": float(sp_run.loss[peak]),
        "peak_ratio": float(sp_run.loss[peak] / init),
        # loss[t] is measured before update t, so spike t follows update t - 1,
        # whose length is lr * ||g[t - 1]|| (no clipping in this run).
        "peak_grad_before": float(sp_run.grad_norm[max(peak - 1, 0)]),
        "peak_update": float(result.settings.lr * sp_run.grad_norm[max(peak - 1, 0)]),
        "median_update": float(result.settings.lr * np.median(sp_run.grad_norm)),
        "median_grad": float(np.median(sp_run.grad_norm)),
        "max_grad": float(sp_run.grad_norm.max()),
        "late_step": late,
        "late_loss": float(sp_run.loss[late]),
        "late_ratio": float(sp_run.loss[late] / init),
        "weight_max": float(sp_run.weight_norm.max()),
        "fixed_max_loss": float(fx_run.loss[SKIP:].max()),
        "fixed_max_ratio": float(fx_run.loss[SKIP:].max() / init),
        "fixed_spikes": len(_episodes(loss_experiment.spikes(fx_run, init, 1.0, SKIP))),
        "fixed_max_grad": float(fx_run.grad_norm.max()),
        "spiking_final_acc": sp_run.final_accuracy,
        "fixed_final_acc": fx_run.final_accuracy,
        "spiking_final_loss": sp_run.final_loss,
        "fixed_final_loss": fx_run.final_loss,
        "initial_loss": init,
        "initial_accuracy": sp_run.initial_accuracy,
        "seconds": sp_run.seconds + fx_run.seconds,
    }


def answers(result: LossCurvesResult) -> dict[str, Any]:
    s = summary(result)
    return {
        "loss_curves.initial_loss": float(result.start.loss_value),
        "loss_curves.initial_accuracy": float(result.start.accuracy_value),
        "loss_curves.initial_loss.latex": latex.tex(result.start.loss_value),
        "loss_curves.initial_accuracy.latex": latex.tex(result.start.accuracy_value),
        "loss_curves.measured.initial_loss": s["initial_loss"],
        "loss_curves.measured.initial_accuracy": s["initial_accuracy"],
        "loss_curves.run": {k: v for k, v in s.items() if k != "spike_steps"} | {"spike_steps": s["spike_steps"]},
    }


def files(result: LossCurvesResult) -> dict[str, str]:
    """The plot data the LaTeX source reads (next to it in the output folder)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / DATA_FILE
        loss_experiment.write_plot_data(result.spiking, result.fixed, path)
        return {DATA_FILE: path.read_text("utf-8")}


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def context(result: LossCurvesResult) -> dict[str, Any]:
    st, s, cfg = result.start, summary(result), result.settings
    fix_lr = cfg.lr if cfg.fixed_lr is None else cfg.fixed_lr
    return {
        "classes": st.classes,
        "class_names": CLASS_NAMES[st.classes],
        "markers": int(np.log2(st.classes)),
        "loss_def": latex.tex(st.loss_definition),
        "loss": latex.tex(st.loss),
        "acc_def": latex.tex(st.accuracy_definition),
        "acc": latex.tex(st.accuracy),
        "loss_value": latex.tex(st.loss_value),
        "loss_number": _num(float(st.loss_value), 3),
        "acc_value": latex.tex(st.accuracy_value),
        "acc_number": _num(float(st.accuracy_value), 3),
        "measured_loss": _num(s["initial_loss"], 3),
        "measured_acc": _num(s["initial_accuracy"], 3),
        "eval_batch": cfg.eval_batch,
        "seq_len": cfg.seq_len, "hidden": cfg.hidden, "batch": cfg.batch, "steps": cfg.steps,
        "optimizer": "SGD" if cfg.optimizer == "sgd" else "Adam",
        "lr": f"{cfg.lr:g}", "fix_lr": f"{fix_lr:g}", "clip": f"{cfg.clip_norm:g}",
        "max_update": f"{fix_lr * cfg.clip_norm:g}",
        "warmup": cfg.warmup_steps, "seed": cfg.seed,
        "data_file": DATA_FILE,
        "zoom_steps": max(cfg.steps // 4, 20),
        "skip": SKIP,
        "episodes": s["episodes"], "left_episodes": s["left_episodes"],
        "first_spike": s["first_spike"],
        "spike_steps": ", ".join(map(str, s["spike_steps"])),
        "peak_step": s["peak_step"], "peak_loss": _num(s["peak_loss"]), "peak_ratio": _num(s["peak_ratio"], 1),
        "peak_grad_before": _num(s["peak_grad_before"], 2),
        "peak_update": _num(s["peak_update"], 2), "median_update": _num(s["median_update"], 4),
        "median_grad": _num(s["median_grad"], 4),
        "max_grad": _num(s["max_grad"], 1),
        "weight_max": _num(s["weight_max"], 1),
        "late_step": s["late_step"], "late_loss": _num(s["late_loss"]), "late_ratio": _num(s["late_ratio"], 1),
        "late_is_spike": s["late_ratio"] > 1.0,
        "fixed_max_loss": _num(s["fixed_max_loss"]), "fixed_max_ratio": _num(s["fixed_max_ratio"], 2),
        "fixed_spikes": s["fixed_spikes"], "fixed_max_grad": _num(s["fixed_max_grad"], 1),
        "spiking_final_acc": _num(100 * s["spiking_final_acc"], 1),
        "fixed_final_acc": _num(100 * s["fixed_final_acc"], 1),
        "spiking_final_loss": _num(s["spiking_final_loss"], 3),
        "fixed_final_loss": _num(s["fixed_final_loss"], 3),
        "seconds": _num(s["seconds"], 1),
        "cache_hit": result.cache_hit,
    }
