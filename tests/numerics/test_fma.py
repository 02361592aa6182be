"""``adagrad_ref.numerics.fma.fma`` (pure NumPy) against two independent oracles, bit for bit.

1. The hardware FMA: LLVM's ``llvm.fma`` intrinsic compiled by Numba (the
   package's own fma before it became pure NumPy, kept here, in the test only).
   It is exact by definition: a hardware FMA instruction where the CPU has one,
   the C library's correctly rounded ``fma`` otherwise.
2. Exact rational arithmetic (``fractions.Fraction``) rounded to nearest-even
   by hand with IEEE 754's subnormal grid, overflow and signed-zero rules, and
   ``math.fma`` as well where Python has it (3.13 and later).

The inputs: millions of random values across every exponent of both dtypes,
and generators aimed at the hard cases: ties and near-ties (short mantissas
whose exact product has one bit too many), cancellation ``a*b ≈ -c``, results
in the subnormal range and at the overflow threshold, signed zeros, and every
combination of zeros, subnormals, extremes, Inf and NaN. "Equal" means equal
bits, except that any NaN equals any NaN.
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from conftest import edge_values, random_floats
from llvmlite import ir
from numba import njit
from numba.extending import intrinsic

from adagrad_ref.numerics.fma import fma

DTYPES = [np.float32, np.float64]
UINT = {np.float32: np.uint32, np.float64: np.uint64}


# --- oracle 1: the hardware FMA through LLVM (the package's former implementation) ---------------
@intrinsic
def _llvm_fma(typingctx, a, b, c):
    sig = a(a, b, c)

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return sig, codegen


@njit(error_model="numpy")
def _fma_loop(a, b, c, out):
    for i in range(out.size):
        out[i] = _llvm_fma(a[i], b[i], c[i])


def hardware_fma(a, b, c) -> np.ndarray:
    c = np.asarray(c)
    a, b, c = (np.asarray(x, dtype=c.dtype, order="C") for x in np.broadcast_arrays(a, b, c))
    out = np.empty(c.shape, c.dtype)
    _fma_loop(a.reshape(-1), b.reshape(-1), c.reshape(-1), out.reshape(-1))
    return out


# --- oracle 2: exact rational arithmetic, rounded by hand ----------------------------------------
def exact_fma(a: float, b: float, c: float, dtype: type) -> float:
    """IEEE 754's fma(a, b, c) rounded to nearest-even in ``dtype``, from the exact rational value."""
    fi = np.finfo(dtype)
    p, emin, top = fi.nmant + 1, int(fi.minexp), Fraction(2) ** (int(fi.maxexp))
    if math.isnan(a) or math.isnan(b) or math.isnan(c):
        return math.nan
    if math.isinf(a) or math.isinf(b):
        if a == 0 or b == 0:
            return math.nan  # Inf * 0
        prod = math.copysign(math.inf, a) * math.copysign(1.0, b)
        return math.nan if math.isinf(c) and c != prod else prod
    if math.isinf(c):
        return c  # a finite product cannot cancel an infinity
    x = Fraction(a) * Fraction(b) + Fraction(c)
    if x == 0:
        product_negative = (math.copysign(1, a) * math.copysign(1, b)) < 0
        both_negative_zeros = a * b == 0 and product_negative and math.copysign(1, c) < 0
        return -0.0 if both_negative_zeros else 0.0  # x + (-x) is +0 when rounding to nearest
    k = x.numerator.__abs__().bit_length() - x.denominator.bit_length()  # 2**k <= |x| < 2**(k+2)
    if abs(x) < Fraction(2) ** k:
        k -= 1
    elif abs(x) >= Fraction(2) ** (k + 1):
        k += 1
    quantum = Fraction(2) ** (max(k, emin) - p + 1)  # the last place at |x|, the subnormal one included
    r = round(x / quantum) * quantum  # round() on a Fraction is round-half-even
    sign = -1.0 if x < 0 else 1.0
    if abs(r) >= top:
        return sign * math.inf
    return math.copysign(float(r), sign)  # copysign: a non-zero x that rounds to 0 keeps its sign


def same_bits(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    u = UINT[x.dtype.type]
    return (x.view(u) == y.view(u)) | (np.isnan(x) & np.isnan(y))


def assert_same(a, b, c, got, want):
    ok = same_bits(got, want)
    if not ok.all():
        i = np.flatnonzero(~ok)[:5]
        raise AssertionError(
            f"{(~ok).sum()} of {ok.size} differ, e.g. a={a[i].tolist()} b={b[i].tolist()} "
            f"c={c[i].tolist()}: got {got[i].tolist()}, want {want[i].tolist()}"
        )


# --- inputs --------------------------------------------------------------------------------------
def odd_mantissa(rng, width: np.ndarray) -> np.ndarray:
    """Mantissas in [1/2, 1) with exactly ``width`` significant bits (the last one set)."""
    return (rng.integers(2 ** (width - 1), 2**width) | 1) / 2.0**width


def hard_cases(rng, n, dtype, product_exponents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a, b with short mantissas whose product lands at the given exponents, and a c aimed at it.

    Half the pairs have mantissa widths adding up to p+1 or p+2 bits (p the precision), so that
    the exact product is often exactly halfway between two floats: a tie.
    """
    fi = np.finfo(dtype)
    p, lo, hi = fi.nmant + 1, int(fi.minexp), int(fi.maxexp)
    wa = rng.integers(1, p + 1, n)
    wb = np.where(
        rng.random(n) < 0.5, np.clip(p + 1 - wa + rng.integers(0, 2, n), 1, p), rng.integers(1, p + 1, n)
    )
    e = product_exponents
    low, high = np.maximum(lo - p + wa, e - hi), np.minimum(hi, e - (lo - p + wb))
    ea = np.where(low <= high, low + np.floor(rng.random(n) * (high - low + 1)).astype(np.int64), low)
    sign = lambda: rng.choice([-1.0, 1.0], n)  # noqa: E731
    with np.errstate(all="ignore"):
        a = (sign() * np.ldexp(odd_mantissa(rng, wa), ea)).astype(dtype)
        b = (sign() * np.ldexp(odd_mantissa(rng, wb), e - ea)).astype(dtype)
        ab = a * b  # the product rounded once: c = -ab cancels it up to its rounding error
        kind = rng.integers(0, 6, n)
        shift = rng.integers(-2 * p - 4, p + 4, n)
        near = (sign() * np.ldexp(odd_mantissa(rng, rng.integers(1, p + 1, n)), e + shift)).astype(dtype)
        ulp_steps = np.nextafter(-ab, rng.choice([-np.inf, np.inf], n).astype(dtype))
        tiny = (sign() * fi.smallest_subnormal).astype(dtype)
        c = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
            [near, -ab, ulp_steps, -ab + near, tiny],
            ab * dtype(2.0) ** rng.integers(-p - 3, p + 3, n).astype(dtype),
        ).astype(dtype)
    return a, b, c


def regions(rng, n, dtype) -> np.ndarray:
    """Product exponents: everywhere, at the overflow threshold, around and below the subnormal range."""
    fi = np.finfo(dtype)
    p = fi.nmant + 1
    lo, hi = int(fi.minexp), int(fi.maxexp)
    choices = [
        rng.integers(lo - 2 * p, hi + 3, n),  # anywhere
        rng.integers(hi - 2, hi + 3, n),  # overflow threshold
        rng.integers(lo - p - 2, lo + 3, n),  # subnormal results
        rng.integers(lo - 2 * p - 4, lo - p + 2, n),  # products below the subnormal range
    ]
    return np.choose(rng.integers(0, len(choices), n), choices)


def every_combination(dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fi = np.finfo(dtype)
    extra = [fi.max / 2, 1 + fi.eps, 1 - fi.epsneg, 2, 0.5, fi.smallest_normal * 2, fi.smallest_subnormal * 3]  # fmt: skip
    e = np.concatenate([edge_values(dtype), np.array(extra, dtype), -np.array(extra, dtype)])
    a, b, c = np.meshgrid(e, e, e, indexing="ij")
    return a.ravel(), b.ravel(), c.ravel()


# --- tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_values_across_every_exponent_equal_the_hardware_fma(dtype, rng):
    for _ in range(4):  # 4 million triples per dtype
        a, b, c = (random_floats(rng, 1_000_000, dtype) for _ in range(3))
        assert_same(a, b, c, fma(a, b, c), hardware_fma(a, b, c))


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_values_with_comparable_magnitudes_equal_the_hardware_fma(dtype, rng):
    """Random exponents are rarely close; here |a*b| and |c| are, so that rounding decides."""
    p = np.finfo(dtype).nmant + 1
    for _ in range(2):
        n = 1_000_000
        e = regions(rng, n, dtype)
        ea = rng.integers(np.finfo(dtype).minexp - p, np.finfo(dtype).maxexp + 1, n)
        with np.errstate(all="ignore"):
            a = (rng.choice([-1.0, 1.0], n) * np.ldexp(rng.uniform(0.5, 1, n), ea)).astype(dtype)
            b = (rng.choice([-1.0, 1.0], n) * np.ldexp(rng.uniform(0.5, 1, n), e - ea)).astype(dtype)
            c = rng.choice([-1.0, 1.0], n) * np.ldexp(rng.uniform(0.5, 1, n), e + rng.integers(-p - 3, 4, n))
            c = c.astype(dtype)
        assert_same(a, b, c, fma(a, b, c), hardware_fma(a, b, c))


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_cancellation_subnormal_and_overflow_cases_equal_the_hardware_fma(dtype, rng):
    subnormal_results = 0
    for _ in range(3):
        n = 1_000_000
        a, b, c = hard_cases(rng, n, dtype, regions(rng, n, dtype))
        want = hardware_fma(a, b, c)
        assert_same(a, b, c, fma(a, b, c), want)
        subnormal_results += int(((want != 0) & (np.abs(want) < np.finfo(dtype).smallest_normal)).sum())
    assert subnormal_results > 300_000  # the module's docstring: "hundreds of thousands ... each run"


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_generators_reach_the_hard_cases(dtype, rng):
    """The hard-case inputs do produce ties, exact cancellation, subnormal results and overflow."""
    n = 200_000
    a, b, c = hard_cases(rng, n, dtype, regions(rng, n, dtype))
    want = hardware_fma(a, b, c)
    fi = np.finfo(dtype)
    with np.errstate(all="ignore"):
        naive = a * b + c  # two roundings: differs from the fma where the hard cases bite
        ab = a * b
        err = hardware_fma(a, b, -ab)  # the product's rounding error, exactly
        tie = np.isfinite(ab) & (err != 0) & (np.abs(err) == np.spacing(np.abs(ab)) / 2)
    finite = np.isfinite(want)
    assert (finite & (want != 0) & (np.abs(want) < fi.smallest_normal)).sum() > 20_000
    assert ((want == 0) & (c != 0)).sum() > 5_000  # exact cancellation
    assert (np.isinf(want) & np.isfinite(a) & np.isfinite(b) & np.isfinite(c)).sum() > 1_000
    assert (finite & ~np.isfinite(ab)).sum() > 200  # a*b overflows, the fma does not
    assert (~same_bits(naive, want)).sum() > 20_000
    assert tie.sum() > 5_000  # the exact product halfway between two floats


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_combination_of_special_values_equals_the_hardware_fma(dtype):
    a, b, c = every_combination(dtype)
    assert a.size > 25_000
    assert_same(a, b, c, fma(a, b, c), hardware_fma(a, b, c))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_rational_arithmetic_and_math_fma_agree(dtype, rng):
    """The second oracle, independent of any hardware: and math.fma where Python has it."""
    n = 6_000
    a, b, c = hard_cases(rng, n, dtype, regions(rng, n, dtype))
    sa, sb, sc = every_combination(dtype)
    pick = rng.choice(sa.size, 3_000, replace=False)
    r = [random_floats(rng, 3_000, dtype) for _ in range(3)]
    a, b, c = (np.concatenate([x, s[pick], y]) for x, s, y in zip((a, b, c), (sa, sb, sc), r, strict=True))
    want = np.array(
        [exact_fma(x, y, z, dtype) for x, y, z in zip(a.tolist(), b.tolist(), c.tolist(), strict=True)]
    )
    assert_same(a, b, c, fma(a, b, c), want.astype(dtype))
    assert_same(a, b, c, hardware_fma(a, b, c), want.astype(dtype))  # the two oracles agree
    if dtype is np.float64 and hasattr(math, "fma"):  # Python >= 3.13
        assert_same(a, b, c, fma(a, b, c), np.array([math.fma(*t) for t in zip(a, b, c, strict=True)]))


def test_known_values_that_two_roundings_get_wrong():
    f64 = np.finfo(np.float64)
    # a*b overflows but a*b + c does not: the fma is max * 2**-52 (the product's excess).
    assert fma(f64.max, 1 + f64.eps, -f64.max) == f64.max * f64.eps
    # the product's rounding error, exactly: (1 + 2**-30)**2 - (1 + 2**-29) = 2**-60
    x = 1 + 2.0**-30
    assert fma(x, x, -(x * x)) == 2.0**-60
    # a result below the smallest normal number, rounded once to the subnormal grid
    tiny = f64.smallest_subnormal
    assert fma(2.0**-538, 2.0**-537, tiny) == 2 * tiny  # 2**-1075 + 2**-1074: a tie, to even
    assert fma(2.0**-538, 2.0**-537 * (1 + f64.eps), tiny) == 2 * tiny  # just above the tie
    assert fma(2.0**-538, 2.0**-537, -tiny) == -0.0 and np.signbit(fma(2.0**-538, 2.0**-537, -tiny))
    # zeros: the sign of an underflowing product survives adding +0
    assert np.signbit(fma(-(2.0**-600), 2.0**-600, 0.0))
    assert not np.signbit(fma(-0.0, 1.0, 0.0)) and np.signbit(fma(-0.0, 1.0, -0.0))
    assert np.isnan(fma(np.inf, 0.0, 1.0)) and np.isnan(fma(np.inf, 1.0, -np.inf))
    assert fma(1e300, 1e300, -np.inf) == -np.inf  # a finite product (1e600) does not overflow first


@pytest.mark.parametrize("dtype", DTYPES)
def test_shapes_broadcasting_and_dtype(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.array([1.5, 2.5, 3.5])  # float64: cast to c's dtype first
    c = dtype(0.25)
    out = fma(a, b, c)
    assert out.dtype == dtype and out.shape == (2, 3)
    assert_same(np.ravel(a), np.ravel(b), np.ravel(c), out.ravel(), hardware_fma(a, b, c).ravel())
    scalar = fma(dtype(3), dtype(5), dtype(7))
    assert scalar.shape == () and scalar.dtype == dtype and scalar == 22
    assert fma(np.zeros((0, 4), dtype), 1.0, dtype(1)).shape == (0, 4)
    assert np.shares_memory(a, fma(a, b, c)) is False


@pytest.mark.parametrize("bad", [np.int64(1), np.float16(1), np.complex128(1), "x"])
def test_other_dtypes_are_refused(bad):
    with pytest.raises(TypeError, match="fma takes float32 or float64, got"):
        fma(1.0, 1.0, bad)


def test_the_numpy_reference_loads_no_compiler_for_complex_input():
    code = (
        "import sys, numpy as np\n"
        "from adagrad_ref import adagrad\n"
        "s = adagrad(0.1, backend='numpy')\n"
        "p = np.array([1 + 2j, 3 - 1j])\n"
        "u, st = s.update(p, s.init(p))\n"
        "from adagrad_ref.numerics.fma import fma\n"
        "fma(np.float32(1), np.float32(2), np.float32(3))\n"
        "print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
