"""conventions.tensorflow_v2 and conventions.keras against the real TensorFlow (CPU).

tensorflow-cpu is installed by the test requirements (pinned; it shares the
environment with jax, optax, torch and Keras: measured, it changes no pinned
package). It runs in a child process (``adagrad_ref.tools.tf_trajectories``) so
that importing it cannot change this process, where Keras runs on jax. One child
computes every case; each case is 30 steps from params and gradients spanning six
decades, every sixth step with ten zero gradients, in float32 and float64:

* ``tf.raw_ops.ResourceApplyAdagradV2``, the op tf.keras 2's Adagrad runs, whose
  defaults ``conventions.tensorflow_v2`` takes. Measured with TensorFlow 2.21.0:
  **bit for bit**, accumulator and params, at every step (bound asserted: 0 ULP).
* ``keras.optimizers.Adagrad`` on the TensorFlow backend (Keras 3, TensorFlow
  2.21's ``tf.keras``): bit for bit with ``conventions.keras``, except that on this
  backend a float64 accumulator starts from G₀ rounded to float32 (0.1 becomes
  0.10000000149011612; on the jax backend it stays 0.1). Measured: with the
  rounded G₀ the trajectories agree bit for bit; with G₀ as given the params are
  about 10⁹–10¹⁰ ULP apart, and the test asserts that they differ.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers.paths import ROOT

from adagrad_ref import apply_updates, conventions
from adagrad_ref.numerics.ulp import max_ulp, same_bits
from adagrad_ref.tools.tf_trajectories import SEP, child_environment, split_cases

STEPS, N = 30, 257
#: (learning_rate, initial_accumulator_value, epsilon): TensorFlow's defaults, a large rate from
#: G₀ = 0, and ε = 0.
SETTINGS = {"defaults": (0.001, 0.1, 1e-7), "large_rate": (0.5, 0.0, 1e-7), "no_eps": (0.05, 0.01, 0.0)}
DTYPES = ("float32", "float64")


def _inputs(dtype: str, setting: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([DTYPES.index(dtype), list(SETTINGS).index(setting)])
    p0 = (rng.standard_normal(N) * 10.0 ** rng.uniform(-3, 3, N)).astype(dtype)
    grads = (rng.standard_normal((STEPS, N)) * 10.0 ** rng.uniform(-3, 3, (STEPS, N))).astype(dtype)
    grads[::6, :10] = 0
    lr, iav, eps = SETTINGS[setting]
    return {
        "p0": p0,
        "grads": grads,
        "learning_rate": np.array(lr),
        "initial_accumulator_value": np.array(iav),
        "epsilon": np.array(eps),
    }


@pytest.fixture(scope="module")
def real_tf(tmp_path_factory):
    """Inputs and TensorFlow's trajectories of every case, from one child process."""
    folder = tmp_path_factory.mktemp("tf")
    inputs = {f"{d}-{s}": _inputs(d, s) for d in DTYPES for s in SETTINGS}
    flat = {f"{case}{SEP}{k}": v for case, arrays in inputs.items() for k, v in arrays.items()}
    np.savez(folder / "in.npz", **flat)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "adagrad_ref.tools.tf_trajectories",
            str(folder / "in.npz"),
            str(folder / "out.npz"),
        ],
        env=child_environment(),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(folder / "out.npz") as f:
        out = {k: f[k] for k in f.files}
    return inputs, split_cases(out), str(out["tensorflow_version"]), out


def _ours(opt, inputs):
    """Our params and accumulator after every step."""
    p, state = inputs["p0"], opt.init(inputs["p0"])
    params, accum = [], []
    for g in inputs["grads"]:
        u, state = opt.update(g, state)
        p = apply_updates(p, u)
        params.append(p)
        accum.append(state.sum_of_squares)
    return np.stack(params), np.stack(accum)


def test_the_pinned_tensorflow_ran(real_tf):
    pinned = [
        line.split("==")[1].strip()
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.startswith("tensorflow-cpu==")
    ]
    assert pinned == [real_tf[2]]
    # tf.keras.optimizers.Adagrad is Keras 3's class (the one test_conventions.py runs on jax)
    assert bool(real_tf[3]["tf_keras_is_keras"])


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_tensorflow_v2_against_resource_apply_adagrad_v2(real_tf, dtype, setting):
    inputs, tf_out = real_tf[0][f"{dtype}-{setting}"], real_tf[1][f"{dtype}-{setting}"]
    params, accum = _ours(conventions.tensorflow_v2(*SETTINGS[setting]), inputs)
    assert params.dtype == tf_out["raw_params"].dtype == np.dtype(dtype)
    for t in range(STEPS):  # every step, so that a difference is located
        assert max_ulp(accum[t], tf_out["raw_accum"][t]) == 0, t
        assert max_ulp(params[t], tf_out["raw_params"][t]) == 0, t
    assert same_bits(params, tf_out["raw_params"]) and same_bits(accum, tf_out["raw_accum"])


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_convention_against_keras_on_tensorflow(real_tf, dtype, setting):
    inputs, tf_out = real_tf[0][f"{dtype}-{setting}"], real_tf[1][f"{dtype}-{setting}"]
    lr, iav, eps = SETTINGS[setting]
    g0 = float(np.float32(iav))  # Keras on TensorFlow starts a float64 accumulator from G₀ in float32
    params, accum = _ours(conventions.keras(lr, g0, eps), inputs)
    for t in range(STEPS):
        assert max_ulp(accum[t], tf_out["keras_accum"][t]) == 0, t
        assert max_ulp(params[t], tf_out["keras_params"][t]) == 0, t
    if dtype == "float64" and g0 != iav:  # the rounding is real: G₀ as given does not match
        params_exact_g0, _ = _ours(conventions.keras(lr, iav, eps), inputs)
        assert max_ulp(params_exact_g0[-1], tf_out["keras_params"][-1]) > 10**6
