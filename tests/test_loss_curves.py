"""1.3: derived start values and the experiment's integration into the key."""
from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp

from derivations import build, loss_curves, variant


@pytest.mark.parametrize("classes", [2, 4, 8, 10])
def test_start_values(classes):
    s = loss_curves.start_values(classes)
    assert float(s.loss_value) == pytest.approx(math.log(classes))
    assert s.accuracy_value == sp.Rational(1, classes)
    assert sp.simplify(s.loss - sp.log(s.C)) == 0 and sp.simplify(s.accuracy - 1 / s.C) == 0


@pytest.fixture(scope="module")
def short_variant():
    v = variant.load()
    return dataclasses.replace(v, loss_curves=dataclasses.replace(v.loss_curves, steps=150, eval_batch=500))


def test_derive_uses_and_reuses_the_cache(short_variant, tmp_path):
    first = loss_curves.derive(short_variant, cache_dir=tmp_path)
    second = loss_curves.derive(short_variant, cache_dir=tmp_path)
    assert not first.cache_hit and second.cache_hit
    assert (first.spiking.loss == second.spiking.loss).all()
    checks, arrays = loss_curves.verify(first, 0)
    assert all(c.passed for c in checks) and arrays == {}


def test_answers_have_the_contract_keys(short_variant, tmp_path):
    r = loss_curves.derive(short_variant, cache_dir=tmp_path)
    a = loss_curves.answers(r)
    assert a["loss_curves.initial_loss"] == pytest.approx(math.log(4))
    assert a["loss_curves.initial_accuracy"] == 0.25
    assert isinstance(a["loss_curves.initial_loss"], float)
    assert a["loss_curves.measured.initial_loss"] == pytest.approx(math.log(4), rel=0.05)
    header = loss_curves.files(r)[loss_curves.DATA_FILE].splitlines()[0].split()
    assert header[:3] == ["step", "loss_spiky", "loss_fixed"]


def test_summary_reads_the_run(short_variant, tmp_path):
    r = loss_curves.derive(short_variant, cache_dir=tmp_path)
    s = loss_curves.summary(r)
    assert s["peak_loss"] == pytest.approx(float(r.spiking.loss[s["peak_step"]]))  # 0-based, as plotted
    assert s["peak_ratio"] == pytest.approx(s["peak_loss"] / r.spiking.initial_loss)


@pytest.mark.latex
def test_second_build_reuses_the_cached_runs(tmp_path):
    v = variant.load()
    build.build(v, tmp_path)
    assert list(build.CACHE_DIR.glob("*.npz"))
    results = build.derive_all(v, build.CACHE_DIR)
    assert results["loss_curves"].cache_hit
