"""Every dtype and every odd object gets one AdagradError line naming the argument, and nothing is written.

Each NumPy type code (``np.typecodes["All"]``), big-endian float32/float64, ml_dtypes'
bfloat16, lists, Python scalars and None, in every array argument of the two in-place
kernels. Before, float16 raised Numba's bare ``NotImplementedError: float16`` and a
big-endian array ``refused its arguments (code -1)``.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from adagrad_ref import AdagradError, adagrad_step_inplace, sparse_step_inplace
from adagrad_ref.fast import kernels

_SIZED = {"S": "S8", "U": "U2", "V": "V8", "M": "M8[s]", "m": "m8[s]"}
ALL_DTYPES = [np.dtype(_SIZED.get(c, c)) for c in np.typecodes["All"]]
ALL_DTYPES += [np.dtype(">f4"), np.dtype(">f8"), np.dtype(ml_dtypes.bfloat16)]
#: What the kernels take: native float32 and float64 (and, for ``rows``, native integers).
ACCEPTED = {np.dtype(np.float32), np.dtype(np.float64)}
BAD_DTYPES = [d for d in ALL_DTYPES if d not in ACCEPTED]
NOT_ARRAYS = [[0.0, 0.0, 0.0], 0.5, 1, True, None, "params"]


def _ids(values) -> list[str]:
    return [v.str if isinstance(v, np.dtype) and v.byteorder == ">" else str(v) for v in values]


def _array(shape, dtype) -> np.ndarray:
    return np.ones(shape, np.float32).astype(dtype) if dtype.kind != "V" else np.zeros(shape, dtype)


def dense_args() -> dict:
    rng = np.random.default_rng(7)
    return {
        "params": rng.standard_normal(4).astype(np.float32),
        "grads": rng.standard_normal(4).astype(np.float32),
        "sum_of_squares": np.full(4, 0.1, np.float32),
    }


def sparse_args() -> dict:
    rng = np.random.default_rng(8)
    return {
        "table": rng.standard_normal((4, 3)).astype(np.float32),
        "rows": np.array([2, 0]),
        "row_grads": rng.standard_normal((2, 3)).astype(np.float32),
        "sum_of_squares": np.full((4, 3), 0.1, np.float32),
    }


def snapshot(args: dict) -> dict:
    return {k: (v.copy(), v.tobytes()) for k, v in args.items() if isinstance(v, np.ndarray)}


def assert_refused(call, args: dict, name: str) -> None:
    before = snapshot(args)
    with pytest.raises(AdagradError) as info:
        call(*args.values(), 0.1, 1e-7)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{name} "), message
    for key, (copy, raw) in before.items():
        assert args[key].tobytes() == raw and args[key].dtype == copy.dtype, f"{key} was written"


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=_ids(BAD_DTYPES))
def test_inplace_step_refuses_every_other_dtype(dtype):
    for name in ("params", "grads", "sum_of_squares"):
        args = dense_args()
        args[name] = _array(4, dtype)
        assert_refused(adagrad_step_inplace, args, name)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=_ids(BAD_DTYPES))
def test_sparse_step_refuses_every_other_dtype(dtype):
    for name, shape in (("table", (4, 3)), ("row_grads", (2, 3)), ("sum_of_squares", (4, 3))):
        args = sparse_args()
        args[name] = _array(shape, dtype)
        assert_refused(sparse_step_inplace, args, name)
    if not (dtype.kind in "iu" and dtype.isnative):
        args = sparse_args()
        args["rows"] = _array(2, dtype)
        assert_refused(sparse_step_inplace, args, "rows")


@pytest.mark.parametrize("obj", NOT_ARRAYS, ids=_ids(NOT_ARRAYS))
def test_both_steps_refuse_what_is_not_an_array(obj):
    for name in ("params", "grads", "sum_of_squares"):
        args = dense_args()
        args[name] = obj
        assert_refused(adagrad_step_inplace, args, name)
    for name in ("table", "rows", "row_grads", "sum_of_squares"):
        args = sparse_args()
        args[name] = obj
        assert_refused(sparse_step_inplace, args, name)


def test_big_endian_message_says_how_to_convert():
    args = dense_args()
    args["grads"] = args["grads"].astype(">f4")
    with pytest.raises(AdagradError, match=r"^grads has dtype >f4 \(big-endian\); .*newbyteorder\('='\)\)$"):
        adagrad_step_inplace(*args.values(), 0.1)


@pytest.mark.parametrize("learning_rate", [np.float16(0.5), np.array(0.5), np.float32(0.5), 1])
def test_other_real_hyperparameter_types_give_the_float_bits(learning_rate):
    """A real η of a type Numba does not take (float16, a 0-d array) is stepped as ``float(η)``."""
    expected, got = dense_args(), dense_args()
    adagrad_step_inplace(*expected.values(), float(learning_rate), 1e-7)
    adagrad_step_inplace(*got.values(), learning_rate, np.longdouble(1e-7))  # float(): exactly 1e-7
    for k in expected:
        assert got[k].tobytes() == expected[k].tobytes(), k


@pytest.mark.parametrize("dtype", [">f4", ">f8", "<f4"])
@pytest.mark.parametrize("layout", ["C", "strided"])
def test_update_leaf_converts_byte_order_and_layout(dtype, layout):
    """The Numba backend's leaf step takes any real float32/float64 layout, with the reference's bits."""
    rng = np.random.default_rng(9)
    native = np.dtype(dtype).newbyteorder("=")
    g = rng.standard_normal(12).astype(native)
    G = np.full(12, 0.1, native)
    u_ref, G_ref = kernels.update_leaf(g, G, 0.1, 1e-7)
    g_odd, G_odd = g.astype(dtype), G.astype(dtype)
    if layout == "strided":
        g_odd = np.repeat(g_odd, 2)[::2]
        G_odd = np.repeat(G_odd, 2)[::2]
        assert not g_odd.flags.c_contiguous
    u, G_new = kernels.update_leaf(g_odd, G_odd, 0.1, 1e-7)
    assert u.dtype == native and u.tobytes() == u_ref.tobytes() and G_new.tobytes() == G_ref.tobytes()


@pytest.mark.parametrize(
    "g, G, match",
    [
        (np.ones(3, np.complex64), np.ones(3, np.complex64), r"^update_leaf: g has dtype complex64; "),
        (np.ones(3, np.float16), np.ones(3, np.float16), r"^update_leaf: g has dtype float16; "),
        (
            np.ones(3, np.float32),
            np.ones(3, np.float64),
            r"^update_leaf: g is float32 \(3,\), sum_of_squares",
        ),
        ([1.0, 2.0], np.ones(2), r"^update_leaf: g must be a numpy.ndarray, got list$"),
    ],
)
def test_update_leaf_refuses_what_the_caller_must_convert(g, G, match):
    with pytest.raises(AdagradError, match=match):
        kernels.update_leaf(g, G, 0.1, 1e-7)


def test_kernels_import_neither_the_reference_nor_the_backends_nor_flat():
    """Contract 4 keeps the import graph acyclic: reference -> backends -(lazy)-> fast.kernels."""
    import ast
    import pathlib

    forbidden = {"adagrad_ref.reference", "adagrad_ref.backends", "adagrad_ref.fast.flat"}
    for module in ("kernels.py", "refusals.py", "__init__.py"):
        tree = ast.parse((pathlib.Path(kernels.__file__).parent / module).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & forbidden, (module, imported & forbidden)
        assert "adagrad_ref.errors" in imported or module == "__init__.py"


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself
def test_a_matrix_is_stepped_as_its_plain_view():
    """Whatever Numba compiled before (its dispatch may or may not take a subclass): the plain view."""
    shape = np.asmatrix(np.zeros(4)).shape  # (1, 4)
    for name in ("params", "grads", "sum_of_squares"):
        plain = {k: v.reshape(shape) for k, v in dense_args().items()}
        odd = {k: v.reshape(shape) for k, v in dense_args().items()}
        odd[name] = np.asmatrix(odd[name])
        adagrad_step_inplace(*plain.values(), 0.1)
        adagrad_step_inplace(*odd.values(), 0.1)
        for k in plain:
            assert np.asarray(odd[k]).tobytes() == plain[k].tobytes(), (name, k)


def test_a_masked_array_is_refused_as_adagrad_refuses_it():
    """The in-place steps would ignore a mask, so they refuse it in one line (as adagrad(...) does)."""
    for name in ("params", "grads", "sum_of_squares"):
        args = dense_args()
        before = {k: v.copy() for k, v in args.items()}
        args[name] = np.ma.masked_array(args[name], mask=args[name] > 0)
        with pytest.raises(
            AdagradError,
            match=rf"^{name} is a masked array; the in-place step would ignore its mask: pass {name}.data$",
        ):
            adagrad_step_inplace(*args.values(), 0.1)
        assert all(np.asarray(args[k]).tobytes() == before[k].tobytes() for k in before)  # nothing written
    args = sparse_args()
    args["rows"] = np.ma.masked_array(args["rows"], mask=[1, 0])
    with pytest.raises(
        AdagradError, match=r"^rows is a masked array; the in-place step would ignore its mask"
    ):
        sparse_step_inplace(*args.values(), 0.1)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: {**a, "grads": a["grads"][:-1]}, "grads has shape"),
        (lambda a: {**a, "grads": a["params"]}, "share memory"),
        (lambda a: {**a, "learning_rate": float("nan")}, "learning_rate"),
    ],
)
def test_a_refused_step_calls_the_compiled_entry_once(monkeypatch, change, match):
    """A run-time refusal (shapes, overlap, η) is explained from its named code, not by a second call;
    only a call refused for its types (an int η) is converted and called again, and then steps."""
    from adagrad_ref.fast import refusals

    calls = []
    entry = kernels._step_entry
    monkeypatch.setattr(kernels, "_step_entry", lambda *a: calls.append(1) or entry(*a))
    args = {
        "params": np.ones(4),
        "grads": np.ones(4),
        "sum_of_squares": np.ones(4),
        "learning_rate": 0.1,
    }
    with pytest.raises(AdagradError, match=match):
        kernels.adagrad_step_inplace(**change(args))
    assert calls == [1]
    calls.clear()
    kernels.adagrad_step_inplace(**{**args, "learning_rate": 1})  # an int: FOREIGN_TYPES, converted
    assert calls == [1, 1] and refusals.FOREIGN_TYPES == 1
