"""1.3 per student: the class counts vary draws from, and what the key claims for each of them.

For every class count a student can get (:data:`VARIED_CLASSES`): the start values ln C
and 1/C, a balanced task whose labels follow the marker rule (no training), and, on the
cached experiment, the rules the set was chosen by. And :func:`vary` itself:
deterministic for a seed, inside the set, every other key left alone.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import os
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from derivations import variant as variant_mod
from derivations.groups.loss_curves import GROUP, LossCurves
from derivations.groups.loss_curves.task import class_names, label_of, make_symbols, symbol_ids
from derivations.groups.loss_curves.vary import PASSING_CLASSES, RULES, VARIED_CLASSES, choices, failures, vary
from derivations.params import parse_table

experiment_mod = importlib.import_module("derivations.groups.loss_curves.experiment")


# ------------------------------------------------------------------ the set, without training


@pytest.mark.parametrize("classes", VARIED_CLASSES)
def test_start_values_of_each_class_count(classes):
    s = GROUP.derive(dataclasses.replace(LossCurves(), classes=classes))
    assert s.loss_value == sp.log(classes) and float(s.loss_value) == pytest.approx(math.log(classes))
    assert s.accuracy_value == sp.Rational(1, classes)


@pytest.mark.parametrize("classes", VARIED_CLASSES)
def test_task_of_each_class_count_is_balanced_and_follows_the_marker_rule(classes):
    """Labels in 0..C-1, each with frequency 1/C (within 5 standard errors), and each the
    markers' order read in binary (X = 0, Y = 1, first marker first), ceil(log2 C) markers."""
    n, seq_len, n_distractors = 20000, 20, 4
    ids, labels = make_symbols(np.random.default_rng(classes), n, seq_len, classes, n_distractors)
    x_id, y_id, _ = symbol_ids(n_distractors)
    markers = math.ceil(math.log2(classes))
    is_marker = ids >= x_id
    assert np.all(is_marker.sum(axis=1) == markers)
    kinds = (ids[is_marker].reshape(n, markers) == y_id).astype(int)  # row-major: markers in order
    assert np.array_equal(kinds @ (2 ** np.arange(markers)[::-1]), labels)
    assert all(label_of(seq, classes, n_distractors) == lab for seq, lab in zip(ids[:200], labels[:200]))
    counts = np.bincount(labels, minlength=classes)
    assert len(counts) == classes and counts.min() > 0
    se = math.sqrt((1 / classes) * (1 - 1 / classes) / n)
    assert np.max(np.abs(counts / n - 1 / classes)) < 5 * se, counts
    assert len(class_names(classes)) == classes


def test_class_names():
    assert class_names(4) == ("Q", "R", "S", "U")
    assert class_names(11) == tuple("ABCDEFGHIJK")


# ------------------------------------------------------------------------------- vary


def test_vary_is_deterministic_stays_in_the_set_and_leaves_the_rest():
    base = LossCurves()
    drawn = [vary(np.random.default_rng(seed), base) for seed in range(200)]
    assert drawn == [vary(np.random.default_rng(seed), base) for seed in range(200)]
    assert {p.classes for p in drawn} == set(VARIED_CLASSES)
    for p in drawn:
        assert dataclasses.replace(p, classes=base.classes) == base
        assert type(p.classes) is int
        # a valid table, the cross-key rule included
        assert parse_table("v.toml", "loss_curves", LossCurves, {"classes": p.classes}) == p
        assert all(rule(p) is None for rule in GROUP.constraints)


def test_vary_keeps_a_base_editions_other_settings_and_fits_its_sequences():
    base = dataclasses.replace(LossCurves(), lr=1.5, seq_len=7, seeds=6)  # 10..12 classes need 8 positions
    assert choices(base) == (4,)
    p = vary(np.random.default_rng(1), base)
    assert p == base
    wide = dataclasses.replace(base, seq_len=40)
    p = vary(np.random.default_rng(1), wide)
    assert p.classes in VARIED_CLASSES and dataclasses.replace(p, classes=4) == wide


def test_vary_uses_only_its_generator():
    before = np.random.get_state()[1].copy()
    rng = np.random.default_rng(3)
    vary(rng, LossCurves())
    assert np.array_equal(np.random.get_state()[1], before)
    again = np.random.default_rng(3)
    again.integers(len(VARIED_CLASSES))  # one draw, and nothing else
    assert rng.bit_generator.state == again.bit_generator.state


def test_the_group_declares_its_variation():
    assert GROUP.vary is vary
    assert all(str(c) in GROUP.variation for c in VARIED_CLASSES)


def test_a_drawn_variant_is_valid():
    """The base edition with a drawn class count goes through the variant file's rules."""
    base = variant_mod.load("fall2025")
    params = vary(np.random.default_rng(7), base.params["loss_curves"])
    v = variant_mod.replace(base, loss_curves=params)
    again = variant_mod.parse(variant_mod.to_toml(v), "drawn.toml")
    assert again.params["loss_curves"] == params


# ----------------------------------------------------- the claims, on the cached experiments


CACHE = Path(os.environ.get("HW2_CACHE", Path(__file__).resolve().parent.parent / "build" / ".cache"))


def cached_evidence(classes):
    """The experiment of the default settings with ``classes`` classes, from the cache only (never trains)."""
    settings = dataclasses.replace(LossCurves(), classes=classes)
    names = [f"{proc}{i}" for proc in experiment_mod.PROCEDURES for i in range(settings.seeds)]
    if experiment_mod._load(experiment_mod.cache_path(settings, CACHE), experiment_mod.cache_key(settings),
                            names) is None:
        pytest.skip(f"classes = {classes} is not cached in {CACHE}; fill it with "
                    f"`python -m derivations.groups.loss_curves.survey {classes}` (about 10 s)")
    ev = GROUP.experiment(settings, 0, CACHE)
    assert ev.cache_hit
    return ev


@pytest.mark.parametrize("classes", PASSING_CLASSES)
def test_each_class_count_keeps_the_keys_claims(classes):
    """Spikes without the fix (plotted run and median run), none with it, checks pass, nothing unprinted."""
    ev = cached_evidence(classes)
    assert failures(ev.measured) == []
    start = GROUP.derive(ev.settings)
    verification = GROUP.check(start, ev, 0)
    assert all(c.passed for c in verification.checks), [c for c in verification.checks if not c.passed]
    ctx = GROUP.present(start, ev, verification).context
    assert ctx["fix_spike_free"] and ctx["plotted_spikes"]
    # every claim of the key holds, as for the presets: no student gets a weaker key (the fix is slower)
    assert [claim for claim, holds in ctx["claims"].items() if not holds] == ["fix_faster"]
    for proc in ("spiking", "fixed"):
        for name in ("spikes", "peak_ratio", "median_grad", "max_update", "accuracy"):
            assert None not in (ctx[proc][name]["med"], ctx[proc][name]["lo"], ctx[proc][name]["hi"]), (proc, name)


def test_the_rules_catch_a_clipped_spike():
    """A class count left out of the set (3: one clipped run spiked) breaks the clipping rule."""
    measured = {"steps": 400,
                "per_seed": {"spiking": [{"spikes": 5, "spikes_above_start": 2, "grad_ratios": [40.0, 3.5]}],
                             "fixed": [{"spikes": 1, "peak_ratio": 1.67, "peak_step": 250}]},
                "spiking": {"spikes": {"median": 4}, "median_grad": {"median": 0.1}},
                "fixed": {"runs_with_spikes": 1, "median_grad": {"median": 2.0}}}
    assert failures(measured) == [RULES[2][0], RULES[3][0]]
    quiet = {**measured, "per_seed": {**measured["per_seed"], "fixed": [{"peak_ratio": 1.05, "peak_step": 12}]},
             "fixed": {**measured["fixed"], "runs_with_spikes": 0}}
    assert failures(quiet) == []
    late = {**quiet, "per_seed": {**quiet["per_seed"], "fixed": [{"peak_ratio": 1.05, "peak_step": 100}]}}
    assert failures(late) == [RULES[3][0]]  # the first steps of 400 are 0..99


def test_the_statement_names_classes_and_markers_for_any_class_count():
    from derivations.groups.loss_curves.present import markers_phrase
    from derivations.groups.loss_curves.task import class_list, n_markers, n_orders

    assert [class_list(c) for c in (2, 3, 4, 5, 8, 20)] == ["A, B", "A, B, C", "Q, R, S, U", "A to E", "A to H",
                                                           "A to T"]
    assert [markers_phrase(n_markers(c)) for c in (2, 4, 20)] == ["1 marker symbol", "2 marker symbols",
                                                                 "5 marker symbols"]
    assert [n_orders(c) for c in (2, 3, 4, 5, 12, 20)] == [2, 4, 4, 8, 16, 32]


def test_students_draw_from_the_passing_class_counts():
    assert set(VARIED_CLASSES) <= set(PASSING_CLASSES) and 4 in VARIED_CLASSES and len(VARIED_CLASSES) >= 2
