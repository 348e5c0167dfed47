"""The declared experiment step of 1.3: both procedures over several seeds, cached by their settings.

:func:`experiment` trains the LSTM with the spiking and with the fixed
procedure for each of the seeds ``seed, seed + 1, ..., seed + seeds - 1``
(the same seeds for both), all runs together in one process
(:func:`.training.train_many`), or reads all runs back from
an ``.npz`` in ``cache_dir`` keyed by :func:`cache_key`, and reads off the
numbers the answers quote (:func:`.analysis.measure`).

A process reads each cached experiment once: the runs read (or trained and
written) are kept in memory, keyed by the cache file and its key, and handed
out again while the file is unchanged (a class of students with the same class
count reads its ``.npz`` once). The runs are shared, so their arrays are
read-only. :func:`clear_memo` forgets them (tests).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pathlib
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import analysis, training
from .training import Run

#: Bump whenever a change of the experiment changes the numbers it produces; it
#: is part of the cache key, so old cached runs are not reused.
CODE_VERSION = "loss-experiment-2"  # 2: several seeds, update lengths recorded, RMSprop

_ARRAYS = ("loss", "accuracy", "grad_norm", "weight_norm", "update_norm")
PROCEDURES = ("spiking", "fixed")
_SCALARS = ("initial_loss", "initial_accuracy", "final_loss", "final_accuracy", "seconds")


@dataclass(frozen=True)
class Evidence:
    """All recorded runs and the numbers read off them.

    ``spiking_runs[i]`` and ``fixed_runs[i]`` are seed ``seeds[i]``; the plotted
    runs ``spiking`` and ``fixed`` are those of the first seed, ``settings.seed``.
    ``measured`` holds the numbers the answers quote (:func:`.analysis.measure`);
    ``fix_lr`` is the fixed procedure's learning rate after warm-up and
    ``max_update`` the longest update its clipped SGD can make, ``fix_lr * clip_norm``.
    """

    settings: Any
    seeds: tuple[int, ...]
    spiking_runs: tuple[Run, ...]
    fixed_runs: tuple[Run, ...]
    cache_hit: bool
    measured: Mapping[str, Any]
    fix_lr: float
    max_update: float

    @property
    def spiking(self) -> Run:
        return self.spiking_runs[0]

    @property
    def fixed(self) -> Run:
        return self.fixed_runs[0]


def seeds_of(settings: Any) -> tuple[int, ...]:
    """The seeds both procedures are trained with: ``seed, seed + 1, ..., seed + seeds - 1``."""
    return tuple(settings.seed + i for i in range(settings.seeds))


def cache_key(settings: Any) -> str:
    """SHA-256 of the settings (as sorted JSON) together with :data:`CODE_VERSION`."""
    text = json.dumps({"settings": dataclasses.asdict(settings), "code_version": CODE_VERSION},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(settings: Any, cache_dir: pathlib.Path) -> pathlib.Path:
    """File under ``cache_dir`` that holds the two runs for ``settings``."""
    return pathlib.Path(cache_dir) / f"loss_experiment_{cache_key(settings)[:24]}.npz"


def _save(path: pathlib.Path, key: str, runs: dict[str, Run]) -> None:
    """Write the runs (named ``spiking0``, ``fixed0``, ...) to ``path`` atomically (temp file, then os.replace)."""
    data = {"key": np.array(key)}
    for name, run in runs.items():
        for field in _ARRAYS + _SCALARS:
            data[f"{name}_{field}"] = np.asarray(getattr(run, field), dtype=np.float64)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is an ordinary shared file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load(path: pathlib.Path, key: str, names: list[str]) -> dict[str, Run] | None:
    """Read the runs back; None if the file is missing, unreadable or for another key."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            runs = {}
            for name in names:
                fields = {f: _read_only(z[f"{name}_{f}"]) for f in _ARRAYS}
                fields.update({f: float(z[f"{name}_{f}"]) for f in _SCALARS})
                runs[name] = Run(**fields)
            return runs
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def _read_only(values: Any) -> np.ndarray:
    """A float64 copy of ``values`` that cannot be written to (``flags.writeable`` is False)."""
    out = np.array(values, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def _frozen(run: Run) -> Run:
    """``run`` with read-only copies of its per-step arrays (the runs of the memo are shared)."""
    return dataclasses.replace(run, **{f: _read_only(getattr(run, f)) for f in _ARRAYS})


#: At most this many experiments are kept in memory (the least recently used is dropped first): a
#: class needs one per distinct class count; the default experiment's runs take about 160 kB.
MEMO_SIZE = 16

Runs = tuple[tuple[Run, ...], tuple[Run, ...]]
#: (absolute cache file, cache key) -> (the file's (inode, size, mtime_ns) when read or written, runs).
_MEMO: "OrderedDict[tuple[str, str], tuple[tuple[int, int, int], Runs]]" = OrderedDict()
_MEMO_LOCK = threading.Lock()


def clear_memo() -> None:
    """Forget every experiment kept in memory, so that the next :func:`run_all` reads its cache file again.

    Only the memory of this process is cleared, never a cache file: for tests of the
    cache itself (a second call that must read the file) and for callers that edit
    cache files by hand.
    """
    with _MEMO_LOCK:
        _MEMO.clear()


def _signature(path: pathlib.Path) -> tuple[int, int, int] | None:
    """The cache file's (inode, size, mtime_ns), None if it is missing: a changed file is read again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _recall(memo_key: tuple[str, str], signature: tuple[int, int, int] | None) -> Runs | None:
    """The runs kept for ``memo_key`` if the file still has ``signature``; else None."""
    if signature is None:
        return None
    with _MEMO_LOCK:
        entry = _MEMO.get(memo_key)
        if entry is None or entry[0] != signature:
            return None
        _MEMO.move_to_end(memo_key)
        return entry[1]


def _remember(memo_key: tuple[str, str], signature: tuple[int, int, int] | None, runs: Runs) -> None:
    """Keep ``runs`` for ``memo_key`` (read from, or written to, a file with ``signature``)."""
    if signature is None:
        return
    with _MEMO_LOCK:
        _MEMO[memo_key] = (signature, runs)
        _MEMO.move_to_end(memo_key)
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)


def train_all(settings: Any, seeds: tuple[int, ...]) -> tuple[tuple[Run, ...], tuple[Run, ...]]:
    """Every (procedure, seed) run: ``(spiking runs, fixed runs)``, one per seed.

    The runs are trained together in this process (:func:`.training.train_many`:
    one NumPy call serves all of them), which leaves the other cores free, e.g.
    for LaTeX during a class build. Each run is deterministic given its seed and
    identical to the run trained alone (a test compares).
    """
    runs = training.train_many(settings, [(fixed, s) for fixed in (False, True) for s in seeds])
    return tuple(runs[: len(seeds)]), tuple(runs[len(seeds):])


def run_all(settings: Any, cache_dir: pathlib.Path | None) -> tuple[tuple[Run, ...], tuple[Run, ...], bool]:
    """Return ``(spiking runs, fixed runs, cache_hit)``, one run per seed, training only on a cache miss.

    The cache file name is keyed by :func:`cache_key`, so any change of a
    setting or of :data:`CODE_VERSION` trains anew. ``cache_dir=None`` trains
    without reading or writing a cache. Runs read from (or written to) a cache
    file are kept in memory and returned again, without reading the file, while
    the file is unchanged (``cache_hit`` is True then too); :func:`clear_memo`.
    Every array of the runs returned is read-only.
    """
    training.validate(settings)
    seeds = seeds_of(settings)
    names = [f"{proc}{i}" for proc in PROCEDURES for i in range(len(seeds))]
    if cache_dir is not None:
        cache_dir = pathlib.Path(cache_dir)
        key = cache_key(settings)
        path = cache_path(settings, cache_dir)
        memo_key = (os.path.abspath(path), key)
        signature = _signature(path)
        kept = _recall(memo_key, signature)
        if kept is not None:
            return (*kept, True)
        cached = _load(path, key, names)
        if cached is not None:
            runs = (tuple(cached[f"spiking{i}"] for i in range(len(seeds))),
                    tuple(cached[f"fixed{i}"] for i in range(len(seeds))))
            _remember(memo_key, signature, runs)
            return (*runs, True)
    spiking, fixed = (tuple(_frozen(r) for r in runs) for runs in train_all(settings, seeds))
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        runs = {f"spiking{i}": r for i, r in enumerate(spiking)} | {f"fixed{i}": r for i, r in enumerate(fixed)}
        _save(path, key, runs)
        _remember(memo_key, _signature(path), (spiking, fixed))
    return spiking, fixed, False


def experiment(params: Any, seed: int, cache_dir: pathlib.Path | None) -> Evidence:
    """Both procedures over all seeds of ``params`` (from the cache when present) and their numbers.

    ``seed`` (the variant's) is not used: the experiment has its own seeds,
    :func:`seeds_of`, so that the recorded runs do not change with the variant seed.
    """
    spiking, fixed, hit = run_all(params, cache_dir)
    fix_lr = training.fixed_base_lr(params)
    seeds = seeds_of(params)
    measured = analysis.measure(params, seeds, spiking, fixed, math.log(params.classes))
    return Evidence(params, seeds, spiking, fixed, hit, measured, fix_lr, fix_lr * params.clip_norm)
