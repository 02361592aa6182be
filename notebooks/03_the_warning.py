# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. The documentation's warning, and what came next
#
# Adagrad's rate $\eta/\sqrt{G_t+\epsilon}$ never rises, because $G_t$ only adds squares (notebook 3).
# That is a built-in decay, and a trap: once many gradients have been summed, the rate stays small
# even when the problem changes. This notebook makes the documentation's warning visible, measures
# both sides of the trade-off, and shows the one change RMSProp makes.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import claims, plots

CLAIMS = claims.CLAIMS

# %% [markdown]
# ## The warning, made visible
#
# *"The sum keeps growing during training and the learning rate eventually becomes vanishingly small."*
# Here, after 5,000 noisy steps, the optimum moves. The gradient noise has σ = 1. The learning rates are set
# by hand, not tuned: η = 0.05 for gradient descent (and RMSProp below), and η = 0.5 for Adagrad, whose rate
# is divided by $\sqrt{G_t} \approx \sigma\sqrt t$, already 9.9 after 100 steps (the mean over the two
# coordinates). What η chooses is only where each method sits on one trade-off, as the fourth line printed
# below shows. The right panel plots the rate of coordinate $x_1$ ($x_2$'s is alike).

# %%
plots.fig_warning()
plt.show()

# %%
for name in (
    "warning_adagrad_lags_after_the_move",
    "warning_adagrad_floor_is_lower_before_the_move",
    "effective_rate_never_rises_the_step_does",
    "the_trade_off_is_the_rate_adagrad_has_reached",
):
    print(CLAIMS[name]())

# %% [markdown]
# **Conclusion.** The trade-off has two sides. Before the move, Adagrad's decayed rate averages the
# noise away: its mean loss is 5.5× below constant-step gradient descent's. After the move its rate,
# set by 5,000 gradients of history, is 7× below gradient descent's, and the new large gradients only
# lower it further, so it needs 325 steps to follow against gradient descent's 48. Both sides come
# from the one rate Adagrad has reached: gradient descent run at that rate from the start has the
# same floor (0.0051 against 0.0053) and the same lag (311 steps against 325). Note what shrinks: the
# *rate*. The *step* is rate × gradient, and it grows when the gradients grow.
#
# ## What came next: RMSProp's one change
#
# RMSProp replaces the sum by a decaying average, so old gradients are forgotten. On the same problem,
# in a few lines of NumPy (this is a lesson, not an optimizer of this package):

# %%
rng = np.random.default_rng(0)
wr, G, path = np.array([1.0, 1.0]), np.zeros(2), [np.array([1.0, 1.0])]
for t in range(6000):
    target = np.zeros(2) if t < 5000 else np.array([3.0, -3.0])
    g = (wr - target) + rng.standard_normal(2)  # the same noise draws as the Adagrad run
    G = 0.99 * G + (1 - 0.99) * g * g  # Adagrad: G = G + g * g
    wr = wr - 0.05 / np.sqrt(G + 1e-7) * g
    path.append(wr)
rms = claims.warning_runs()[2]
same = np.array_equal(np.array(path), rms.params)
print("these lines give the params of the RMSProp run in the claims, bit for bit:", same)
assert same
print(CLAIMS["rmsprop_follows_the_move"]())

# %% [markdown]
# **Conclusion.** RMSProp's rate never decayed in the first place: with the old gradients forgotten,
# $G$ stays near $\sigma^2$ and the rate near $\eta/\sigma$ (0.050 before the move, against Adagrad's
# 0.0071), so it follows the moved optimum in 57 steps against Adagrad's 325. The move's large
# gradients lower its rate for a while (to 0.039), as they lower Adagrad's: forgetting does not raise
# the rate, it keeps it from sinking for good. The price is the other side of the same trade-off:
# before the move its mean loss (0.0294) is gradient descent's (0.0296), not Adagrad's (0.0053); with
# σ = 1 its rate η/σ is gradient descent's η. Adam adds momentum and a bias correction to the same
# average (and in optax puts ε outside the root).
#
# ## Exercise (solution in `08_solutions.ipynb`)
#
# In the RMSProp cell, try a decay of 0.9 and of 0.999 instead of 0.99. Which follows the move
# fastest, and what happens to the loss floor before the move?
