"""The verification's time budget (derivations.verify.BUDGET_SECONDS) as the stress command reports it.

Nothing here asserts a wall time: the times are measured and reported, the tests check what is
reported and how (the budget is the README's measurement, `stress --worst`).
"""
from __future__ import annotations

import os
from pathlib import Path

from derivations import build, registry, stress, variant, verify

REGISTRY = registry.default()
SHARED_CACHE = Path(os.environ.get("HW2_CACHE", build.CACHE_DIR))


def test_the_budget_is_a_named_constant():
    assert verify.BUDGET_SECONDS == 20.0


def test_a_stress_variant_records_each_groups_derive_and_check(tmp_path):
    text = variant.load("fall2025").text
    v = variant.parse(text.split("[questions]")[0] + "[questions]\nconv2d_output = 1\nconv_general = 2\n", "two.toml")
    r = stress.verify_variant(v, stress.Result(0, "two", "specs"), tmp_path, REGISTRY, SHARED_CACHE)
    assert r.passed, r.error
    assert list(r.verification) == ["conv2d", "conv_general"] and all(t >= 0 for t in r.verification.values())
    assert r.verify_seconds == sum(r.verification.values())
    assert r.verify_seconds <= r.seconds  # the presentation is left out
    assert r.outcome.checks and all(c.passed for c in r.outcome.checks)


def _result(name, **seconds):
    r = stress.Result(0, name, "specs", seconds=sum(seconds.values()) + 0.5)
    r.verification = dict(seconds)
    return r


def test_the_report_names_the_slowest_verification_against_the_budget(tmp_path):
    results = [_result("a", conv2d=0.01, attention_rnn=3.0), _result("b", conv2d=0.02, gated_rnn=2.0, attention_rnn=4.5)]
    text, data = stress.report(results, [], 0, tmp_path)
    assert data["verification"] == {
        "budget_seconds": verify.BUDGET_SECONDS, "slowest": "b", "seconds": 6.52, "within_budget": True,
        "by_group": {"conv2d": 0.02, "gated_rnn": 2.0, "attention_rnn": 4.5},
        "slowest_per_group": {"conv2d": {"seconds": 0.02, "variant": "b"},
                              "attention_rnn": {"seconds": 4.5, "variant": "b"},
                              "gated_rnn": {"seconds": 2.0, "variant": "b"}}}
    assert ("slowest verification (derive + check, 1.3's training excluded): 6.52 s (b: attention_rnn 4.50 s, "
            "gated_rnn 2.00 s, conv2d 0.02 s), within the budget of 20 s (verify.BUDGET_SECONDS)") in text
    over = stress.report([_result("c", attention_rnn=verify.BUDGET_SECONDS + 1)], [], 0, tmp_path)
    assert over[1]["verification"]["within_budget"] is False and "OVER the budget of 20 s" in over[0]
    assert over[1]["failed"] == 0  # a time is reported, never a failure


def test_the_worst_variants_are_valid_and_at_the_ranges_ends():
    largest = stress.worst_variant("largest", REGISTRY)
    assert (largest.params["attention_rnn"].k, largest.params["attention_rnn"].n) == (8, 16)
    gated = largest.params["gated_rnn"]
    assert (gated.n, gated.m, gated.steps) == (6, 6, 32)
    conv1d = largest.params["conv1d"]
    assert (conv1d.channels, conv1d.length) == (256, 8192)
    small = stress.worst_variant("exact at own sizes", REGISTRY)
    assert (small.params["attention_rnn"].k, small.params["attention_rnn"].n) == (4, 1)
    assert all(len(v.questions) == len(stress.variant_mod.load(stress.BASE).questions) for v in (largest, small))
