"""The declared experiment step of 1.3: both training runs, cached by their settings.

:func:`experiment` trains the LSTM once with the spiking and once with the
fixed procedure (:func:`.training.train`), or reads both runs back from an
``.npz`` in ``cache_dir`` keyed by :func:`cache_key`, and reads off the
numbers the answers quote (:func:`.analysis.measure`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import analysis, training
from .training import Run

#: Bump whenever a change of the experiment changes the numbers it produces; it
#: is part of the cache key, so old cached runs are not reused. (The code moved
#: from ``derivations/loss_experiment.py`` unchanged in its numbers, so the
#: version and the key stay as they were.)
CODE_VERSION = "loss-experiment-1"

_ARRAYS = ("loss", "accuracy", "grad_norm", "weight_norm")
_SCALARS = ("initial_loss", "initial_accuracy", "final_loss", "final_accuracy", "seconds")


@dataclass(frozen=True)
class Evidence:
    """Both recorded runs and the numbers read off them.

    ``measured`` holds the numbers the answers quote (:func:`.analysis.measure`);
    ``fix_lr`` is the fixed procedure's learning rate after warm-up and
    ``max_update`` the longest update it can make, ``fix_lr * clip_norm``.
    """

    settings: Any
    spiking: Run
    fixed: Run
    cache_hit: bool
    measured: Mapping[str, Any]
    fix_lr: float
    max_update: float


def cache_key(settings: Any) -> str:
    """SHA-256 of the settings (as sorted JSON) together with :data:`CODE_VERSION`."""
    text = json.dumps({"settings": dataclasses.asdict(settings), "code_version": CODE_VERSION},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(settings: Any, cache_dir: pathlib.Path) -> pathlib.Path:
    """File under ``cache_dir`` that holds the two runs for ``settings``."""
    return pathlib.Path(cache_dir) / f"loss_experiment_{cache_key(settings)[:24]}.npz"


def _save(path: pathlib.Path, key: str, runs: dict[str, Run]) -> None:
    """Write the runs to ``path`` atomically (temp file in the same dir, then os.replace)."""
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


def _load(path: pathlib.Path, key: str) -> dict[str, Run] | None:
    """Read the runs back; None if the file is missing, unreadable or for another key."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            runs = {}
            for name in ("spiking", "fixed"):
                fields = {f: z[f"{name}_{f}"].copy() for f in _ARRAYS}
                fields.update({f: float(z[f"{name}_{f}"]) for f in _SCALARS})
                runs[name] = Run(**fields)
            return runs
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def run_both(settings: Any, cache_dir: pathlib.Path | None) -> tuple[Run, Run, bool]:
    """Return ``(spiking run, fixed run, cache_hit)``, training only on a cache miss.

    The cache file name is keyed by :func:`cache_key`, so any change of a
    setting or of :data:`CODE_VERSION` trains anew. ``cache_dir=None`` trains
    without reading or writing a cache.
    """
    training.validate(settings)
    if cache_dir is not None:
        cache_dir = pathlib.Path(cache_dir)
        key = cache_key(settings)
        path = cache_path(settings, cache_dir)
        cached = _load(path, key)
        if cached is not None:
            return cached["spiking"], cached["fixed"], True
    spiking = training.train(settings, fixed=False)
    fixed = training.train(settings, fixed=True)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _save(path, key, {"spiking": spiking, "fixed": fixed})
    return spiking, fixed, False


def experiment(params: Any, seed: int, cache_dir: pathlib.Path | None) -> Evidence:
    """Both training runs of ``params`` (from the cache when present) and their numbers.

    ``seed`` (the variant's) is not used: the experiment has its own seed,
    ``params.seed``, so that the recorded run does not change with the variant seed.
    """
    spiking, fixed, hit = run_both(params, cache_dir)
    fix_lr = training.fixed_base_lr(params)
    return Evidence(params, spiking, fixed, hit, analysis.measure(params, spiking, fixed),
                    fix_lr, fix_lr * params.clip_norm)
