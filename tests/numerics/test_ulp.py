"""ULP distances are counted exactly, in both dtypes, across zero and at the extremes."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref.errors import AdagradError
from adagrad_ref.numerics.ulp import max_ulp, ulp_distance


def walk(x, k: int):
    """x moved k representable values up (nextafter k times)."""
    for _ in range(k):
        x = np.nextafter(x, x.dtype.type(np.inf))
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("start", [1.0, -1.0, 363.0108880343905, 1e-300, -1e30, 0.0])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_k_steps_apart_is_k_ulp(dtype, start, k):
    a = np.array([start], dtype)
    assert ulp_distance(a, walk(a, k))[0] == k
    assert ulp_distance(walk(a, k), a)[0] == k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_across_zero_and_extremes(dtype):
    fi = np.finfo(dtype)
    tiny = np.array([fi.smallest_subnormal], dtype)
    assert ulp_distance(-tiny, tiny)[0] == 2  # -tiny, ±0, +tiny
    assert ulp_distance(np.array([-0.0], dtype), np.array([0.0], dtype))[0] == 0
    inf = np.array([np.inf], dtype)
    assert ulp_distance(np.array([fi.max], dtype), inf)[0] == 1
    if dtype == np.float32:  # exact in float64: +Inf's bit pattern counts the values from +0 up to it
        assert ulp_distance(-inf, inf)[0] == 2 * 0x7F800000


def test_nan_rules_and_empty():
    nan, one = np.array([np.nan]), np.array([1.0])
    assert ulp_distance(nan, nan)[0] == 0 and np.isinf(ulp_distance(nan, one)[0])
    assert max_ulp(np.zeros(0), np.zeros(0)) == 0.0
    with pytest.raises(AdagradError, match=r"^ulp_distance: dtypes differ \(float32 vs float64\)$"):
        ulp_distance(np.float32(1), np.float64(1))
    with pytest.raises(
        AdagradError, match=r"^ulp: int32 is not a float16, bfloat16, float32 or float64 dtype$"
    ):
        ulp_distance(np.int32([1]), np.int32([2]))


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_two_byte_floats_count_every_value_between(name):
    """float16 and bfloat16 (a KeyError before): the distance is the count of bit patterns between, as
    for float32, over every finite pair of neighbours and across zero."""
    import ml_dtypes

    dt = np.dtype(getattr(ml_dtypes, name) if name == "bfloat16" else name)
    bits = np.arange(0x8000, dtype=np.uint16)
    x = bits.view(dt)
    finite = np.isfinite(x.astype(np.float32))
    x = x[finite]
    assert (ulp_distance(x[:-1], x[1:]) == 1).all()  # neighbours, +0 up to the largest finite
    assert ulp_distance(-x[1:], x[1:]).tolist() == (2 * np.arange(1, x.size)).tolist()  # across zero
    assert max_ulp(np.array([np.nan], dt), np.array([np.nan], dt)) == 0


def test_the_verifiers_distance_counts_a_sign_of_zero_and_keeps_the_nan_rule():
    from adagrad_ref.golden.verifier import distance, params_distance

    z = np.array([0.0, -0.0, np.nan, 1.0], np.float32)
    w = np.array([-0.0, -0.0, -np.nan, np.nextafter(np.float32(1), np.float32(2))], np.float32)
    assert distance(z, w).tolist() == [1.0, 0.0, 0.0, 1.0]
    assert ulp_distance(z, w).tolist() == [0.0, 0.0, 0.0, 1.0]  # plain ULP: -0 and +0 are one value
    assert params_distance(z, w, np.zeros(4, np.float32)).tolist() == [1.0, 0.0, 0.0, 1.0]
    c = np.array([complex(0.0, -0.0)], np.complex128)
    assert distance(c, np.array([complex(0.0, 0.0)], np.complex128)).tolist() == [1.0]


def test_relaxed_lets_a_zero_stand_for_an_expected_subnormal_only():
    from adagrad_ref.golden.verifier import distance

    tiny = np.finfo(np.float32).smallest_normal
    exp = np.array([tiny / 2, -tiny / 4, tiny, 0.0], np.float32)
    got = np.array([0.0, -0.0, 0.0, tiny / 2], np.float32)
    assert distance(got, exp, ftz=True).tolist()[:2] == [0.0, 0.0]
    assert distance(got, exp, ftz=True).tolist()[2:] == distance(got, exp).tolist()[2:]
    assert all(d > 0 for d in distance(got, exp).tolist())
