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
# # 5. Implicit against explicit decay
#
# *Student track, notebook 5. You need: notebooks 2 and 4.*
#
# Adagrad's rate decays *implicitly*: by the gradients it has seen (notebook 2). The proofs' SGD
# decays *explicitly*, on a clock: $\eta_0/\sqrt{t+1}$, whatever the gradients. On the textbook
# quadratic of notebook 4, which is better, and how should the comparison be made fair? The
# experiment is in `adagrad_ref/teaching/lessons/implicit_vs_explicit_decay.py`.

# %%
import matplotlib.pyplot as plt

from adagrad_ref.teaching.lessons import implicit_vs_explicit_decay as lesson

# %% [markdown]
# ## One shared learning rate is not a fair comparison

# %%
print(lesson.shared_eta_favours_gradient_descent())

# %% [markdown]
# A learning rate does not mean the same thing to both methods: η is gradient descent's step per unit
# of gradient, but about the size of Adagrad's first step whatever the gradient. Each method must get
# its own best η.
#
# ## One rule for every method
#
# Picking "the η that reaches loss $10^{-12}$ soonest" alone rewards runs that blow up first and are
# then rescued by the shrinking step. So one rule for all three methods, on one grid of 31 rates,
# 300 steps each: among the runs whose loss **never rises above its starting value**, the one that
# reaches $10^{-12}$ soonest (or, if none does, ends lowest). Notebooks 4 and 6 tune by the same rule.

# %%
lesson.fig_implicit_vs_explicit()
plt.show()

# %%
print(lesson.explicit_decay_is_too_slow_without_noise())
print(lesson.implicit_decay_stops_explicit_decay_does_not())

# %% [markdown]
# **Conclusion.** Without noise, a decay on a clock is a handicap: not to climb first, $\eta_0/\sqrt{t+1}$
# must start near the stability limit $2/\lambda_{\max}$ (the next cell says exactly where), and then it
# only shrinks, so the flat axis crawls ever more slowly. Adagrad's decay stops by itself once the
# gradients vanish (notebook 2), and its rate stays where its early gradients put it.
#
# ## Where the decay's largest η₀ comes from
#
# One gradient step at rate η from $x$ changes the loss by $-\eta\,g^\top g + \tfrac12\eta^2\,g^\top A g$
# ($A$ the matrix of curvatures): it does not raise it while $\eta \le 2\,g^\top g / g^\top A g$.

# %%
print(lesson.the_decays_largest_eta0_is_set_by_its_first_step())

# %% [markdown]
#
# ## Exercise (solution in `10_solutions.ipynb`)
#
# Change `eta0` below (try 0.505, 0.51, 0.5926, 1.0). Check the limit of the cell above by hand: write
# the loss after the first step from $(-5, -2)$ as a function of η₀. Why can the loss not rise after
# the first step when η₀ is below that limit? What happens to the peak loss just above it?

# %%
eta0 = 0.4967  # try 0.505, 0.51, 0.5926, 1.0
run = lesson.runners()["gradient descent η₀/√(t+1)"](eta0)
print(
    f"eta0 = {eta0:g}: loss starts at {run.loss[0]:.3g}, peaks at {run.loss.max():.3g},"
    f" ends at {run.loss[-1]:.3g} after 300 steps; never above its start: {lesson.never_climbs(run)}"
)

# %% [markdown]
# ## Summary
#
# - Comparing methods at one shared η compares their tuning, not the methods: give each its best η,
#   chosen by one rule that excludes runs that diverge first.
# - On a problem without noise, Adagrad's implicit decay (it stops when the gradients vanish) beats
#   the explicit $\eta_0/\sqrt{t+1}$ (it never stops).
#
# Next: notebook 6, the diagonal against the full matrix.
