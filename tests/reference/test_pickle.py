"""Every optimizer survives pickle and copy.deepcopy, and the copy steps to the same bits (issue 17).

Users send optimizers to worker processes (Keras tests the same: ``test_pickleable_optimizers``).
The conventions held closures for their rates (``pytorch.<locals>.clr``, a ``lambda`` in ``keras``
and in ``_constant_or_schedule``): "Can't pickle local object". A schedule is pickled as it is:
this one is ``functools.partial(pow, 0.5)`` (0.5**count); an optax schedule is itself a closure,
which pickle refuses for optax's own reasons (copy.deepcopy works).
"""

from __future__ import annotations

import copy
import functools
import pickle

import numpy as np
import pytest

from adagrad_ref import adagrad, conventions
from adagrad_ref.fast.flat import FlatAdagrad

HALVING = functools.partial(pow, 0.5)  # count -> 0.5**count, a picklable schedule

OPTIMIZERS = {
    "adagrad": lambda: adagrad(0.1),
    "adagrad, numba": lambda: adagrad(0.1, backend="numba"),
    "adagrad, schedule": lambda: adagrad(HALVING),
    "optax": lambda: conventions.optax(0.1),
    "optax, schedule": lambda: conventions.optax(HALVING),
    "pytorch": lambda: conventions.pytorch(lr=0.1, lr_decay=0.01, weight_decay=0.05, maximize=True),
    "keras": lambda: conventions.keras(0.1),
    "keras, schedule": lambda: conventions.keras(HALVING),
    "tensorflow_v2": lambda: conventions.tensorflow_v2(0.1),
    "tensorflow_v2, schedule": lambda: conventions.tensorflow_v2(HALVING),
}


def run(opt, steps: int = 3) -> list[bytes]:
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal(4).astype(np.float32), "b": np.float64([0.5, -1.0])}
    state = opt.init(params)
    out = []
    for _ in range(steps):
        grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
        updates, state = opt.update(grads, state, params)
        params = {k: params[k] + updates[k] for k in params}
        out += [params[k].tobytes() for k in sorted(params)]
    return out


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_an_optimizer_survives_pickle_and_deepcopy(name, how):
    opt = OPTIMIZERS[name]()
    twin = pickle.loads(pickle.dumps(opt)) if how == "pickle" else copy.deepcopy(opt)
    assert repr(twin) == repr(opt)
    assert run(twin) == run(opt)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_flat_adagrad_survives_pickle_with_its_params_still_views_of_its_buffers(how):
    """Pickled as is, each view became an array of its own: the copy stepped its buffers, and its
    ``params`` never changed."""
    flat = FlatAdagrad({"w": np.ones(3, np.float32), "b": np.zeros((2, 2))}, learning_rate=HALVING)
    flat.set_grads({"w": np.full(3, 0.5, np.float32), "b": np.ones((2, 2))})
    flat.step()
    twin = pickle.loads(pickle.dumps(flat)) if how == "pickle" else copy.deepcopy(flat)
    for f in (flat, twin):
        f.set_grads({"w": np.full(3, 0.25, np.float32), "b": np.full((2, 2), 2.0)})
        f.step()
    assert twin.params["w"].tobytes() == flat.params["w"].tobytes()
    assert twin.params["b"].tobytes() == flat.params["b"].tobytes()
    assert twin.state.sum_of_squares["b"].tobytes() == flat.state.sum_of_squares["b"].tobytes()
    assert not np.shares_memory(twin.params["w"], flat.params["w"])
