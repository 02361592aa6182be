"""Real TensorFlow's Adagrad trajectories, computed in a child process.

``python -m adagrad_ref.tools.tf_trajectories IN.npz OUT.npz`` (the test suite runs it).

TensorFlow runs in a process of its own so that its import (its thread pools, its
protobuf, and Keras's backend, which is read once when ``keras`` is first imported)
cannot change anything in the process that compares: the test suite runs Keras on
jax. The parent writes the inputs of one or more cases to ``IN.npz`` (exact bits;
case ``c`` as ``c__p0``, ``c__grads`` of shape ``(steps, n)``, ``c__learning_rate``,
``c__initial_accumulator_value``, ``c__epsilon``); this writes to ``OUT.npz``, for
each case and every step, the params and the accumulator after it (``c__raw_params``
and so on), and the run's facts (``tensorflow_version``, ``keras_version``, ``tf_keras_is_keras``):

* ``raw_params``, ``raw_accum``: ``tf.raw_ops.ResourceApplyAdagradV2`` (the op
  behind tf.keras 2's Adagrad, which :func:`adagrad_ref.conventions.tensorflow_v2`
  follows), on CPU, in the arrays' dtype;
* ``keras_params``, ``keras_accum``: ``tf.keras.optimizers.Adagrad`` on the
  TensorFlow backend, eager, which :func:`adagrad_ref.conventions.keras` follows.
  In TensorFlow 2.21 that is Keras 3's class itself (``tf_keras_is_keras``
  records it).

Nothing is imported from TensorFlow until :func:`tensorflow_trajectories` runs.
"""

from __future__ import annotations

import os
import sys

import numpy as np

__all__ = ["child_environment", "split_cases", "tensorflow_trajectories"]

SEP = "__"
#: Keys of the output that describe the run, not a case.
ABOUT_THE_RUN = ("tensorflow_version", "keras_version", "tf_keras_is_keras")


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the child process: CPU only, Keras on TensorFlow, TF's log quiet."""
    env = dict(os.environ if base is None else base)
    env.update({"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
    return env


def tensorflow_trajectories(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ResourceApplyAdagradV2 and Keras 3's Adagrad (TensorFlow backend) over ``inputs``' steps."""
    import tensorflow as tf

    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        raise RuntimeError("run with KERAS_BACKEND=tensorflow (see child_environment)")
    import keras

    p0, grads = inputs["p0"], inputs["grads"]
    dtype = p0.dtype
    lr, iav, eps = (float(inputs[k]) for k in ("learning_rate", "initial_accumulator_value", "epsilon"))
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("raw_params", "raw_accum", "keras_params", "keras_accum")
    }
    with tf.device("/CPU:0"):
        var = tf.Variable(p0)
        accum = tf.Variable(np.full(p0.shape, iav, dtype))
        lr_t, eps_t = tf.constant(lr, dtype), tf.constant(eps, dtype)
        for g in grads:
            tf.raw_ops.ResourceApplyAdagradV2(
                var=var.handle, accum=accum.handle, lr=lr_t, epsilon=eps_t, grad=tf.constant(g)
            )
            out["raw_params"].append(var.numpy().copy())
            out["raw_accum"].append(accum.numpy().copy())

        kvar = keras.Variable(p0, dtype=dtype.name)
        opt = tf.keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=iav, epsilon=eps)
        opt.build([kvar])
        (kaccum,) = [v for v in opt.variables if v.shape == kvar.shape]  # the one slot of this variable
        for g in grads:
            opt.apply_gradients([(tf.constant(g), kvar)])
            out["keras_params"].append(np.array(kvar.numpy()))
            out["keras_accum"].append(np.array(kaccum.numpy()))
    result = {k: np.stack(v) for k, v in out.items()}
    result["tensorflow_version"] = np.array(tf.__version__)
    result["keras_version"] = np.array(keras.__version__)
    result["tf_keras_is_keras"] = np.array(tf.keras.optimizers.Adagrad is keras.optimizers.Adagrad)
    return result


def split_cases(flat: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """``{"c__p0": ...}`` -> ``{"c": {"p0": ...}}`` (keys without the separator are left out).

    >>> split_cases({"a__p0": 1, "a__grads": 2, "b__p0": 3, "tensorflow_version": 4})
    {'a': {'p0': 1, 'grads': 2}, 'b': {'p0': 3}}
    """
    cases: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        if SEP in key:
            case, name = key.split(SEP, 1)
            cases.setdefault(case, {})[name] = value
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m adagrad_ref.tools.tf_trajectories IN.npz OUT.npz", file=sys.stderr)
        return 2
    with np.load(argv[0]) as f:
        cases = split_cases({k: f[k] for k in f.files})
    out: dict[str, np.ndarray] = {}
    for case, inputs in cases.items():
        for name, value in tensorflow_trajectories(inputs).items():
            out[name if name in ABOUT_THE_RUN else f"{case}{SEP}{name}"] = value
    np.savez(argv[1], **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
