"""Bad input gets one line naming the offending argument or leaf, before anything changes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad, adagrad_step_inplace, apply_updates, conventions


def raises_one_line(match: str):
    class _Ctx:
        def __enter__(self):
            self.ctx = pytest.raises(AdagradError, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            assert "\n" not in str(self.info.value)
            return handled

    return _Ctx()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": -1e-7}, r"^eps must be finite and >= 0, got -1e-07$"),
        ({"eps": float("nan")}, r"^eps must be finite and >= 0, got nan$"),
        ({"eps": float("inf")}, r"^eps must be finite"),
        ({"initial_accumulator_value": -0.1}, r"^initial_accumulator_value must be finite and >= 0"),
        ({"initial_accumulator_value": float("nan")}, r"^initial_accumulator_value must be finite"),
        ({"learning_rate": float("nan")}, r"^learning_rate must be finite, got nan$"),
        ({"learning_rate": "0.1"}, r"^learning_rate must be a real number, got str"),
        ({"eps": np.ones(2)}, r"^eps must be a real scalar"),
        ({"backend": "cuda"}, r"^backend must be one of \('numpy', 'numba'\), got 'cuda'$"),
    ],
)
def test_bad_hyperparameters(kwargs, match):
    args = {"learning_rate": 0.1, **kwargs}
    with raises_one_line(match):
        adagrad(**args)


@pytest.mark.parametrize(
    "leaf, match",
    [
        (np.arange(3), r"^params\['layer1'\]\['w'\] has dtype int64; expected float32 or float64"),
        (np.array([True]), r"^params\['layer1'\]\['w'\] has dtype bool"),
        (np.array([object()]), r"^params\['layer1'\]\['w'\] has dtype object"),
        (1.5, r"^params\['layer1'\]\['w'\] is a Python float; pass np.asarray"),
        ({1, 2}, r"^params\['layer1'\]\['w'\] is a set; expected an array"),
    ],
)
def test_bad_params(leaf, match):
    with raises_one_line(match):
        adagrad(0.1).init({"layer1": {"w": leaf}})


def test_float16_params_taken_by_adagrad_refused_by_pytorch_convention():
    """float16 is computed as optax computes it (tests/numerics/test_low_precision_optax.py); the PyTorch
    convention here takes float32/float64 and says so in one line."""
    state = adagrad(0.1).init({"layer1": {"w": np.zeros(2, np.float16)}})
    assert state.sum_of_squares["layer1"]["w"].dtype == np.float16
    with raises_one_line(r"^params\['layer1'\]\['w'\] is float16; the pytorch convention here takes float32"):
        conventions.pytorch(0.1).init({"layer1": {"w": np.zeros(2, np.float16)}})


@pytest.fixture
def setup():
    opt = adagrad(0.1)
    params = {"a": np.zeros(3, np.float32), "b": [np.zeros((2, 2), np.float32)]}
    return opt, opt.init(params)


@pytest.mark.parametrize(
    "grads, match",
    [
        (
            {"a": np.zeros(3, np.float32)},
            r"^grads does not match .*: grads: expected a dict with keys \['a', 'b'\]",
        ),
        (
            {"a": np.zeros(3, np.float32), "b": np.zeros((2, 2), np.float32)},
            r"grads\['b'\]: expected a list of length 1, got an array",
        ),
        (
            {"a": np.zeros(4, np.float32), "b": [np.zeros((2, 2), np.float32)]},
            r"^grads\['a'\] has shape \(4,\); expected \(3,\)",
        ),
        (
            {"a": np.zeros(3, np.float64), "b": [np.zeros((2, 2), np.float32)]},
            r"^grads\['a'\] has dtype float64; expected float32",
        ),
        ({"a": np.zeros(3, np.float32), "b": [None]}, r"grads\['b'\]\[0\]: expected an array, got None"),
    ],
)
def test_grads_that_do_not_match_the_state(setup, grads, match):
    opt, state = setup
    before = [x.copy() for x in (state.sum_of_squares["a"], state.sum_of_squares["b"][0])]
    with raises_one_line(match):
        opt.update(grads, state)
    assert np.array_equal(state.sum_of_squares["a"], before[0])


def test_swapped_grads_and_state(setup):
    opt, state = setup
    with raises_one_line(r"grads is an AdagradState; were grads and state swapped\?"):
        opt.update(state, {"a": np.zeros(3, np.float32)})


def test_state_that_is_not_a_state(setup):
    opt, _ = setup
    with raises_one_line(r"state must be the AdagradState returned by init/update, got dict"):
        opt.update({"a": np.zeros(3, np.float32)}, {"a": np.zeros(3, np.float32)})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "x"])
def test_schedule_returning_a_bad_value_raises_at_that_step(bad):
    opt = adagrad(lambda c: 0.1 if c < 2 else bad)
    state = opt.init(np.zeros(2))
    for _ in range(2):
        _, state = opt.update(np.ones(2), state)
    with raises_one_line(r"^schedule: learning_rate\(2\)"):
        opt.update(np.ones(2), state)
    assert int(state.count) == 2


def test_a_value_beyond_float64_is_named_not_read_as_inf():
    """np.longdouble('1e4000') is finite (x86's 80-bit long double): the message gives it, not the inf
    that float() makes of it. Where long double is float64 it is inf already, and refused as such."""
    with np.errstate(over="ignore"):
        huge = np.longdouble("1e4000")
    if not np.isfinite(huge):  # long double is float64 on this platform
        with raises_one_line(r"^learning_rate must be finite, got inf$"):
            adagrad(huge)
        return
    beyond = r"np\.longdouble\('1e\+4000'\) overflows float64 \(largest finite 1\.7976931348623157e\+308\)$"
    with raises_one_line("^learning_rate " + beyond):
        adagrad(huge)
    with raises_one_line("^eps " + beyond):
        adagrad(0.1, eps=huge)
    with raises_one_line("^eps " + beyond):
        adagrad(0.1, eps=np.asarray(huge))  # a 0-d array: the message names its value, not the array
    torch_like = conventions.pytorch(lr=huge)  # torch reads it as inf, as it reads float("inf"): accepted
    assert torch_like.hyperparameters["lr"] == float("inf")
    for backend in ("numpy", "numba"):
        opt = adagrad(lambda c: 0.1 if c < 1 else huge, backend=backend)
        _, state = opt.update(np.ones(2), opt.init(np.zeros(2)))
        with raises_one_line(r"^schedule: learning_rate\(1\) " + beyond):
            opt.update(np.ones(2), state)


def test_apply_updates_mismatch():
    with raises_one_line(r"^updates\['w'\] has shape \(2,\); expected \(3,\) as in params$"):
        apply_updates({"w": np.zeros(3)}, {"w": np.zeros(2)})


def _inplace_args(n=4, dtype=np.float32):
    return np.zeros(n, dtype), np.ones(n, dtype), np.full(n, 0.1, dtype)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (
            lambda p, g, G: (p, g.astype(np.float64), G),
            r"^grads has dtype float64; expected float32 as params$",
        ),
        (lambda p, g, G: (p, g[:2], G), r"^grads has shape \(2,\); expected \(4,\) as params$"),
        (
            lambda p, g, G: (p, g, np.full((4, 2), 0.1, np.float32)[:, 0]),
            r"^sum_of_squares is not C-contiguous",
        ),
        (lambda p, g, G: (p, p, G), r"^params and grads share memory"),
        (lambda p, g, G: (p, g, g), r"^grads and sum_of_squares share memory"),
        (
            lambda p, g, G: (p.astype(np.complex64), g, G),
            r"^params has dtype complex64; the Numba kernel takes",
        ),
        (lambda p, g, G: (list(p), g, G), r"^params must be a numpy.ndarray, got list$"),
    ],
)
def test_inplace_kernel_refuses(mutate, match):
    p, g, G = mutate(*_inplace_args())
    with raises_one_line(match):
        adagrad_step_inplace(p, g, G, 0.1, 1e-7)


def test_inplace_kernel_refuses_read_only_and_leaves_nothing_changed():
    p, g, G = _inplace_args()
    p.setflags(write=False)
    with raises_one_line(r"^params is read-only; the in-place step writes to it$"):
        adagrad_step_inplace(p, g, G, 0.1, 1e-7)
    assert np.all(G == np.float32(0.1)) and np.all(p == 0)


def test_cli_bad_arguments_exit_2_without_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "adagrad_ref", "example", "--backend", "gpu"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr and "invalid choice: 'gpu'" in out.stderr


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_names_leaf_and_index_and_leaves_state(backend, bad):
    opt = adagrad(0.1, backend=backend, check_finite=True)
    params = {"layer1": {"w": np.zeros((2, 3), np.float32)}, "b": np.zeros(2, np.float32)}
    state = opt.init(params)
    g = {"layer1": {"w": np.ones((2, 3), np.float32)}, "b": np.ones(2, np.float32)}
    g["layer1"]["w"][1, 2] = bad
    shown = {"nan": "nan", "inf": "inf", "-inf": "-inf"}[str(bad)]  # as documented: `nan`
    with raises_one_line(
        rf"^grads\['layer1'\]\['w'\] has a non-finite value {shown} at index \(1, 2\) \(check_finite=True\)$"
    ):
        opt.update(g, state)
    assert int(state.count) == 0 and np.all(state.sum_of_squares["layer1"]["w"] == np.float32(0.1))
    # Off by default: the same gradient propagates, as in optax.
    u, _ = adagrad(0.1, backend=backend).update(g, state)
    assert np.isnan(u["layer1"]["w"][1, 2])


@pytest.mark.parametrize(
    "lr, eps, match",
    [
        (float("nan"), 1e-7, r"^learning_rate must be finite, got nan$"),
        (0.1, -1.0, r"^eps must be finite and >= 0, got -1.0$"),
        (0.1, float("inf"), r"^eps must be finite and >= 0, got inf$"),
        ("0.1", 1e-7, r"^learning_rate must be a real number, got str"),
        (lambda c: 0.1, 1e-7, r"^learning_rate must be this step's number"),
        (True, 1e-7, r"^learning_rate must be a real number, got bool"),
    ],
)
def test_inplace_kernel_refuses_bad_hyperparameters(lr, eps, match):
    p, g, G = _inplace_args()
    with raises_one_line(match):
        adagrad_step_inplace(p, g, G, lr, eps)
    assert np.all(p == 0) and np.all(G == np.float32(0.1))


# A broadcast view of 2**58 float32 elements is one element of memory; every result made from it is
# 1 EiB, more than any address space, so NumPy refuses to allocate it whatever the host's overcommit
# setting (found by a new user's probe: the MemoryError came out of init, update, apply_updates, the
# conventions, FlatAdagrad and save_state as it was).
HUGE = (2**29, 2**29)


def out_of_memory_calls():
    from adagrad_ref import FlatAdagrad, save_state
    from adagrad_ref.numerics.ulp import max_ulp
    from adagrad_ref.reference import AdagradState

    big = {"w": np.broadcast_to(np.float32(1), HUGE)}
    state = AdagradState(sum_of_squares=big, count=np.int32(0))
    calls = {}  # name -> (the call as users write it, the call)
    for backend in ("numpy", "numba"):
        opt = adagrad(0.1, backend=backend)
        calls[f"{backend}: init"] = ("init", lambda opt=opt: opt.init(big))
        calls[f"{backend}: update"] = ("update", lambda opt=opt: opt.update(big, state))
    calls["apply_updates"] = ("apply_updates", lambda: apply_updates(big, big))
    calls["conventions.pytorch: init"] = ("init", lambda: conventions.pytorch(0.1).init(big))
    calls["conventions.keras: update"] = ("update", lambda: conventions.keras(0.1).update(big, state, big))
    calls["FlatAdagrad"] = ("FlatAdagrad", lambda: FlatAdagrad(big, 0.1))
    calls["save_state"] = ("save_state", lambda: save_state(OUT_OF_MEMORY_FILE, state))
    # ulp_distance -> ordered_int, both wrapped: the message names the call made, not the inner one
    calls["max_ulp"] = ("max_ulp", lambda: max_ulp(big["w"], big["w"]))
    return calls


OUT_OF_MEMORY_FILE = "out_of_memory.npz"


@pytest.mark.parametrize("name", list(out_of_memory_calls()))
def test_too_little_memory_is_one_line_of_adagrad_error_that_is_a_memory_error(name, tmp_path, monkeypatch):
    from adagrad_ref import AdagradMemoryError

    monkeypatch.chdir(tmp_path)
    where, call = out_of_memory_calls()[name]
    with raises_one_line(rf"^{where}: out of memory: Unable to allocate \d+\.\d\d EiB") as e:
        call()
    assert isinstance(e.value, MemoryError) and isinstance(e.value, AdagradMemoryError)
    assert list(tmp_path.iterdir()) == [], "a file was left behind"


def test_an_array_too_big_for_numpy_to_describe_is_out_of_memory_too():
    """2**61 elements widened to float32 (a float16 or bfloat16 leaf's temporaries) is more than NumPy
    can describe: it raises ValueError("array is too big ..."), not MemoryError (found by a new
    user's probe: it escaped from update on the NumPy backend and from apply_updates)."""
    import ml_dtypes

    from adagrad_ref.reference import AdagradState

    for dt in (np.float16, ml_dtypes.bfloat16):
        huge = {"w": np.broadcast_to(np.array(1, dt), (2**31, 2**30))}
        state = AdagradState(sum_of_squares=huge, count=np.int32(0))
        with raises_one_line(r"^update: out of memory: array is too big; ") as e:
            adagrad(0.1).update(huge, state)
        assert isinstance(e.value, MemoryError)
        with raises_one_line(r"^apply_updates: out of memory: array is too big; ") as e:
            apply_updates(huge, huge)
        assert isinstance(e.value, MemoryError)


@pytest.mark.parametrize("entry", ["_step_entry", "_sparse_entry"])
def test_a_memory_error_inside_the_numba_kernels_is_said_as_such(entry, monkeypatch):
    """The in-place steps called their compiled entry under ``except Exception`` (for arguments Numba
    cannot type), so a MemoryError from inside it (the sparse step's sort of the rows, or Numba loading
    its cache) came out as "the Numba kernel refused the arguments" (found by a new user's probe)."""
    from adagrad_ref.fast import kernels

    def no_memory(*args):
        raise MemoryError(
            "Unable to allocate 763. MiB for an array with shape (100000000,) and data type int64"
        )

    monkeypatch.setattr(kernels, entry, no_memory)
    t, G = np.ones((4, 2), np.float32), np.ones((4, 2), np.float32)
    with raises_one_line(r"^(adagrad|sparse)_step_inplace: out of memory: Unable to allocate 763\. MiB") as e:
        if entry == "_step_entry":
            adagrad_step_inplace(t, np.ones((4, 2), np.float32), G, 0.1)
        else:
            from adagrad_ref import sparse_step_inplace

            sparse_step_inplace(t, np.array([0]), np.ones((1, 2), np.float32), G, 0.1)
    assert isinstance(e.value, MemoryError) and (t == 1).all() and (G == 1).all()


def test_the_command_line_says_out_of_memory_in_one_line_with_status_2(monkeypatch, capsys):
    """A results file under the verifier's size cap that still does not fit in memory (``verify`` under a
    ulimit): a traceback and status 1 before (found by a new user's probe)."""
    from adagrad_ref import cli, errors, golden

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(golden, "verify", no_memory)
    assert cli.main(["verify", "results.json"]) == 2
    err = capsys.readouterr().err
    assert err == "adagrad-ref: error: verify: out of memory: MemoryError\n", err

    def inner_refusal(*args, **kwargs):  # one of the package's own, from a call inside verify
        raise errors.AdagradMemoryError("ulp_distance", "Unable to allocate 1.00 EiB")

    monkeypatch.setattr(golden, "verify", inner_refusal)
    assert cli.main(["verify", "results.json"]) == 2
    err = capsys.readouterr().err
    assert err == "adagrad-ref: error: verify: out of memory: Unable to allocate 1.00 EiB\n", err
