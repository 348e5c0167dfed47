"""The task of the 1.3 experiment: a temporal-order problem.

Each sequence holds log2 C marker symbols (X or Y) among random distractors;
the class is the order in which the two kinds of marker appear, read as a
binary number. The first marker sits early in the sequence, so the network
has to carry information across many steps (the "long time lag").
"""
from __future__ import annotations

import numpy as np

#: Class names as the text lists them; for four classes in the order of the
#: class index: XX -> Q, XY -> R, YX -> S, YY -> U.
CLASS_NAMES = {2: "A, B", 4: "Q, R, S, U", 8: "A to H"}

#: Supported numbers of classes; the number of markers is log2 of it.
SUPPORTED_CLASSES = (2, 4, 8)


def n_markers(classes: int) -> int:
    """Number of markers per sequence for ``classes`` classes (log2 C).

    Each marker is one bit (X = 0, Y = 1), so C classes need log2 C markers.
    Only C in {2, 4, 8} is supported; anything else raises ``ValueError``.
    """
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)):
        raise ValueError(f"classes must be an int in {SUPPORTED_CLASSES}, got {classes!r}")
    if int(classes) not in SUPPORTED_CLASSES:
        raise ValueError(f"classes must be one of {SUPPORTED_CLASSES}, got {classes}")
    return int(classes).bit_length() - 1


def symbol_ids(n_distractors: int) -> tuple[int, int, int]:
    """Return ``(X, Y, n_symbols)``: the ids of the two markers and the alphabet size.

    Ids ``0 .. n_distractors-1`` are distractors, then X, then Y.
    """
    if n_distractors < 1:
        raise ValueError("need at least one distractor symbol")
    return n_distractors, n_distractors + 1, n_distractors + 2


def label_of(sequence, classes: int, n_distractors: int | None = None) -> int:
    """Class index of one sequence of symbol ids.

    The markers are the two largest ids (X = ``n_symbols-2``, Y = ``n_symbols-1``);
    if ``n_distractors`` is not given it is taken from the default settings.
    The markers are read left to right and form a binary number, the first
    marker being the most significant bit (X = 0, Y = 1). For four classes this
    is XX -> 0 (Q), XY -> 1 (R), YX -> 2 (S), YY -> 3 (U).
    """
    k = n_markers(classes)
    if n_distractors is None:
        from . import LossCurves  # the group's defaults (imported late: the package imports this module)

        n_distractors = LossCurves().n_distractors
    x_id, y_id, _ = symbol_ids(n_distractors)
    seq = np.asarray(sequence)
    markers = seq[(seq == x_id) | (seq == y_id)]
    if markers.size != k:
        raise ValueError(f"expected {k} markers, found {markers.size}")
    label = 0
    for m in markers:
        label = 2 * label + int(m == y_id)
    return label


def marker_windows(seq_len: int, classes: int) -> list[tuple[int, int]]:
    """Half-open position windows ``[lo, hi)``, one per marker.

    The sequence is cut into log2 C equal consecutive windows and marker i is
    placed uniformly inside window i. This keeps the markers ordered and
    distinct by construction, and the first one early in the sequence.
    """
    k = n_markers(classes)
    if seq_len < 2 * k:
        raise ValueError(f"seq_len must be at least {2 * k} for {classes} classes")
    bounds = [round(i * seq_len / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def make_symbols(rng: np.random.Generator, batch: int, seq_len: int, classes: int,
                 n_distractors: int) -> tuple[np.ndarray, np.ndarray]:
    """Random sequences of symbol ids ``(batch, seq_len)`` and their labels ``(batch,)``.

    Every position holds a uniformly random distractor except one position per
    marker window, which holds X or Y with probability 1/2 each. The classes
    are therefore balanced.
    """
    k = n_markers(classes)
    x_id, _, _ = symbol_ids(n_distractors)
    ids = rng.integers(0, n_distractors, size=(batch, seq_len))
    bits = rng.integers(0, 2, size=(batch, k))
    rows = np.arange(batch)
    for i, (lo, hi) in enumerate(marker_windows(seq_len, classes)):
        pos = rng.integers(lo, hi, size=batch)
        ids[rows, pos] = x_id + bits[:, i]
    # bits read as a binary number, first marker = most significant bit
    labels = bits @ (2 ** np.arange(k - 1, -1, -1))
    return ids, labels.astype(np.int64)


def make_batch(rng: np.random.Generator, batch: int, seq_len: int, classes: int,
               n_distractors: int) -> tuple[np.ndarray, np.ndarray]:
    """One-hot batch ``X`` of shape ``(batch, seq_len, n_symbols)`` (float64) and labels ``y``.

    See :func:`make_symbols` for how the sequences are drawn and
    :func:`label_of` for the labelling rule.
    """
    ids, labels = make_symbols(rng, batch, seq_len, classes, n_distractors)
    n_symbols = symbol_ids(n_distractors)[2]
    return np.eye(n_symbols)[ids], labels
