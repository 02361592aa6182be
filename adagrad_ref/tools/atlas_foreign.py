"""The atlas's libraries that do not install beside the project's own: run by path, in another interpreter.

Chainer 7.8.1 needs NumPy < 2, MindSpore brings its own stack and PaddlePaddle moves opt_einsum, so
none shares the project's environment. ``python atlas_foreign.py FAMILY`` (run by its path, so that
it imports nothing of ``adagrad_ref``) reads JSON jobs on stdin, every array as its bit patterns,
and writes JSON results. The interpreter is ``$ADAGRAD_REF_ATLAS_PYTHON_<FAMILY>`` (CHAINER,
MINDSPORE, PADDLE, MXNET: a virtual environment holding the library); without it the project's own
interpreter is tried and the atlas reports the library as not installed.
"""

from __future__ import annotations

import json
import sys

import numpy as np

BITS = {"float32": np.uint32, "float64": np.uint64}


def decode(obj):
    return None if obj is None else np.array(obj["bits"], BITS[obj["dtype"]]).view(obj["dtype"])


def encode(a):
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.name, "bits": a.view(BITS[a.dtype.name]).tolist()}


def loop(spec, step):
    """``step(g, t) -> (G, w)`` at t = 0, 1, ...; the closed-loop gradient computed here, in the dtype."""
    dt = spec["dtype"]
    w, out = spec["p0"], {}
    for t in range(spec["steps"]):
        if spec["grads"] is not None:
            g = spec["grads"][t]
        else:
            a, w_star = spec["quadratic"]
            with np.errstate(all="ignore"):
                g = a * (w - w_star)
        G, w = step(g, t)
        G, w = np.array(G, dt), np.array(w, dt)
        if t + 1 in spec["recorded"]:
            out[t + 1] = [encode(G), encode(w)]
    return out


def chainer_family(jobs):
    """chainer.optimizers.AdaGrad: h += g*g; w -= lr*g/(sqrt(h) + eps); h starts at 0 (set here, after
    a first update with a zero gradient and eps = 1, which leaves w and h as they were)."""
    import chainer
    from chainer import optimizers

    def run(spec):
        p = chainer.Parameter(spec["p0"].copy())
        link = chainer.Link()
        with link.init_scope():
            link.w = p
        opt = optimizers.AdaGrad(lr=spec["lr"], eps=1.0)
        opt.setup(link)
        p.grad = np.zeros_like(p.array)
        opt.update()  # creates the state: h = 0, w - lr*0/(0 + 1) = w
        p.update_rule.state["h"][...] = spec["G0"]
        opt.eps = spec["eps"]

        def step(g, t):
            p.grad = np.array(g)
            opt.update()
            return p.update_rule.state["h"], p.array

        return loop(spec, step)

    return f"chainer {chainer.__version__} (numpy {np.__version__})", run


def mindspore_family(jobs):
    """MindSpore's ApplyAdagrad (nn.Adagrad's op): accum += g*g; var -= lr*g/sqrt(accum); no eps."""
    import mindspore as ms
    from mindspore import Parameter, Tensor, ops

    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    op = ops.ApplyAdagrad(update_slots=True)
    counter = iter(range(10**9))

    def run(spec):
        k = next(counter)
        dt = spec["dtype"]
        var = Parameter(Tensor(spec["p0"].copy()), name=f"w{k}")
        acc = Parameter(Tensor(spec["G0"].copy()), name=f"a{k}")
        lr = Tensor(np.array(spec["lr"], dt))

        def step(g, t):
            op(var, acc, lr, Tensor(np.array(g)))
            return acc.asnumpy(), var.asnumpy()

        return loop(spec, step)

    return f"mindspore {ms.__version__}", run


def paddle_family(jobs):
    """paddle.optimizer.Adagrad: moment += g*g; w -= lr*g/(sqrt(moment) + epsilon). The file's G0 is set
    through the optimizer's state_dict after a first step with rate 0, a zero gradient and moment 1
    (which leaves w as it was); then the rate is the file's."""
    import paddle

    def run(spec):
        dt = spec["dtype"]
        init = paddle.nn.initializer.Assign(spec["p0"].copy())
        p = paddle.create_parameter(list(spec["p0"].shape), dt, default_initializer=init)
        opt = paddle.optimizer.Adagrad(
            learning_rate=0.0, epsilon=spec["eps"], parameters=[p], initial_accumulator_value=1.0
        )  # the first step divides 0 by sqrt(1) + epsilon: never 0/0
        p.grad = paddle.to_tensor(np.zeros_like(spec["p0"]))
        opt.step()
        state = opt.state_dict()
        (key,) = [k for k in state if "moment" in k]
        state[key] = paddle.to_tensor(spec["G0"].copy())
        opt.set_state_dict(state)
        opt.set_lr(spec["lr"])

        def step(g, t):
            p.grad = paddle.to_tensor(np.array(g))
            opt.step()
            return opt.state_dict()[key].numpy(), p.numpy()

        return loop(spec, step)

    return f"paddlepaddle {paddle.__version__}", run


def mxnet_family(jobs):
    """mxnet.optimizer.AdaGrad (MXNet 1.9.1 needs NumPy < 1.24; float32 only: its op refuses float64)."""
    import mxnet as mx
    from mxnet import nd

    def run(spec):
        dt = spec["dtype"]
        w = nd.array(spec["p0"], dtype=dt)
        opt = mx.optimizer.AdaGrad(learning_rate=spec["lr"], eps=spec["eps"], wd=0.0)
        state = opt.create_state(0, w)
        state[:] = nd.array(spec["G0"], dtype=dt)

        def step(g, t):
            opt.update(0, w, nd.array(np.array(g), dtype=dt), state)
            return state.asnumpy(), w.asnumpy()

        return loop(spec, step)

    return f"mxnet {mx.__version__} (numpy {np.__version__})", run


FOREIGN_FAMILIES = {
    "chainer": chainer_family,
    "mindspore": mindspore_family,
    "paddle": paddle_family,
    "mxnet": mxnet_family,
}


def main(argv):
    if len(argv) != 1 or argv[0] not in FOREIGN_FAMILIES:
        print(f"usage: atlas_foreign.py {{{','.join(FOREIGN_FAMILIES)}}}", file=sys.stderr)
        return 2
    jobs = json.loads(sys.stdin.read())
    import os

    out = os.fdopen(os.dup(1), "w")  # the results' channel; whatever a library prints goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for spec in jobs:
        for key in ("p0", "G0"):
            spec[key] = decode(spec[key])
        spec["grads"] = None if spec["grads"] is None else [decode(g) for g in spec["grads"]]
        spec["quadratic"] = None if spec["quadratic"] is None else [decode(x) for x in spec["quadratic"]]
    version, run = FOREIGN_FAMILIES[argv[0]](jobs)
    results = []
    for spec in jobs:
        try:
            results.append(run(spec))
        except Exception as e:  # the library's refusal: one line in the atlas
            results.append(f"{type(e).__name__}: {str(e).strip()[:150]}")
    out.write(json.dumps({"version": version, "results": results}))
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
