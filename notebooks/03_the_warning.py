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
# # 3. The documentation's warning
#
# *Student track, notebook 3. You need: notebook 2 (the effective rate only falls).*
#
# Adagrad's rate $\eta/\sqrt{G_t+\epsilon}$ never rises, because $G_t$ only adds squares. That is a
# built-in decay, and a trap: once many gradients have been summed, the rate stays small even when
# the problem changes. The documentation warns: *"The sum keeps growing during training and the
# learning rate eventually becomes vanishingly small."* This notebook makes the warning visible and
# measures both sides of the trade-off. The experiment is in
# `adagrad_ref/teaching/lessons/the_warning.py`.

# %%
import matplotlib.pyplot as plt

from adagrad_ref.teaching.lessons import the_warning as lesson

# %% [markdown]
# ## The warning, made visible
#
# $f = \tfrac12\lvert w - w^*\rvert^2$ with gradient noise σ = 1, from (1, 1). After 5,000 steps the
# optimum $w^*$ jumps from (0, 0) to (3, −3). The learning rates are set by hand, not tuned: η = 0.05
# for gradient descent and η = 0.5 for Adagrad, whose rate is divided by $\sqrt{G_t} \approx
# \sigma\sqrt t$ (about 10 after 100 steps). What η chooses is only where each method sits on one
# trade-off, as the last sentence printed below shows. We measure the **mean loss before the move**
# (over steps 4,000–5,000) and the **lag**: the steps after the move until the loss is back under 0.1.

# %%
lesson.fig_warning()
plt.show()

# %%
print(lesson.warning_adagrad_lags_after_the_move())
print(lesson.warning_adagrad_mean_loss_is_lower_before_the_move())
print(lesson.effective_rate_never_rises_the_step_does())
print(lesson.the_trade_off_is_the_rate_adagrad_has_reached())

# %% [markdown]
# **Conclusion.** The trade-off has two sides. Before the move, Adagrad's decayed rate averages the
# noise away: its mean loss is several times below constant-step gradient descent's. After the move
# its rate, set by 5,000 gradients of history, is several times below gradient descent's, and the new
# large gradients only lower it further, so it takes many times longer to follow. Both sides come
# from the one rate Adagrad has reached: gradient descent run at that rate from the start has the
# same mean loss and the same lag. Note what shrinks: the *rate*. The *step* is rate × gradient, and
# it grows when the gradients grow.
#
# ## What came next: notebook 7
#
# Methods that forget old gradients (RMSProp, then Adam) were made to keep the rate from sinking for
# good; notebook 7 computes them against Adagrad.
#
# ## Exercise (solution in `10_solutions.ipynb`)
#
# Change Adagrad's learning rate `eta` below. Which η gives Adagrad gradient descent's lag (printed
# above, with η = 0.05)? What is then its rate at the move, and its mean loss before the move?

# %%
eta = 0.5  # try 1, 2, 3.5, 5
run = lesson.warning_run("adagrad", eta)
print(
    f"Adagrad, eta = {eta:g}: back under 0.1 {lesson.recovery_steps(run)} steps after the move;"
    f" its rate at the move {run.effective_lr[lesson.SHIFT_AT - 1].max():.4f};"
    f" mean loss over steps 4,000-5,000 {lesson.mean_loss_before(run):.4f}"
)

# %% [markdown]
# ## Summary
#
# - Adagrad's rate only falls. After a long run it is small, so Adagrad follows a moved optimum
#   slowly: the documentation's warning.
# - The same small rate is why its mean loss under noise was low before the move: lag and low mean
#   loss are two sides of one trade-off, set by the rate reached (gradient descent at that rate has
#   both).
# - The step (rate × gradient) still grows when the gradients grow; it is the rate that never rises.
