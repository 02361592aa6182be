"""Properties that follow from the formula, checked on thousands of generated cases.

Each property runs 1,000 examples (hypothesis, no deadline: the run is bounded
by the count, a few seconds each on two cores).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adagrad_ref import adagrad, adagrad_step_inplace, apply_updates
from adagrad_ref.fast import kernels
from adagrad_ref.numerics.ulp import max_ulp, same_bits
from adagrad_ref.reference import update_leaf

MANY = settings(max_examples=1000, deadline=None)

dtypes = st.sampled_from([np.float32, np.float64])
lrs = st.floats(1e-6, 10.0)
iavs = st.one_of(st.just(0.0), st.floats(1e-12, 10.0))
epss = st.one_of(st.just(0.0), st.floats(1e-12, 1e-3))


SHAPES = hnp.array_shapes(min_dims=0, max_dims=2, max_side=6)


def any_floats(dtype):
    """Every float of the dtype: NaN, ±Inf, ±0, subnormals, the extremes."""
    return hnp.arrays(dtype, SHAPES, elements=st.floats(width=32 if dtype == np.float32 else 64))


def tame_floats(dtype, margin: float = 1e4):
    """Finite values whose squares stay normal numbers even after scaling by up to ``margin``."""
    fi = np.finfo(dtype)
    lo = float(dtype(np.sqrt(fi.smallest_normal) * dtype(margin)))  # representable bounds
    hi = float(dtype(np.sqrt(fi.max) / dtype(margin)))
    mag = st.floats(lo, hi, width=32 if dtype == np.float32 else 64)
    return st.builds(lambda m, s: s * m, mag, st.sampled_from([-1.0, 1.0]))


@st.composite
def case(draw, kind="any"):
    dtype = draw(dtypes)
    g = draw(any_floats(dtype) if kind == "any" else hnp.arrays(dtype, SHAPES, elements=tame_floats(dtype)))
    G = draw(hnp.arrays(dtype, g.shape, elements=st.floats(0, 1e6, width=32 if dtype == np.float32 else 64)))
    return dtype, g, G, draw(lrs), draw(epss)


@MANY
@given(c=case("any"))
def test_backends_agree_bit_for_bit(c):
    _, g, G, lr, eps = c
    u1, G1 = update_leaf(g, G, lr, eps)
    u2, G2 = kernels.update_leaf(g, G, lr, eps)
    assert same_bits(u1, u2) and same_bits(G1, G2)
    p = np.zeros_like(g)
    p_ref = apply_updates(p, u1)
    G_inplace = G.copy()
    adagrad_step_inplace(p, g.copy(), G_inplace, lr, eps)
    assert same_bits(p, p_ref) and same_bits(G_inplace, G1)


@MANY
@given(c=case("any"))
def test_accumulator_never_decreases(c):
    _, g, G, lr, eps = c
    _, G_new = update_leaf(g, G, lr, eps)
    ok = np.isnan(g) | (G_new >= G)  # a NaN gradient makes G NaN: not an ordering question
    assert ok.all()


@MANY
@given(c=case("any"))
def test_zero_gradient_gives_zero_update(c):
    _, g, G, lr, eps = c
    g = np.zeros_like(g)
    u, G_new = update_leaf(g, G, lr, eps)
    assert (u == 0).all() and same_bits(G_new, G + 0 * G)


@MANY
@given(c=case("any"))
def test_every_update_opposes_its_gradient(c):
    _, g, G, lr, eps = c
    u, _ = update_leaf(g, G, lr, eps)
    finite = np.isfinite(g) & (g != 0)
    assert (u[finite] * g[finite] <= 0).all()
    moved = finite & (u != 0)
    assert (np.signbit(u[moved]) != np.signbit(g[moved])).all()


@MANY
@given(c=case("tame"), iav=iavs, steps=st.integers(1, 3))
def test_update_bounded_by_the_first_step_formula(c, iav, steps):
    """|u_t| <= η|g_t| / sqrt(g_t² + G₀ + ε): the accumulator holds at least g_t² + G₀.

    Compared in float64 (float32 cases) or long double (float64 cases), with
    room for the 4 roundings of the computation: a factor (1 + 8·eps_dtype).
    """
    dtype, g, _, lr, eps = c
    opt = adagrad(lr, initial_accumulator_value=iav, eps=eps)
    state = opt.init(np.zeros_like(g))
    for _ in range(steps):
        u, state = opt.update(g, state)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    gw = g.astype(wide)
    G0 = wide(dtype(iav))
    bound = wide(dtype(lr)) * np.abs(gw) / np.sqrt(gw * gw + G0 + wide(dtype(eps)))
    slack = 1 + 8 * wide(np.finfo(dtype).eps)
    assert (np.abs(u.astype(wide)) <= bound * slack).all()


@MANY
@given(c=case("tame"), k=st.integers(-8, 8), scale=st.floats(1e-3, 1e3))
def test_first_update_is_scale_invariant_without_G0_and_eps(c, k, scale):
    """With G₀ = ε = 0, u₁ = -η·g/|g|: scaling g by c > 0 changes nothing.

    By a power of two the bits are the same (every operation scales exactly);
    by any other c, rounding leaves them within 2 ULP.
    """
    dtype, g, _, lr, _ = c
    opt = adagrad(lr, initial_accumulator_value=0.0, eps=0.0)
    state = opt.init(np.zeros_like(g))
    u, _ = opt.update(g, state)
    u_pow2, _ = opt.update(g * dtype(2.0**k), state)
    assert same_bits(u, u_pow2)
    u_c, _ = opt.update((g * dtype(scale)).astype(dtype), state)
    assert max_ulp(u, u_c) <= 2
