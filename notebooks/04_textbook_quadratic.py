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
# # 4. The textbook quadratic: per-parameter steps, conditioning, preconditioning
#
# *Student track, notebook 4. You need: notebooks 1–2.*
#
# $f = 0.1\,x_1^2 + 2\,x_2^2$ (curvatures $\lambda_1 = 0.2$ and $\lambda_2 = 4$) from $(-5, -2)$ is the
# quadratic of the d2l chapter on Adagrad. What does dividing each coordinate by its own $\sqrt{G}$
# buy against gradient descent? The experiments are in
# `adagrad_ref/teaching/lessons/textbook_quadratic.py`.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching.lessons import textbook_quadratic as lesson

q = ex.Quadratic.textbook()

# %% [markdown]
# ## Comparable steps for unequal gradients

# %%
print(lesson.comparable_steps_for_unequal_gradients())

# %% [markdown]
# A coordinate whose gradients have been small gets a large rate and one whose gradients have been
# large a small one: their *steps* end up comparable, which is the point of the division.
#
# ## d2l's trace, reconciled
#
# d2l prints `epoch 20, x1: -2.382563, x2: -0.158591` at $\eta = 0.4$. d2l's loop is
# `s += g**2; x -= eta / sqrt(s + eps) * g` with `s` starting at 0 and `eps = 1e-6`: ε inside the
# root, as optax, but no initial accumulator. (Below, a distance in ULP, *units in the last place*,
# counts the gaps between adjacent floating-point numbers that separate two numbers: 0 means
# identical, 1 means neighbours.)

# %%
d2l = ex.run_adagrad(q, [-5, -2], 0.4, 20, initial_accumulator_value=0, eps=1e-6)
optax_defaults = ex.run_adagrad(q, [-5, -2], 0.4, 20)
print(f"G0 = 0, eps = 1e-6:  x1: {d2l.params[-1, 0]:f}, x2: {d2l.params[-1, 1]:f}")
print(f"optax's defaults:    x1: {optax_defaults.params[-1, 0]:f}, x2: {optax_defaults.params[-1, 1]:f}")
print(lesson.d2l_trace())

# %% [markdown]
# **Conclusion.** The difference is the initial accumulator $G_0 = 0.1$, not where ε goes (both
# put it inside the root) and hardly its size.
#
# ## The contour plot, at $\eta = 0.4$ and $\eta = 2$

# %%
lesson.fig_contour()
plt.show()

# %%
print(lesson.gd_diverges_at_eta_2_adagrad_does_not())
print(lesson.x2_lands_on_zero_at_eta_2_by_coincidence())

# %% [markdown]
# **Conclusion.** At $\eta = 0.4$ (left) gradient descent ends much nearer the minimum after 20 steps
# than Adagrad: 0.4 is close to gradient descent's best rate and far below Adagrad's (notebook 5). At
# $\eta = 2$ gradient descent multiplies $x_2$ by $1 - 2 \cdot 4 = -7$ each step and diverges.
# Adagrad's first step is about $-\eta\,\mathrm{sign}(g)$ on each axis, and the accumulator keeps later
# steps in check. That its first step puts $x_2$ right on the minimum (right panel) is a coincidence
# of this start: $x_2$ starts at $-2 = -\eta$.
#
# ## The first step, and what `initial_accumulator_value` and `eps` do to it

# %%
lesson.fig_first_steps()
plt.show()

# %%
print(lesson.first_step_is_eta_sign_with_g0_zero())

# %% [markdown]
# **Conclusion.** With $G_0 = 0$ the first update is
# $-\eta\,g/\sqrt{g^2 + \epsilon} \approx -\eta\,\mathrm{sign}(g)$ whatever the size of the gradient
# (until $g^2$ is as small as ε); optax's default $G_0 = 0.1$ damps the first steps of small gradients.
#
# ## Conditioning, and Adagrad as a preconditioner
#
# The *condition number* of a quadratic, $\kappa = \lambda_{\max}/\lambda_{\min}$, is how much steeper its
# steepest direction is than its flattest. Gradient descent's rate must stay below $2/\lambda_{\max}$, so on
# the flat axis it moves by a factor $1 - \eta\lambda_{\min} \ge 1 - 2/\kappa$ a step: large κ, slow
# progress. A **preconditioner** is a matrix $P$ in the step $w \leftarrow w - \eta\,P^{-1} g$ chosen so
# that $P^{-1}$ undoes the curvature (Newton's method takes $P$ = the Hessian). Adagrad is a cheap
# *diagonal* preconditioner, $P = \mathrm{diag}(\sqrt{G_t + \epsilon})$, built from the gradients alone. On
# a diagonal quadratic with $G_0 = \epsilon = 0$, $\sqrt{G_{t,i}} = \lambda_i \sqrt{\sum_\tau
# x_{\tau,i}^2}$: the preconditioner carries each curvature $\lambda_i$ exactly, and it cancels from the
# step. Below, $f = \tfrac12(x_1^2/\kappa + x_2^2)$ from (1, 1) for κ = 1 to 1000:

# %%
lesson.fig_condition_numbers()
plt.show()

# %%
print(lesson.default_g0_flat_axis_is_gradient_descent())
print(lesson.path_ignores_curvatures_without_g0_and_eps())

# %% [markdown]
# **Conclusion.** With $G_0 = \epsilon = 0$ the update per coordinate is
# $-\eta\,\lambda_i x_{t,i}/\sqrt{\sum_\tau \lambda_i^2 x_{\tau,i}^2}$: the curvature cancels, and every κ
# follows the same path (right). That cancellation is the preconditioning result. With optax's
# $G_0 = 0.1$ a flat axis (curvature 0.001) produces gradients whose squares barely move its
# accumulator: there Adagrad is plain gradient descent with rate $\eta/\sqrt{G_0}$, and crawls as
# gradient descent does (left). (At κ = 1 gradient descent's η = 1/λ = 1 lands on the minimum in one
# step; its loss is exactly 0, drawn at the axis floor 1e-16.)
#
# ## Invariance to rescaling the loss
#
# Measure the loss in other units, $c\,f$ instead of $f$: every gradient is multiplied by $c$, and so
# is $\sqrt{G}$.

# %%
print(lesson.rescaling_the_loss_leaves_adagrad_unchanged())

# %% [markdown]
# **Conclusion.** With $G_0 = \epsilon = 0$ Adagrad does not care about the loss's scale; gradient
# descent's η has to be retuned for every $c$. optax's $G_0$ is not rescaled, so it breaks the
# invariance where the gradients are small.
#
# ## Each method at its own best learning rate
#
# The same grid of 31 learning rates (0.05 to 10) for both methods, each run 300 steps. One rule
# picks each method's rate, here and in notebooks 5 and 6: among the runs whose loss **never rises
# above its starting value**, the one that reaches loss $10^{-12}$ in the fewest steps (notebook 5
# shows why "fewest steps" alone is unfair: it rewards runs that blow up first).

# %%
print(lesson.tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic())
print(lesson.tuned_adagrad_divides_out_the_curvatures())
print(lesson.tuned_gd_beats_diagonal_adagrad_once_rotated())

# %% [markdown]
# **Conclusion.** Tuned, Adagrad needs an order of magnitude fewer steps here. Its best η is large:
# the gradients of its first big steps set each $G_i$, and after them $\eta\lambda_i/\sqrt{G_i}$ is
# near 1 on both axes, so both contract fast. A still larger η saves a few steps only by overshooting
# both axes, its loss first rising above the start: the rule excludes that. The advantage is the
# diagonal's: rotate the quadratic by 45° (the start stays at $(-5, -2)$) and tuned gradient descent,
# whose step count does not change here, beats tuned diagonal Adagrad, whose per-coordinate rates no
# longer line up with the curvature (notebook 6).
#
# ## Exercises (solutions in `10_solutions.ipynb`)
#
# 1. Derive, from the update rule, the cancellation above: with $G_0 = \epsilon = 0$ Adagrad's path on a
#    diagonal quadratic does not depend on the curvatures.
# 2. Remove the square root: $u = -\eta\,g/G$, with $G_0 = \epsilon = 0$. What is the first step? Does
#    the path still ignore κ? Change `kappa` below.
# 3. Change `eta` below: over which range of η does Adagrad beat gradient descent's best step count?
#    What does its width say about how carefully each method must be tuned?

# %%
kappa = 1000  # exercise 2: try 1
lam, w, G = np.array([1 / kappa, 1.0]), np.array([1.0, 1.0]), np.zeros(2)
for t in range(50):
    g = lam * w
    G = G + g * g
    w = w - 0.5 * g / G  # Adagrad divides by np.sqrt(G)
    if t == 0:
        print(f"kappa = {kappa}: first step on x1 {abs(1 - w[0]):.3g}")
print(f"after 50 steps |x1| = {abs(w[0]):.3g}")

# %%
eta = 1.0  # exercise 3: try values from 0.05 to 10
gd_best = lesson.tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic().values
run = ex.run_adagrad(q, [-5, -2], eta, 300)
n = lesson.steps_to(run, lesson.TARGET)
reach = f"{n} steps to loss 1e-12" if n < 10**9 else "does not reach loss 1e-12 in 300 steps"
rule = "" if lesson.never_climbs(run) else " (its loss first rises above its start: the rule excludes it)"
print(f"Adagrad at eta = {eta:g}: {reach}{rule};")
best_eta, best_steps = gd_best["gd_best_eta"], gd_best["gd_steps"]
print(f"gradient descent at its best eta on the grid ({best_eta:.3g}): {best_steps:.0f} steps")

# %% [markdown]
# ## Summary
#
# - Dividing by $\sqrt G$ per coordinate makes the steps comparable whatever the gradients; the first
#   step is about $-\eta\,\mathrm{sign}(g)$ (with $G_0 = 0$ whatever $\lvert g\rvert$, until $g^2$ is as
#   small as ε).
# - Adagrad is a cheap diagonal preconditioner: with $G_0 = \epsilon = 0$ the curvatures cancel on a
#   diagonal quadratic, and the loss's scale does not matter; optax's $G_0 = 0.1$ breaks both where the
#   gradients are small.
# - Tuned by one rule (no run whose loss rises above its start), Adagrad beats tuned gradient descent
#   by an order of magnitude on the axis-aligned quadratic; rotated, the diagonal loses its edge.
#
# Next: notebook 5, implicit against explicit decay.
