"""Training of the 1.3 LSTM with the spiking or the fixed procedure.

Everything is deterministic: the weights come from
``numpy.random.default_rng(seed)``, the training batches and the held-out batch
from two other generators derived from the same seed, so the spiking and the
fixed run see exactly the same initial weights and the same data stream.

Runs are trained together (:func:`train_many`): the weights, batches and
optimiser states of all runs are stacked along a leading run axis, so that each
NumPy call of a training step serves every run (the model's arrays are small,
and much of a step's cost is the fixed cost of each call; :mod:`.model`). Each
run keeps its own generators, learning rate and clipping factor, and every
recorded number is the one the run gives when trained alone, bit for bit (the
tests compare): the stacked model computes each run exactly as a single one,
the per-run factors are applied elementwise (a run that is not clipped is
multiplied by exactly 1), and the global norms are taken run by run. The
held-out evaluations are made one run at a time.

``settings`` is the group's parameter object (:class:`~derivations.groups.loss_curves.LossCurves`)
or anything with the same attributes.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, Sequence

import numpy as np

from .model import evaluate, global_norm, init_params, loss_and_grads
from .task import make_batch, marker_windows, n_markers, symbol_ids


@dataclasses.dataclass(frozen=True)
class Run:
    """Recorded history of one training run.

    Per-step arrays (length ``steps``): mini-batch ``loss`` and ``accuracy``
    before the update, global ``grad_norm`` of that step's gradient *before*
    clipping, global ``weight_norm`` before the update and the global norm of
    the update, ``update_norm``. Scalars: loss and accuracy of the untrained
    and of the final network on the held-out batch, and ``seconds``: the
    wall-clock time of the training (from the first to the last held-out
    evaluation) of the runs trained together, divided by their number, so that
    the ``seconds`` of all runs add up to the time spent training them.
    """

    loss: np.ndarray
    accuracy: np.ndarray
    grad_norm: np.ndarray
    weight_norm: np.ndarray
    update_norm: np.ndarray
    initial_loss: float
    initial_accuracy: float
    final_loss: float
    final_accuracy: float
    seconds: float


#: The update rules :func:`train` knows.
OPTIMIZERS = ("sgd", "rmsprop", "adam")

#: Runs are trained together in groups whose arrays of one step -- the one-hot
#: batches (n_symbols numbers per position) and the activations the forward pass
#: keeps for the backward pass (7 x hidden per position) -- hold at most this many
#: float64 numbers together, about 400 MB. The default experiment's ten runs hold
#: 755,200, so they form one group; settings with large batches, long sequences
#: and many hidden units are trained in smaller groups (down to one run at a
#: time), where one call serves enough numbers for stacking to gain little.
GROUP_NUMBERS = 50_000_000


def _rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for (weights, training data, held-out data) from one seed."""
    return (np.random.default_rng(seed),
            np.random.default_rng([seed, 1]),
            np.random.default_rng([seed, 2]))


def validate(settings: Any) -> None:
    """Raise ``ValueError`` for settings the experiment cannot run.

    A variant file never gets here with such settings (its rules are stricter);
    this guards direct callers of :func:`train` and :func:`train_many`.
    """
    n_markers(settings.classes)
    marker_windows(settings.seq_len, settings.classes)
    symbol_ids(settings.n_distractors)
    if settings.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {settings.optimizer!r}")
    if settings.steps < 1 or settings.batch < 1 or settings.eval_batch < 1 or settings.hidden < 1:
        raise ValueError("steps, batch, eval_batch and hidden must be positive")
    if settings.clip_norm <= 0 or settings.lr <= 0:
        raise ValueError("lr and clip_norm must be positive")
    if settings.fixed_lr is not None and settings.fixed_lr <= 0:
        raise ValueError("fixed_lr must be positive or None")
    if settings.warmup_steps < 0:
        raise ValueError("warmup_steps must be >= 0")


def fixed_base_lr(settings: Any) -> float:
    """Learning rate of the fixed procedure after its warm-up: ``fixed_lr``, or ``lr`` if unset."""
    return settings.lr if settings.fixed_lr is None else settings.fixed_lr


def learning_rate(settings: Any, fixed: bool, step: int) -> float:
    """Learning rate at ``step`` (0-based) for the spiking or the fixed procedure."""
    if not fixed:
        return settings.lr
    lr = fixed_base_lr(settings)
    if settings.warmup_steps > 0:
        lr *= min(1.0, (step + 1) / settings.warmup_steps)
    return lr


def clip_factor(max_norm: float, norm: float) -> float:
    """The factor that clips a gradient of global norm ``norm`` to ``max_norm``: min(1, max_norm / ||g||).

    g <- g * min(1, max_norm / ||g||): the direction is kept, only the step
    length is bounded, which is what stops a step on a cliff of the loss
    surface from throwing the weights far away. A zero (or NaN) norm gives 1.
    """
    return min(1.0, max_norm / norm) if norm > 0 else 1.0


def train(settings: Any, fixed: bool, seed: int | None = None) -> Run:
    """Train the LSTM classifier with the spiking (``fixed=False``) or fixed procedure.

    ``seed`` (default ``settings.seed``) sets weights and data. Both procedures
    start from the same weights and see the same sequence of mini-batches; they
    differ only in the update rule: the fixed one clips the global gradient norm
    to ``clip_norm`` and optionally uses ``fixed_lr`` and a warm-up. Optimisers:
    plain SGD, w <- w - lr g; RMSprop as in PyTorch's default (v <- 0.99 v +
    0.01 g^2, w <- w - lr g / (sqrt(v) + 1e-8), no bias correction); or Adam
    (beta1 = 0.9, beta2 = 0.999, eps = 1e-8, with bias correction).
    The run alone: :func:`train_many` with this one job.
    """
    return train_many(settings, [(fixed, settings.seed if seed is None else seed)])[0]


def train_many(settings: Any, jobs: Sequence[tuple[bool, int]]) -> list[Run]:
    """The runs ``jobs`` = [(fixed, seed), ...], trained together; one :class:`Run` per job, in order.

    Each run is the one :func:`train` makes (see there for the procedures),
    bit for bit, whichever runs it is trained with. The runs are trained in
    groups of at most :data:`GROUP_NUMBERS` numbers per step (all of them in one
    group for the default settings).
    """
    validate(settings)
    s = settings
    per_run = s.batch * s.seq_len * (symbol_ids(s.n_distractors)[2] + 7 * s.hidden)
    size = max(1, GROUP_NUMBERS // per_run)
    return [run for i in range(0, len(jobs), size) for run in _train_group(settings, jobs[i:i + size])]


def _per_run(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Per-run numbers (R,) shaped to multiply the stacked array ``like`` (R, ...) run by run."""
    return values.reshape((-1,) + (1,) * (like.ndim - 1))


def _norms(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """:func:`~.model.global_norm` of each run's slice of the stacked ``arrays``, shape (R,)."""
    runs = len(next(iter(arrays.values())))
    return np.array([global_norm({k: a[r] for k, a in arrays.items()}) for r in range(runs)])


def _evaluate(settings: Any, params: Mapping[str, np.ndarray], seeds: Sequence[int]) -> list[tuple[float, float]]:
    """Loss and accuracy of each run's weights (the stacked ``params``) on the held-out batch of its seed.

    One run at a time, with its own (2-D) weights: the held-out batch is large
    (2000 sequences by default), so stacking would save little time and
    multiply the memory. The batch is drawn afresh from the seed's generator
    each time, which gives the same batch.
    """
    s = settings
    return [evaluate({k: a[r] for k, a in params.items()},
                     *make_batch(_rngs(seed)[2], s.eval_batch, s.seq_len, s.classes, s.n_distractors))
            for r, seed in enumerate(seeds)]


def _train_group(settings: Any, jobs: Sequence[tuple[bool, int]]) -> list[Run]:
    """The runs ``jobs`` trained in one stack (see :func:`train_many`)."""
    s = settings
    R = len(jobs)
    fixed = np.array([f for f, _ in jobs])
    seeds = [seed for _, seed in jobs]
    init_rngs, data_rngs, _ = zip(*(_rngs(seed) for seed in seeds))
    n_symbols = symbol_ids(s.n_distractors)[2]
    inits = [init_params(rng, n_symbols, s.hidden, s.classes) for rng in init_rngs]
    params = {k: np.stack([p[k] for p in inits]) for k in inits[0]}

    start = time.perf_counter()
    initial = _evaluate(s, params, seeds)
    loss, accuracy, grad_norm, weight_norm, update_norm = (np.empty((R, s.steps)) for _ in range(5))
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2, eps, alpha = 0.9, 0.999, 1e-8, 0.99
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(s.steps):
            batches = [make_batch(rng, s.batch, s.seq_len, s.classes, s.n_distractors) for rng in data_rngs]
            X, y = np.stack([X for X, _ in batches]), np.stack([y for _, y in batches])
            loss[:, step], accuracy[:, step], grads = loss_and_grads(params, X, y)
            grad_norm[:, step] = _norms(grads)
            weight_norm[:, step] = _norms(params)
            # the fixed runs' gradients are clipped, the spiking runs' multiplied by exactly 1
            clip = np.array([clip_factor(s.clip_norm, n) if f else 1.0 for f, n in zip(fixed, grad_norm[:, step])])
            grads = {k: g * _per_run(clip, g) for k, g in grads.items()}
            lr = np.where(fixed, learning_rate(s, True, step), learning_rate(s, False, step))
            if s.optimizer == "sgd":
                delta = {k: -_per_run(lr, grads[k]) * grads[k] for k in params}
            elif s.optimizer == "rmsprop":
                v = {k: alpha * v[k] + (1 - alpha) * grads[k] ** 2 for k in params}
                delta = {k: -_per_run(lr, grads[k]) * grads[k] / (np.sqrt(v[k]) + eps) for k in params}
            else:
                m = {k: beta1 * m[k] + (1 - beta1) * grads[k] for k in params}
                v = {k: beta2 * v[k] + (1 - beta2) * grads[k] ** 2 for k in params}
                c1, c2 = 1 - beta1 ** (step + 1), 1 - beta2 ** (step + 1)
                delta = {k: -_per_run(lr, m[k]) * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps) for k in params}
            update_norm[:, step] = _norms(delta)
            params = {k: params[k] + delta[k] for k in params}
    final = _evaluate(s, params, seeds)
    seconds = (time.perf_counter() - start) / R
    return [Run(loss=loss[r], accuracy=accuracy[r], grad_norm=grad_norm[r], weight_norm=weight_norm[r],
                update_norm=update_norm[r], initial_loss=float(initial[r][0]),
                initial_accuracy=float(initial[r][1]), final_loss=float(final[r][0]),
                final_accuracy=float(final[r][1]), seconds=seconds)
            for r in range(R)]
