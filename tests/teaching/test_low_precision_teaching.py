"""The low-precision lesson: the stall of a bfloat16 (and float16) accumulator, the rule stated in
:mod:`adagrad_ref.teaching.lessons.low_precision` checked at every step of both of its runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adagrad_ref.teaching.lessons import low_precision as lesson

PRECISION = {"bfloat16": 8, "float16": 11}


def test_g_equal_one_stops_where_G_plus_1_is_a_tie():
    runs = lesson.accumulator_runs()["ones"]
    s = lesson.stalls()
    for name, p in PRECISION.items():
        stop = 2.0**p  # G + 1 at G = 2**p: half an ULP, a tie; 2**p is the even neighbour
        G = runs[name]
        step = s[f"{name} stops at step"]
        assert (
            s[f"{name} stops at"] == stop and np.all(G[step - 1 :] == stop) and np.all(G[: step - 1] < stop)
        )
    assert np.all(np.diff(runs["float32"]) > 0)  # float32 still grows (it would stop at 2**24)


@pytest.mark.parametrize("name", PRECISION)
@pytest.mark.parametrize("kind", ["ones", "normal"])
def test_the_rule_at_every_step(name, kind):
    """G unchanged exactly when g² (rounded) < ulp(G)/2, or = ulp(G)/2 with G the even neighbour; and
    ulp(G)/2 lies in (G·2^-(p+1), G·2^-p]."""
    p = PRECISION[name]
    runs = lesson.accumulator_runs()
    G = np.concatenate(
        [[float(np.asarray(0.1, lesson._dtypes()[name]).astype(np.float64))], runs[kind][name]]
    )
    g = np.ones(len(G) - 1) if kind == "ones" else np.random.default_rng(0).standard_normal(len(G) - 1)
    dt = lesson._dtypes()[name]
    g2 = (g.astype(dt).astype(np.float32) ** 2).astype(dt).astype(np.float64)  # g*g rounded to the format
    checked = 0
    for t in range(len(g2)):
        e = math.floor(math.log2(G[t]))
        half_ulp = 2.0 ** (e - p)
        assert G[t] * 2.0 ** -(p + 1) < half_ulp <= G[t] * 2.0**-p
        even = (G[t] / 2.0 ** (e - p + 1)) % 2 == 0
        stays = g2[t] < half_ulp or (g2[t] == half_ulp and even)
        assert (G[t + 1] == G[t]) == stays, (t, G[t], g2[t])
        checked += 1
    assert checked == len(g2) and checked > 1000


def test_the_noisy_run_measures_the_figure_states():
    s = lesson.stalls()
    runs = lesson.accumulator_runs()["normal"]
    assert s["bfloat16 / float32 G, noisy, end"] == runs["bfloat16"][-1] / runs["float32"][-1] < 0.6
    assert (
        s["noisy steps where bfloat16 G did not change"] == int(np.sum(np.diff(runs["bfloat16"]) == 0)) > 1000
    )


def test_the_rate_stops_falling_for_g_one_and_falls_ever_more_slowly_for_noisy_g():
    """docs/low_precision.md: with g = 1 the bfloat16 G is constant from its stall step on (η/√G stops
    falling); with noisy g it still grows between steps 1000 and 3000, but by less than float32's G."""
    runs = lesson.accumulator_runs()
    s = lesson.stalls()
    ones = runs["ones"]["bfloat16"]
    step = s["bfloat16 stops at step"]
    assert step < len(ones) and np.all(ones[step - 1 :] == ones[step - 1])
    noisy = runs["normal"]
    bf, f32 = noisy["bfloat16"], noisy["float32"]
    assert bf[2999] > bf[999]  # still growing (η/√G still falls)
    assert bf[2999] - bf[999] < f32[2999] - f32[999]  # by less than float32's accumulator
    assert bf[2999] / bf[999] < f32[2999] / f32[999]
    # Over the whole run: the bfloat16 G grows in every 500-step window, and falls ever further behind
    # float32's (their ratio decreases at every 250-step checkpoint from step 100 to the end).
    assert np.all(np.diff(bf[::500]) > 0) and len(bf) >= 3000
    ratio = bf[99::250] / f32[99::250]
    assert len(ratio) >= 12 and np.all(np.diff(ratio) < 0), ratio
