"""The measured fact about Keras 3 in docs/conventions.md: in float64 it steps with the learning rate rounded to float32.

Same run as ``tests/conventions/test_conventions.py::test_keras_convention_against_real_keras`` (257 params over
six decades, 25 steps, η = 0.05, G₀ = 0.1, ε = 1e-7), here against Keras's order of operations written
out in float64 twice: with η rounded to float32 first, 0 ULP; with η as given, the params end
1.3·10¹⁰ ULP apart (measured here; the README said 7·10⁹ before this test existed, now corrected).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported: the backend the suite installs

import keras
import numpy as np

from adagrad_ref.numerics.ulp import ulp_distance


def keras_by_hand(w, grads, lr):
    """Keras 3's Adagrad.update_step in float64: G = G + g*g; w = w - (lr*g)/sqrt(G + eps)."""
    G = np.full_like(w, 0.1)
    for g in grads:
        G = G + g * g
        w = w + -((lr * g) / np.sqrt(G + 1e-7))
    return w


def test_keras_float64_uses_the_rate_rounded_to_float32(rng):
    assert keras.backend.backend() == "jax"
    w0 = (rng.standard_normal(257) * 10.0 ** rng.uniform(-3, 3, 257)).astype("float64")
    grads = [
        (rng.standard_normal(257) * 10.0 ** rng.uniform(-3, 3, 257)).astype("float64") for _ in range(25)
    ]
    var = keras.Variable(w0.copy(), dtype="float64")
    real = keras.optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=0.1, epsilon=1e-7)
    for g in grads:
        real.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    w = np.asarray(var.value)
    rounded = keras_by_hand(w0, grads, float(np.float32(0.05)))
    as_given = keras_by_hand(w0, grads, 0.05)
    assert ulp_distance(w, rounded).max() == 0
    assert 1.25e10 < ulp_distance(w, as_given).max() < 1.35e10  # docs/conventions.md: 1.3·10¹⁰ ULP
