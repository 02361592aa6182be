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
# # 7. What came after Adagrad: RMSProp and Adam
#
# Adagrad divides each coordinate's step by $\sqrt{G_t}$, the root of the **sum** of that
# coordinate's squared gradients. The sum only grows, so the rate $\eta/\sqrt{G_t}$ only falls. That
# is what averages gradient noise away (notebook 2), and it is what the documentation warns about:
# when the problem changes late in training, the rate has already been spent. Two methods that came
# after it keep the rate per coordinate and change the sum:
#
# * **RMSProp** (Hinton, "Overview of mini-batch gradient descent", slides of lecture 6 of CSC321,
#   Toronto, 2012: the reference optax's docstring gives) replaces the sum by a *leaky average*
#   (an exponential moving average) $\nu_t = \beta\,\nu_{t-1} + (1-\beta)\,g_t^2$, which forgets old
#   gradients at the rate $1-\beta$ per step ($\beta$ is called the *decay*);
# * **Adam** (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, arXiv:1412.6980)
#   keeps that average of $g^2$, adds one of $g$ itself (*momentum*, $m_t$), and divides each by
#   $1-\beta^t$ with its own β ($\beta_1$ for $m_t$, $\beta_2$ for $\nu_t$: the *bias correction*,
#   derived below).
#
# This notebook writes both in a few lines of NumPy, as `optax.rmsprop` and `optax.adam` define them,
# plots the rate each one applies, and compares them with Adagrad and plain gradient descent, each at
# its own tuned learning rate, on a problem where the optimum moves.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching.lessons import rmsprop_and_adam as lesson

# %% [markdown]
# ## The two updates, one line per step
#
# The lesson module (`adagrad_ref/teaching/lessons/rmsprop_and_adam.py`, open it) defines them with
# optax's defaults: RMSProp with decay $\beta = 0.9$, $\epsilon = 10^{-8}$ *inside* the root and
# $\nu_0 = 0$; Adam with $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$ *outside* the root.
# For a gradient $g_t$, coordinate by coordinate:
#
# * Adagrad (optax): $G_t = G_{t-1} + g_t^2$ with $G_0 = 0.1$; $u_t = -\eta\, g_t/\sqrt{G_t + \epsilon}$.
# * RMSProp: $\nu_t = (1-\beta)\,g_t^2 + \beta\,\nu_{t-1}$ with $\nu_0 = 0$;
#   $u_t = -\eta\, g_t/\sqrt{\nu_t + \epsilon}$.
# * Adam: $m_t = (1-\beta_1)\,g_t + \beta_1 m_{t-1}$ and $\nu_t = (1-\beta_2)\,g_t^2 + \beta_2 \nu_{t-1}$,
#   both from 0; $\hat m_t = m_t/(1-\beta_1^t)$, $\hat\nu_t = \nu_t/(1-\beta_2^t)$;
#   $u_t = -\eta\, \hat m_t/(\sqrt{\hat\nu_t} + \epsilon)$.
#
# We call **rate** what multiplies the gradient in the step: $\eta/\sqrt{G_t+\epsilon}$ for Adagrad,
# $\eta/\sqrt{\nu_t+\epsilon}$ for RMSProp, $\eta/(\sqrt{\hat\nu_t}+\epsilon)$ for Adam (applied to the
# momentum $\hat m_t$ rather than to $g_t$). The test `tests/teaching/test_lesson_rmsprop_and_adam.py` runs
# these lines against the real `optax.rmsprop` and `optax.adam`. The first step already shows a difference:

# %%
g1 = np.array([2.0, -0.5])
for name, opt in (("RMSProp", lesson.rmsprop(0.1)), ("Adam", lesson.adam(0.1))):
    u, _ = opt.update(g1, opt.init(np.zeros(2)))
    print(f"{name}, eta = 0.1, first gradient {g1}: first step {np.round(u, 4)}")

# %% [markdown]
# ## The warm-up, derived: why RMSProp's rate starts too high
#
# Suppose every gradient is the same, $g_t = g$. From $\nu_0 = 0$,
#
# $$\nu_t = (1-\beta)\sum_{k=0}^{t-1}\beta^k g^2 = (1-\beta^t)\, g^2 ,$$
#
# so the average has collected only a fraction $1-\beta^t$ of its weight, and RMSProp's rate is
# $\eta/(|g|\sqrt{1-\beta^t})$ instead of the steady $\eta/|g|$: at step 1 it is $1/\sqrt{1-\beta}$
# times too large (3.16× for β = 0.9), and it *falls* towards $\eta/|g|$ as the average warms up.
# Adam divides by exactly that fraction: $\hat\nu_t = \nu_t/(1-\beta_2^t) = g^2$ from the first step,
# which is what the bias correction is for (the same holds for $\hat m_t = g$).

# %%
warm = lesson.constant_gradient_rates(60)
warm99 = lesson.constant_gradient_rates(60, decay=0.99)


def first_within(r, tol=0.05):  # the first step from which the rate stays within tol of eta/|g|
    return int(np.flatnonzero(np.abs(r - 1) > tol)[-1]) + 2


print(
    f"Every gradient equal: RMSProp's first rate is {warm['RMSProp'][0]:.2f} times the steady one and"
    f" within 5% of it from step {first_within(warm['RMSProp'])} on; with decay 0.99 it starts"
    f" {warm99['RMSProp'][0]:.2f} times too high. Adam's rate is {warm['Adam'][0]:.8f} times it"
    " from step 1 (ε makes the difference from 1)."
)

# %% [markdown]
# ## The experiment: an optimum that moves, coordinates of different scales
#
# $f(w) = \tfrac12(x_1^2\cdot 1 + x_2^2 \cdot 0.01)$ around an optimum $w^*$, with gradient noise of
# standard deviation σ = (0.5, 0.05): the **curvature** (the second derivative, λ = 1 and 0.01) and
# the noise differ between the coordinates, so their gradients differ in size by 10 to 100 times.
# That is where a rate per coordinate matters. (On a problem where both coordinates look alike,
# RMSProp's rate settles near the same $\eta/\sigma$ for both, and RMSProp is plain gradient descent
# with that rate.) The optimum jumps between (1, 10) and (−1, −10) every 1,000 steps, 9 moves in
# 10,000 steps: the documentation's warning, made to happen again and again.
#
# **A fair comparison.** Each method runs at every learning rate of one grid (41 rates, 8 a decade,
# from 0.001 to 100) on the same noise draws, and keeps the rate with the lowest mean loss over the
# whole run. Gradient descent, with one rate for both coordinates, is the baseline.

# %%
facts = lesson.moves_facts()
best = ", ".join(f"{m} {eta:.3g}" for m, eta in facts["eta"].items())
print(f"Best learning rates on the grid: {best}.")
ratio = {
    m: float(np.mean(r.rates[:, 1]) / np.mean(r.rates[:, 0])) for m, (_, r, _) in lesson.compare().items()
}
print(
    f"Averaged over the run, the rate on the flat x2 is {ratio['Adagrad']:.0f}× the rate on the steep x1"
    f" for Adagrad, {ratio['RMSProp']:.0f}× for RMSProp and {ratio['Adam']:.0f}× for Adam;"
    " gradient descent's rate is one for both."
)

# %% [markdown]
# ## The rates over the run

# %%
lesson.fig_rates()
plt.show()

# %%
rms = lesson.compare()["RMSProp"][1]
ada = lesson.compare()["Adagrad"][1]
adam_run = lesson.compare()["Adam"][1]
rise = lesson.rise_after_moves(rms)
print(
    f"In the run, RMSProp's rate on x1 is {rms.rates[0, 0]:.2f} at step 1 and"
    f" {np.mean(rms.rates[7:12, 0]):.2f}"
    f" around step 10 (steps 8 to 12): the warm-up. Adam's starts at {adam_run.rates[0, 0]:.2f} and is"
    f" {np.mean(adam_run.rates[7:12, 0]):.2f} around step 10: no warm-up overshoot."
)
print(
    f"At each of the {len(rise)} moves RMSProp's rate on x2 falls,"
    f" from {rise[:, 0].min():.1f}–{rise[:, 0].max():.1f}"
    f" just before it to {rise[:, 1].min():.1f}–{rise[:, 1].max():.1f} at its lowest, and rises again, to"
    f" {rise[:, 2].min():.1f}–{rise[:, 2].max():.1f} by the end of the phase."
)
ends = facts["x2_rate_at_phase_ends"]["Adagrad"]
print(
    f"Adagrad's rate on x2 never rises: {ends[0]:.2f} at the end of the first phase,"
    f" {ends[-1]:.2f} at the end."
)

# %% [markdown]
# **Conclusion.** RMSProp's rate is not a constant that "never decays". It starts too high (the
# average starts at 0 with no bias correction) and falls during the warm-up; afterwards it follows
# the size of the recent gradients: when they grow (just after a move, when the loss is large) the
# rate falls, and when they shrink again near the new optimum it *rises* again. Its updates do not get
# monotonically smaller: that, not the absence of decay, is its difference from Adagrad, whose rate
# can only fall. Adam's rate moves less (β₂ = 0.999 remembers about 1,000 steps) and its bias
# correction removes the warm-up overshoot. On the flat coordinate, every adaptive method takes a rate
# about ten times the one on the steep coordinate: this is the per-coordinate scaling that gradient
# descent, with one rate, cannot do.
#
# ## Following the optimum

# %%
lesson.fig_moves()
plt.show()

# %%
rec, f3, l3 = facts["recovery"], facts["first3"], facts["last3"]
print(
    "Steps until the loss is back under 0.1 after a move, mean over the first three moves and over the"
    " last three: " + "; ".join(f"{m} {f3[m]:.0f} then {l3[m]:.0f}" for m in rec) + "."
)
ml = facts["mean_loss"]
print("Mean loss over the whole run: " + ", ".join(f"{m} {v:.3f}" for m, v in ml.items()) + ".")
st = facts["settled"]
print(
    "Mean loss in the last quarter of each phase: " + ", ".join(f"{m} {v:.3f}" for m, v in st.items()) + "."
)

# %% [markdown]
# **Conclusion.** Adagrad's tuned rate is large (it has to last the whole run), so over the first three
# moves it recovers as fast as Adam and faster than RMSProp; but each move finds its rate lower, and its
# recovery time about doubles over the run, until it is the slowest of the three adaptive methods.
# RMSProp and Adam forget: their recovery time is about the same at the last moves as at the first.
# Gradient descent, whose one rate is held down by the steep coordinate, needs about 200 steps every
# time. The mean loss shows the other side of the
# trade-off: over these 10,000 steps Adagrad's is still the lowest, because between moves its falling
# rate averages the noise away, as a constant rate cannot (the last line printed above: once settled,
# in the last quarter of each phase, its loss is the lowest). How that balance shifts with the length
# of the run is exercise 2.
#
# ## Exercises (solutions in the solutions notebook)
#
# 1. **RMSProp's memory.** Change `decay` below (optax's default is 0.9; try 0.99 and 0.999). How many
#    times too high is the first rate, and how long is the warm-up? What happens to the recovery time
#    after a move and to the mean loss, at the same learning rate?

# %%
decay = 0.9  # change me
warm_d = lesson.constant_gradient_rates(3000, decay=decay)["RMSProp"]
r = lesson.run("RMSProp", facts["eta"]["RMSProp"], decay=decay)
print(
    f"decay {decay}: first rate {warm_d[0]:.2f}× the steady one,"
    f" within 5% of it from step {first_within(warm_d)};"
)
print(f"   mean recovery {np.mean(lesson.recovery_steps(r)):.0f} steps, mean loss {np.mean(r.loss):.3f}")

# %% [markdown]
# 2. **A longer run.** Change `phases` (10 above; try 20). Each method is tuned again on the longer run.
#    Does Adagrad's best learning rate change? RMSProp's and Adam's? Does Adagrad's recovery still grow?

# %%
phases = 10  # change me (20 takes about 10 s)
longer = lesson.moves_facts(phases)
print("best rates:", ", ".join(f"{m} {eta:.3g}" for m, eta in longer["eta"].items()))
print("Adagrad's recovery, move by move:", longer["recovery"]["Adagrad"])

# %% [markdown]
# ## Summary
#
# * RMSProp replaces Adagrad's sum of squared gradients by a leaky average; Adam adds momentum and
#   divides each average by $1-\beta^t$ with its own β, the bias correction.
# * Without bias correction RMSProp's rate starts $1/\sqrt{1-\beta}$ times too high and falls during a
#   warm-up; Adam's bias-corrected rate has no such overshoot.
# * RMSProp's rate is not monotone: it falls when the gradients grow and rises again when they shrink.
#   Adagrad's can only fall.
# * Where the coordinates differ in scale, all three adaptive methods give the flat coordinate a larger
#   rate; gradient descent cannot.
# * When the optimum keeps moving, Adagrad's recovery time grows with the history it has summed;
#   RMSProp's and Adam's stay the same. Between moves Adagrad's falling rate still gives it the lowest
#   noise: forgetting is a trade, not a free improvement.
