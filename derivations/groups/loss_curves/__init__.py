"""Question 1.3: spikes in the training loss of a recurrent classifier, and their fix.

Two kinds of answer live here. The start values are derived with SymPy
(:mod:`.derive`): an untrained network that predicts (about) uniformly over
``C`` classes has cross-entropy ``-log(1/C) = log C`` and, whatever it guesses,
accuracy ``1/C`` on balanced labels. The spikes are shown, not asserted: the
declared experiment (:mod:`.experiment`) trains a small NumPy LSTM
(:mod:`.task`, :mod:`.model`, :mod:`.training`) with the spiking and with the
fixed procedure, cached by its settings, and every number the answers quote is
read off those recorded runs (:mod:`.analysis`).

The group's parameters are the experiment's settings: :class:`LossCurves`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Choice, Range, param
from ...registry import QuestionGroup, QuestionSpec
from .check import check
from .derive import derive
from .experiment import experiment
from .present import present
from .task import MAX_CLASSES, MIN_CLASSES, min_seq_len
from .vary import VARIATION, vary

RETRAIN = "; any change retrains (runs are cached by their settings)"
SEQ_LEN = Range(6, 200)  # sequence lengths; at least two positions per marker (markers_fit)


@dataclass(frozen=True)
class LossCurves:
    """All knobs of the experiment; the defaults reproduce the spikes and the fix.

    ``fixed_lr`` is the learning rate of the fixed procedure (None: same as
    ``lr``); ``clip_norm`` and ``warmup_steps`` (linear warm-up, 0 = none) are
    also used only by the fixed procedure. Everything else is shared.

    Defaults: plain SGD with lr = 2 for the spiking procedure; the fix is the
    same SGD with the global gradient norm clipped to 0.1, i.e. every update
    is at most lr * clip_norm = 0.2 long, whereas an unclipped update on a
    cliff is lr * ||g||. Both are trained with the seeds seed .. seed+seeds-1
    and the text quotes medians and ranges over them (:mod:`.analysis`).
    The course's own setting (RMSprop, lr 1e-3, 4 hidden units, sequences of
    length 7-8) can be run with ``optimizer = "rmsprop"``; in this NumPy model
    it learns without spikes, which is why it is not the default.

    The field names and values are part of the cache key
    (:func:`.experiment.cache_key`): renaming a field invalidates every cache.
    """

    classes: int = param("int", 4, Range(MIN_CLASSES, MAX_CLASSES),
                         doc="number of classes C: the task hides ceil(log2 C) markers of two kinds (X, Y) and its "
                             "classes are the first C orders of their kinds, equally likely, named Q, R, S, U for "
                             "four (the course's task) and A, B, C, ... otherwise; the start values ln C and 1/C"
                             + RETRAIN)
    seq_len: int = param("int", 20, SEQ_LEN, doc="length of the task's sequences (quoted)" + RETRAIN)
    n_distractors: int = param("int", 4, Range(1, 16), doc="number of distractor symbols of the task" + RETRAIN)
    hidden: int = param("int", 16, Range(1, 128), doc="LSTM hidden units (quoted)" + RETRAIN)
    optimizer: str = param("str", "sgd", Choice(("sgd", "rmsprop", "adam")),
                           doc="optimizer of both procedures, named in the key" + RETRAIN)
    lr: float = param("float", 2.0, Range(1e-6, 10.0),
                      doc="learning rate of the spiking procedure (and of the fixed one unless fixed_lr)" + RETRAIN)
    steps: int = param("int", 400, Range(20, 5000), doc="training steps of each run (the plots' x range)" + RETRAIN)
    batch: int = param("int", 32, Range(1, 1024), doc="mini-batch size (quoted)" + RETRAIN)
    seed: int = param("int", 0, Range(0, 2**32 - 1),
                      doc="first seed of weights and data (not [variant] seed); its runs are plotted" + RETRAIN)
    seeds: int = param("int", 5, Range(5, 50),
                       doc="number of seeds (seed, seed+1, ...) each procedure is trained with; the text "
                           "quotes medians and ranges over them" + RETRAIN)
    clip_norm: float = param("float", 0.1, Range(1e-6, 1000.0),
                             doc="gradient-norm clip of the fixed procedure (quoted)" + RETRAIN)
    fixed_lr: float | None = param("float?", None, Range(1e-6, 10.0),
                                   doc="learning rate of the fixed procedure; leave out for lr" + RETRAIN)
    warmup_steps: int = param("int", 0, Range(0, 5000),
                              doc="linear learning-rate warm-up of the fixed procedure, 0 = none" + RETRAIN)
    eval_batch: int = param("int", 2000, Range(10, 20000),
                            doc="held-out sequences for the untrained/final loss and accuracy" + RETRAIN)


# The experiment's budget. Both procedures are trained for every seed (2 x seeds runs, trained together
# in one process, training.train_many); a run's time is about
# seq_len x (steps x (0.09 + 0.005 batch f) + 0.009 eval_batch f) ms with f = max(hidden, 4) / 16, fitted
# to single runs trained alone (training them together costs less: the whole default experiment takes
# about 10 s on one core; the formula over-estimates large batches and hidden sizes).
# WORK_BUDGET bounds that estimate at this many times the default experiment's (about 30 s), so no valid
# variant trains for minutes (the maxima of the single keys allowed up to hours and, for
# eval_batch x seq_len x hidden, tens of gigabytes of activations);
# FORWARD_LIMIT bounds the largest forward pass (batch or eval_batch) x seq_len x hidden, whose cached
# activations take 56 bytes per element: about 560 MB (runs trained together share a step's memory up to
# training.GROUP_NUMBERS numbers, and the held-out evaluations are made one run at a time).
WORK_BUDGET = 3.0
FORWARD_LIMIT = 10_000_000
# What each knob is compared with when the budget names the key to reduce (the defaults).
_SCALED = ("steps", "batch", "seq_len", "hidden", "seeds", "eval_batch")


def work(p: LossCurves) -> float:
    """The estimated training work of ``p``'s experiment, in units of the default experiment's (1.0)."""

    def raw(q: LossCurves) -> float:
        f = max(q.hidden, 4) / 16
        return q.seeds * q.seq_len * (q.steps * (0.09 + 0.005 * q.batch * f) + 0.009 * q.eval_batch * f)

    return raw(p) / raw(LossCurves())


def experiment_fits(p: LossCurves) -> tuple[str, object, str] | None:
    """Refuse, before any training, settings whose experiment would take minutes or gigabytes.

    The key named is the knob furthest above its default (the one to reduce first).
    """
    default = LossCurves()
    key = max(_SCALED, key=lambda k: getattr(p, k) / getattr(default, k))
    forward = max(p.batch, p.eval_batch) * p.seq_len * p.hidden
    if forward > FORWARD_LIMIT:
        return (f"loss_curves.{key}", getattr(p, key), f"allowed: max(batch, eval_batch) x seq_len x hidden at most "
                f"{FORWARD_LIMIT:,} (the activations of one forward pass); these settings give {forward:,}")
    w = work(p)
    if w > WORK_BUDGET:
        return (f"loss_curves.{key}", getattr(p, key), f"allowed: a training experiment of at most {WORK_BUDGET:g} "
                f"times the default's work (about 30 s on 2 cores); these settings need {w:.2f} times: reduce "
                "steps, batch, seq_len, hidden, seeds or eval_batch (the budget: docs/variant-reference.md)")
    return None


def markers_fit(p: LossCurves) -> tuple[str, object, str] | None:
    """Every marker needs a window of at least two positions: ``seq_len >= 2 ceil(log2 C)``."""
    need = min_seq_len(p.classes)
    if p.seq_len < need:
        return ("loss_curves.seq_len", p.seq_len, f"allowed: {need}..{SEQ_LEN.hi} for classes = {p.classes} "
                f"(two positions for each of its {need // 2} markers)")
    return None


GROUP = QuestionGroup(
    name="loss_curves",
    title="1.3 debugging loss curves: spikes from exploding gradients and their fix",
    params=LossCurves,
    questions=(
        QuestionSpec("loss_spikes", "what produces the spikes (exploding gradients), with the recorded run"),
        QuestionSpec("loss_above_initial", "why a spike can exceed the initial loss"),
        QuestionSpec("loss_fix", "how to remove the spikes without changing the model (clipping, recorded)"),
        QuestionSpec("loss_start", "why loss and accuracy start at ln C and 1/C"),
        QuestionSpec("loss_start_accuracy", "why the accuracy starts at 1/C", alternative_to="loss_start"),
    ),
    section="loss_curves",
    derive=derive,
    check=check,
    present=present,
    package=__name__,
    experiment=experiment,
    experiment_cached=True,  # the runs, keyed by their settings (experiment.cache_path)
    constraints=(markers_fit, experiment_fits),
    vary=vary,
    variation=VARIATION,
    about="The settings of the training experiment behind 1.3: an LSTM is trained twice (plain and with "
          "gradient-norm clipping) and the text quotes its recorded curves and numbers. Only `classes` "
          "changes the question itself; every key changes the recorded run and so the numbers of the key. "
          f"The experiment has a budget, checked before any work: its estimated time, seeds x seq_len x "
          f"(steps x (0.09 + 0.005 batch f) + 0.009 eval_batch f) ms per procedure and core with "
          f"f = max(hidden, 4)/16, may be at most {WORK_BUDGET:g} times the defaults' (about 10 s on one core, "
          f"so about 30 s), and one forward pass, max(batch, eval_batch) x seq_len x hidden, at most "
          f"{FORWARD_LIMIT:,} activations (about 560 MB); beyond either, the variant is refused "
          "naming the key furthest above its default. The ranges below are per key; the budget bounds "
          "their combination (e.g. steps up to about 1300 at the other defaults).",
)
