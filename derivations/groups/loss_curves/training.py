"""Training of the 1.3 LSTM with the spiking or the fixed procedure.

Everything is deterministic: the weights come from
``numpy.random.default_rng(seed)``, the training batches and the held-out batch
from two other generators derived from the same seed, so the spiking and the
fixed run see exactly the same initial weights and the same data stream.

``settings`` is the group's parameter object (:class:`~derivations.groups.loss_curves.LossCurves`)
or anything with the same attributes.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping

import numpy as np

from .model import Params, evaluate, global_norm, init_params, loss_and_grads
from .task import make_batch, marker_windows, n_markers, symbol_ids


@dataclasses.dataclass(frozen=True)
class Run:
    """Recorded history of one training run.

    Per-step arrays (length ``steps``): mini-batch ``loss`` and ``accuracy``
    before the update, global ``grad_norm`` of that step's gradient *before*
    clipping, and global ``weight_norm`` before the update. Scalars: loss and
    accuracy of the untrained and of the final network on the held-out batch,
    and the wall-clock ``seconds`` of the training.
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


def _rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for (weights, training data, held-out data) from one seed."""
    return (np.random.default_rng(seed),
            np.random.default_rng([seed, 1]),
            np.random.default_rng([seed, 2]))


def validate(settings: Any) -> None:
    """Raise ``ValueError`` for settings the experiment cannot run.

    A variant file never gets here with such settings (its rules are stricter);
    this guards direct callers of :func:`train`.
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


def clip_by_global_norm(grads: Mapping[str, np.ndarray], max_norm: float,
                        norm: float) -> Params:
    """Rescale the gradient to global norm ``max_norm`` if its norm exceeds it.

    g <- g * min(1, max_norm / ||g||): the direction is kept, only the step
    length is bounded, which is what stops a step on a cliff of the loss
    surface from throwing the weights far away.
    """
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: v * scale for k, v in grads.items()}


def train(settings: Any, fixed: bool, seed: int | None = None) -> Run:
    """Train the LSTM classifier with the spiking (``fixed=False``) or fixed procedure.

    ``seed`` (default ``settings.seed``) sets weights and data. Both procedures
    start from the same weights and see the same sequence of mini-batches; they
    differ only in the update rule: the fixed one clips the global gradient norm
    to ``clip_norm`` and optionally uses ``fixed_lr`` and a warm-up. Optimisers:
    plain SGD, w <- w - lr g; RMSprop as in PyTorch's default (v <- 0.99 v +
    0.01 g^2, w <- w - lr g / (sqrt(v) + 1e-8), no bias correction); or Adam
    (beta1 = 0.9, beta2 = 0.999, eps = 1e-8, with bias correction).
    """
    validate(settings)
    s = settings
    init_rng, data_rng, eval_rng = _rngs(s.seed if seed is None else seed)
    n_symbols = symbol_ids(s.n_distractors)[2]
    params = init_params(init_rng, n_symbols, s.hidden, s.classes)
    X_eval, y_eval = make_batch(eval_rng, s.eval_batch, s.seq_len, s.classes, s.n_distractors)

    start = time.perf_counter()
    initial_loss, initial_accuracy = evaluate(params, X_eval, y_eval)
    loss, accuracy, grad_norm, weight_norm, update_norm = (np.empty(s.steps) for _ in range(5))
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2, eps, alpha = 0.9, 0.999, 1e-8, 0.99
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(s.steps):
            X, y = make_batch(data_rng, s.batch, s.seq_len, s.classes, s.n_distractors)
            loss[step], accuracy[step], grads = loss_and_grads(params, X, y)
            grad_norm[step] = global_norm(grads)
            weight_norm[step] = global_norm(params)
            if fixed:
                grads = clip_by_global_norm(grads, s.clip_norm, grad_norm[step])
            lr = learning_rate(s, fixed, step)
            if s.optimizer == "sgd":
                delta = {k: -lr * grads[k] for k in params}
            elif s.optimizer == "rmsprop":
                v = {k: alpha * v[k] + (1 - alpha) * grads[k] ** 2 for k in params}
                delta = {k: -lr * grads[k] / (np.sqrt(v[k]) + eps) for k in params}
            else:
                m = {k: beta1 * m[k] + (1 - beta1) * grads[k] for k in params}
                v = {k: beta2 * v[k] + (1 - beta2) * grads[k] ** 2 for k in params}
                c1, c2 = 1 - beta1 ** (step + 1), 1 - beta2 ** (step + 1)
                delta = {k: -lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps) for k in params}
            update_norm[step] = global_norm(delta)
            params = {k: params[k] + delta[k] for k in params}
    final_loss, final_accuracy = evaluate(params, X_eval, y_eval)
    seconds = time.perf_counter() - start
    return Run(loss=loss, accuracy=accuracy, grad_norm=grad_norm, weight_norm=weight_norm,
               update_norm=update_norm, initial_loss=initial_loss, initial_accuracy=initial_accuracy,
               final_loss=final_loss, final_accuracy=final_accuracy, seconds=seconds)
