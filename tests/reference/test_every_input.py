"""Every NumPy dtype, bfloat16, lists, Python scalars, array subclasses and byte orders at every
pytree entry point: the right bits or one AdagradError line naming the argument, nothing written.

Accepted: float32, float64, complex64, complex128 (and the optax convention's complex), in either
byte order: a big-endian leaf is converted at the boundary, so both backends give the same bits and
the state is in native order. ``np.matrix`` is taken as a plain array (its ``*`` is a matrix product,
which would make ``g*g`` wrong); a masked array is refused (its mask would be ignored). ``None`` is an
empty pytree, as in optax (``init(None)`` is a state holding ``None``).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from helpers.errors import one_line

from adagrad_ref import adagrad, apply_updates, conventions
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.numerics.ulp import same_bits

ACCEPTED = set("fdFDe")  # and bfloat16 (ml_dtypes); float16 and bfloat16 by the optax convention only
REFUSED_CODES = [c for c in np.typecodes["All"] if c not in ACCEPTED]
LOW_PRECISION = ["e", "bfloat16"]


def array_of(code):
    return np.zeros(2, dtype=ml_dtypes.bfloat16 if code == "bfloat16" else code)


def refusal(code: str, where: str) -> str:
    return rf"^{where} has dtype {array_of(code).dtype}; expected float32 or float64 \(or complex64/complex128\)$"


INIT = {
    "adagrad numpy": lambda p: adagrad(0.1).init(p),
    "adagrad numba": lambda p: adagrad(0.1, backend="numba").init(p),
    **{f"conventions.{n}": (lambda p, f=f: f(0.1).init(p)) for n, f in conventions.FACTORIES.items()},
}


@pytest.mark.parametrize("entry", INIT)
@pytest.mark.parametrize("code", REFUSED_CODES)
def test_init_refuses_every_other_dtype(entry, code):
    with one_line(refusal(code, r"params\['layer'\]\['w'\]")):
        INIT[entry]({"layer": {"w": array_of(code)}})


@pytest.mark.parametrize("entry", INIT)
@pytest.mark.parametrize("code", LOW_PRECISION)
def test_low_precision_taken_by_optax_refused_by_the_other_conventions(entry, code):
    params = {"layer": {"w": array_of(code)}}
    if entry in ("adagrad numpy", "adagrad numba", "conventions.optax"):
        state = INIT[entry](params)
        assert state.sum_of_squares["layer"]["w"].dtype == array_of(code).dtype
        return
    name = entry.split(".")[1]
    with one_line(rf"^params\['layer'\]\['w'\] is {array_of(code).dtype}; the {name} convention here takes"):
        INIT[entry](params)


OPTIMIZERS = {
    "adagrad numpy": lambda: adagrad(0.1),
    "adagrad numba": lambda: adagrad(0.1, backend="numba"),
    **{f"conventions.{n}": (lambda f=f: f(0.1)) for n, f in conventions.FACTORIES.items()},
}


@pytest.mark.parametrize("entry", OPTIMIZERS)
@pytest.mark.parametrize("code", [*REFUSED_CODES, *LOW_PRECISION])
def test_update_refuses_every_other_dtype_and_changes_nothing(entry, code):
    opt = OPTIMIZERS[entry]()
    state = opt.init({"w": np.zeros(2, np.float32)})
    before = state.sum_of_squares["w"].copy()
    match = refusal(code, r"grads\['w'\]")
    if code in LOW_PRECISION:  # a dtype taken, but not the state's
        match = (
            rf"^grads\['w'\] has dtype {array_of(code).dtype}; expected float32 as in state.sum_of_squares$"
        )
    with one_line(match):
        opt.update({"w": array_of(code)}, state, {"w": np.zeros(2, np.float32)})
    assert same_bits(state.sum_of_squares["w"], before) and int(state.count) == 0


@pytest.mark.parametrize("entry", OPTIMIZERS)
@pytest.mark.parametrize(
    "grads, match",
    [
        ({"w": 1.5}, r"^grads\['w'\] is a Python float; pass np.asarray"),
        ({"w": [1.0, 2.0]}, r"^grads does not match the structure of state.sum_of_squares: grads\['w'\]: "
         r"expected an array, got a list of length 2$"),
        (None, r"^grads does not match the structure of state.sum_of_squares: grads: expected a dict with keys "
         r"\['w'\], got None$"),
        ({"w": "ab"}, r"^grads\['w'\] is a str; expected an array"),
    ],
)  # fmt: skip
def test_update_refuses_odd_grads_naming_them(entry, grads, match):
    opt = OPTIMIZERS[entry]()
    state = opt.init({"w": np.zeros(2, np.float32)})
    with one_line(match):
        opt.update(grads, state, {"w": np.zeros(2, np.float32)})


@pytest.mark.parametrize("code", LOW_PRECISION)
def test_flat_takes_low_precision_and_refuses_other_grads(code):
    flat = FlatAdagrad({"w": array_of(code)}, 0.1)
    assert flat.params["w"].dtype == array_of(code).dtype
    flat = FlatAdagrad({"w": np.ones(2, np.float32)}, 0.1)
    with one_line(rf"^grads\['w'\] is {array_of(code).dtype} \(2,\); expected float32 \(2,\) as in params$"):
        flat.set_grads({"w": array_of(code)})
    assert np.all(flat.grads["w"] == 0)


@pytest.mark.parametrize("code", REFUSED_CODES)
def test_apply_updates_and_flat_refuse_every_other_dtype(code):
    with one_line(refusal(code, r"params\['w'\]")):
        apply_updates({"w": array_of(code)}, {"w": np.zeros(2)})
    with one_line(refusal(code, r"updates\['w'\]")):
        apply_updates({"w": np.zeros(2)}, {"w": array_of(code)})
    with one_line(refusal(code, r"params\['w'\]")):
        FlatAdagrad({"w": array_of(code)}, 0.1)
    flat = FlatAdagrad({"w": np.ones(2, np.float32)}, 0.1)
    with one_line(refusal(code, r"grads\['w'\]")):
        flat.set_grads({"w": array_of(code)})
    assert np.all(flat.grads["w"] == 0)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"w": [1.0, 2.0]}, r"^params\['w'\]\[0\] is a Python float; pass np.asarray"),
        ({"w": 1.5}, r"^params\['w'\] is a Python float; pass np.asarray"),
        (3, r"^params is a Python int; pass np.asarray"),
        (True, r"^params is a Python bool; pass np.asarray"),
        (1j, r"^params is a Python complex; pass np.asarray"),
        ("w", r"^params is a str; expected an array, or a dict/list/tuple/NamedTuple of arrays$"),
        ({"w": object()}, r"^params\['w'\] is a object; expected an array"),
        (
            {"w": np.ma.masked_array([1.0, 2.0], [0, 1])},
            r"^params\['w'\] is a masked array; Adagrad would ignore",
        ),
    ],
)
@pytest.mark.parametrize("entry", ["adagrad numpy", "adagrad numba", "conventions.pytorch", "FlatAdagrad"])
def test_odd_objects_are_refused_naming_the_leaf(entry, params, match):
    make = INIT.get(entry, lambda p: FlatAdagrad(p, 0.1))
    with one_line(match):
        make(params)


@pytest.mark.parametrize("name", ["learning_rate", "eps", "initial_accumulator_value"])
@pytest.mark.parametrize("code", [c for c in np.typecodes["All"] if c not in "bhilqnpBHILQNPefdg"])
def test_hyperparameters_of_other_dtypes_are_refused(name, code):
    value = np.zeros((), "V1") if code == "V" else np.zeros((), object) if code == "O" else array_of(code)[0]
    kw = {"learning_rate": 0.1, name: value}
    with one_line(rf"^{name} must be a real (number|scalar), got "):
        adagrad(**kw)
    with one_line(rf"^{name} must be a real (number|scalar), got "):
        FlatAdagrad({"w": np.zeros(2)}, **kw)


@pytest.mark.parametrize("code", [*"bhilqBHILQefdg", "bfloat16"])  # bfloat16: ml_dtypes' real type
def test_hyperparameters_of_real_dtypes_are_taken_as_their_value(code):
    one = np.ones((), code)
    assert adagrad(one).learning_rate == 1.0 and adagrad(0.1, eps=one).eps == 1.0


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_np_matrix_is_taken_as_a_plain_array_on_both_backends(backend):
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    opt = adagrad(0.1, backend=backend)
    state = opt.init(m)
    updates, state = opt.update(m, state)
    assert type(state.sum_of_squares) is np.ndarray and type(updates) is np.ndarray
    # Elementwise g*g + G: the matrix product would give [[7.1, 10.1], [15.1, 22.1]].
    assert same_bits(state.sum_of_squares, np.asarray(m) * np.asarray(m) + 0.1)
    plain = adagrad(0.1, backend=backend)
    u_plain, _ = plain.update(np.asarray(m), plain.init(np.asarray(m)))
    assert same_bits(updates, u_plain)
    new = apply_updates(m, updates)
    assert type(new) is np.ndarray and same_bits(new, apply_updates(np.asarray(m), u_plain))


@pytest.mark.parametrize("dtype", ["f4", "f8", "c8", "c16"])
def test_big_endian_leaves_give_the_same_bits_on_both_backends(rng, dtype):
    native = (rng.standard_normal((3, 4)) * 10).astype(dtype)
    big = native.astype(">" + dtype)
    results = []
    for backend in ("numpy", "numba"):
        opt = adagrad(0.3, backend=backend)
        for p in (native, big):
            state = opt.init(p)
            assert state.sum_of_squares.dtype.isnative and state.sum_of_squares.dtype == native.dtype
            u, state = opt.update(p, state)  # big-endian grads against a native state
            results.append((u, state.sum_of_squares, apply_updates(p, u)))
    for u, G, w in results[1:]:
        assert same_bits(u, results[0][0]) and same_bits(G, results[0][1]) and same_bits(w, results[0][2])


def test_big_endian_params_in_flat_and_the_conventions(rng):
    native = rng.standard_normal(5).astype(np.float32)
    big = native.astype(">f4")
    a, b = FlatAdagrad({"w": native}, 0.1), FlatAdagrad({"w": big}, 0.1)
    for flat in (a, b):
        flat.set_grads({"w": native.astype(">f4")})
        flat.step()
    assert same_bits(a.params["w"], b.params["w"])
    for make in conventions.FACTORIES.values():
        opt = make(0.1)
        u1, s1 = opt.update(native, opt.init(native), native)
        u2, s2 = opt.update(big, opt.init(big), big)
        assert same_bits(u1, u2) and same_bits(s1.sum_of_squares, s2.sum_of_squares)
