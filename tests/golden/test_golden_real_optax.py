"""Real optax (jax, jitted, on CPU) as a port of optax.json: it meets the relaxed level, not the exact one.

XLA fuses ``g*g + G`` and computes ``rsqrt`` its own way: the two legitimate variants the relaxed
tolerances are measured from. Each step runs optax's own ``scale_by_rss`` and ``scale`` (the two
halves of ``optax.adagrad``) with the file's rate for that step, so that the rates are the file's.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import optax

from adagrad_ref.golden.encoding import REAL, decode_array, decode_tree, encode_tree
from adagrad_ref.golden.verifier import golden_path, verify


def _leaves(tree):
    return [v for _, v in tree]


@jax.jit
def _step(g, G, p, rate, eps):
    rss = optax.scale_by_rss(initial_accumulator_value=0.0, eps=eps)
    u, state = rss.update(g, optax.ScaleByRssState(sum_of_squares=G))
    u = jax.tree.map(lambda x: -rate * x, u)  # scale_by_learning_rate: step_size * u, step_size = -lr
    return state.sum_of_squares, u, optax.apply_updates(p, u)


def run_optax(doc: dict) -> dict:
    for group in doc["testGroups"]:
        dtype, real = group["dtype"], np.dtype(REAL[group["dtype"]]).name
        h = {k: decode_array(v, real, k)[0] for k, v in group["hyperparameters"].items()}
        for test in group["tests"]:
            template = decode_tree(test["initial"]["params"], dtype, "p")
            p = [v for v in _leaves(template) if v is not None]
            if "sum_of_squares" in test["initial"]:
                G = [
                    v
                    for v in _leaves(decode_tree(test["initial"]["sum_of_squares"], dtype, "G"))
                    if v is not None
                ]
            else:
                G = [np.full(x.shape, h["initial_accumulator_value"], dtype) for x in p]
            rates = decode_array(test["inputs"]["learning_rate"], real, "lr")
            stacked = [
                v for v in _leaves(decode_tree(test["inputs"].get("grads", []), dtype, "g")) if v is not None
            ]
            quad = test.get("gradient")
            recorded = {s["step"]: s for s in test["steps"]}
            for t, rate in enumerate(rates, start=1):
                if quad:
                    a = [v for v in _leaves(decode_tree(quad["a"], dtype, "a")) if v is not None]
                    w = [v for v in _leaves(decode_tree(quad["w_star"], dtype, "w")) if v is not None]
                    g = [ai * (np.asarray(pi) - wi) for ai, pi, wi in zip(a, p, w, strict=True)]
                else:
                    g = [x[t - 1] for x in stacked]
                G, u, p = _step(g, G, p, rate, h["eps"])
                if t in recorded:
                    values = {"sum_of_squares": G, "updates": u, "params": p, "grads": g}
                    exp = recorded[t]["expected"]
                    for q in exp:
                        it = iter(values[q])
                        tree = [None if v is None else np.asarray(next(it)) for v in _leaves(template)]
                        exp[q] = [
                            {
                                "path": path,
                                "value": None if x is None else encode_tree(x, dec=False)[0]["value"],
                            }
                            for (path, _), x in zip(template, tree, strict=True)
                        ]
    return doc


def test_real_optax_meets_relaxed_not_exact(tmp_path):
    with open(golden_path("optax"), encoding="utf-8") as f:
        doc = json.load(f)
    with open(golden_path("optax"), encoding="utf-8") as f:
        golden = json.load(f)
    results = run_optax(doc)
    f = tmp_path / "optax_results.json"
    f.write_text(json.dumps(results))
    exact, relaxed = verify(str(f), level="exact"), verify(str(f), level="relaxed")
    assert not exact.passed
    assert relaxed.passed, [(c.tc_id, c.first_failure) for c in relaxed.cases if not c.passed]
    # XLA flushed a subnormal update to zero: the relaxed level's FTZ rule is needed, not decorative.
    flushed = 0
    for g, r in zip(golden["testGroups"], results["testGroups"], strict=True):
        for tg, tr in zip(g["tests"], r["tests"], strict=True):
            for sg, sr in zip(tg["steps"], tr["steps"], strict=True):
                for lg, lr in zip(sg["expected"]["updates"], sr["expected"]["updates"], strict=True):
                    if lg["value"] is not None:
                        e = decode_array(lg["value"], g["dtype"], "e")
                        o = decode_array(lr["value"], g["dtype"], "o")
                        tiny = np.finfo(REAL[g["dtype"]]).smallest_normal
                        flushed += int(np.sum((o == 0) & (e != 0) & (np.abs(e) < tiny)))
    assert flushed > 0
