r"""Notebooks 08 and 09, a real model: multinomial logistic regression on scikit-learn's digits.

The data set ships inside scikit-learn (``sklearn.datasets.load_digits``: 1,797 images of 8×8
pixels, values 0 to 16, ten classes); nothing is downloaded. The model: class scores
``z = x @ W`` with ``x`` the 64 pixels divided by 16 and a constant 1 (the bias), ``W`` of shape
(65, 10); the loss is the mean cross-entropy of ``softmax(z)``. Training: mini-batches of 32,
shuffled each epoch, 15 epochs, a small weight penalty, with

* Adagrad through the package's optax-shaped API (``adagrad_ref.adagrad``, ``init``/``update``,
  ``adagrad_ref.apply_updates``), and
* SGD, RMSProp and Adam from :mod:`adagrad_ref.teaching.lessons.rmsprop_and_adam` (optax's
  formulas and defaults),

each at its own best learning rate on one grid (the lowest training loss over the last epoch).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.teaching.lessons import rmsprop_and_adam as ra

NOTEBOOK = "08_a_real_model"

__all__ = ["Digits", "Training", "compare", "digits", "facts", "train"]

BATCH = 32
EPOCHS = 15
GRID = 10.0 ** np.arange(-3, 1.01, 0.5)  # 9 rates from 0.001 to 10, 2 a decade
L2 = 1e-3  # the weight penalty (L2 / 2)·|W|²: it gives the objective one finite minimum
METHODS = ("SGD", "Adagrad", "RMSProp", "Adam")


class Digits(NamedTuple):
    """Train and test split: ``x`` (n, 65) with the constant-1 bias column last, ``y`` labels 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.cache
def digits(test_share: float = 0.25, seed: int = 0) -> Digits:
    """scikit-learn's bundled digits, pixels scaled to [0, 1], split once by a fixed permutation."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.hstack([d.data / 16.0, np.ones((d.data.shape[0], 1))])
    order = np.random.default_rng(seed).permutation(x.shape[0])
    n_test = round(test_share * x.shape[0])
    test, train = order[:n_test], order[n_test:]
    return Digits(x[train], d.target[train], x[test], d.target[test])


def loss_and_grad(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The objective, mean cross-entropy of softmax(x @ W) + (L2/2)·|W|², and its gradient
    ``xᵀ (p − onehot(y)) / n + L2·W``."""
    z = x @ W
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = y.size
    loss = float(-np.mean(np.log(np.maximum(p[np.arange(n), y], 1e-300))) + 0.5 * L2 * np.sum(W * W))
    p[np.arange(n), y] -= 1.0
    return loss, x.T @ p / n + L2 * W


def accuracy(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(x @ W, axis=1) == y))


class Training(NamedTuple):
    """Per epoch (index 0: before training): training loss (full training set), test accuracy; and the
    final weights and the Adagrad accumulator (``None`` for the other methods)."""

    method: str
    learning_rate: float
    train_loss: np.ndarray
    test_accuracy: np.ndarray
    W: np.ndarray
    state: Any


def _optimizer(method: str, learning_rate: float):
    if method == "Adagrad":
        return adagrad(learning_rate)  # the package: optax's defaults, G₀ = 0.1, ε = 1e-7
    return {"SGD": ra.sgd, "RMSProp": ra.rmsprop, "Adam": ra.adam}[method](learning_rate)


def train(method: str, learning_rate: float, epochs: int = EPOCHS, seed: int = 0) -> Training:
    """Train from W = 0 with ``method`` at ``learning_rate``; every method sees the same batches."""
    data = digits()
    opt = _optimizer(method, learning_rate)
    W = np.zeros((data.x_train.shape[1], 10))
    state = opt.init(W)
    rng = np.random.default_rng(seed)
    losses = [loss_and_grad(W, data.x_train, data.y_train)[0]]
    accs = [accuracy(W, data.x_test, data.y_test)]
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            order = rng.permutation(data.y_train.size)
            for k in range(0, order.size, BATCH):
                batch = order[k : k + BATCH]
                _, g = loss_and_grad(W, data.x_train[batch], data.y_train[batch])
                updates, state = opt.update(g, state)
                W = apply_updates(W, updates)
            losses.append(loss_and_grad(W, data.x_train, data.y_train)[0])
            accs.append(accuracy(W, data.x_test, data.y_test))
            if not np.isfinite(losses[-1]):  # diverged: the rest of the run is lost
                losses += [np.inf] * (epochs + 1 - len(losses))
                accs += [0.0] * (epochs + 1 - len(accs))
                break
    return Training(method, learning_rate, np.array(losses), np.array(accs), W, state)


def compare(
    epochs: int = EPOCHS, methods: tuple[str, ...] = METHODS, seed: int = 0
) -> dict[str, tuple[float, Training, np.ndarray]]:
    """Each method at its best rate of :data:`GRID`: the lowest training loss after the last epoch.
    Returns ``{method: (best rate, its training, final training loss per rate)}``. ``seed``: the order
    of the mini-batches (every method sees the same order)."""
    return _compare(epochs, methods, seed)  # one cache key however the arguments are written


@functools.cache
def _compare(
    epochs: int, methods: tuple[str, ...], seed: int
) -> dict[str, tuple[float, Training, np.ndarray]]:
    out = {}
    for m in methods:
        runs = [train(m, float(eta), epochs, seed) for eta in GRID]
        final = np.array([r.train_loss[-1] for r in runs])
        final = np.where(np.isfinite(final), final, np.inf)
        i = int(np.argmin(final))
        out[m] = (float(GRID[i]), runs[i], final)
    return out


#: The orders of the mini-batches notebook 08 compares (seed 0 is the run it shows).
ORDERS = (0, 1, 2, 3)


def orders(epochs: int = EPOCHS, seeds: tuple[int, ...] = ORDERS) -> dict[int, dict[str, dict[str, float]]]:
    """The same comparison with other orders of the mini-batches: for each seed and method, the best
    rate (``eta``), the objective after one epoch (``epoch1``) and after the last (``final``), and the
    test accuracy (``accuracy``)."""
    out: dict[int, dict[str, dict[str, float]]] = {}
    for seed in seeds:
        out[seed] = {
            m: {
                "eta": eta,
                "epoch1": float(t.train_loss[1]),
                "final": float(t.train_loss[-1]),
                "accuracy": float(t.test_accuracy[-1]),
            }
            for m, (eta, t, _) in compare(epochs, METHODS, seed).items()
        }
    return out


def pixel_frequency() -> np.ndarray:
    """The share of training images in which each of the 64 pixels is not 0 (the bias: 1)."""
    return np.mean(digits().x_train > 0, axis=0)


def adagrad_pixel_rates(t: Training) -> np.ndarray:
    """Adagrad's rate η/√(G + ε) per input feature, the mean over the ten classes' weights."""
    return np.mean(t.learning_rate / np.sqrt(t.state.sum_of_squares + 1e-7), axis=1)


def facts(epochs: int = EPOCHS) -> dict[str, Any]:
    """The numbers notebook 08 states."""
    runs = compare(epochs)
    freq = pixel_frequency()
    ada = runs["Adagrad"][1]
    rates = adagrad_pixel_rates(ada)
    seen = freq > 0  # pixels that are 0 in every training image never get a gradient
    from scipy.stats import spearmanr

    rare, common = seen & (freq < 0.1), freq > 0.9
    return {
        "eta": {m: eta for m, (eta, _, _) in runs.items()},
        "final_loss": {m: float(t.train_loss[-1]) for m, (_, t, _) in runs.items()},
        "loss_at": {m: t.train_loss for m, (_, t, _) in runs.items()},
        "final_accuracy": {m: float(t.test_accuracy[-1]) for m, (_, t, _) in runs.items()},
        "never_seen": int(np.sum(~seen[:-1])),
        "rare": int(np.sum(rare)),
        "common": int(np.sum(common[:-1])),
        "rare_rate": float(np.mean(rates[rare])),
        "common_rate": float(np.mean(rates[common & (np.arange(freq.size) < 64)])),
        "spearman": float(spearmanr(freq[seen], rates[seen]).statistic),
        "unseen_rate": float(np.mean(rates[:-1][~seen[:-1]])) if np.any(~seen[:-1]) else float("nan"),
    }


# ----------------------------------------------------------------------------- the figure


def fig_real_model(path: str | None = None):
    """Training loss and test accuracy per epoch, each method at its best rate; Adagrad's rate per
    pixel against how often the pixel is on."""
    import matplotlib.pyplot as plt

    from adagrad_ref.teaching import plots as shared

    colors = {"SGD": "tab:blue", "Adagrad": "tab:red", "RMSProp": "tab:green", "Adam": "tab:purple"}
    with plt.rc_context(shared.STYLE):
        runs = compare()
        fig, axes = plt.subplots(1, 3, figsize=(16, 5))
        ep = np.arange(EPOCHS + 1)
        for m, (eta, t, _) in runs.items():
            axes[0].semilogy(ep, t.train_loss, color=colors[m], lw=2, label=f"{m}, best η = {eta:.3g}")
            axes[1].plot(ep[1:], 100 * t.test_accuracy[1:], color=colors[m], lw=2, label=m)
        shared.dress(
            axes[0],
            "Training objective: cross-entropy + weight penalty",
            "epoch",
            "objective, whole training set (log)",
        )
        shared.dress(axes[1], "Accuracy on the held-out test images", "epoch", "test accuracy (%)",
                     loc="lower right")  # fmt: skip
        freq = pixel_frequency()[:-1]
        rates = adagrad_pixel_rates(runs["Adagrad"][1])[:-1]
        seen = freq > 0
        axes[2].loglog(freq[seen], rates[seen], "o", color="tab:red", ms=5,
                       label="one pixel (mean over the 10 classes' weights)")  # fmt: skip
        axes[2].axhline(runs["Adagrad"][0] / np.sqrt(0.1 + 1e-7), color="0.5", ls=":",
                        label="η/√G₀: a pixel that is never on")  # fmt: skip
        shared.dress(axes[2], "Adagrad's rate per pixel after training:\nthe rarer the pixel, the larger",
                     "share of training images where the pixel is on (log)", "η/√(G + ε) (log)",
                     loc="lower left", fontsize=9)  # fmt: skip
        fig.suptitle(
            "Multinomial logistic regression on scikit-learn's digits (8×8 pixels, 10 classes),"
            f" mini-batches of {BATCH}, each method at its best η"
        )
        return shared.save(fig, path)


FIGURES = {"real_model.png": fig_real_model}
