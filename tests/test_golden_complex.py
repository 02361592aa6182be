"""The complex cases: zeros, signed zeros and infinities separate the readings of complex Adagrad, and
the golden values agree with what optax itself computes, except for signs of zero explained below."""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adagrad_ref.golden.encoding import decode_array, decode_tree
from adagrad_ref.golden.port import DEFAULT, run_case
from adagrad_ref.golden.verifier import golden_path
from adagrad_ref.ulp import ulp_distance


def edge_cases():
    with open(golden_path("optax"), encoding="utf-8") as f:
        doc = json.load(f)
    return [(g, t) for g in doc["testGroups"] for t in g["tests"] if {"Complex", "Inf"} <= set(t["flags"])]


def expected(test, dtype, quantity):
    return [decode_tree(s["expected"][quantity], dtype, "x")[0][1] for s in test["steps"]]


def per_component(s, g, G=None):
    """The reading 's is real, applied to each component': (s*a) + i(s*b), no cross terms."""
    out = np.empty_like(g)
    out.real, out.imag = s * g.real, s * g.imag
    return out


def per_component_rate(lr, u):
    return per_component(-lr, u)


def optax_scale(s, g, G):
    """As jax computes it: rsqrt of the complex G + eps is s - 0i (the guard's 0.0 is 0 + 0i)."""
    sc = np.empty_like(g)
    sc.real, sc.imag = s, np.where(G > 0, -0.0, 0.0)
    return sc * g


def optax_rate(lr, u):
    """As jax computes it: the Python float -lr becomes -lr + 0i."""
    return u.dtype.type(-lr) * u


def optax_run(group, test):
    dtype = group["dtype"]
    hyper = {k: decode_array(v, dtype.replace("complex64", "float32").replace("complex128", "float64"), k)[0]
             for k, v in group["hyperparameters"].items()}  # fmt: skip
    opt = optax.adagrad(
        float(hyper["learning_rate"]), float(hyper["initial_accumulator_value"]), float(hyper["eps"])
    )
    p = jnp.asarray(decode_tree(test["initial"]["params"], dtype, "p")[0][1])
    state = opt.init(p)
    grads = decode_tree(test["inputs"]["grads"], dtype, "g")[0][1]
    out = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state, p)
        p = optax.apply_updates(p, u)
        out.append(
            {
                "updates": np.asarray(u),
                "params": np.asarray(p),
                "sum_of_squares": np.asarray(state[0].sum_of_squares),
            }
        )
    return out


def components(x):
    return np.stack([x.real, x.imag])


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_the_edge_case_separates_the_per_component_reading(dtype):
    ((group, test),) = [(g, t) for g, t in edge_cases() if g["dtype"] == dtype]
    ours = run_case("optax", group, test, DEFAULT)
    other = run_case(
        "optax",
        group,
        test,
        dataclasses.replace(DEFAULT, complex_scale=per_component, complex_rate=per_component_rate),
    )
    u_ref = expected(test, dtype, "updates")
    assert all(np.array_equal(components(a["updates"][0][1]), components(b), equal_nan=True)
               for a, b in zip(ours, u_ref, strict=True))  # fmt: skip
    # One-sided Inf: G = Inf, s = 0; the full product gives NaN + NaN i, the per-component reading NaN + 0i.
    u0 = components(other[0]["updates"][0][1])
    assert np.isnan(components(u_ref[0])[:, 6]).all() and not np.isnan(u0[:, 6]).all()


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_the_edge_case_agrees_with_optax(dtype):
    ((group, test),) = [(g, t) for g, t in edge_cases() if g["dtype"] == dtype]
    theirs = optax_run(group, test)
    as_jax = dataclasses.replace(DEFAULT, complex_scale=optax_scale, complex_rate=optax_rate)
    ours_as_jax = run_case("optax", group, test, as_jax)
    sign_differences = 0
    for q in ("sum_of_squares", "updates", "params"):
        for ref, mine, o in zip(expected(test, dtype, q), ours_as_jax, theirs, strict=True):
            a, b, m = components(ref), components(o[q]), components(mine[q][0][1])
            assert np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(np.isinf(a), np.isinf(b))
            finite = np.isfinite(a) & (a != 0)
            assert (
                ulp_distance(a[finite], b[finite]).max(initial=0) <= 2
            )  # optax's rsqrt is XLA's approximate one
            zeros = (a == 0) & (b == 0)
            assert np.array_equal((a == 0), (b == 0))
            sign_differences += int((np.signbit(a) != np.signbit(b))[zeros].sum())
            # Every sign of zero optax gives is the one of the port computing (s - 0i) * g and (-lr + 0i) * u.
            assert np.array_equal(np.signbit(m)[zeros], np.signbit(b)[zeros])
    assert sign_differences > 0  # the reference computes (s + 0i) * g and (-lr - 0i) * u: see the README
