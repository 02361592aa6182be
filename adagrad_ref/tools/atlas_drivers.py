"""The atlas's child processes: one library family each, its Adagrad run on flat golden cases.

``python -m adagrad_ref.tools.atlas_drivers FAMILY`` reads a pickled list of ``(variant, spec)``
jobs (:func:`adagrad_ref.tools.atlas.case_specs`) on stdin and writes a pickled
``{"version": ..., "results": [...]}`` to stdout: per job, every step's ``sum_of_squares``,
``updates`` (None where the library keeps its update to itself) and ``params`` as NumPy arrays,
or the error's one-line text. Each family runs alone in its process, so that Keras's backend, jax's
x64 mode and TensorFlow never meet. Only the library's optimizer is driven: the closed-loop
gradients ``a * (w - w_star)`` are computed here, in NumPy, in the dtype, from the library's params.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["FAMILIES", "loop", "main"]


def loop(spec: dict, step: Callable[[np.ndarray, int], tuple[Any, Any, Any]]) -> list[dict]:
    """Drive a case: ``step(g, t) -> (G, u or None, w)`` at t = 0, 1, ...; the gradients given or computed."""
    w = spec["p0"]
    out = []
    for t in range(spec["steps"]):
        if spec["grads"] is not None:
            g = spec["grads"][t]
        else:
            a, w_star = spec["quadratic"]
            with np.errstate(all="ignore"):
                g = a * (w - w_star)
        G, u, w = step(g, t)
        G, w = np.array(G, spec["dtype"]), np.array(w, spec["dtype"])
        out.append(
            {"sum_of_squares": G, "updates": None if u is None else np.array(u, spec["dtype"]), "params": w}
        )
    return out


def _hyper(spec: dict, key: str, default: Any = 0.0) -> Any:
    return spec["hyper"].get(key, default)


# ---------------------------------------------------------------- optax (eager and jitted)


def _optax(jobs: list) -> tuple[str, list]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    def run(variant: str, spec: dict) -> list[dict]:
        lr: Any = spec["lr"]
        if spec["schedule"]:
            rates, c0 = jnp.asarray(spec["rates"]), spec["count"]

            def lr(count):  # the file's rate at every step
                return rates[count - c0]

        tx = optax.adagrad(
            lr, initial_accumulator_value=_hyper(spec, "initial_accumulator_value"), eps=spec["eps"]
        )
        w = jnp.asarray(spec["p0"])
        state = tx.init(w)
        rss, rest = state[0], list(state[1:])
        if spec["given_state"]:
            rss = rss._replace(sum_of_squares=jnp.asarray(spec["G0"]))
        if spec["count"]:
            rest = [s._replace(count=jnp.asarray(spec["count"], s.count.dtype))
                    if "count" in getattr(s, "_fields", ()) else s for s in rest]  # fmt: skip
        state = (rss, *rest)
        update = jax.jit(tx.update) if variant == "jit" else tx.update

        def step(g, t):
            nonlocal w, state
            u, state = update(jnp.asarray(g), state, w)
            w = optax.apply_updates(w, u)
            return np.asarray(state[0].sum_of_squares), np.asarray(u), np.asarray(w)

        return loop(spec, step)

    return f"optax {optax.__version__}, jax {jax.__version__}", [_guarded(run, v, s) for v, s in jobs]


# ---------------------------------------------------------------- torch.optim.Adagrad


def _torch(jobs: list) -> tuple[str, list]:
    import torch

    def run(variant: str, spec: dict) -> list[dict]:
        p = torch.tensor(spec["p0"].copy())
        opt = torch.optim.Adagrad(
            [p], lr=spec["lr"], lr_decay=_hyper(spec, "lr_decay"), weight_decay=_hyper(spec, "weight_decay"),
            initial_accumulator_value=_hyper(spec, "initial_accumulator_value"), eps=spec["eps"],
            maximize=bool(_hyper(spec, "maximize", False)), foreach=variant == "foreach",
            fused=True if variant == "fused" else None,
        )  # fmt: skip
        st = opt.state[p]
        if spec["given_state"]:
            st["sum"].copy_(torch.from_numpy(spec["G0"].copy()))
        if spec["count"]:
            st["step"].fill_(spec["count"])

        def step(g, t):
            p.grad = torch.from_numpy(np.array(g))
            opt.step()
            return st["sum"].numpy().copy(), None, p.detach().numpy().copy()

        return loop(spec, step)

    return f"torch {torch.__version__}", [_guarded(run, v, s) for v, s in jobs]


# ---------------------------------------------------------------- Keras 3, on one backend per process


def _keras(backend: str) -> Callable[[list], tuple[str, list]]:
    def family(jobs: list) -> tuple[str, list]:
        os.environ["KERAS_BACKEND"] = backend
        if backend == "jax":
            import jax

            jax.config.update("jax_enable_x64", True)
        import keras

        def run(variant: str, spec: dict) -> list[dict]:
            v = keras.Variable(spec["p0"].copy(), dtype=spec["dtype"])
            opt = keras.optimizers.Adagrad(
                learning_rate=spec["lr"], initial_accumulator_value=_hyper(spec, "initial_accumulator_value"),
                epsilon=spec["eps"],
            )  # fmt: skip
            opt.build([v])
            (acc,) = [x for x in opt.variables if x.name.endswith("accumulator")]  # its slot, by name
            if spec["given_state"]:
                acc.assign(spec["G0"].copy())

            def step(g, t):
                opt.apply([keras.ops.convert_to_tensor(np.array(g), dtype=spec["dtype"])], [v])
                return keras.ops.convert_to_numpy(acc), None, keras.ops.convert_to_numpy(v)

            return loop(spec, step)

        return f"keras {keras.__version__} ({backend} backend)", [_guarded(run, v, s) for v, s in jobs]

    return family


# ---------------------------------------------------------------- TensorFlow's raw ops


def _tensorflow(jobs: list) -> tuple[str, list]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    def run(variant: str, spec: dict) -> list[dict]:
        dt = spec["dtype"]
        var, acc = tf.Variable(spec["p0"].copy()), tf.Variable(spec["G0"].copy())
        lr = tf.constant(spec["lr"], dt)

        def step(g, t):
            grad = tf.constant(np.array(g))
            if variant == "v2":
                tf.raw_ops.ResourceApplyAdagradV2(
                    var=var.handle, accum=acc.handle, lr=lr, epsilon=tf.constant(spec["eps"], dt), grad=grad
                )
            else:
                tf.raw_ops.ResourceApplyAdagrad(var=var.handle, accum=acc.handle, lr=lr, grad=grad)
            return acc.numpy(), None, var.numpy()

        return loop(spec, step)

    return f"tensorflow {tf.__version__}", [_guarded(run, v, s) for v, s in jobs]


# ---------------------------------------------------------------- jax.example_libraries.optimizers.adagrad


def _jax_example(jobs: list) -> tuple[str, list]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.example_libraries import optimizers

    def run(variant: str, spec: dict) -> list[dict]:
        init, update, get_params = optimizers.adagrad(spec["lr"], momentum=float(variant))
        st = init(jnp.asarray(spec["p0"]))
        x, g_sq, m = st.packed_state[0]
        g_sq = jnp.asarray(spec["G0"])  # it starts from 0 and takes no G0: given here as the file's
        st = optimizers.OptimizerState([(x, g_sq, m)], st.tree_def, st.subtree_defs)

        def step(g, t):
            nonlocal st
            st = update(spec["count"] + t, jnp.asarray(g), st)
            return np.asarray(st.packed_state[0][1]), None, np.asarray(get_params(st))

        return loop(spec, step)

    return f"jax {jax.__version__}", [_guarded(run, v, s) for v, s in jobs]


# ---------------------------------------------------------------- ONNX's reference implementation


def onnx_model(dtype: str, epsilon: float, decay_factor: float, norm_coefficient: float):
    """A model of one ``ai.onnx.preview.training.Adagrad`` node (inputs R, T, X, G, H)."""
    from onnx import TensorProto, helper

    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    node = helper.make_node(
        "Adagrad", ["R", "T", "X", "G", "H"], ["X_new", "H_new"], domain="ai.onnx.preview.training",
        epsilon=epsilon, decay_factor=decay_factor, norm_coefficient=norm_coefficient,
    )  # fmt: skip
    io = helper.make_tensor_value_info
    graph = helper.make_graph(
        [node], "adagrad",
        [io("R", elem, []), io("T", TensorProto.INT64, []), io("X", elem, None), io("G", elem, None),
         io("H", elem, None)],
        [io("X_new", elem, None), io("H_new", elem, None)],
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.preview.training", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def _onnx(jobs: list) -> tuple[str, list]:
    import onnx
    from onnx.reference import ReferenceEvaluator

    def run(variant: str, spec: dict) -> list[dict]:
        dt = spec["dtype"]
        model = onnx_model(dt, spec["eps"], _hyper(spec, "decay_factor"), _hyper(spec, "norm_coefficient"))
        session = ReferenceEvaluator(model)
        G, w = spec["G0"].copy(), spec["p0"].copy()

        def step(g, t):
            nonlocal G, w
            feeds = {"R": np.array(spec["lr"], dt), "T": np.array(spec["count"] + t, np.int64), "X": w,
                     "G": np.array(g), "H": G}  # fmt: skip
            w, G = session.run(None, feeds)
            return G, None, w

        return loop(spec, step)

    return f"onnx {onnx.__version__}", [_guarded(run, v, s) for v, s in jobs]


def _guarded(run: Callable, variant: str, spec: dict) -> list | str:
    try:
        return run(variant, spec)
    except Exception as e:  # the library's own refusal or crash: reported in the atlas, one line
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:200]


FAMILIES: dict[str, Callable[[list], tuple[str, list]]] = {
    "optax": _optax,
    "torch": _torch,
    "keras-jax": _keras("jax"),
    "keras-torch": _keras("torch"),
    "keras-tensorflow": _keras("tensorflow"),
    "tensorflow": _tensorflow,
    "jax-example": _jax_example,
    "onnx": _onnx,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in FAMILIES:
        print(f"usage: python -m adagrad_ref.tools.atlas_drivers {{{','.join(FAMILIES)}}}", file=sys.stderr)
        return 2
    jobs = pickle.loads(sys.stdin.buffer.read())
    out = os.fdopen(os.dup(1), "wb")  # the results' channel; whatever a library prints goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    version, results = FAMILIES[argv[0]](jobs)
    out.write(pickle.dumps({"version": version, "results": results}))
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
