"""torch.optim.Adagrad on bfloat16 and float16 (CPU): its three code paths, bit for bit, against
:mod:`adagrad_ref.numerics.lowprec_torch`; and the sizes of their differences from each other, measured.

Any NaN matches any NaN; every other bit counts, the sign of zero included.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch

from adagrad_ref.numerics import lowprec_torch

FORMATS = {
    "bfloat16": (np.dtype(ml_dtypes.bfloat16), torch.bfloat16),
    "float16": (np.dtype(np.float16), torch.float16),
}


def to_torch(a: np.ndarray, tdt) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).view(np.int16).copy()).view(tdt)


def to_numpy(t: torch.Tensor, dt) -> np.ndarray:
    return t.detach().view(torch.int16).numpy().copy().view(dt)


def mismatches(a, b) -> int:
    nan = np.isnan(a.astype(np.float32)) & np.isnan(b.astype(np.float32))
    return int(((a.view(np.uint16) != b.view(np.uint16)) & ~nan).sum())


def edge_gradients(dt) -> np.ndarray:
    fi = ml_dtypes.finfo(dt)
    v = [0.0, -0.0, fi.smallest_subnormal, -fi.smallest_normal, float(np.sqrt(float(fi.max))) * 2, np.nan,
         np.inf, -np.inf, 1e-3, -7.0]  # fmt: skip
    return np.array(v, np.float64).astype(dt)


def cases(dt):
    """(name, lr, lr_decay, eps, G0, params, gradients)."""
    rng = np.random.default_rng(11)
    n = 4096
    lo, hi = (-12, 12) if dt == np.dtype(ml_dtypes.bfloat16) else (-5, 3)

    def mag(k, a, b):
        return (rng.standard_normal(k) * 10.0 ** rng.uniform(a, b, k)).astype(dt)

    yield "random", 0.37, 0.0, 0.013, 0.0, mag(n, -2, 2), [mag(n, lo, hi) for _ in range(10)]
    yield "random, torch defaults", 0.01, 0.0, 1e-10, 0.0, mag(n, -2, 2), [mag(n, lo, hi) for _ in range(10)]
    yield "lr_decay, G0", 0.5, 0.1, 1e-6, 0.25, mag(n, -2, 2), [mag(n, -3, 1) for _ in range(10)]
    e = edge_gradients(dt)
    yield "edge gradients", 0.3, 0.0, 1e-10, 0.1, mag(e.size, -2, 2), [e, e[::-1].copy()]
    yield "zero accumulator", 0.3, 0.0, 1e-10, 0.0, np.ones(e.size, dt), [np.zeros(e.size, dt), e]
    yield "fused's scalar tail", 0.3, 0.0, 0.013, 0.0, mag(1000, -2, 1), [mag(1000, -1, 1) for _ in range(5)]


def torch_run(path, dt, tdt, lr, lr_decay, eps, G0, params, grads):
    p = torch.nn.Parameter(to_torch(params, tdt))
    kw = {"fused": True} if path == "fused" else {"foreach": path == "foreach"}
    opt = torch.optim.Adagrad([p], lr=lr, lr_decay=lr_decay, eps=eps, initial_accumulator_value=G0, **kw)
    out = []
    for g in grads:
        p.grad = to_torch(g, tdt)
        opt.step()
        out.append((to_numpy(p, dt), to_numpy(opt.state[p]["sum"], dt)))
    return out


#: float32 lanes of torch's CPU vectors, by the capability torch reports (AVX-512 measured here).
VECTOR_SIZE = {"AVX512": 16, "AVX2": 8}.get(torch.backends.cpu.get_cpu_capability(), 8)


def ours_run(path, dt, lr, lr_decay, eps, G0, params, grads):
    w, G, out = params.copy(), np.full(params.shape, G0, dt), []
    for k, g in enumerate(grads, start=1):
        clr = lr / (1 + (k - 1) * lr_decay)  # torch's float64 rate
        w, G = lowprec_torch.step(w, g, G, clr, eps, path, VECTOR_SIZE)
        out.append((w, G))
    return out


ALL = [(f, path, c[0]) for f in FORMATS for path in lowprec_torch.PATHS for c in cases(FORMATS[f][0])]


@pytest.mark.parametrize("name,path,case", ALL)
def test_each_torch_path_bit_for_bit(name, path, case):
    dt, tdt = FORMATS[name]
    _, lr, lr_decay, eps, G0, params, grads = next(c for c in cases(dt) if c[0] == case)
    theirs = torch_run(path, dt, tdt, lr, lr_decay, eps, G0, params, grads)
    ours = ours_run(path, dt, lr, lr_decay, eps, G0, params, grads)
    for (w1, G1), (w2, G2) in zip(ours, theirs, strict=True):
        assert mismatches(w1, w2) == 0 and mismatches(G1, G2) == 0


@pytest.mark.parametrize("name", FORMATS)
def test_the_paths_differ_from_each_other(name):
    """The three paths are three answers: on the random case each pair differs on the params."""
    dt, _ = FORMATS[name]
    _, lr, lr_decay, eps, G0, params, grads = next(cases(dt))
    runs = {path: ours_run(path, dt, lr, lr_decay, eps, G0, params, grads) for path in lowprec_torch.PATHS}
    total = params.size * len(grads)
    for a, b in [("single", "foreach"), ("single", "fused"), ("foreach", "fused")]:
        diff = sum(mismatches(x[0], y[0]) for x, y in zip(runs[a], runs[b], strict=True))
        assert 1000 <= diff < total, (a, b, diff)  # "thousands of params" (docs/low_precision.md)
