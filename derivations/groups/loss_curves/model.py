"""The model of the 1.3 experiment: an LSTM with a linear read-out and softmax cross-entropy.

NumPy only, with a hand-written backpropagation through time
(:func:`loss_and_grads`), checked against central finite differences in the
tests.

Every function takes one model -- weights ``Wx`` (D, 4H), ``Wh`` (H, 4H),
``b`` (4H,), ``Wy`` (H, C), ``by`` (C,) and a batch ``X`` (B, T, D), ``y``
(B,) -- or a stack of independent models with the same leading axes on every
array (``Wx`` (R, D, 4H), ..., ``X`` (R, B, T, D), ``y`` (R, B)), which is how
the experiment trains its runs together (:func:`.training.train_many`): one
NumPy call then serves every run, and with arrays this small much of a call's
cost is the call itself. The per-model results (loss, accuracy) carry the
leading axes. The stacked form computes each model exactly as the single form
does, bit for bit (the tests compare): the products are made by ``matmul``,
which hands each 2-D slice of a stack to BLAS as it would hand a lone matrix of
the same shape and strides (so BLAS picks the same routine and number of
threads); elementwise operations act on each element alone; and every
reduction runs along an axis inside one model, in the same order.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

Params = dict[str, np.ndarray]


def init_params(rng: np.random.Generator, n_in: int, hidden: int, classes: int) -> Params:
    """Initial weights of one LSTM classifier.

    Scheme (documented because the spikes depend on it):
    * ``Wx`` (n_in, 4H): N(0, 1/n_in) -- unit-variance pre-activations for one-hot inputs;
    * ``Wh`` (H, 4H): N(0, 1/H) -- the usual LeCun scaling of recurrent weights;
    * ``b`` (4H,): zero, except the forget-gate bias = 1 so that the cell
      initially remembers (Gers et al., 2000; Jozefowicz et al., 2015);
    * ``Wy`` (H, C): N(0, 1/H) scaled by 0.1 and ``by`` = 0, so the untrained
      network outputs nearly uniform probabilities and its loss is about ln C.
    Gate order in the 4H columns: input i, forget f, candidate g, output o.
    """
    h = hidden
    b = np.zeros(4 * h)
    b[h:2 * h] = 1.0
    return {
        "Wx": rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, 4 * h)),
        "Wh": rng.normal(0.0, 1.0 / math.sqrt(h), size=(h, 4 * h)),
        "b": b,
        "Wy": 0.1 * rng.normal(0.0, 1.0 / math.sqrt(h), size=(h, classes)),
        "by": np.zeros(classes),
    }


def forward(params: Mapping[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, dict]:
    """Run the LSTM over ``X`` (..., B, T, D) and return the logits (..., B, C) and a cache for backprop.

    Recurrence, for t = 1..T with h_0 = c_0 = 0:
        [i, f, g, o] = [s, s, tanh, s]( x_t Wx + h_{t-1} Wh + b )
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)
    and the logits are z = h_T Wy + by. Leading axes ``...`` are independent
    models (see the module docstring); the cached states have the time first,
    ``hs[t]`` of shape (..., B, H).
    """
    Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
    *lead, B, T, _ = X.shape
    H = Wh.shape[-2]
    # s(z) = (1 + tanh(z/2)) / 2, so all four gates are one tanh of a rescaled
    # pre-activation followed by an affine map: gate = alpha * tanh(scale * a) + beta,
    # with (scale, alpha, beta) = (1/2, 1/2, 1/2) for i, f, o and (1, 1, 0) for g.
    scale = np.full(4 * H, 0.5)
    scale[2 * H:3 * H] = 1.0
    beta = np.full(4 * H, 0.5)
    beta[2 * H:3 * H] = 0.0
    alpha = scale
    Wx_scaled, Wh_scaled, b_scaled = Wx * scale, Wh * scale, (b * scale)[..., None, :]
    hs = np.zeros((T + 1, *lead, B, H))                  # hs[t] = h_t, hs[0] = h_0 = 0
    cs = np.zeros((T + 1, *lead, B, H))
    gates = np.empty((T, *lead, B, 4 * H))               # activated i, f, g, o
    tanh_c = np.empty((T, *lead, B, H))
    for t in range(T):
        gt = gates[t]
        np.tanh(X[..., t, :] @ Wx_scaled + hs[t] @ Wh_scaled + b_scaled, out=gt)
        gt *= alpha
        gt += beta
        cs[t + 1] = gt[..., H:2 * H] * cs[t] + gt[..., :H] * gt[..., 2 * H:3 * H]
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(gt[..., 3 * H:], tanh_c[t], out=hs[t + 1])
    logits = hs[T] @ params["Wy"] + params["by"][..., None, :]
    return logits, {"X": X, "hs": hs, "cs": cs, "gates": gates, "tanh_c": tanh_c}


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean softmax cross-entropy, its gradient w.r.t. the logits, and the accuracy.

    ``logits`` (..., B, C) and labels ``y`` (..., B); the loss and the accuracy
    have the leading axes (a float64 scalar for one batch). With p = softmax(z),
    the loss is L = -(1/B) sum_n log p[n, y_n] and dL/dz = (p - onehot(y)) / B.
    The log-sum-exp is shifted by max(z) so that exploded logits do not overflow.
    """
    B, C = logits.shape[-2:]
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    loss = -np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0].mean(axis=-1)
    dz = np.exp(log_p) - (np.arange(C) == y[..., None])
    accuracy = (logits.argmax(axis=-1) == y).mean(axis=-1)
    return loss, dz / B, accuracy


def loss_and_grads(params: Mapping[str, np.ndarray], X: np.ndarray,
                   y: np.ndarray) -> tuple[np.ndarray, np.ndarray, Params]:
    """Mini-batch loss, accuracy and the exact gradient of the loss (BPTT).

    Backward recurrence, from t = T down to 1, with dh_T = dz Wy^T, dc_{T+1}
    contribution = 0:
        dc_t  = dc_t(from t+1) + dh_t * o * (1 - tanh^2 c_t)
        do = dh_t * tanh c_t,  di = dc_t * g,  dg = dc_t * i,  df = dc_t * c_{t-1}
        da = [di s'(i), df s'(f), dg (1 - g^2), do s'(o)]   with s' = s (1 - s)
        dh_{t-1} = da Wh^T,  dc_{t-1} = dc_t * f
    and dWh = sum_t h_{t-1}^T da_t, dWx = sum_t x_t^T da_t, db = sum_t sum_n da_t.
    Leading axes ``...`` of ``params``, ``X`` and ``y`` are independent models
    (see the module docstring); the gradients have the shapes of ``params``.
    """
    logits, cache = forward(params, X)
    loss, dz, accuracy = cross_entropy(logits, y)
    hs, cs, gates, tanh_c = cache["hs"], cache["cs"], cache["gates"], cache["tanh_c"]
    Wh = params["Wh"]
    T = gates.shape[0]
    H = gates.shape[-1] // 4
    grads: Params = {"Wy": hs[T].mT @ dz, "by": dz.sum(axis=-2)}
    X = cache["X"]
    dh = dz @ params["Wy"].mT
    dc = np.zeros(hs.shape[1:])
    dWx = np.zeros_like(params["Wx"])
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(params["b"])
    da = np.empty(gates.shape[1:])
    # The weight gradients are accumulated one time step at a time: each product
    # is small enough for BLAS to run it on one thread, which is much faster on a
    # shared, loaded machine than one large multi-threaded product at the end.
    for t in range(T - 1, -1, -1):
        gt = gates[t]
        i, f, g, o = gt[..., :H], gt[..., H:2 * H], gt[..., 2 * H:3 * H], gt[..., 3 * H:]
        dc = dc + dh * o * (1.0 - tanh_c[t] ** 2)
        da[..., :H] = dc * g * i * (1.0 - i)
        da[..., H:2 * H] = dc * cs[t] * f * (1.0 - f)
        da[..., 2 * H:3 * H] = dc * i * (1.0 - g ** 2)
        da[..., 3 * H:] = dh * tanh_c[t] * o * (1.0 - o)
        dWh += hs[t].mT @ da
        dWx += X[..., t, :].mT @ da
        db += da.sum(axis=-2)
        dh = da @ Wh.mT
        dc = dc * f
    grads.update(Wx=dWx, Wh=dWh, b=db)
    return loss, accuracy, grads


def evaluate(params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loss and accuracy of ``params`` on a fixed batch (no gradients)."""
    loss, _, accuracy = cross_entropy(forward(params, X)[0], y)
    return loss, accuracy


def global_norm(arrays: Mapping[str, np.ndarray]) -> float:
    """L2 norm of all arrays taken together, sqrt(sum of all squared entries).

    The norm of one model's arrays (no leading axes are split off): the
    experiment takes it run by run, since ``np.vdot`` of each whole array is
    what fixes its bits.
    """
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays.values()))
