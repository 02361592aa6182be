"""Keras 3 (jax backend) and TensorFlow's ResourceApplyAdagradV2 on bfloat16 and float16 (CPU):
measured against each framework's order of operations with every operation rounded once to the
dtype (not implemented as conventions here: docs/low_precision.md states the rules).

* Keras 3: ``G = G + g*g``; ``d = sqrt(G + eps)``; ``w = w - (lr*g)/d``, each operation rounded
  (``sqrt`` and ``/`` separately: no rsqrt); ``lr`` and ``eps`` through float32 to the dtype; the
  accumulator in the variable's dtype.
* TensorFlow: ``G = G + g*g``; ``d = sqrt(G) + eps``; ``w = w - (g*lr)/d``, each operation rounded.

Data: normal values over four decades (no subnormal result: TensorFlow's CPU kernels flush them).
"""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported: the backend the suite installs

import keras
import ml_dtypes
import numpy as np
import pytest

from adagrad_ref.numerics import lowprec

FORMATS = {"bfloat16": np.dtype(ml_dtypes.bfloat16), "float16": np.dtype(np.float16)}
LR, EPS, N, STEPS = 0.37, 0.013, 4096, 5


def data(dt):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(N).astype(dt)
    grads = [(rng.standard_normal(N) * 10.0 ** rng.uniform(-2, 2, N)).astype(dt) for _ in range(STEPS)]
    return w0, grads


def per_operation(dt):
    fl = lowprec.flushes(dt)

    def f(a):
        return lowprec._read(a, fl)

    def r(x):
        return lowprec._round(x, dt, fl)

    return f, r


def keras_rule(w, g, G, dt):
    f, r = per_operation(dt)
    lr, e = lowprec.scalar(LR, dt), lowprec.scalar(EPS, dt)
    with np.errstate(all="ignore"):
        G = r(f(G) + f(r(f(g) * f(g))))
        d = r(np.sqrt(f(r(f(G) + f(e)))))
        w = r(f(w) - f(r(f(r(f(lr) * f(g))) / f(d))))
    return w, G


def tf_rule(w, g, G, dt):
    f, r = per_operation(dt)
    lr, e = lowprec.scalar(LR, dt), lowprec.scalar(EPS, dt)
    with np.errstate(all="ignore"):
        G = r(f(G) + f(r(f(g) * f(g))))
        d = r(f(r(np.sqrt(f(G)))) + f(e))
        w = r(f(w) - f(r(f(r(f(g) * f(lr))) / f(d))))
    return w, G


def mismatches(a, b) -> int:
    return int((np.asarray(a).view(np.uint16) != np.asarray(b).view(np.uint16)).sum())


@pytest.mark.parametrize("name", FORMATS)
def test_keras3_jax_backend_every_operation_rounded(name):
    dt = FORMATS[name]
    w0, grads = data(dt)
    v = keras.Variable(w0, dtype=name)
    opt = keras.optimizers.Adagrad(learning_rate=LR, epsilon=EPS)
    opt.build([v])
    w, G = w0, np.full(N, 0.1, dt)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g, dtype=name), v)])
        w, G = keras_rule(w, g, G, dt)
        assert mismatches(w, np.asarray(v.value)) == 0


TF_CHILD = """
import sys, numpy as np, ml_dtypes, tensorflow as tf
name, lr, eps, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
data = np.load(path)
tdt = {"bfloat16": tf.bfloat16, "float16": tf.float16}[name]
var = tf.Variable(tf.cast(tf.constant(data["w0"]), tdt))
acc = tf.Variable(tf.cast(tf.fill([data["w0"].size], 0.1), tdt))
out = []
for g in data["grads"]:
    tf.raw_ops.ResourceApplyAdagradV2(var=var.handle, accum=acc.handle, lr=tf.constant(lr, tdt),
        epsilon=tf.constant(eps, tdt), grad=tf.cast(tf.constant(g), tdt))
    out.append(tf.cast(var, tf.float32).numpy())
np.save(path + ".out.npy", np.stack(out))
"""


@pytest.mark.parametrize("name", FORMATS)
def test_tensorflow_raw_op_every_operation_rounded(name, tmp_path):
    dt = FORMATS[name]
    w0, grads = data(dt)
    path = str(tmp_path / "in.npz")
    np.savez(path, w0=w0.astype(np.float32), grads=np.stack(grads).astype(np.float32))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    subprocess.run([sys.executable, "-c", TF_CHILD, name, str(LR), str(EPS), path], check=True, env=env)
    theirs = np.load(path + ".out.npy").astype(dt)  # float32 values of the dtype: exact both ways
    w, G = w0, np.full(N, 0.1, dt)
    for k, g in enumerate(grads):
        w, G = tf_rule(w, g, G, dt)
        assert mismatches(w, theirs[k]) == 0
