"""1.3: parameters, derived start values, the cached experiment step, checks and presentation."""
from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np
import pytest
import sympy as sp

from derivations import variant
from derivations.errors import VariantError
from derivations.groups.loss_curves import GROUP, LossCurves
from derivations.params import parse_table

from conftest import Background

# The package re-exports the step functions under the names of their modules,
# so the modules are fetched from sys.modules.
experiment_mod = importlib.import_module("derivations.groups.loss_curves.experiment")
training = importlib.import_module("derivations.groups.loss_curves.training")
check_mod = importlib.import_module("derivations.groups.loss_curves.check")
present_mod = importlib.import_module("derivations.groups.loss_curves.present")

# A shortened default run: cheap, and long enough for the start-value checks.
SHORT = dataclasses.replace(LossCurves(), steps=20, eval_batch=300)


# ------------------------------------------------------------------- parameters


def test_defaults_keep_the_cache_key():
    """The key of the default settings (CODE_VERSION loss-experiment-2) is stable: no silent retraining."""
    assert experiment_mod.cache_key(LossCurves()) == \
        "0b0c2a517ba82e0ded469231bbc637fcc570296ae8e0273b33a91274fbf529e8"
    assert experiment_mod.cache_path(LossCurves(), "c").name == "loss_experiment_0b0c2a517ba82e0ded469231.npz"


def test_table_parses_to_the_same_settings():
    p = parse_table("v.toml", "loss_curves", LossCurves, {"classes": 4, "lr": 2})
    assert p == LossCurves() and isinstance(p.lr, float) and p.fixed_lr is None
    assert experiment_mod.cache_key(p) == experiment_mod.cache_key(LossCurves())


@pytest.mark.parametrize("key,value", [("classes", 1), ("classes", 21), ("seq_len", 5), ("optimizer", "lbfgs"),
                                       ("seeds", 4), ("fixed_lr", 0.0), ("steps", 10)])
def test_table_rules(key, value):
    with pytest.raises(VariantError, match=f"loss_curves.{key}"):
        parse_table("v.toml", "loss_curves", LossCurves, {key: value})


@pytest.mark.parametrize("classes", [2, 3, 7, 13, 20])
def test_any_class_count_from_2_to_20_parses(classes):
    assert parse_table("v.toml", "loss_curves", LossCurves, {"classes": classes}).classes == classes


def test_sequences_must_hold_two_positions_per_marker():
    """20 classes need 5 markers, so at least 10 positions; the rule names the key, the value and the range."""
    markers_fit = GROUP.constraints[0]
    assert markers_fit(dataclasses.replace(LossCurves(), classes=20, seq_len=10)) is None
    assert markers_fit(dataclasses.replace(LossCurves(), classes=4, seq_len=6)) is None
    assert markers_fit(dataclasses.replace(LossCurves(), classes=20, seq_len=9)) == \
        ("loss_curves.seq_len", 9, "allowed: 10..200 for classes = 20 (two positions for each of its 5 markers)")


# ---------------------------------------------------------------- start values


@pytest.mark.parametrize("classes", [2, 4, 8, 10])
def test_start_values(classes):
    s = GROUP.derive(dataclasses.replace(LossCurves(), classes=classes))
    assert float(s.loss_value) == pytest.approx(math.log(classes))
    assert s.accuracy_value == sp.Rational(1, classes)
    assert sp.simplify(s.loss - sp.log(s.C)) == 0 and sp.simplify(s.accuracy - 1 / s.C) == 0


# ------------------------------------------------------ the experiment step


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("loss_cache")


@pytest.fixture(scope="module")
def evidence(cache_dir):
    """The first call: trains (nothing cached yet) and writes the cache."""
    return GROUP.experiment(SHORT, 0, cache_dir)


def test_second_call_reads_the_cache_and_does_not_train(evidence, cache_dir, monkeypatch):
    assert not evidence.cache_hit
    assert [p.name for p in cache_dir.iterdir()] == [experiment_mod.cache_path(SHORT, cache_dir).name]

    def no_training(*args, **kwargs):
        raise AssertionError("the second call trained")

    monkeypatch.setattr(training, "train_many", no_training)
    experiment_mod.clear_memo()  # the runs kept in memory are forgotten: the second call reads the file
    read = []
    load = experiment_mod._load
    monkeypatch.setattr(experiment_mod, "_load", lambda *a: read.append(a[0]) or load(*a))
    second = GROUP.experiment(SHORT, 0, cache_dir)
    assert second.cache_hit and read == [experiment_mod.cache_path(SHORT, cache_dir)]
    for run_a, run_b in ((evidence.spiking, second.spiking), (evidence.fixed, second.fixed)):
        for field in dataclasses.fields(run_a):
            np.testing.assert_array_equal(getattr(run_a, field.name), getattr(run_b, field.name))
    assert second.measured == evidence.measured
    # the patch bites: without a cache the step would have to train
    with pytest.raises(AssertionError, match="trained"):
        GROUP.experiment(SHORT, 0, None)


def test_a_process_reads_each_cached_experiment_once(evidence, cache_dir, monkeypatch):
    """The runs read from the cache are kept in memory (keyed by file and cache key), shared and read-only;
    a changed or missing file, another cache folder or clear_memo() makes the next call read (or train) again."""
    experiment_mod.clear_memo()
    read = []
    load = experiment_mod._load
    monkeypatch.setattr(experiment_mod, "_load", lambda *a: read.append(a[0]) or load(*a))
    first = experiment_mod.run_all(SHORT, cache_dir)
    again = experiment_mod.run_all(SHORT, cache_dir)
    assert first[2] and again[2] and len(read) == 1  # read once
    assert all(x is y for x, y in zip(first[0] + first[1], again[0] + again[1]))  # the same (shared) runs
    for run in first[0] + first[1]:
        for name in ("loss", "accuracy", "grad_norm", "weight_norm", "update_norm"):
            array = getattr(run, name)
            assert not array.flags.writeable
            with pytest.raises(ValueError):
                array[0] = 1.0
    np.testing.assert_array_equal(first[0][0].loss, evidence.spiking.loss)
    assert GROUP.experiment(SHORT, 0, cache_dir).measured == evidence.measured
    assert len(read) == 1
    # the file rewritten (here: the same runs, saved again) is read again
    path = experiment_mod.cache_path(SHORT, cache_dir)
    experiment_mod._save(path, experiment_mod.cache_key(SHORT),
                         {f"{proc}{i}": r for proc, runs in zip(("spiking", "fixed"), first[:2])
                          for i, r in enumerate(runs)})
    experiment_mod.run_all(SHORT, cache_dir)
    assert len(read) == 2
    experiment_mod.clear_memo()
    experiment_mod.run_all(SHORT, cache_dir)
    assert len(read) == 3
    # a missing file is not answered from memory: the runs are trained and written again
    path.unlink()
    retrained = experiment_mod.run_all(SHORT, cache_dir)
    assert not retrained[2] and path.exists()
    np.testing.assert_array_equal(retrained[1][-1].loss, first[1][-1].loss)
    assert not retrained[1][-1].loss.flags.writeable


def test_checks_pass_and_have_unique_ids(evidence):
    v = GROUP.check(GROUP.derive(SHORT), evidence, 0)
    assert len(v.checks) == 3 and all(c.passed for c in v.checks), [c for c in v.checks if not c.passed]
    assert len({c.id for c in v.checks}) == 3 and dict(v.arrays) == {}


def test_wrong_start_values_are_caught(evidence):
    """A wrong ln C or 1/C fails its check (only that check is run)."""
    start = GROUP.derive(SHORT)
    assert check_mod.initial_loss(start, evidence).passed
    assert check_mod.initial_accuracy(start, evidence).passed
    wrong = GROUP.derive(dataclasses.replace(SHORT, classes=2))  # ln 2 and 1/2 against a 4-class run
    assert not check_mod.initial_loss(dataclasses.replace(start, loss_value=wrong.loss_value), evidence).passed
    assert not check_mod.initial_accuracy(dataclasses.replace(start, accuracy_value=wrong.accuracy_value),
                                          evidence).passed
    assert not check_mod.initial_loss(dataclasses.replace(start, loss_value=sp.log(5)), evidence).passed
    other = dataclasses.replace(evidence.fixed, initial_loss=evidence.fixed.initial_loss * (1 + 1e-9))
    assert not check_mod.same_start(dataclasses.replace(evidence, fixed_runs=(other,) + evidence.fixed_runs[1:])).passed


# ------------------------------------------------------------- presentation


@pytest.fixture(scope="module")
def presentation(evidence):
    start = GROUP.derive(SHORT)
    return GROUP.present(start, evidence, GROUP.check(start, evidence, 0))


def test_answers_have_the_contract_keys(presentation):
    a = presentation.answers
    assert a["loss_curves.initial_loss"] == pytest.approx(math.log(4))
    assert a["loss_curves.initial_accuracy"] == 0.25
    assert isinstance(a["loss_curves.initial_loss"], float)
    assert a["loss_curves.measured.initial_loss"] == pytest.approx(math.log(4), rel=0.05)
    assert a["loss_curves.run"]["seeds"] == [0, 1, 2, 3, 4]
    header = presentation.files[present_mod.DATA_FILE].splitlines()[0].split()
    assert header[:3] == ["step", "loss_spiky", "loss_fixed"]
    assert presentation.context["data_file"] == present_mod.DATA_FILE


def test_handout_data_has_only_the_spiking_run(presentation):
    """The handout's table carries no fixed run (1.3(c)'s answer); the key's has both."""
    handout = presentation.handout_files[present_mod.DATA_FILE]
    assert handout.splitlines()[0].split() == list(present_mod.HANDOUT_COLUMNS) == ["step", "loss_spiky", "acc_spiky"]
    assert "fixed" not in handout
    assert "loss_fixed" in presentation.files[present_mod.DATA_FILE]


def test_context_settings(presentation):
    c = presentation.context
    assert c["max_update"] == "0.2" and c["fix_lr"] == c["lr"] == "2"
    assert (c["seed"], c["seed_last"], c["n_seeds"]) == (0, 4, 5)


def _last_fixed_run_alone(_folder):
    """The default preset's last fixed run, trained alone (in the worker process): (settings, run)."""
    settings = variant.load("fall2025").params["loss_curves"]
    seed = experiment_mod.seeds_of(settings)[-1]
    return settings, training.train(settings, fixed=True, seed=seed)


LAST_FIXED_RUN_ALONE = Background(_last_fixed_run_alone, process=True)


@LAST_FIXED_RUN_ALONE
def test_runs_trained_together_equal_a_run_made_alone(outcomes):
    """The experiment trains its runs together (stacked); one run retrained alone, in the worker, is identical."""
    ev = outcomes["fall2025"].groups["loss_curves"].evidence
    settings, alone = LAST_FIXED_RUN_ALONE.result()
    assert settings == ev.settings  # the run of the last seed of these settings
    for field in ("loss", "accuracy", "grad_norm", "weight_norm"):
        np.testing.assert_array_equal(getattr(alone, field), getattr(ev.fixed_runs[-1], field))
