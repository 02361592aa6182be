"""The complex cases: zeros, signed zeros and infinities separate the readings of complex Adagrad, and
the reference gives every one of them with optax's own bits (jax on CPU, eager and jitted)."""

from __future__ import annotations

import copy
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.golden.encoding import decode_array, decode_tree
from adagrad_ref.golden.port import DEFAULT, run_case, run_port
from adagrad_ref.golden.verifier import compare_docs, golden_path
from adagrad_ref.numerics.ulp import ulp_distance

QUANTITIES = ("sum_of_squares", "updates", "params")


def golden_doc():
    with open(golden_path("optax"), encoding="utf-8") as f:
        return json.load(f)


def edge_cases(doc=None):
    doc = golden_doc() if doc is None else doc
    return [(g, t) for g in doc["testGroups"] for t in g["tests"] if {"Complex", "Inf"} <= set(t["flags"])]


def edge_case(dtype):
    ((group, test),) = [(g, t) for g, t in edge_cases() if g["dtype"] == dtype]
    return group, test


def expected(test, dtype, quantity):
    return [decode_tree(s["expected"][quantity], dtype, "x")[0][1] for s in test["steps"]]


def per_component(s, g, G=None):
    """The reading 's is real, applied to each component': (s*a) + i(s*b), no cross terms."""
    out = np.empty_like(g)
    out.real, out.imag = s * g.real, s * g.imag
    return out


def per_component_rate(lr, u):
    return per_component(-lr, u)


def previous_scale(s, g, G):
    """What the reference computed before it followed jax: (s + 0i) * g everywhere."""
    return s.astype(g.dtype) * g


def previous_rate(lr, u):
    """... and (-(lr + 0i)) * u = (-lr - 0i) * u."""
    return -u.dtype.type(lr) * u


def hyperparameters(group):
    real = group["dtype"].replace("complex64", "float32").replace("complex128", "float64")
    return [float(decode_array(group["hyperparameters"][k], real, k)[0])
            for k in ("learning_rate", "initial_accumulator_value", "eps")]  # fmt: skip


def reference_run(group, test):
    """Every step of the case with the reference's public API (adagrad, update, apply_updates)."""
    lr, iav, eps = hyperparameters(group)
    opt = adagrad(lr, iav, eps)
    p = decode_tree(test["initial"]["params"], group["dtype"], "p")[0][1]
    state = opt.init(p)
    out = []
    for g in decode_tree(test["inputs"]["grads"], group["dtype"], "g")[0][1]:
        u, state = opt.update(g, state, p)
        p = apply_updates(p, u)
        out.append({"updates": u, "params": p, "sum_of_squares": state.sum_of_squares})
    return out


def optax_run(group, test, jit):
    """Every step of the case with optax.adagrad itself, its update called eagerly or jitted."""
    lr, iav, eps = hyperparameters(group)
    opt = optax.adagrad(lr, iav, eps)
    p = jnp.asarray(decode_tree(test["initial"]["params"], group["dtype"], "p")[0][1])
    state = opt.init(p)
    update = jax.jit(opt.update) if jit else opt.update
    out = []
    for g in decode_tree(test["inputs"]["grads"], group["dtype"], "g")[0][1]:
        u, state = update(jnp.asarray(g), state, p)
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


def same_bits(a, b):
    """Where a and b hold the same bits, any NaN counting as equal to any NaN."""
    a, b = components(a), components(b)
    return (a.view(f"u{a.itemsize}") == b.view(f"u{b.itemsize}")) | (np.isnan(a) & np.isnan(b))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_the_edge_case_separates_the_per_component_reading(dtype):
    group, test = edge_case(dtype)
    ours = run_case("optax", group, test, DEFAULT)
    other = run_case(
        "optax",
        group,
        test,
        dataclasses.replace(DEFAULT, complex_scale=per_component, complex_rate=per_component_rate),
    )
    u_ref = expected(test, dtype, "updates")
    assert all(same_bits(a["updates"][0][1], b).all() for a, b in zip(ours, u_ref, strict=True))
    # One-sided Inf: G = Inf, s = 0; the full product gives NaN + NaN i, the per-component reading NaN + 0i.
    u0 = components(other[0]["updates"][0][1])
    assert np.isnan(components(u_ref[0])[:, 6]).all() and not np.isnan(u0[:, 6]).all()


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jitted"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_the_edge_case_is_optax_bit_for_bit(dtype, jit):
    """Every zero (with its sign), infinity and NaN is optax's; a finite nonzero value is within 2 ULP."""
    group, test = edge_case(dtype)
    theirs, ours = optax_run(group, test, jit), reference_run(group, test)
    zero_signs, rsqrt_gaps = set(), []
    for q in QUANTITIES:
        for ref, mine, o in zip(expected(test, dtype, q), ours, theirs, strict=True):
            assert same_bits(mine[q], ref).all()  # the golden file holds the reference's bits
            same = same_bits(mine[q], o[q])
            a, b = components(mine[q]), components(o[q])
            zero_signs |= set(np.signbit(b[b == 0]).tolist())
            # Where the bits differ, both are finite and nonzero: XLA's rsqrt, within 2 ULP of 1/sqrt.
            assert (np.isfinite(a) & np.isfinite(b) & (a != 0) & (b != 0))[~same].all()
            rsqrt_gaps.append(ulp_distance(a[~same], b[~same]).max(initial=0))
    assert zero_signs == {False, True}  # the case holds +0 and -0 from optax: the signs are tested
    assert max(rsqrt_gaps) <= 2


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_the_previous_signs_of_zero_fail_the_edge_case(dtype):
    """(s + 0i) * g and (-lr - 0i) * u, what the reference computed before, fail it exactly, on zeros."""
    doc = golden_doc()
    doc["testGroups"] = [
        {**group, "tests": [test]} for group, test in edge_cases(doc) if group["dtype"] == dtype
    ]
    previous = dataclasses.replace(DEFAULT, complex_scale=previous_scale, complex_rate=previous_rate)
    (now,) = compare_docs(run_port(copy.deepcopy(doc), DEFAULT), doc, "exact")
    (before,) = compare_docs(run_port(copy.deepcopy(doc), previous), doc, "exact")
    assert now.passed and not before.passed
    failure = before.first_failure  # e.g. expected ("80000000 00000000", "-0.0 0.0"), got "0.0 -0.0"
    zeros = [float(x) for k in ("expected", "got") for x in failure[k][1].split()]
    assert failure["quantity"] == "updates" and zeros == [0.0] * 4
    assert failure["expected"][0] != failure["got"][0]  # the bits differ: only the signs of zero
    assert before.errors == {"sum_of_squares": 0, "updates": 1, "params": 0}  # +0 to -0 is 1 ULP here
