"""1.1(c) at large sizes: derived per structure, checked without building the Jacobians.

The large variants here are far beyond what an entrywise check could hold (d f/d x of
C = 64, L = 4096, S = 2 has 536 million entries); their checks run in about a second.
"""
from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
import sympy as sp

from derivations import verify
from derivations.errors import VerificationError
from derivations.groups import conv1d
from derivations.groups.conv1d import Conv1d
from derivations.registry import Verification

from conftest import on_spare_core

checks_mod = importlib.import_module("derivations.groups.conv1d.check")
derive_mod = importlib.import_module("derivations.groups.conv1d.derive")
vary_mod = importlib.import_module("derivations.groups.conv1d.vary")

LARGE = Conv1d(channels=64, length=4096, kernel=5, stride=2)  # the bench's size (derivations/bench.py)
LARGE_DP = Conv1d(channels=48, length=3000, kernel=4, stride=3, dilation=2, padding=2)


@pytest.fixture(scope="module")
def large():
    """LARGE derived, checked and presented once: {params: (derivation, verification, presentation)}."""
    out = {}
    for q in (LARGE, LARGE_DP):
        d = conv1d.derive(q)
        v = conv1d.check(d, None, 11)
        out[q] = (d, v, conv1d.present(d, None, v))
    return out


@pytest.mark.parametrize("q", [LARGE, LARGE_DP])
def test_large_variants_derive_and_verify(large, q):
    d, v, pres = large[q]
    assert d.L_out == (q.length + 2 * q.padding - q.dilation * (q.kernel - 1) - 1) // q.stride + 1
    assert all(c.passed for c in v.checks), [(c.id, c.max_error) for c in v.checks if not c.passed]
    assert [c.id for c in v.checks] == [
        "conv1d.f:sliding-window-sum", "conv1d.df_dW:fd:directional", "conv1d.df_dx:fd:directional",
        "conv1d.dl_dW:fd:directional", "conv1d.dl_dW.correlation:correlation-with-spread-g",
        "conv1d.df_dW:exact:structure", "conv1d.df_dx:exact:structure", "conv1d.dl_dW:exact:chain-rule"]
    by_id = {c.id: c for c in v.checks}
    # The table names the Jacobian's shape at the variant's sizes, and the sizes checked exactly.
    assert by_id["conv1d.df_dx:fd:directional"].shape == (1, d.L_out, q.channels, q.length)
    assert "random directions" in by_id["conv1d.df_dx:fd:directional"].detail
    exact = by_id["conv1d.df_dx:exact:structure"]
    small = checks_mod.structure_instance(derive_mod.structure_key(q))
    assert f"$C = {small.channels}$, $L = {small.length}$" in exact.detail
    assert exact.shape == (1, derive_mod.output_count(small), small.channels, small.length)
    # The answers are the structure's with the numbers in.
    assert pres.answers["conv1d.df_dx.shape"] == [1, d.L_out, q.channels, q.length]
    if q == LARGE:
        assert pres.answers["conv1d.df_dW.latex"] == "x[c, m + 2\\,p - 2]"
        assert pres.answers["conv1d.dl_dW.latex"] == "\\sum_{p=1}^{2046} g[1, p]\\,x[c, m + 2\\,p - 2]"


def test_large_npz_arrays(large):
    d, v, _ = large[LARGE]
    k, C, L, K, Lo = checks_mod.DIRECTIONS, LARGE.channels, LARGE.length, LARGE.kernel, d.L_out
    a = v.arrays
    rows = a["conv1d.rows"]
    R = len(rows)
    assert {name: arr.shape for name, arr in a.items()} == {
        "conv1d.x": (C, L), "conv1d.W": (1, C, K), "conv1d.g": (1, Lo), "conv1d.rows": (R,), "conv1d.f": (1, R),
        "conv1d.dl_dW": (1, C, K), "conv1d.directions.W": (k, 1, C, K), "conv1d.directions.x": (k, C, L),
        "conv1d.df_dW_v": (k, 1, R), "conv1d.df_dx_v": (k, 1, R)}
    # The stored products are the Jacobians times the stored directions at the checked outputs
    # (recomputed here by a loop over the taps, on the whole output).
    x, W, S = a["conv1d.x"], a["conv1d.W"][0], LARGE.stride
    at = rows - 1
    for i in range(k):
        vW, vx = a["conv1d.directions.W"][i][0], a["conv1d.directions.x"][i]
        jw = sum(vW[:, mm] @ x[:, mm: mm + S * (Lo - 1) + 1: S] for mm in range(K))
        jx = sum(W[:, mm] @ vx[:, mm: mm + S * (Lo - 1) + 1: S] for mm in range(K))
        assert np.allclose(a["conv1d.df_dW_v"][i, 0], jw[at]) and np.allclose(a["conv1d.df_dx_v"][i, 0], jx[at])
    f = sum(W[:, mm] @ x[:, mm: mm + S * (Lo - 1) + 1: S] for mm in range(K))
    assert np.allclose(a["conv1d.f"][0], f[at])
    # dl/dW is the whole (iv) for the stored g (zero outside the checked outputs).
    g = a["conv1d.g"][0]
    assert np.count_nonzero(g) == R and np.all(g[at] != 0)
    assert np.allclose(a["conv1d.dl_dW"][0], np.stack([x[:, mm: mm + S * (Lo - 1) + 1: S] @ g for mm in range(K)], -1))


@pytest.mark.parametrize("q", [LARGE, LARGE_DP])
def test_large_variants_are_checked_at_both_ends_and_at_random_outputs(large, q):
    d, v, _ = large[q]
    rows = v.arrays["conv1d.rows"]
    e = checks_mod.edge_rows(q)
    assert len(rows) == 2 * e + checks_mod.SAMPLED_ROWS and np.all(np.diff(rows) > 0)
    assert list(rows[:e]) == list(range(1, e + 1)) and list(rows[-e:]) == list(range(d.L_out - e + 1, d.L_out + 1))
    # Every output whose window reads the padding, or the first or last input position, is among them.
    first = checks_mod.receptive_field(q, np.arange(1, d.L_out + 1))[:, :, 0]
    edge = np.flatnonzero((first < 1).any(1) | (first > q.length).any(1) | (first == 1).any(1)
                          | (first == q.length).any(1)) + 1
    assert set(edge) <= set(rows)
    # x and the x directions are drawn where the checked outputs read, and are 0 elsewhere.
    read = np.zeros(q.length, bool)
    read[checks_mod.read_positions(q, rows)] = True
    for arr in (v.arrays["conv1d.x"], *v.arrays["conv1d.directions.x"]):
        assert np.all(arr[:, read] != 0) and not arr[:, ~read].any()
    detail = {c.id: c.detail for c in v.checks}["conv1d.df_dx:fd:directional"]
    assert f"{len(rows)} of the {d.L_out} outputs" in detail


def test_large_presentation_computes_only_the_printed_corner(large):
    d, _, pres = large[LARGE]
    block = d.blocks["dx"]
    assert (len(block), len(block[0])) == (d.L_out, LARGE.length)
    assert block._entry.cache_info().currsize <= 12 * 12  # the elided block shows at most 12 x 12
    assert r"\cdots" in pres.context["block_dx"] and pres.context["block_dx_elided"]


def _wrong_copies(d, q):
    W, g, c, m, n, p = derive_mod.W, derive_mod.g, derive_mod.c, derive_mod.m, derive_mod.n, derive_mod.p
    return {
        # forgetting the stride when locating the tap
        "conv1d.df_dx": dataclasses.replace(
            d, df_dx=sp.Piecewise((W[1, c, n - p + 1], (n >= p) & (n <= p + q.kernel - 1)), (0, True))),
        # the tap index shifted by one
        "conv1d.df_dW": dataclasses.replace(d, df_dW=d.df_dW.subs(m, m + 1)),
        # the last output forgotten in the chain rule
        "conv1d.dl_dW": dataclasses.replace(d, dl_dW=sp.Sum(g[1, p] * d.df_dW, (p, 1, d.L_out - 1))),
    }


@pytest.mark.parametrize("q", [LARGE, LARGE_DP])
def test_directional_checks_catch_a_wrong_closed_form(large, q):
    d = large[q][0]
    for quantity, wrong in _wrong_copies(d, q).items():
        checks, _ = checks_mod.directional_checks(wrong, checks_mod.instance(wrong, 3), 3)
        failed = {c.quantity for c in checks if not c.passed}
        assert quantity in failed, quantity
        assert failed <= {quantity, "conv1d.dl_dW.correlation"}  # the other formulas still check out
        with pytest.raises(VerificationError, match=quantity):
            verify.require(checks)


def test_a_wrong_copy_of_a_large_derivation_fails_exactly_too(large):
    d = large[LARGE][0]
    wrong = _wrong_copies(d, LARGE)["conv1d.df_dx"]
    exact = checks_mod.exact_checks(wrong)  # at a small instance with the variant's K, S, D, P
    assert [c.id for c in exact if not c.passed] == ["conv1d.df_dx:exact"]
    assert "(the variant's $K$, $S$, $D$, $P$)" in exact[1].detail


def test_exact_checks_are_made_once_per_structure(large):
    """Two variants of one structure (any sizes) share the symbolic derivation, the compiled formulas
    and the structure's exact checks: the same objects, made once."""
    other = Conv1d(channels=3, length=20000 // 3, kernel=7, stride=5)  # no dilation, no padding, like LARGE
    key = derive_mod.structure_key(LARGE)
    assert derive_mod.structure_key(other) == key
    d1, d2 = large[LARGE][0], conv1d.derive(other)
    e1 = [c for c in large[LARGE][1].checks if c.method.startswith("exact") and c.case == "structure"]
    e2 = [c for c in conv1d.check(d2, None, 1).checks if c.method.startswith("exact") and c.case == "structure"]
    assert len(e1) == 2 and all(a is b for a, b in zip(e1, e2))
    assert checks_mod.structure_exact(key)[0] is e1[0]
    assert checks_mod.forms(d1) is checks_mod.forms(d2) is checks_mod.numpy_forms(key)
    assert checks_mod.forms(d1, exact=True) is checks_mod.exact_forms(key)
    assert derive_mod.structure(*key) is derive_mod.structure(*derive_mod.structure_key(other))
    # The chain rule is checked for symbolic L_out: one result per structure.
    assert checks_mod._chain_rule_errors.cache_info().currsize <= 4


def test_students_share_the_structure_work(fall2025):
    """A class: each student's own exact check is made once per parameter set; every student of a
    structure reuses its compiled formulas and its structure check (the same objects)."""
    rng = np.random.default_rng(4)
    students = [vary_mod.vary(rng, fall2025.conv1d) for _ in range(6)]
    for q in students:
        d = conv1d.derive(q)
        v = conv1d.check(d, None, 9)
        assert all(c.passed for c in v.checks)
        own = [c for c in v.checks if c.method.startswith("exact") and c.case == ""]
        assert [c.detail for c in own] == [f"$C = {q.channels}$, $L = {q.length}$, all entries"] * 2
        again = [c for c in conv1d.check(d, None, 10).checks if c.method.startswith("exact")]
        assert all(any(a is b for b in again) for a in own)
        key = derive_mod.structure_key(q)
        assert checks_mod.forms(d) is checks_mod.numpy_forms(key)
        assert all(c.passed for c in checks_mod.structure_exact(key))


def test_blocks_and_answers_of_a_single_channel_or_tap_have_no_kronecker_delta():
    """With C = 1 or K = 1 the per-size derivation used to print delta_{1,c} x[1, ...]: the
    structure's formula is the general one."""
    for q in (Conv1d(1, 9, 3, 2), Conv1d(4, 9, 1, 2)):
        answers = conv1d.present(conv1d.derive(q), None, Verification(())).answers
        assert "delta" not in answers["conv1d.df_dW.latex"] and "x[c, " in answers["conv1d.df_dW.latex"]
        assert all(c.passed for c in conv1d.check(conv1d.derive(q), None, 2).checks)


def test_substitution_gives_the_expressions_built_from_the_numbers():
    """The structure's results with the numbers in are the expressions SymPy builds from the numbers."""
    W, x, c, m, n, p = derive_mod.W, derive_mod.x, derive_mod.c, derive_mod.m, derive_mod.n, derive_mod.p
    d = conv1d.derive(Conv1d(channels=3, length=12, kernel=3, stride=2, dilation=2, padding=1))
    index = 2 * (p - 1) + 2 * (m - 1) + 1 - 1
    assert d.index == index and d.df_dW == x[c, index]
    assert d.forward == sp.Sum(W[1, c, m] * x[c, index], (c, 1, 3), (m, 1, 3))
    lo, hi = index.subs(m, 1), index.subs(m, 3)
    tap = sp.solve(sp.Eq(index, n), m)[0]
    assert d.tap == tap
    assert d.df_dx == sp.Piecewise((W[1, c, tap], sp.And(lo <= n, n <= hi, sp.Eq(sp.Mod(n - lo, 2), 0))), (0, True))
    from derivations.groups.conv2d.derive import axis_numbers
    assert d.L_out_numbers == axis_numbers(12, 3, 2, 1, 2) and sp.srepr(d.L_out_numbers) == sp.srepr(
        axis_numbers(12, 3, 2, 1, 2))


def test_lookup_reads_one_based_and_zero_outside():
    a = np.arange(12.0).reshape(3, 4)
    channels = np.arange(1, 4).reshape(1, 1, -1)
    look = checks_mod.Lookup(a, channels)
    idx = np.array([0, 1, 4, 5, 2.5]).reshape(1, -1, 1)
    fast = look[channels, idx]  # every channel at once
    slow = checks_mod.Lookup(a)[np.arange(1, 4).reshape(1, 1, -1), idx]  # broadcast fancy indexing
    expected = np.array([[[0, 0, 0], [0, 4, 8], [3, 7, 11], [0, 0, 0], [0, 0, 0]]], float)
    assert np.array_equal(fast, expected) and np.array_equal(slow, expected)
    assert look[2, 3] == 6.0 and look[4, 1] == 0.0 and look[1.5, 1] == 0.0


def test_directional_helper_and_exact_helpers():
    A = np.arange(6.0).reshape(2, 3)
    dirs = [np.ones(3), np.array([1.0, -2.0, 0.5])]
    good = verify.directional("toy", "", lambda v: A @ v, np.zeros(3), dirs, np.stack([A @ v for v in dirs]),
                              shape=(2, 3))
    bad = verify.directional("toy", "", lambda v: A @ v, np.zeros(3), dirs, np.stack([A.T[:2] @ v[:2] for v in dirs]),
                             shape=(2, 3))
    assert good.passed and good.id == "toy:fd:directional" and not bad.passed
    a, b, u = sp.symbols("a b u")
    terms = [[a * b, 3 * a * u], [b ** 2, sp.Integer(0)]]
    brute = verify.expanded_jacobian(terms, [a, b, u])
    assert sp.Matrix(brute) == sp.Matrix([a * b + 3 * a * u, b ** 2]).jacobian([a, b, u])
    assert verify.exact_entries("toy", "", [b + 3 * u, a, 3 * a, 0, 2 * b, 0], sum(brute, []), shape=(2, 3)).passed
    assert verify.exact_entries("toy", "", [b + 3 * u, a, 3 * a, 0, 2 * b, None], sum(brute, []),
                                shape=(2, 3)).max_error == 1


@on_spare_core
def test_a_layer_that_reads_only_padding_is_refused():
    """Every tap in the padding: all Jacobians zero, checks that test nothing; refused, naming the key.
    The rule agrees with a brute-force search over small layers."""
    import itertools

    from derivations.groups.conv1d import Conv1d, reads_input

    assert reads_input(Conv1d(channels=1, length=1, kernel=1, stride=5, padding=16))[0] == "conv1d.padding"
    for L, K, S, D, P in itertools.product(range(1, 7), range(1, 4), range(1, 4), range(1, 3), range(0, 5)):
        if D * (K - 1) + 1 > L + 2 * P:
            continue
        outputs = (L + 2 * P - D * (K - 1) - 1) // S + 1
        brute = any(1 <= S * q + D * m - P + 1 <= L for q in range(outputs) for m in range(K))
        assert (reads_input(Conv1d(channels=1, length=L, kernel=K, stride=S, dilation=D, padding=P)) is None) == brute


@pytest.mark.parametrize("q", [LARGE, LARGE_DP])
def test_large_rows_say_the_exact_check_at_own_sizes_was_skipped(large, q):
    rows = {c.id: c.detail for c in large[q][1].checks}
    for qty in ("conv1d.df_dW", "conv1d.df_dx"):
        assert verify.SKIPPED_EXACT in rows[f"{qty}:fd:directional"] and "limit $4\\,000$" in rows[f"{qty}:fd:directional"]
    assert all(verify.SKIPPED_EXACT not in d for i, d in rows.items() if ":exact" in i)


def test_a_small_variants_rows_do_not_say_skipped(fall2025):
    g = fall2025.params["conv1d"]
    v = conv1d.GROUP.check(conv1d.GROUP.derive(g), None, 1)
    assert not any(verify.SKIPPED_EXACT in c.detail for c in v.checks)
