"""The golden cases, as tables: which groups each convention's file holds, and what each case is.

A *group* shares a dtype and hyperparameters; a *case* is one of three kinds: ``single_step`` (a
state in, one step out), ``open_loop`` (the gradients given) or ``closed_loop`` (the gradient
computed from the params by a stated formula). Random values come from one seeded generator per
convention, drawn in the order the tables list them, so every file is the same bit for bit on every
run. Each builder below draws its random values in the order it lists them: keep that order when
editing, or every later case of the file changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "Group", "build_groups", "hyperparameters"]

REAL_DTYPES = ("float32", "float64")
ALL = ("optax", "pytorch", "keras", "tensorflow_v2")
#: Other libraries' conventions (conventions.OTHER_FACTORIES): their own files, seeds and dtypes.
LIBRARY_CONVENTIONS = ("tfjs", "onnx")
SEEDS = {"optax": 1, "pytorch": 2, "keras": 3, "tensorflow_v2": 4, "tfjs": 5, "onnx": 6}
#: The dtypes of a convention's per-dtype groups, where not both: TensorFlow.js computes in float32 only;
#: ONNX's float64 groups are fewer (EXTRA), to keep the shipped data within its size budget.
DTYPES_OF = {"tfjs": ("float32",), "onnx": ("float32",)}


@dataclass
class Case:
    kind: str  # single_step | open_loop | closed_loop
    comment: str
    flags: list[str]
    params: Any
    grads: list[Any] | None = None  # per step (open loop, single step)
    sum_of_squares: Any = None  # single step: the state going in
    count: int = 0
    quadratic: tuple[Any, Any] | None = None  # closed loop: (a, w_star)
    steps: int = 1


@dataclass
class Group:
    dtype: str
    hyper: dict  # the factory's keyword arguments
    cases: list[Case]
    schedule: dict | None = None  # {"type": "exponential_decay", ...}
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.kind = self.cases[0].kind


# ---------------------------------------------------------------- the hyperparameters, per convention

#: Per convention: its keyword for the learning rate, for epsilon, and its defaults (G0, eps).
KEYS = {
    "optax": ("learning_rate", "eps", 0.1, 1e-7),
    "pytorch": ("lr", "eps", 0.0, 1e-10),
    "keras": ("learning_rate", "epsilon", 0.1, 1e-7),
    "tensorflow_v2": ("learning_rate", "epsilon", 0.1, 1e-7),
    "tfjs": ("learning_rate", "epsilon", 0.1, 1e-7),
    "onnx": ("learning_rate", "epsilon", 0.0, 0.0),
}


def hyperparameters(convention: str, lr: Any, iav: float | None = None, eps: float | None = None, **extra):
    """The factory's keyword arguments, under the framework's own names (in the files' order)."""
    lr_key, eps_key, iav_default, eps_default = KEYS[convention]
    h = {lr_key: lr, "initial_accumulator_value": iav_default if iav is None else iav, **extra}
    h[eps_key] = eps_default if eps is None else eps
    return h


# ---------------------------------------------------------------- random values


def magnitudes(rng: np.random.Generator, shape: tuple, dtype: str, lo: float = -6, hi: float = 6):
    """Normal values scaled by 10**uniform(lo, hi): signs and magnitudes over hi - lo decades."""
    n = int(np.prod(shape))
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(lo, hi, n)
    return x.astype(dtype).reshape(shape)


def complex_magnitudes(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    real = {"complex64": "float32", "complex128": "float64"}[dtype]
    r = magnitudes(rng, shape, real, -2.0, 2.0)
    i = magnitudes(rng, shape, real, -2.0, 2.0)
    return (r + 1j * i).astype(dtype)


def edge_gradients(dtype: str) -> np.ndarray:
    fi = np.finfo(dtype)
    values = [
        0.0,
        -0.0,
        fi.smallest_subnormal,
        -fi.smallest_normal,
        np.sqrt(fi.max) * 2,
        np.nan,
        np.inf,
        -np.inf,
    ]
    return np.array(values, dtype)


SCHEDULE = {"type": "exponential_decay", "init_value": 0.5, "decay_rate": 0.5, "transition_steps": 10}


# ---------------------------------------------------------------- the groups of every real dtype
# Each builder: (convention, dtype, rng) -> Group. `H` is `hyperparameters` bound to the convention.


def single_steps(conv: str, dtype: str, rng) -> Group:
    cases = []
    for k in range(4):
        cases.append(
            Case(
                "single_step", f"random state and gradient #{k}", ["SingleStep", "Random"],
                params=magnitudes(rng, (5,), dtype),
                grads=[magnitudes(rng, (5,), dtype)],
                sum_of_squares=np.abs(magnitudes(rng, (5,), dtype, -3, 6)),
                count=int(rng.integers(0, 1000)),
            )
        )  # fmt: skip
    edge = edge_gradients(dtype)
    cases.append(
        Case(
            "single_step", "edge gradients: zeros, subnormal, g*g overflowing, NaN, +-Inf, from G = 0.1",
            ["SingleStep", "ZeroGradient", "Subnormal", "Overflow", "NaN", "Inf"],
            params=magnitudes(rng, edge.shape, dtype, -2, 2), grads=[edge],
            sum_of_squares=np.full(edge.shape, 0.1, dtype),
        )
    )  # fmt: skip
    tiny = np.finfo(dtype).smallest_subnormal
    cases.append(
        Case(
            "single_step", "zero accumulator: zero and tiny gradients from G = 0",
            ["SingleStep", "ZeroAccumulator", "ZeroGradient", "Subnormal"],
            params=np.ones(4, dtype), grads=[np.array([0.0, -0.0, tiny, 3.0], dtype)],
            sum_of_squares=np.zeros(4, dtype),
        )
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.3), cases)


def pytree_runs(conv: str, dtype: str, rng) -> Group:
    def leaves(w_b):
        return {"w": magnitudes(rng, (3, 2), dtype), "b": magnitudes(rng, (2,), dtype), **w_b}

    params = leaves({})
    params.update(s=np.array(0.5, dtype), skip=None)
    grads = [{**leaves({}), "s": magnitudes(rng, (), dtype), "skip": None} for _ in range(20)]
    empty_grads = [[np.zeros((0, 3), dtype), magnitudes(rng, (2,), dtype, -1, 1)] for _ in range(3)]
    return Group(
        dtype,
        hyperparameters(conv, 0.1),
        [
            Case(
                "open_loop",
                "20 steps of random gradients over six decades, a pytree with a None leaf and a scalar",
                ["OpenLoop", "Random", "Pytree", "Scalar"], params=params, grads=grads, steps=20,
            ),
            Case(
                "open_loop", "an empty param beside a normal one, 3 steps", ["OpenLoop", "Empty", "Pytree"],
                params=[np.zeros((0, 3), dtype), np.ones(2, dtype)], grads=empty_grads, steps=3,
            ),
        ],
    )  # fmt: skip


def zero_accumulator_run(conv: str, dtype: str, rng) -> Group:
    grads = [np.zeros(3, dtype), np.array([0.0, 2.0, 0.0], dtype), magnitudes(rng, (3,), dtype, -1, 1)]
    case = Case(
        "open_loop", "G0 = 0 with zero gradients in the first steps (the guard, then normal steps)",
        ["OpenLoop", "ZeroAccumulator", "ZeroGradient"], params=np.ones(3, dtype), grads=grads, steps=3,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.5, iav=0.0), [case])


def long_run(conv: str, dtype: str, rng) -> Group:
    grads = [magnitudes(rng, (4,), dtype, -1, 1) for _ in range(1000)]
    case = Case(
        "open_loop", "1,000 steps of O(1) gradients: the step shrinks like 1/sqrt(t)",
        ["OpenLoop", "LongRun"],
        params=np.zeros(4, dtype), grads=grads, steps=1000,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.1), [case])


def quadratic_run(conv: str, dtype: str, rng) -> Group:
    a, w_star = np.array([0.1, 1.0, 4.0], dtype), np.array([1.0, -2.0, 0.5], dtype)
    case = Case(
        "closed_loop", "diagonal quadratic f = sum(a*(w - w*)**2)/2, 300 steps from w = [-5, 3, 2]",
        ["ClosedLoop"], params=np.array([-5.0, 3.0, 2.0], dtype), quadratic=(a, w_star), steps=300,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.4), [case])


def schedule_run(conv: str, dtype: str, rng) -> Group:
    params = magnitudes(rng, (4,), dtype, -1, 1)
    case = Case(
        "open_loop", "exponential decay 0.5 * 0.5**(t/10) over 30 steps", ["OpenLoop", "Schedule"],
        params=params, grads=[magnitudes(rng, (4,), dtype, -1, 1) for _ in range(30)], steps=30,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.5), [case], schedule=SCHEDULE)


# ---------------------------------------------------------------- the groups of one convention


def documented_example(conv: str, dtype: str, rng) -> Group:
    case = Case(
        "closed_loop", "the documentation's example: f(x) = sum(x**2) from [1, 2, 3], 5 steps",
        ["ClosedLoop", "DocumentedExample"], params=np.array([1.0, 2.0, 3.0], dtype),
        quadratic=(np.full(3, 2.0, dtype), np.zeros(3, dtype)), steps=5,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 1.0), [case])


def complex_run(conv: str, dtype: str, rng) -> Group:
    params = complex_magnitudes(rng, (4,), dtype)
    case = Case(
        "open_loop", "complex params, 10 steps", ["OpenLoop", "Complex"],
        params=params, grads=[complex_magnitudes(rng, (4,), dtype) for _ in range(10)], steps=10,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.2), [case])


def complex_edges(conv: str, dtype: str, rng) -> Group:
    """Zeros, signed zeros and infinities in either component: they separate the readings of complex Adagrad.

    Read as optax computes it (only G's real part accumulates; s = 1/sqrt(G + eps) - 0i where G > 0,
    0 + 0i where guarded; full complex products s*g and (-lr + 0i)*u): the signs of the zero updates
    follow from those products, a one-sided Inf gives G = Inf, s = 0 - 0i and 0*Inf = NaN in both
    components, and from G = 0 the guard gives (0 + 0i)*g. Reading s as real, applied to each
    component, gives NaN in one component only and fails.
    """
    inf, nan = np.inf, np.nan
    g1 = np.array([0j, complex(-0.0, 0.0), complex(0.0, -0.0), complex(-0.0, -0.0),
                   complex(3.0, -0.0), complex(-0.0, 2.0), complex(inf, 1.0), complex(1.0, -inf),
                   complex(inf, inf), complex(nan, 0.0)], dtype)  # fmt: skip
    g2 = np.array([complex(1.0, 2.0), complex(-0.0, 0.5), complex(0.25, -0.0), complex(-3.0, -4.0),
                   complex(0.0, -0.0), complex(0.0, 0.0), complex(1.0, 1.0), complex(-1.0, 1.0),
                   complex(2.0, 0.0), complex(0.0, 1.0)], dtype)  # fmt: skip
    params = np.array([complex(1.0, -1.0)] * 10, dtype)
    case = Case(
        "open_loop", "complex zeros, signed zeros and infinities from G = 0, 2 steps",
        ["OpenLoop", "Complex", "ZeroAccumulator", "ZeroGradient", "Inf", "NaN"],
        params=params, grads=[g1, g2], steps=2,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.5, iav=0.0), [case])


def pytorch_decay_run(conv: str, dtype: str, rng) -> Group:
    params = magnitudes(rng, (5,), dtype, -1, 1)
    case = Case(
        "open_loop", "lr_decay and weight_decay, 20 steps", ["OpenLoop", "LrDecay", "WeightDecay"],
        params=params, grads=[magnitudes(rng, (5,), dtype, -1, 1) for _ in range(20)], steps=20,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.1, lr_decay=0.01, weight_decay=0.05, maximize=False), [case])


def pytorch_maximize_run(conv: str, dtype: str, rng) -> Group:
    params = magnitudes(rng, (3,), dtype, -1, 1)
    case = Case(
        "open_loop", "maximize, 5 steps", ["OpenLoop", "Maximize"],
        params=params, grads=[magnitudes(rng, (3,), dtype, -1, 1) for _ in range(5)], steps=5,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.1, maximize=True), [case])


def pytorch_maximize_decay_run(conv: str, dtype: str, rng) -> Group:
    """maximize with weight_decay: torch negates g first, then adds weight_decay * w (decaying
    first, g = -(g + weight_decay * w), passed every case before this one)."""
    params = magnitudes(rng, (4,), dtype, -1, 1)
    case = Case(
        "open_loop", "maximize and weight_decay, 5 steps", ["OpenLoop", "Maximize", "WeightDecay"],
        params=params, grads=[magnitudes(rng, (4,), dtype, -1, 1) for _ in range(5)], steps=5,
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.1, weight_decay=0.5, maximize=True), [case])


def pytorch_every_option_run(conv: str, dtype: str, rng) -> Group:
    """Every option at once: lr_decay with maximize, weight_decay and a nonzero G0."""
    params = magnitudes(rng, (5,), dtype, -1, 1)
    case = Case(
        "open_loop", "maximize, weight_decay, lr_decay and G0 = 0.1, 20 steps",
        ["OpenLoop", "Maximize", "WeightDecay", "LrDecay"],
        params=params, grads=[magnitudes(rng, (5,), dtype, -1, 1) for _ in range(20)], steps=20,
    )  # fmt: skip
    hyper = hyperparameters(conv, 0.1, 0.1, lr_decay=0.01, weight_decay=0.05, maximize=True)
    return Group(dtype, hyper, [case])


def eps_zero_step(conv: str, dtype: str, rng) -> Group:
    case = Case(
        "single_step", "G = 0 and eps = 0: no guard, so 0/0 = NaN",
        ["SingleStep", "EpsZero", "ZeroAccumulator"],
        params=np.ones(2, dtype), grads=[np.array([0.0, 1.0], dtype)], sum_of_squares=np.zeros(2, dtype),
    )  # fmt: skip
    return Group(dtype, hyperparameters(conv, 0.3, iav=0.0, eps=0.0), [case])


def onnx_backend_test_run(conv: str, dtype: str, rng) -> Group:
    """The attributes of ONNX's own backend tests (test_adagrad: norm_coefficient 0.001, epsilon 1e-5,
    decay_factor 0.1, each a float32 attribute), from G = 2 over 20 steps: the decayed rate and the L2
    term at every step."""
    params = magnitudes(rng, (5,), dtype, -1, 1)
    case = Case(
        "open_loop", "decay_factor 0.1, norm_coefficient 0.001, epsilon 1e-5 (ONNX's test_adagrad), 20 steps",
        ["OpenLoop", "DecayFactor", "NormCoefficient"],
        params=params, grads=[magnitudes(rng, (5,), dtype, -1, 1) for _ in range(20)], steps=20,
    )  # fmt: skip
    f32 = float  # ONNX attributes are float32: the values a model holds
    hyper = hyperparameters(
        conv, 0.1, 2.0, f32(np.float32(1e-5)), decay_factor=f32(np.float32(0.1)),
        norm_coefficient=f32(np.float32(0.001)),
    )  # fmt: skip
    return Group(dtype, hyper, [case])


Builder = Callable[[str, str, np.random.Generator], Group]

#: Every real dtype, in this order, for every convention (schedules: not in PyTorch's Adagrad).
PER_DTYPE: list[tuple[tuple[str, ...], Builder]] = [
    (ALL + LIBRARY_CONVENTIONS, single_steps),
    (ALL + LIBRARY_CONVENTIONS, pytree_runs),
    (ALL + LIBRARY_CONVENTIONS, zero_accumulator_run),
    (ALL, long_run),  # the other libraries' files: no 1,000-step run (the data's size budget)
    (ALL + LIBRARY_CONVENTIONS, quadratic_run),
    (("optax", "keras", "tensorflow_v2"), schedule_run),
]

#: Then these, in this order: (conventions, dtypes, builders run for each dtype in turn).
EXTRA: list[tuple[tuple[str, ...], tuple[str, ...], tuple[Builder, ...]]] = [
    (("optax",), ("complex64", "complex128"), (complex_run,)),
    (("pytorch",), REAL_DTYPES, (pytorch_decay_run, pytorch_maximize_run)),
    (("keras", "tensorflow_v2"), REAL_DTYPES, (eps_zero_step,)),
    (("optax",), ("complex64", "complex128"), (complex_edges,)),
    # last, so that every case above draws the same random values as before
    (("pytorch",), REAL_DTYPES, (pytorch_maximize_decay_run, pytorch_every_option_run)),
    (("onnx",), ("float64",), (single_steps, zero_accumulator_run)),
    (("onnx",), REAL_DTYPES, (onnx_backend_test_run, eps_zero_step)),
]

#: First of all, before the per-dtype groups (and drawing no random value).
FIRST: list[tuple[tuple[str, ...], tuple[str, ...], tuple[Builder, ...]]] = [
    (("optax",), ("float32",), (documented_example,)),
]


def build_groups(convention: str) -> list[Group]:
    """The groups of one convention's file, in file order."""
    rng = np.random.default_rng(SEEDS[convention])
    groups = _table(FIRST, convention, rng)
    for dtype in DTYPES_OF.get(convention, REAL_DTYPES):
        groups += [b(convention, dtype, rng) for convs, b in PER_DTYPE if convention in convs]
    return groups + _table(EXTRA, convention, rng)


def _table(rows, convention: str, rng) -> list[Group]:
    return [
        b(convention, d, rng) for convs, dtypes, builders in rows if convention in convs
        for d in dtypes for b in builders
    ]  # fmt: skip
