"""Calls a new user tried from outside: each gets one AdagradError line, nothing raw and nothing accepted by accident."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad, adagrad_step_inplace, apply_updates, conventions


@pytest.mark.parametrize("parallel", ["yes", 1, 0, 1.0, [True]])
def test_parallel_must_be_none_or_a_bool(parallel):
    p, g, G = np.zeros(3), np.ones(3), np.full(3, 0.1)
    with pytest.raises(AdagradError, match=r"^parallel must be None, True or False, got \w+ .+$"):
        adagrad_step_inplace(p, g, G, 0.1, parallel=parallel)
    assert not p.any() and (G == 0.1).all()  # nothing written


@pytest.mark.parametrize("parallel", [None, True, False, np.bool_(True)])
def test_every_accepted_parallel_gives_the_same_bits(parallel):
    p, G = np.linspace(-1, 1, 7), np.full(7, 0.1)
    adagrad_step_inplace(p, np.arange(7.0), G, 0.3, parallel=parallel)
    ref = adagrad(0.3)
    u, _ = ref.update(np.arange(7.0), ref.init(np.linspace(-1, 1, 7)))
    assert p.tobytes() == apply_updates(np.linspace(-1, 1, 7), u).tobytes()


@pytest.mark.parametrize("make", [adagrad, conventions.optax, conventions.keras, conventions.tensorflow_v2])
def test_a_schedule_that_raises_gives_one_line_with_its_exception(make):
    def schedule(count):
        return 1 / (count - count)

    opt = make(schedule)
    state = opt.init({"w": np.zeros(2)})
    with pytest.raises(
        AdagradError, match=r"^schedule: learning_rate\(0\) raised ZeroDivisionError: division by zero$"
    ) as e:
        opt.update({"w": np.ones(2)}, state, {"w": np.zeros(2)})
    assert isinstance(e.value.__cause__, ZeroDivisionError)


def test_swapped_apply_updates_names_the_structure_with_the_right_article():
    state = adagrad(0.1).init({"w": np.zeros(2)})
    with pytest.raises(
        AdagradError, match=r"expected an AdagradState with 2 fields, got a dict with keys \['w'\]$"
    ):
        apply_updates(state, {"w": np.zeros(2)})


def test_learning_rates_optax_takes_in_any_real_type():
    """A 0-d bfloat16 (JAX or ml_dtypes), a schedule returning one, and a Python int beyond int64 are
    rates as optax takes them; the value is the one float64 conversion of the number given."""
    import jax.numpy as jnp
    import ml_dtypes

    rate = jnp.asarray(0.1, jnp.bfloat16)
    assert adagrad(rate).learning_rate == float(np.float64(rate)) == 0.10009765625
    assert adagrad(ml_dtypes.bfloat16(0.5)).learning_rate == 0.5
    assert adagrad(2**70).learning_rate == 2.0**70
    solver = adagrad(lambda count: jnp.asarray(1.0, jnp.bfloat16) / (count + 1))
    u, _ = solver.update(np.ones(2), solver.init(np.ones(2)))
    assert u.tobytes() == adagrad(1.0).update(np.ones(2), adagrad(1.0).init(np.ones(2)))[0].tobytes()


@pytest.mark.parametrize(
    "rate, message",
    [
        (10**400, r"^learning_rate must be a real number, got an int too large for a float$"),
        (
            np.zeros((), [("a", "f8")]),
            r"^learning_rate must be a real number, got ndarray array\(\(0\.,\), dtype=",
        ),
        (
            np.zeros((), "V2"),
            r"^learning_rate must be a real number, got ndarray array\(b'\\x00\\x00', dtype='\|V2'\)$",
        ),
    ],
)
def test_rates_that_are_not_real_numbers(rate, message):
    with pytest.raises(AdagradError, match=message):
        adagrad(rate)


def test_a_child_forked_after_a_parallel_step_steps_serially():
    """With Numba's GNU OpenMP layer, a child forked after a parallel step was ended by Numba (SIGTERM,
    'fork() called from a process already using GNU OpenMP'), so a multiprocessing.Pool hung. The
    child now runs the serial kernel: the same bits, exit 0."""
    import os
    import subprocess
    import sys

    script = r"""
import os, numpy as np
from adagrad_ref import adagrad_step_inplace
n = 300_000
p, g, G = np.zeros(n, np.float32), np.ones(n, np.float32), np.ones(n, np.float32)
adagrad_step_inplace(p, g, G, 0.1, parallel=True)
q, H = p.copy(), G.copy()
adagrad_step_inplace(q, g, H, 0.1, parallel=False)
pid = os.fork()
if pid == 0:
    adagrad_step_inplace(p, g, G, 0.1, parallel=True)
    os._exit(0 if p.tobytes() == q.tobytes() and G.tobytes() == H.tobytes() else 3)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=os.environ
    )
    assert out.returncode == 0 and out.stdout.strip() == "0", (out.stdout, out.stderr[-2000:])
