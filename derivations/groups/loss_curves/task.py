"""The task of the 1.3 experiment: a temporal-order problem for any number of classes C in 2..20.

Each sequence holds ``m = ceil(log2 C)`` marker symbols, each of one of two
kinds (X or Y), among random distractors; the class is the order in which the
kinds of marker appear, read as a binary number (X = 0, Y = 1, first marker
most significant). This is the family of Hochreiter and Schmidhuber's
temporal-order problems: two markers give their four classes (XX, XY, YX, YY
-> Q, R, S, U), three markers eight. For C classes only the first C of the
``2**m`` orders are classes: the orders are drawn uniformly and an order
beyond the C-th is drawn again, so each of the C classes is equally likely
(balanced labels, hence the untrained loss ln C and accuracy 1/C). When C is
a power of two nothing is ever redrawn, so C = 2, 4, 8 give exactly the data
they always gave for the same seed. The first marker sits early in the
sequence, so the network has to carry information across many steps (the
"long time lag").
"""
from __future__ import annotations

import string

import numpy as np

#: The kinds of marker, in the order of their digit: X = 0, Y = 1. Their
#: number is the same for every C (only the number of markers grows).
MARKER_KINDS = ("X", "Y")

#: Supported numbers of classes, ``MIN_CLASSES .. MAX_CLASSES``.
MIN_CLASSES, MAX_CLASSES = 2, 20

#: Class names of the four-class task, as in the original problem and the course's notebook
#: (``TemporalOrderExp6aSequence``): XX -> Q, XY -> R, YX -> S, YY -> U.
QRSU = ("Q", "R", "S", "U")

#: The number of classes of the course's own task.
COURSE_CLASSES = len(QRSU)

#: Up to this many classes the text lists every name; beyond, the first and the last ("A to H").
LISTED_NAMES = 4


def _classes(classes) -> int:
    """``classes`` as an int, or ``ValueError`` unless it is an int in MIN_CLASSES..MAX_CLASSES."""
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)):
        raise ValueError(f"classes must be an int in {MIN_CLASSES}..{MAX_CLASSES}, got {classes!r}")
    if not MIN_CLASSES <= int(classes) <= MAX_CLASSES:
        raise ValueError(f"classes must be in {MIN_CLASSES}..{MAX_CLASSES}, got {classes}")
    return int(classes)


def n_markers(classes: int) -> int:
    """Number of markers per sequence for ``classes`` classes: ``ceil(log2 C)``.

    Each marker is one binary digit (X = 0, Y = 1), so C classes need the
    smallest m with ``2**m >= C``. Raises ``ValueError`` for C outside 2..20.
    """
    return (_classes(classes) - 1).bit_length()


def n_orders(classes: int) -> int:
    """Number of orders the markers can appear in, ``2**m``; the first C of them are the classes."""
    return len(MARKER_KINDS) ** n_markers(classes)


def class_names(classes: int) -> tuple[str, ...]:
    """Names of the classes, in the order of the class index: Q, R, S, U for four, else A, B, C, ..."""
    c = _classes(classes)
    return QRSU if c == COURSE_CLASSES else tuple(string.ascii_uppercase[:c])


def class_list(classes: int) -> str:
    """The classes as the text names them: every name up to four (``Q, R, S, U``), else ``A to H``."""
    names = class_names(classes)
    return ", ".join(names) if len(names) <= LISTED_NAMES else f"{names[0]} to {names[-1]}"


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
    is XX -> 0 (Q), XY -> 1 (R), YX -> 2 (S), YY -> 3 (U). A sequence with the
    wrong number of markers, or whose order is beyond the C-th, is not of the
    task (``ValueError``).
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
    if label >= classes:
        raise ValueError(f"marker order {label} is no class of {classes}")
    return label


def marker_windows(seq_len: int, classes: int) -> list[tuple[int, int]]:
    """Half-open position windows ``[lo, hi)``, one per marker.

    The sequence is cut into ceil(log2 C) equal consecutive windows and marker i
    is placed uniformly inside window i. This keeps the markers ordered and
    distinct by construction, and the first one early in the sequence.
    """
    k = n_markers(classes)
    if seq_len < min_seq_len(classes):
        raise ValueError(f"seq_len must be at least {min_seq_len(classes)} for {classes} classes")
    bounds = [round(i * seq_len / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def min_seq_len(classes: int) -> int:
    """Shortest sequence for ``classes`` classes: two positions per marker window."""
    return 2 * n_markers(classes)


def make_symbols(rng: np.random.Generator, batch: int, seq_len: int, classes: int,
                 n_distractors: int) -> tuple[np.ndarray, np.ndarray]:
    """Random sequences of symbol ids ``(batch, seq_len)`` and their labels ``(batch,)``.

    Every position holds a uniformly random distractor except one position per
    marker window, which holds X or Y with probability 1/2 each. A sequence
    whose order of marker kinds is beyond the C-th is given new kinds until it
    is not (rejection), so each of the C classes is equally likely: the classes
    are balanced. For C a power of two nothing is redrawn and no extra random
    numbers are used.
    """
    k = n_markers(classes)
    x_id, _, _ = symbol_ids(n_distractors)
    ids = rng.integers(0, n_distractors, size=(batch, seq_len))
    bits = rng.integers(0, 2, size=(batch, k))
    # bits read as a binary number, first marker = most significant bit
    place = 2 ** np.arange(k - 1, -1, -1)
    labels = bits @ place
    redraw = labels >= classes
    while redraw.any():
        bits[redraw] = rng.integers(0, 2, size=(int(redraw.sum()), k))
        labels = bits @ place
        redraw = labels >= classes
    rows = np.arange(batch)
    for i, (lo, hi) in enumerate(marker_windows(seq_len, classes)):
        pos = rng.integers(lo, hi, size=batch)
        ids[rows, pos] = x_id + bits[:, i]
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
