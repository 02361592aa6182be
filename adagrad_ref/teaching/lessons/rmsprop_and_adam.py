r"""Notebook 07, what came after Adagrad: RMSProp and Adam, computed.

RMSProp and Adam are written here in plain NumPy, one line per step, as optax defines them
(``optax.rmsprop`` = ``scale_by_rms`` + ``scale_by_learning_rate``; ``optax.adam`` =
``scale_by_adam`` + ``scale_by_learning_rate``, in ``optax/_src/transform.py``), with optax's
defaults:

* ``rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0)``: ν starts at 0, ε inside the
  root, no bias correction;
* ``adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8)``: m and ν start at 0, both bias-corrected,
  ε outside the root.

They are lessons, not optimizers of this package (``tests/teaching/test_lesson_rmsprop_and_adam.py`` checks
them against the real optax, in float32 and float64).

The experiment: :math:`f(w) = \tfrac12\sum_i \lambda_i (w_i - w^*_i)^2` with curvatures
λ = (1, 0.01) and gradient noise of std σ = (0.5, 0.05): the two coordinates' gradients differ
in scale by 10 to 100 times, so a rate per coordinate matters. The optimum alternates between
(1, 10) and (−1, −10) every 1,000 steps (the documentation's warning: the problem changes after
the history has been summed). Each method runs at its own best learning rate from one grid.

>>> opt = rmsprop(0.1)
>>> u, state = opt.update(np.array([2.0, -0.5]), opt.init(np.zeros(2)))
>>> np.round(u, 4)  # the first step: η·g/√((1 − 0.9)·g²), 1/√0.1 = 3.16 times η, whatever g
array([-0.3162,  0.3162])
>>> opt = adam(0.1)
>>> u, state = opt.update(np.array([2.0, -0.5]), opt.init(np.zeros(2)))
>>> np.round(u, 4)  # bias-corrected: m̂ = g and ν̂ = g², so the first step is η·sign(g)
array([-0.1,  0.1])
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from adagrad_ref import adagrad, apply_updates

NOTEBOOK = "07_rmsprop_and_adam"

__all__ = [
    "CURVATURES",
    "NOISE",
    "AdamState",
    "Optimizer",
    "RMSPropState",
    "Run",
    "adam",
    "compare",
    "constant_gradient_rates",
    "recovery_steps",
    "rmsprop",
    "run",
    "sgd",
]


# ----------------------------------------------------------------------------- the optimizers


class Optimizer(NamedTuple):
    """An optax-shaped pair: ``state = init(params)``, ``updates, state = update(grads, state)``."""

    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]


class RMSPropState(NamedTuple):
    nu: np.ndarray  # the leaky average of g², optax's ScaleByRmsState.nu


class AdamState(NamedTuple):
    count: int  # steps taken, optax's ScaleByAdamState.count
    mu: np.ndarray  # the leaky average of g (momentum)
    nu: np.ndarray  # the leaky average of g²


def rmsprop(
    learning_rate: Any, decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0
) -> Optimizer:
    """``optax.rmsprop`` with its defaults (not centered, no momentum, ε inside the root)."""

    def init(params: np.ndarray) -> RMSPropState:
        return RMSPropState(np.full_like(params, initial_scale))

    def update(g: np.ndarray, state: RMSPropState) -> tuple[np.ndarray, RMSPropState]:
        nu = (1 - decay) * g**2 + decay * state.nu  # ν_t = (1 − β)·g_t² + β·ν_{t−1}
        s = 1 / np.sqrt(nu + eps)  # (ν_t + ε)^(−1/2); optax: jax.lax.rsqrt
        u = -learning_rate * (s * g)  # u_t = −η·g_t/√(ν_t + ε)
        return u, RMSPropState(nu)

    return Optimizer(init, update)


def adam(learning_rate: Any, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """``optax.adam`` with its defaults (ε outside the root, ``eps_root = 0``, no Nesterov)."""

    def init(params: np.ndarray) -> AdamState:
        return AdamState(0, np.zeros_like(params), np.zeros_like(params))

    def update(g: np.ndarray, state: AdamState) -> tuple[np.ndarray, AdamState]:
        mu = (1 - b1) * g + b1 * state.mu  # m_t = (1 − β₁)·g_t + β₁·m_{t−1}
        nu = (1 - b2) * g**2 + b2 * state.nu  # ν_t = (1 − β₂)·g_t² + β₂·ν_{t−1}
        count = state.count + 1
        mu_hat = mu / g.dtype.type(1 - b1**count)  # m̂_t = m_t/(1 − β₁ᵗ): the bias correction
        nu_hat = nu / g.dtype.type(1 - b2**count)  # ν̂_t = ν_t/(1 − β₂ᵗ)
        u = -learning_rate * (mu_hat / (np.sqrt(nu_hat) + eps))  # u_t = −η·m̂_t/(√ν̂_t + ε)
        return u, AdamState(count, mu, nu)

    return Optimizer(init, update)


def sgd(learning_rate: Any) -> Optimizer:
    """Plain (stochastic) gradient descent, ``optax.sgd`` without momentum: ``u_t = −η·g_t``."""
    return Optimizer(lambda params: (), lambda g, state: (-learning_rate * g, state))


def _adagrad_lines(
    learning_rate: Any, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> Optimizer:
    """Adagrad in the reference's own four lines (``adagrad_ref.reference.update_leaf``), with a
    learning rate that may be an array: one run per row, to sweep a grid of rates at once. The test
    checks it against ``adagrad_ref.adagrad`` bit for bit."""

    def update(g: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        G = g * g + G
        s = 1 / np.sqrt(G + eps)
        return -learning_rate * (s * g), G

    return Optimizer(lambda params: np.full_like(params, initial_accumulator_value), update)


def rate(method: str, state: Any, learning_rate: Any, **hyper: float) -> np.ndarray:
    """The rate each method applies, per coordinate: what multiplies the gradient (Adam: the
    momentum m̂) in the step: Adagrad η/√(G+ε), RMSProp η/√(ν+ε), Adam η/(√ν̂+ε), GD η.
    ``hyper``: the hyperparameters the optimizer was made with, where not optax's defaults."""
    if method == "Adagrad":
        return learning_rate / np.sqrt(state + hyper.get("eps", 1e-7))
    if method == "RMSProp":
        return learning_rate / np.sqrt(state.nu + hyper.get("eps", 1e-8))
    if method == "Adam":
        nu_hat = state.nu / (1 - hyper.get("b2", 0.999) ** state.count)
        return learning_rate / (np.sqrt(nu_hat) + hyper.get("eps", 1e-8))
    return np.asarray(learning_rate, dtype=np.float64)


# ----------------------------------------------------------------------------- the experiment

CURVATURES = np.array([1.0, 0.01])  # λ: a steep coordinate x1 and a flat one x2
NOISE = np.array([0.5, 0.05])  # σ: the gradient noise, per coordinate
OPTIMUM = np.array([1.0, 10.0])  # the optimum alternates between +OPTIMUM and −OPTIMUM
PHASE = 1000  # steps between two moves of the optimum
PHASES = 10  # so 9 moves, 10,000 steps
GRID = 10.0 ** np.arange(-3, 2.001, 0.125)  # 41 rates from 0.001 to 100, 8 a decade
RECOVERED = 0.1  # "recovered" from a move: the loss is back under 0.1 (it is 4 right after a move)
FACTORIES: dict[str, Callable[[Any], Optimizer]] = {
    "gradient descent": sgd,
    "Adagrad": _adagrad_lines,
    "RMSProp": rmsprop,
    "Adam": adam,
}


def optimum(t: int, phase: int = PHASE) -> np.ndarray:
    """Where the optimum is at step t: +OPTIMUM in even phases, −OPTIMUM in odd ones."""
    return OPTIMUM if (t // phase) % 2 == 0 else -OPTIMUM


class Run(NamedTuple):
    """One method's run: ``loss[t]`` after t steps (index 0: the start), ``rates[t]`` the rate per
    coordinate applied at step t+1, ``params[t]``; with a grid of rates, one column per rate."""

    method: str
    learning_rate: Any
    params: np.ndarray
    loss: np.ndarray
    rates: np.ndarray


def run(
    method: str,
    learning_rate: Any,
    phases: int = PHASES,
    phase: int = PHASE,
    seed: int = 0,
    **hyper: float,
) -> Run:
    """``method`` (a key of :data:`FACTORIES`) on the moving-optimum problem from w = (0, 0).

    ``learning_rate`` may be a column of rates (shape (n, 1)): n runs at once, one per row. Every
    method sees the same noise draws (``seed``). ``hyper``: the method's other hyperparameters
    (RMSProp's ``decay``, Adam's ``b1``/``b2``, ...)."""
    lr = np.asarray(learning_rate, dtype=np.float64)
    opt = FACTORIES[method](learning_rate, **hyper)
    steps = phases * phase
    noise = np.random.default_rng(seed).standard_normal((steps, 2)) * NOISE
    w = np.zeros((*lr.shape[:1], 2)) if lr.ndim else np.zeros(2)
    state = opt.init(w)
    ws, losses, rates = [w], [0.5 * ((w - optimum(0, phase)) ** 2 @ CURVATURES)], []
    with np.errstate(all="ignore"):  # a rate too large diverges: its loss becomes inf or nan
        for t in range(steps):
            g = CURVATURES * (w - optimum(t, phase)) + noise[t]
            u, state = opt.update(g, state)
            rates.append(np.broadcast_to(rate(method, state, lr, **hyper), w.shape))
            w = w + u if lr.ndim else apply_updates(w, u)
            ws.append(w)
            losses.append(0.5 * ((w - optimum(t + 1, phase)) ** 2 @ CURVATURES))
    return Run(method, learning_rate, np.array(ws), np.array(losses), np.array(rates))


def run_adagrad_ref(learning_rate: float, phases: int = PHASES, phase: int = PHASE, seed: int = 0) -> Run:
    """The same run with the package's optimizer, ``adagrad_ref.adagrad`` (optax's defaults)."""
    opt = adagrad(learning_rate)
    noise = np.random.default_rng(seed).standard_normal((phases * phase, 2)) * NOISE
    w = np.zeros(2)
    state = opt.init(w)
    ws, losses, rates = [w], [0.5 * ((w - optimum(0, phase)) ** 2 @ CURVATURES)], []
    for t in range(phases * phase):
        u, state = opt.update(CURVATURES * (w - optimum(t, phase)) + noise[t], state)
        rates.append(learning_rate / np.sqrt(state.sum_of_squares + 1e-7))
        w = apply_updates(w, u)
        ws.append(w)
        losses.append(0.5 * ((w - optimum(t + 1, phase)) ** 2 @ CURVATURES))
    return Run("Adagrad", learning_rate, np.array(ws), np.array(losses), np.array(rates))


def mean_loss(r: Run) -> np.ndarray:
    """The tuning score: the mean loss over the whole run (inf where a run diverged)."""
    with np.errstate(all="ignore"):
        m = np.mean(r.loss, axis=0)
    return np.where(np.isfinite(m), m, np.inf)


@functools.cache
def compare(phases: int = PHASES) -> dict[str, tuple[float, Run, np.ndarray]]:
    """Each method at its own best rate: the rate of :data:`GRID` with the lowest mean loss over the
    whole run (the moves included). Returns ``{method: (best rate, its run, score per rate)}``."""
    out = {}
    for method in FACTORIES:
        grid_run = run(method, GRID[:, None], phases=phases)
        score = mean_loss(grid_run)
        i = int(np.argmin(score))
        out[method] = (float(GRID[i]), run(method, float(GRID[i]), phases=phases), score)
    return out


def recovery_steps(r: Run, phase: int = PHASE, level: float = RECOVERED) -> np.ndarray:
    """For each move (each phase after the first), the steps until the loss is first back under
    ``level``; ``phase`` (the whole phase) if it never is."""
    out = []
    for p in range(1, (r.loss.size - 1) // phase):
        below = np.flatnonzero(r.loss[p * phase : (p + 1) * phase] < level)
        out.append(int(below[0]) if below.size else phase)
    return np.array(out)


def constant_gradient_rates(steps: int = 30, decay: float = 0.9, b2: float = 0.999) -> dict[str, np.ndarray]:
    """The rate per unit η when every gradient is the same g = 1: RMSProp's 1/√(ν_t + ε) with
    ν_t = (1 − βᵗ)·g², against Adam's 1/(√ν̂_t + ε), whose ν̂_t = g² from the first step."""
    g = np.ones(1)
    out: dict[str, list[float]] = {"RMSProp": [], "Adam": []}
    for name, hyper in (("RMSProp", {"decay": decay}), ("Adam", {"b2": b2})):
        opt = FACTORIES[name](1.0, **hyper)
        state = opt.init(np.zeros(1))
        for _ in range(steps):
            _, state = opt.update(g, state)
            out[name].append(float(rate(name, state, 1.0, **hyper)[0]))
    return {k: np.array(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- the measured lessons


def moves_facts(phases: int = PHASES) -> dict[str, Any]:
    """The numbers notebook 07 states about the moving optimum, each method at its best rate."""
    runs = compare(phases)
    rec = {m: recovery_steps(r) for m, (_, r, _) in runs.items()}
    x2 = {m: r.rates[:, 1] for m, (_, r, _) in runs.items()}
    ends = np.arange(PHASE - 1, phases * PHASE, PHASE)  # the last step of each phase
    return {
        "eta": {m: eta for m, (eta, _, _) in runs.items()},
        "mean_loss": {m: float(score.min()) for m, (_, _, score) in runs.items()},
        "recovery": rec,
        "first3": {m: float(np.mean(v[:3])) for m, v in rec.items()},
        "last3": {m: float(np.mean(v[-3:])) for m, v in rec.items()},
        "x2_rate_at_phase_ends": {m: v[ends] for m, v in x2.items()},
        # the mean loss over the last quarter of every phase, when every method has recovered
        "settled": {
            m: float(np.mean(r.loss[1:].reshape(phases, PHASE)[:, -PHASE // 4 :]))
            for m, (_, r, _) in runs.items()
        },
    }


@functools.cache
def memory_facts(decays: tuple[float, ...] = (0.9, 0.99, 0.999)) -> dict[float, dict[str, float]]:
    """Notebook 07's exercise 1: RMSProp at its best rate for optax's decay 0.9, run with other decays.
    Per decay: the first rate over the steady one (every gradient equal), the step from which the rate
    stays within 5% of the steady one, and on the moving optimum the mean recovery after a move, the
    mean loss over the run, over its first phase (the warm-up) and over the last quarter of each phase."""
    eta = moves_facts()["eta"]["RMSProp"]
    out = {}
    for beta in decays:
        w = constant_gradient_rates(4000, decay=beta)["RMSProp"]
        r = run("RMSProp", eta, decay=beta)
        per_phase = r.loss[1:].reshape(-1, PHASE)
        out[beta] = {
            "eta": eta,
            "first_rate": float(w[0]),
            "warm_up_steps": float(np.flatnonzero(np.abs(w - 1) > 0.05)[-1] + 2),
            "recovery": float(np.mean(recovery_steps(r))),
            "mean_loss": float(mean_loss(r)),
            "first_phase_loss": float(np.mean(per_phase[0])),
            "settled_loss": float(np.mean(per_phase[:, -PHASE // 4 :])),
        }
    return out


def memory_facts_hold(m: dict[float, dict[str, float]]) -> bool:
    """What the solution of exercise 1 says of :func:`memory_facts` (decays 0.9, 0.99, 0.999): first rate
    1/√(1 − β), longer warm-ups and faster recoveries with a longer memory; the mean loss lowest at
    0.99, not at the fastest recovery; at 0.999 a first phase about twice 0.9's and a higher settled loss."""
    b = sorted(m)
    first = all(abs(m[d]["first_rate"] * np.sqrt(1 - d) - 1) < 1e-3 for d in b)
    longer = all(m[x]["warm_up_steps"] < m[y]["warm_up_steps"] for x, y in itertools.pairwise(b))
    faster = all(m[x]["recovery"] > m[y]["recovery"] for x, y in itertools.pairwise(b))
    lowest = min(b, key=lambda d: m[d]["mean_loss"]) == b[1]
    warm = 1.8 < m[b[2]]["first_phase_loss"] / m[b[0]]["first_phase_loss"] < 2.5
    settled = all(m[x]["settled_loss"] < m[y]["settled_loss"] for x, y in itertools.pairwise(b))
    return first and longer and faster and lowest and warm and settled


def rise_after_moves(r: Run, coordinate: int = 1, phase: int = PHASE) -> np.ndarray:
    """For each move: the rate just before it, its lowest value after it (within the phase) and the
    rate at the end of the phase; rows are moves, columns (before, lowest, end)."""
    out = []
    for p in range(1, (r.loss.size - 1) // phase):
        seg = r.rates[p * phase : (p + 1) * phase, coordinate]
        out.append((r.rates[p * phase - 1, coordinate], seg.min(), seg[-1]))
    return np.array(out)


# ----------------------------------------------------------------------------- the figures

_COLORS = {"gradient descent": "tab:blue", "Adagrad": "tab:red", "RMSProp": "tab:green", "Adam": "tab:purple"}


def fig_rates(path: str | None = None):
    """Left: the rate on the flat coordinate x2 over the whole run, each method at its best η;
    right: the warm-up, rate per unit η under a constant gradient, RMSProp against Adam."""
    import matplotlib.pyplot as plt

    from adagrad_ref.teaching import plots as shared

    with plt.rc_context(shared.STYLE):
        runs = compare()
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
        t = np.arange(1, PHASES * PHASE + 1)
        for m, (eta, r, _) in runs.items():
            axes[0].semilogy(t, r.rates[:, 1], color=_COLORS[m], lw=1.2, label=f"{m}, best η = {eta:.3g}")
        for k in range(1, PHASES):
            axes[0].axvline(
                k * PHASE, color="0.6", ls=":", lw=0.8, label="the optimum moves" if k == 1 else None
            )
        shared.dress(
            axes[0],
            "Rate on the flat coordinate x2: Adagrad's only falls,"
            "\nRMSProp's falls at each move and rises again",
            "step t",
            "rate applied to the gradient (log)",
            fontsize=8,
            loc="lower left",
        )
        warm = constant_gradient_rates(30)
        warm99 = constant_gradient_rates(30, decay=0.99)
        s = np.arange(1, 31)
        axes[1].plot(
            s, warm["RMSProp"], "o-", color="tab:green", label="RMSProp, decay 0.9 (optax's default)"
        )
        axes[1].plot(s, warm99["RMSProp"], "s--", color="tab:olive", label="RMSProp, decay 0.99")
        axes[1].plot(s, warm["Adam"], "D-", color="tab:purple", label="Adam (bias-corrected ν̂)")
        axes[1].axhline(1.0, color="k", lw=0.8, ls=":", label="the steady rate η/|g|")
        shared.dress(
            axes[1],
            "Warm-up, every gradient g = 1: RMSProp's ν starts at 0,\nso its rate starts 1/√(1 − β) too high",
            "step t",
            "rate / (η/|g|)",
        )
        fig.suptitle(
            "f = ½(x1² + 0.01·x2²) around an optimum that jumps every 1,000 steps; noise σ = (0.5, 0.05)"
        )
        return shared.save(fig, path)


def fig_moves(path: str | None = None):
    """Left: the loss around the last three moves; right: the steps each method needs to recover,
    move by move."""
    import matplotlib.pyplot as plt

    from adagrad_ref.teaching import plots as shared

    with plt.rc_context(shared.STYLE):
        runs = compare()
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
        window = slice(7 * PHASE - 200, 9 * PHASE + 400)  # the moves at steps 7,000, 8,000 and 9,000
        t = np.arange(PHASES * PHASE + 1)[window]
        half = 25  # the running median's half width: the noise hides the recoveries, its median shows them
        for m, (eta, r, _) in runs.items():
            loss = np.maximum(r.loss, 1e-16)
            axes[0].semilogy(t, loss[window], color=_COLORS[m], lw=0.5, alpha=0.2)
            padded = np.pad(loss, half, mode="edge")
            median = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)
            axes[0].semilogy(t, median[window], color=_COLORS[m], lw=2, label=f"{m}, η = {eta:.3g}")
        axes[0].axhline(RECOVERED, color="k", ls="--", lw=0.8, label=f"loss {RECOVERED:g}: recovered")
        title = f"Loss around the last three moves\n(thin: every step; thick: median of {2 * half + 1})"
        shared.dress(axes[0], title, "step t", "loss against the current optimum (log)", fontsize=8,
                     loc="lower left")  # fmt: skip
        for m, (_, r, _) in runs.items():
            rec = recovery_steps(r)
            axes[1].plot(np.arange(1, rec.size + 1), rec, "o-", color=_COLORS[m], label=m)
        shared.dress(axes[1], "Steps until the loss is back under 0.1, move by move:\nAdagrad's grow",
                     "move number", "steps to recover")  # fmt: skip
        axes[1].set_ylim(0, None)
        fig.suptitle("Each method at its own best η (lowest mean loss over the whole run, one grid)")
        return shared.save(fig, path)


FIGURES = {"rmsprop_adam_rates.png": fig_rates, "rmsprop_adam_moves.png": fig_moves}
