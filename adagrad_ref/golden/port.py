"""A port written from the porter's guide alone, with its arithmetic passed in: the legitimate variants.

It reads a golden document (the file's own dict), runs every case with NumPy in the stated order of
operations, and returns a results document that :func:`adagrad_ref.golden.verifier.verify` checks. What a
port may legitimately do differently is one field of :class:`Arithmetic`: fuse ``g*g + G`` into one
FMA, or compute ``1/sqrt`` and the division approximately (within N ULP, as hardware rsqrt and fast
division do). :data:`VARIANTS` lists the ones the relaxed tolerances are measured from. The tests
build *mutant* ports (real bugs) from the same fields.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from adagrad_ref.golden.encoding import REAL, decode_array, decode_tree, encode_tree
from adagrad_ref.numerics.fma import fma

__all__ = ["DEFAULT", "VARIANTS", "Arithmetic", "run_port"]

Array = np.ndarray


def _mul_add(g: Array, G: Array) -> Array:
    return g * g + G


def _fused(g: Array, G: Array) -> Array:
    return fma(g, g, G)


def _abs2(a: Array, b: Array) -> Array:
    return fma(a, a, b * b)


def _eps_inside(convention: str) -> bool:
    """optax, Keras and TensorFlow.js: sqrt(G + eps); PyTorch, TensorFlow and ONNX: sqrt(G) + eps."""
    return convention in ("optax", "keras", "tfjs")


def _complex_scale(s: Array, g: Array, G: Array) -> Array:
    """(s - 0i) * g where G > 0, (0 + 0i) * g where guarded (G: the accumulator's real part), the full
    complex product: jax's complex rsqrt returns s - 0i, the guard's 0.0 is 0 + 0i."""
    scale = np.empty_like(g)
    scale.real, scale.imag = s, np.where(G > 0, -0.0, 0.0)
    return scale * g


def _complex_rate(lr: Any, u: Array) -> Array:
    """(-lr + 0i) * u, the full complex product: jax converts the real -lr to the complex dtype."""
    return u.dtype.type(-lr) * u


@dataclasses.dataclass(frozen=True)
class Arithmetic:
    """Every operation of the step that a port might compute differently; NumPy arrays of one dtype."""

    square_add: Callable[[Array, Array], Array] | None = None  # g*g + G (None: the convention's own)
    abs2: Callable[[Array, Array], Array] = _abs2  # complex |a + ib|^2
    rsqrt: Callable[[Array], Array] = lambda x: 1 / np.sqrt(x)  # optax's 1/sqrt(G + eps)
    divide: Callable[[Array, Array], Array] = lambda a, b: a / b  # u / d (the other three)
    sqrt: Callable[[Array], Array] = np.sqrt
    gradient: Callable[[Array], Array] = lambda g: g  # what the port does to a given gradient first
    guard: Callable[[Array, Array], Array] = lambda G, s: np.where(G > 0, s, 0)  # optax's G > 0 guard
    eps_inside: Callable[[str], bool] = _eps_inside
    complex_scale: Callable[[Array, Array, Array], Array] = _complex_scale
    complex_rate: Callable[[Any, Array], Array] = _complex_rate
    initial_accumulator: Callable[[Any], Any] = lambda iav: iav  # G0 from initial_accumulator_value
    accumulator_dtype: Callable[[str], str] = lambda dtype: dtype  # the dtype G is stored in
    learning_rate: Callable[[list, int, str], Any] = lambda rates, t, dtype: rates[t]  # inputs, as given
    weight_decay_first: bool = False  # PyTorch: add weight_decay * w before maximize negates g (a bug)
    name: str = "as written"


DEFAULT = Arithmetic()


def ulp_shift(k: int) -> Callable[[Array], Array]:
    """A function moving every finite nonzero value k representable values away from zero."""

    def shift(x: Array) -> Array:
        x = np.asarray(x)
        out = x.copy()
        for _ in range(abs(k)):
            target = np.where(x > 0, np.inf, -np.inf) if k > 0 else np.zeros_like(x)
            out = np.where(np.isfinite(out) & (out != 0), np.nextafter(out, target.astype(x.dtype)), out)
        return out.astype(x.dtype)

    return shift


def scattered_shift(n: int, seed: int) -> Callable[[Array], Array]:
    """Move each value by k in [-n, n] ULP, k a hash of its bits and the seed: pseudo-random, stateless."""

    def shift(x: Array) -> Array:
        x = np.asarray(x)
        bits = x.view(np.uint32 if x.dtype == np.float32 else np.uint64).astype(np.uint64)
        with np.errstate(over="ignore"):
            h = (bits ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)) * np.uint64(0xBF58476D1CE4E5B9)
        k = ((h >> np.uint64(40)) % np.uint64(2 * n + 1)).astype(np.int64) - n
        out = x.copy()
        for j in range(1, n + 1):
            out = np.where(k >= j, ulp_shift(1)(out), out)
            out = np.where(k <= -j, ulp_shift(-1)(out), out)
        return out

    return shift


def approximate(n: int, seed: int | None = None) -> dict:
    """rsqrt and division within n ULP of the correctly computed value: all +n, all -n, or scattered."""
    s = ulp_shift(n) if seed is None else scattered_shift(n, seed)
    return {
        "rsqrt": lambda x: s(1 / np.sqrt(x)),
        "divide": lambda a, b: s(a / b),
        "name": f"rsqrt, division {n:+d} ULP" if seed is None else f"rsqrt, division ±{n} ULP (hash {seed})",
    }


#: The legitimate variants (per convention the FMA toggles: PyTorch's own step is the fused one).
VARIANTS = [
    Arithmetic(square_add=_fused, name="FMA g*g + G"),
    Arithmetic(square_add=_mul_add, abs2=lambda a, b: a * a + b * b, name="no FMA anywhere"),
    Arithmetic(**approximate(2)),
    Arithmetic(**approximate(-2)),
    Arithmetic(square_add=_fused, **{**approximate(2), "name": "FMA, rsqrt/division +2 ULP"}),
    Arithmetic(square_add=_fused, **{**approximate(-2), "name": "FMA, rsqrt/division -2 ULP"}),
    *[Arithmetic(square_add=_fused, **{**approximate(2, s), "name": f"FMA, rsqrt/division ±2 ULP #{s}"})
      for s in (1, 2, 3)],
    *[Arithmetic(square_add=_mul_add, **{**approximate(2, s), "name": f"no FMA, rsqrt/division ±2 ULP #{s}"})
      for s in (4, 5, 6)],
]  # fmt: skip


def _step(conv: str, g, G, p, lr, hyper: dict, ops: Arithmetic, real):
    """One step for one flat vector: returns (G, u)."""
    eps = real(_hyper(hyper, "eps", "epsilon"))
    lr = real(lr)
    g = ops.gradient(g)
    if conv == "optax":
        if np.iscomplexobj(g):
            G = (ops.abs2(g.real, g.imag) + G.real) + 1j * (real(0) + G.imag)
            G = G.astype(g.dtype)
            s = ops.guard(G.real, _inverse_root(G.real, eps, ops, conv)).astype(real)
            u = ops.complex_scale(s, g, G.real)
            return G, ops.complex_rate(lr, u)  # full complex products
        G = (ops.square_add or _mul_add)(g, G)
        s = ops.guard(G, _inverse_root(G, eps, ops, conv))
        return G, real(-lr) * (s * g)
    if conv == "pytorch":
        maximize = hyper.get("maximize") is True
        if maximize and not ops.weight_decay_first:
            g = -g
        wd = real(_hyper(hyper, "weight_decay", default=0.0))
        if wd != 0:
            g = fma(np.full_like(g, wd), p, g)
        if maximize and ops.weight_decay_first:
            g = -g
        G = (ops.square_add or _fused)(g, G)
        return G, ops.divide(real(-lr) * g, _root(G, eps, ops, conv))
    if conv == "onnx":
        norm = real(_hyper(hyper, "norm_coefficient", default=0.0))
        g = norm * p + g  # two roundings, always: g_regularized = norm_coefficient * x + g
    G = (ops.square_add or _mul_add)(g, G)
    if conv == "tfjs":
        return G, ops.divide(g, _root(G, eps, ops, conv)) * real(-lr)
    if conv == "keras":
        return G, -ops.divide(lr * g, _root(G, eps, ops, conv))
    if conv == "onnx":
        return G, -ops.divide(lr * g, _root(G, eps, ops, conv))
    return G, -ops.divide(g * lr, _root(G, eps, ops, conv))


def _root(G, eps, ops: Arithmetic, conv: str):
    return ops.sqrt(G + eps) if ops.eps_inside(conv) else ops.sqrt(G) + eps


def _inverse_root(G, eps, ops: Arithmetic, conv: str):
    return ops.rsqrt(G + eps) if ops.eps_inside(conv) else 1 / (ops.sqrt(G) + eps)


def _hyper(hyper: dict, *keys: str, default: float | None = None):
    for k in keys:
        if k in hyper:
            return hyper[k]
    return default


def _flat(leaves) -> np.ndarray:
    arrays = [v.reshape(-1) for _, v in leaves if v is not None]
    return np.concatenate(arrays) if arrays else np.zeros(0)


def _unflat(flat: np.ndarray, template) -> list:
    out, i = [], 0
    for path, v in template:
        if v is None:
            out.append((path, None))
        else:
            out.append((path, flat[i : i + v.size].reshape(v.shape)))
            i += v.size
    return out


def _tree(leaves) -> list[dict]:
    return [
        {"path": p, "value": None if v is None else encode_tree(v, dec=False)[0]["value"]} for p, v in leaves
    ]


def run_case(conv: str, group: dict, test: dict, ops: Arithmetic = DEFAULT) -> list[dict]:
    """Every step of one case: a list of ``{"sum_of_squares", "updates", "params"[, "grads"]}`` leaves."""
    dtype = group["dtype"]
    real = REAL[dtype]
    acc_dtype = np.dtype(ops.accumulator_dtype(dtype))
    real_name = np.dtype(real).name
    hyper = {
        k: (v if isinstance(v, bool) else decode_array(v, real_name, k)[0])
        for k, v in group["hyperparameters"].items()
    }
    params = decode_tree(test["initial"]["params"], dtype, "params")
    p = _flat(params).astype(dtype)
    if "sum_of_squares" in test["initial"]:
        G = _flat(decode_tree(test["initial"]["sum_of_squares"], dtype, "G")).astype(dtype)
    else:
        G = np.full(p.shape, ops.initial_accumulator(hyper["initial_accumulator_value"]), dtype)
    G = G.astype(acc_dtype)
    inputs = test["inputs"]
    rates = list(decode_array(inputs["learning_rate"], real_name, "lr"))
    T = len(rates)
    stacked = None if "grads" not in inputs else decode_tree(inputs["grads"], dtype, "grads")
    quad = test.get("gradient")
    if quad:
        a = _flat(decode_tree(quad["a"], dtype, "a")).astype(dtype)
        w_star = _flat(decode_tree(quad["w_star"], dtype, "w_star")).astype(dtype)
    out = []
    for t in range(T):
        if quad:
            g = a * (p - w_star)
        else:
            g = _flat([(path, None if v is None else v[t]) for path, v in stacked]).astype(dtype)
        lr = ops.learning_rate(rates, t, dtype)
        with np.errstate(all="ignore"):
            G, u = _step(conv, g, G.astype(dtype), p, lr, hyper, ops, real)
            G = G.astype(acc_dtype)  # where the accumulator is stored between steps
            u = np.asarray(u).astype(dtype)
            p = p + u
        step = {
            "sum_of_squares": _unflat(G.astype(dtype), params),
            "updates": _unflat(u, params),
            "params": _unflat(p, params),
        }
        if quad:
            step["grads"] = _unflat(g, params)
        out.append(step)
    return out


def run_port(doc: dict, ops: Arithmetic = DEFAULT) -> dict:
    """The results document of this port on a golden document (every recorded step filled in)."""
    conv = doc["convention"]
    results = copy.deepcopy(doc)
    for group in results["testGroups"]:
        for test in group["tests"]:
            steps = run_case(conv, group, test, ops)
            for rec in test["steps"]:
                computed = steps[rec["step"] - 1]
                rec["expected"] = {q: _tree(v) for q, v in computed.items() if q in rec["expected"]}
    return results
