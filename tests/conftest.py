"""Shared fixtures and the rule that no test may be skipped.

JAX runs in float64-capable mode (``jax_enable_x64``) so that the optax
cross-checks cover float64; this must happen before any JAX array exists.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from helpers.paths import ROOT

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

# The optax.adagrad documentation page this project mirrors, copied verbatim from the
# project's seed (shared/seed/optax_adagrad_doc.txt) so that a clone has it wherever it lives.
SEED_DOC = ROOT / "tests" / "helpers" / "data" / "optax_adagrad_doc.txt"

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A skipped cross-check is a check that did not happen: the run fails.
    if _skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped; every test in this suite must run: "
            + ", ".join(_skipped),
            red=True,
        )


def edge_values(dtype: type) -> np.ndarray:
    """Zeros of both signs, subnormals, the extremes of the range, NaN and Inf."""
    fi = np.finfo(dtype)
    v = [
        0.0, -0.0, fi.smallest_subnormal, -fi.smallest_subnormal, fi.smallest_normal,
        fi.smallest_normal / 3, 1.0, -1.0, fi.eps, fi.max, -fi.max, np.sqrt(fi.max),
        np.sqrt(fi.max) * 2, np.sqrt(fi.smallest_normal), np.inf, -np.inf, np.nan,
    ]  # fmt: skip
    return np.array(v, dtype=dtype)


def random_floats(rng: np.random.Generator, n: int, dtype: type, with_edges: bool = True) -> np.ndarray:
    """Signed values across the whole exponent range, with the edge values mixed in."""
    fi = np.finfo(dtype)
    lo, hi = np.log10(float(fi.smallest_subnormal)), np.log10(float(fi.max))
    mag = 10.0 ** rng.uniform(lo, hi, n)
    x = (rng.choice([-1.0, 1.0], n) * mag).astype(dtype)
    x[rng.random(n) < 0.05] = 0
    if with_edges:
        e = edge_values(dtype)
        idx = rng.choice(n, size=min(n, 4 * e.size), replace=False)
        x[idx] = rng.choice(e, idx.size)
    return x


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture
def saved(tmp_path):
    """A state file of adagrad(0.1) over a float32 and a float64 leaf, saved with its optimizer
    (the state-file tests' common input)."""
    from adagrad_ref import adagrad, save_state

    opt = adagrad(0.1)
    f = tmp_path / "s.npz"
    save_state(f, opt.init({"w": np.ones(64, np.float32), "v": np.ones(3)}), optimizer=opt)
    return f
