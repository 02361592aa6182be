"""Every path rounds a hyperparameter to the arrays' dtype the same way, and refuses one that overflows it.

The rule (:func:`adagrad_ref.validation.in_dtype`): a Python float first (``float(n)`` rounds an
integer once, correctly), then the arrays' dtype. Before, the serial in-place kernel converted an
integer η in Numba (int64 straight to float32), the other paths through a float64 (NumPy's
``np.float32(int)``): for η = 2**53 + 2**29 + 1 and float32 the serial step gave
-(2**53 + 2**30), the parallel step and the reference -2**53 (issue 17). A finite η, ε or G₀
that is infinite in the params' dtype (1e39 in float32) acted as infinity: a zero gradient made
a param NaN, or every update was 0; it is now one AdagradError line naming the value and dtype.
"""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad, adagrad_step_inplace, conventions, sparse_step_inplace
from adagrad_ref.fast import kernels
from adagrad_ref.fast.flat import FlatAdagrad
from adagrad_ref.reference import apply_updates, update_leaf

BIG = 2**53 + 2**29 + 1  # float32 rounds float(BIG) = 2**53 + 2**29 to 2**53 (a tie), BIG itself up
INTEGERS = [BIG, np.int64(BIG), np.uint64(2**64 - 1), 2**64 - 1, 2**70 + 2**46 + 1, 2**24 + 1, -BIG]
LARGE = kernels.PARALLEL_MIN_BYTES  # elements: more bytes than the parallel threshold in both dtypes


def every_path(lr, dtype) -> dict[str, float]:
    """w after one step from w = 0 with g = 1, G₀ = 0, ε = 0 (so w = -η in the dtype), per path."""
    out = {}
    for name, n, parallel in (("serial", 5, False), ("parallel", LARGE, True), ("auto, large", LARGE, None)):
        p, g, G = np.zeros(n, dtype), np.ones(n, dtype), np.zeros(n, dtype)
        adagrad_step_inplace(p, g, G, lr, 0.0, parallel=parallel)
        assert (p == p[0]).all()
        out[name] = p[0]
    table = np.zeros((3, 4), dtype)
    sparse_step_inplace(table, np.array([1]), np.ones((1, 4), dtype), np.zeros((3, 4), dtype), lr, 0.0)
    out["sparse"] = table[1, 0]
    g, G = np.ones(4, dtype), np.zeros(4, dtype)
    out["reference update_leaf"] = apply_updates(np.zeros(4, dtype), update_leaf(g, G, lr, 0.0)[0])[0]
    out["numba update_leaf"] = apply_updates(np.zeros(4, dtype), kernels.update_leaf(g, G, lr, 0.0)[0])[0]
    for backend in ("numpy", "numba"):
        opt = adagrad(lr, initial_accumulator_value=0.0, eps=0.0, backend=backend)
        u, _ = opt.update({"w": g}, opt.init({"w": np.zeros(4, dtype)}))
        out[f"adagrad {backend}"] = u["w"][0]
        sched = adagrad(lambda count: lr, initial_accumulator_value=0.0, eps=0.0, backend=backend)
        u, _ = sched.update({"w": g}, sched.init({"w": np.zeros(4, dtype)}))
        out[f"adagrad {backend}, schedule"] = u["w"][0]
    flat = FlatAdagrad({"w": np.zeros(4, dtype)}, learning_rate=lr, initial_accumulator_value=0.0, eps=0.0)
    flat.set_grads({"w": g})
    flat.step()
    out["FlatAdagrad"] = flat.params["w"][0]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", INTEGERS, ids=repr)
def test_an_integer_learning_rate_is_rounded_once_the_same_way_on_every_path(lr, dtype):
    expected = -dtype(float(lr))  # the rule: float(n), then the dtype
    got = every_path(lr, dtype)
    wrong = {k: float(v).hex() for k, v in got.items() if np.asarray(v).tobytes() != expected.tobytes()}
    assert not wrong, f"expected {float(expected).hex()}: {wrong}"


def test_the_case_of_the_issue_rounds_differently_straight_from_the_integer():
    """So the test above can fail: float32 of the integer itself is not float32 of float(integer)."""
    assert np.float32(np.int64(BIG)) != np.float32(float(BIG))


REFUSED = [
    ("learning_rate", dict(learning_rate=1e39)),
    ("eps", dict(learning_rate=0.1, eps=1e39)),
    ("initial_accumulator_value", dict(learning_rate=0.1, initial_accumulator_value=1e39)),
    ("learning_rate", dict(learning_rate=-1e39)),
]


def one_line(error: pytest.ExceptionInfo, name: str, value: str, dtype: str) -> None:
    msg = str(error.value)
    assert "\n" not in msg and msg.startswith(f"{name} {value} overflows {dtype}"), msg


@pytest.mark.parametrize("name, hyper", REFUSED)
def test_a_hyperparameter_that_overflows_float32_params_is_refused_at_init(name, hyper):
    value = repr(next(v for k, v in hyper.items() if k == name))
    params = {"w": np.zeros(3, np.float32), "b": np.zeros(2, np.float64)}
    for backend in ("numpy", "numba"):
        with pytest.raises(AdagradError) as e:
            adagrad(**hyper, backend=backend).init(params)
        one_line(e, name, value, "float32")
    with pytest.raises(AdagradError) as e:
        FlatAdagrad(params, **hyper)
    one_line(e, name, value, "float32")
    # conventions.optax is the reference itself: it refuses them too (found by the adversarial re-probe:
    # it accepted G₀ = 1e39 and froze the params). The other conventions reproduce frameworks that store Inf.
    with pytest.raises(AdagradError) as e:
        conventions.optax(**hyper).init(params)
    one_line(e, name, value, "float32")
    # The same values fit float64: accepted there.
    adagrad(**hyper).init({"b": np.zeros(2, np.float64)})
    conventions.optax(**hyper).init({"b": np.zeros(2, np.float64)})
    FlatAdagrad({"b": np.zeros(2, np.float64)}, **hyper)


@pytest.mark.parametrize("lr, eps, name", [(1e39, 1e-7, "learning_rate"), (0.1, 1e39, "eps")])
def test_an_overflowing_step_hyperparameter_is_refused_by_every_step(lr, eps, name):
    value = repr(lr if name == "learning_rate" else eps)
    f32 = np.float32
    for n, parallel in ((5, False), (LARGE, True)):
        p, g, G = np.ones(n, f32), np.zeros(n, f32), np.full(n, 0.1, f32)
        with pytest.raises(AdagradError) as e:
            adagrad_step_inplace(p, g, G, lr, eps, parallel=parallel)
        one_line(e, name, value, "float32")
        assert (p == 1).all() and (G == f32(0.1)).all(), "written before the refusal"
    with pytest.raises(AdagradError) as e:
        sparse_step_inplace(
            np.ones((3, 2), f32), np.array([0]), np.zeros((1, 2), f32), np.ones((3, 2), f32), lr, eps
        )
    one_line(e, name, value, "float32")
    for leaf in (update_leaf, kernels.update_leaf):
        with pytest.raises(AdagradError) as e:
            leaf(np.zeros(2, f32), np.full(2, 0.1, f32), lr, eps)
        one_line(e, name, value, "float32")
    if name == "learning_rate":  # a schedule's η: refused at the step that returns it
        for backend in ("numpy", "numba"):
            opt = adagrad(lambda count: 0.1 if count == 0 else lr, backend=backend)
            params = {"w": np.zeros(2, f32)}
            _, state = opt.update(params, opt.init(params))
            with pytest.raises(AdagradError) as e:
                opt.update(params, state)
            one_line(e, name, value, "float32")
        opt = conventions.optax(lambda count: 0.1 if count == 0 else lr)
        params = {"w": np.zeros(2, f32)}
        _, state = opt.update(params, opt.init(params))
        with pytest.raises(AdagradError) as e:
            opt.update(params, state)
        one_line(e, name, value, "float32")


@pytest.mark.parametrize("dtype, largest", [("bfloat16", "3.3895313892515355e+38"), ("float16", "65504.0")])
def test_an_overflowing_hyperparameter_is_refused_in_low_precision_too(dtype, largest):
    """Found when the low-precision and the overflow work met: the in-place step on bfloat16 arrays
    raised a TypeError, and the message's ``np.finfo(bfloat16)`` a ValueError. η = 1e5 overflows
    float16 (largest 65504) but not bfloat16."""
    import ml_dtypes

    dt = np.dtype(getattr(ml_dtypes, dtype, None) or dtype)
    p, g, G = np.ones(4, dt), np.ones(4, dt), np.full(4, 0.1, dt)
    for lr in (1e39, 1e5) if dtype == "float16" else (1e39,):
        with pytest.raises(AdagradError) as e:
            adagrad_step_inplace(p, g, G, lr, 1e-7)
        one_line(e, "learning_rate", repr(lr), dtype)
        assert f"(largest finite {largest})" in str(e.value) and (p == 1).all()
        with pytest.raises(AdagradError) as e:
            adagrad(lr).init({"w": p})
        one_line(e, "learning_rate", repr(lr), dtype)
        # A schedule's η: refused at the step that returns it, on both backends, nothing changed (it was
        # rounded to -Inf and gave -Inf updates with a RuntimeWarning; found by a new user's probe).
        for backend in ("numpy", "numba"):
            opt = adagrad(lambda count, lr=lr: 0.1 if count == 0 else lr, backend=backend)
            _, state = opt.update({"w": g}, opt.init({"w": p}))
            with pytest.raises(AdagradError) as e:
                opt.update({"w": g}, state)
            one_line(e, "learning_rate", repr(lr), dtype)
            assert f"(largest finite {largest})" in str(e.value)


def test_an_overflowing_hyperparameter_with_complex_params_names_a_components_largest_value():
    """complex64 params: the message's largest finite value is float32's (found by the review of the
    message change: np.nextafter takes no complex dtype, and a raw TypeError came out)."""
    for hyper in ({"learning_rate": 1e39}, {"learning_rate": 0.1, "eps": 1e39}):
        name = "eps" if "eps" in hyper else "learning_rate"
        with pytest.raises(AdagradError) as e:
            adagrad(**hyper).init({"w": np.ones(2, np.complex64)})
        one_line(e, name, "1e+39", "complex64")
        assert str(e.value).endswith("(largest finite 3.4028235e+38)"), str(e.value)


def test_init_and_the_step_round_a_float16_learning_rate_the_same_way():
    """Through float32, as jax rounds a weakly typed float (found by the review): 65519.999 rounds to
    65520.0 in float32, which overflows float16; rounded straight from float64 it is 65504. It passed
    init and was refused at the first step; now init refuses it."""
    with np.errstate(over="ignore"):
        assert np.float16(np.float32(65519.999)) == np.inf and np.float16(65519.999) == 65504
    with pytest.raises(AdagradError) as e:
        adagrad(65519.999).init({"w": np.ones(2, np.float16)})
    one_line(e, "learning_rate", "65519.999", "float16")
    adagrad(65519.99).init({"w": np.ones(2, np.float16)})  # 65519.99 -> float32 65519.98828125: fits
