"""Tests of the 1.3 loss-spike experiment (derivations/groups/loss_curves: task, model, training, experiment).

They check the data (labels against an independent rule), the hand-written
backpropagation (against central finite differences), that stacked models and
runs trained together give exactly the numbers of each alone, the phenomenon
itself on a shortened run of the default settings (spikes above the initial
loss without the fix, none with it), and the on-disk cache.
"""

import dataclasses
import importlib
import io

import numpy as np
import pytest

from derivations.groups.loss_curves import LossCurves as ExperimentSettings
from derivations.groups.loss_curves.model import evaluate, init_params, loss_and_grads
from derivations.groups.loss_curves.present import PLOT_COLUMNS, plot_table
from derivations.groups.loss_curves.task import label_of, make_batch, marker_windows
from derivations.groups.loss_curves.training import Run, train, train_many

from conftest import on_spare_core

# The package exports the step function ``experiment``; the module is fetched from sys.modules.
run_all = importlib.import_module("derivations.groups.loss_curves.experiment").run_all
training_mod = importlib.import_module("derivations.groups.loss_curves.training")

# Shortened default run: the first 400 steps of the default data stream.  The
# spiking procedure already spikes there and the fixed one already learns.


def _ids(X):
    """Symbol ids back from the one-hot encoding."""
    return X.argmax(axis=-1)


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("n_distractors", [1, 4, 7])
def test_four_class_labels_follow_the_QRSU_table(n_distractors):
    rng = np.random.default_rng(123)
    X, y = make_batch(rng, 500, 15, 4, n_distractors)
    x_id, y_id = n_distractors, n_distractors + 1
    assert X.dtype == np.float64 and X.shape == (500, 15, n_distractors + 2)
    assert np.all(X.sum(axis=-1) == 1.0)
    table = {(x_id, x_id): 0, (x_id, y_id): 1, (y_id, x_id): 2, (y_id, y_id): 3}  # Q R S U
    ids = _ids(X)
    for seq, label in zip(ids, y):
        positions = np.flatnonzero(seq >= x_id)
        assert len(positions) == 2
        assert table[tuple(seq[positions])] == label
        assert label_of(seq, 4, n_distractors) == label
    # every class occurs (the classes are balanced by construction)
    assert set(np.unique(y)) == {0, 1, 2, 3}


@pytest.mark.parametrize("classes,k", [(2, 1), (3, 2), (5, 3), (8, 3), (9, 4), (16, 4), (17, 5), (20, 5)])
def test_other_class_counts_read_markers_as_binary_number(classes, k):
    """ceil(log2 C) markers; read in binary they give the label, and only the first C orders occur."""
    rng = np.random.default_rng(5)
    X, y = make_batch(rng, 600, 24, classes, 4)
    for seq, label in zip(_ids(X), y):
        markers = seq[seq >= 4]
        assert len(markers) == k
        bits = "".join("1" if m == 5 else "0" for m in markers)
        assert int(bits, 2) == label == label_of(seq, classes, 4)
    assert set(np.unique(y)) == set(range(classes))


def test_an_order_beyond_the_classes_is_no_sequence_of_the_task():
    assert label_of([5, 0, 4], 3) == 2  # YX -> the third of three classes
    with pytest.raises(ValueError, match="no class"):
        label_of([5, 0, 5], 3)  # YY is the fourth order: not a class of three


@pytest.mark.parametrize("classes", [2, 4, 8])
def test_powers_of_two_draw_no_extra_random_numbers(classes):
    """Nothing is redrawn when every order is a class, so C = 2, 4, 8 keep the data of the same seed."""
    rng = np.random.default_rng(9)
    make_batch(rng, 50, 20, classes, 4)
    replay = np.random.default_rng(9)
    replay.integers(0, 4, size=(50, 20))
    replay.integers(0, 2, size=(50, (classes - 1).bit_length()))
    for lo, hi in marker_windows(20, classes):
        replay.integers(lo, hi, size=50)
    assert rng.bit_generator.state == replay.bit_generator.state


def test_label_of_default_alphabet_and_hand_examples():
    # default alphabet: 4 distractors 0..3, X = 4, Y = 5
    assert label_of([0, 4, 1, 2, 4, 3], 4) == 0  # XX -> Q
    assert label_of([4, 0, 5, 1], 4) == 1  # XY -> R
    assert label_of([5, 4], 4) == 2  # YX -> S
    assert label_of([3, 5, 5, 0], 4) == 3  # YY -> U
    with pytest.raises(ValueError):
        label_of([0, 4, 1, 2], 4)  # only one marker


@pytest.mark.parametrize("classes", [0, 1, 21, 2.0, True])
def test_invalid_classes_raise(classes):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        make_batch(rng, 4, 10, classes, 4)
    with pytest.raises(ValueError):
        label_of([4, 5, 4, 5], classes)
    with pytest.raises(ValueError):
        train(dataclasses.replace(ExperimentSettings(), classes=classes, steps=1), fixed=False)


# ----------------------------------------------------------------------- gradients


def test_backprop_matches_central_finite_differences():
    rng = np.random.default_rng(42)
    n_symbols, hidden, classes = 6, 3, 4
    params = init_params(rng, n_symbols, hidden, classes)
    # move away from the symmetric initial point so that every gate and the
    # read-out are exercised with non-trivial values
    params = {k: v + 0.5 * rng.normal(size=v.shape) for k, v in params.items()}
    X, y = make_batch(rng, 5, 7, classes, n_symbols - 2)
    loss, _, grads = loss_and_grads(params, X, y)
    assert loss == pytest.approx(evaluate(params, X, y)[0], rel=1e-12)
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric[idx] = (evaluate(plus, X, y)[0] - evaluate(minus, X, y)[0]) / (2 * eps)
        rel = np.linalg.norm(numeric - grads[name]) / max(
            np.linalg.norm(numeric), np.linalg.norm(grads[name]), 1e-12)
        assert rel < 1e-5, (name, rel)
        assert grads[name].shape == value.shape


def test_a_stack_of_models_computes_each_model_bit_for_bit():
    """loss_and_grads on models stacked along a leading axis gives exactly each model's own (2-D) results."""
    rng = np.random.default_rng(7)
    n_symbols, hidden, classes = 7, 5, 6
    models = [{k: v + 0.3 * rng.normal(size=v.shape) for k, v in init_params(rng, n_symbols, hidden, classes).items()}
              for _ in range(3)]
    batches = [make_batch(rng, 9, 11, classes, n_symbols - 2) for _ in models]
    stacked = {k: np.stack([m[k] for m in models]) for k in models[0]}
    loss, accuracy, grads = loss_and_grads(stacked, np.stack([X for X, _ in batches]),
                                           np.stack([y for _, y in batches]))
    assert loss.shape == accuracy.shape == (3,)
    for r, (params, (X, y)) in enumerate(zip(models, batches)):
        loss_r, accuracy_r, grads_r = loss_and_grads(params, X, y)
        assert loss[r] == loss_r and accuracy[r] == accuracy_r
        for name in params:
            np.testing.assert_array_equal(grads[name][r], grads_r[name])


# ---------------------------------------------------------------------- the effect


@pytest.fixture(scope="module")
def evidence(outcomes):
    """All runs of the session's shared build (cached): both procedures, every seed."""
    return outcomes["fall2025"].groups["loss_curves"].evidence


def test_same_start_same_data(evidence):
    for spiking, fixed in zip(evidence.spiking_runs, evidence.fixed_runs):
        # same initial weights and same first batch: identical first loss and gradient
        assert spiking.initial_loss == fixed.initial_loss
        assert spiking.initial_accuracy == fixed.initial_accuracy
        assert spiking.loss[0] == fixed.loss[0] and spiking.grad_norm[0] == fixed.grad_norm[0]
        assert spiking.weight_norm[0] == fixed.weight_norm[0]
        assert spiking.initial_loss == pytest.approx(np.log(4), abs=0.03)
        assert abs(spiking.initial_accuracy - 0.25) < 0.05
        for run in (spiking, fixed):
            for arr in (run.loss, run.accuracy, run.grad_norm, run.weight_norm, run.update_norm):
                assert arr.shape == (evidence.settings.steps,) and np.all(np.isfinite(arr))
    assert len(evidence.spiking_runs) == len(evidence.fixed_runs) == evidence.settings.seeds >= 5


def test_without_the_fix_every_seed_goes_above_the_initial_loss(evidence):
    for run in evidence.spiking_runs:
        assert run.loss[1:].max() > 1.3 * np.log(4)


def test_clipping_bounds_every_update_and_learns(evidence):
    bound = evidence.max_update
    for spiking, fixed in zip(evidence.spiking_runs, evidence.fixed_runs):
        assert fixed.update_norm.max() <= bound * (1 + 1e-9)
        assert fixed.loss[1:].max() < 1.1 * np.log(4)
        assert fixed.final_accuracy > 0.9
        # plain SGD: the update is exactly lr times the gradient norm
        np.testing.assert_allclose(spiking.update_norm, evidence.settings.lr * spiking.grad_norm, rtol=1e-9)


def test_training_is_deterministic():
    settings = dataclasses.replace(ExperimentSettings(), steps=40, eval_batch=100)
    a, b = train(settings, fixed=False), train(settings, fixed=False)
    for field in ("loss", "accuracy", "grad_norm", "weight_norm"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.final_loss == b.final_loss


@pytest.mark.parametrize("extra", [dict(optimizer="adam", lr=0.01), dict(optimizer="rmsprop", lr=1e-3),
                                   dict(fixed_lr=0.5, warmup_steps=10)])
def test_other_procedures_run(extra):
    settings = dataclasses.replace(ExperimentSettings(), steps=20, eval_batch=50, **extra)
    for fixed in (False, True):
        run = train(settings, fixed)
        assert np.all(np.isfinite(run.loss)) and np.isfinite(run.final_loss)


@pytest.mark.parametrize("extra", [dict(), dict(optimizer="rmsprop"),
                                   dict(optimizer="adam", lr=0.05, fixed_lr=0.5, warmup_steps=5)])
def test_runs_trained_together_equal_runs_trained_alone(extra, monkeypatch):
    """Stacked training (any grouping of the runs) records exactly the numbers of each run trained alone."""
    settings = dataclasses.replace(ExperimentSettings(), steps=20, batch=9, hidden=5, classes=5, eval_batch=40,
                                   **extra)
    jobs = [(False, 3), (True, 3), (True, 8), (False, 11), (True, 11)]
    together = train_many(settings, jobs)
    per_run = settings.batch * settings.seq_len * (settings.n_distractors + 2 + 7 * settings.hidden)
    monkeypatch.setattr(training_mod, "GROUP_NUMBERS", 2 * per_run)
    in_pairs = train_many(settings, jobs)
    fields = [f.name for f in dataclasses.fields(Run) if f.name != "seconds"]
    for (fixed, seed), run, paired in zip(jobs, together, in_pairs):
        alone = train(settings, fixed, seed)
        for name in fields:
            np.testing.assert_array_equal(getattr(run, name), getattr(alone, name), err_msg=name)
            np.testing.assert_array_equal(getattr(paired, name), getattr(alone, name), err_msg=name)
    assert together[1].grad_norm.max() > settings.clip_norm  # the fixed runs are clipped: the test bites


# ---------------------------------------------------------------- caching and output


@on_spare_core
def test_cache_is_reused(tmp_path):
    settings = dataclasses.replace(ExperimentSettings(), steps=15, eval_batch=64)
    first = run_all(settings, tmp_path)
    assert first[2] is False
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    second = run_all(settings, tmp_path)
    assert second[2] is True
    for run_a, run_b in zip(first[0] + first[1], second[0] + second[1]):
        assert isinstance(run_b, Run)
        for field in dataclasses.fields(Run):
            np.testing.assert_array_equal(getattr(run_a, field.name), getattr(run_b, field.name))
    # another setting is another cache entry, trained anew
    other = run_all(dataclasses.replace(settings, seed=1), tmp_path)
    assert other[2] is False
    assert len(list(tmp_path.iterdir())) == 2


def test_plot_table(evidence):
    spiking, fixed = evidence.spiking, evidence.fixed
    text = plot_table(spiking, fixed)
    lines = text.splitlines()
    assert lines[0].split() == ["step", "loss_spiky", "loss_fixed", "acc_spiky", "acc_fixed",
                                "gnorm_spiky", "gnorm_fixed", "unorm_spiky", "unorm_fixed",
                                "wnorm_spiky", "wnorm_fixed"] == list(PLOT_COLUMNS)
    assert text.endswith("\n")
    table = np.loadtxt(io.StringIO(text), skiprows=1)
    n = evidence.settings.steps
    assert table.shape == (n, 11)
    np.testing.assert_array_equal(table[:, 0], np.arange(n))
    np.testing.assert_allclose(table[:, 1], spiking.loss, rtol=1e-5)
    np.testing.assert_allclose(table[:, 6], fixed.grad_norm, rtol=1e-5)
