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
# # 5. The textbook quadratic: per-coordinate steps, conditioning, and a fair comparison
#
# $f = 0.1\,x_1^2 + 2\,x_2^2$ (curvatures 0.2 and 4) from $(-5, -2)$ is the quadratic of the d2l
# chapter on Adagrad. This notebook asks one question of it: what does dividing each coordinate by
# its own $\sqrt{G}$ buy, against gradient descent, once both are given their best learning rate?

# %%
import matplotlib.pyplot as plt

from adagrad_ref.teaching import claims, plots
from adagrad_ref.teaching import experiments as ex

CLAIMS = claims.CLAIMS
q = ex.Quadratic.textbook()

# %% [markdown]
# ## Comparable steps for unequal gradients

# %%
print(CLAIMS["comparable_steps_for_unequal_gradients"]())

# %% [markdown]
# A coordinate whose gradients have been small gets a large rate and one whose gradients have been
# large a small one: their *steps* end up comparable, which is the point of the division.
#
# ## d2l's trace, reconciled
#
# d2l prints `epoch 20, x1: -2.382563, x2: -0.158591` at $\eta = 0.4$; with optax's defaults this
# project ends at $x_1 = -2.419$. d2l's loop is `s += g**2; x -= eta / sqrt(s + eps) * g` with `s`
# starting at 0 and `eps = 1e-6`: ε inside the root, as optax, but no initial accumulator.

# %%
d2l = ex.run_adagrad(q, [-5, -2], 0.4, 20, initial_accumulator_value=0, eps=1e-6)
optax_defaults = ex.run_adagrad(q, [-5, -2], 0.4, 20)
print(f"G0 = 0, eps = 1e-6:  x1: {d2l.params[-1, 0]:f}, x2: {d2l.params[-1, 1]:f}")
print(f"optax's defaults:    x1: {optax_defaults.params[-1, 0]:f}, x2: {optax_defaults.params[-1, 1]:f}")
print(CLAIMS["d2l_trace"]())

# %% [markdown]
# **Conclusion.** The difference is the initial accumulator $G_0 = 0.1$, not where ε goes (both
# put it inside the root) and hardly its size.
#
# ## The contour plot, at $\eta = 0.4$ and $\eta = 2$

# %%
plots.fig_contour()
plt.show()

# %%
print(CLAIMS["gd_diverges_at_eta_2_adagrad_does_not"]())

# %% [markdown]
# **Conclusion.** At $\eta = 0.4$ (left) gradient descent ends much nearer the minimum after 20 steps than
# Adagrad: 0.4 is close to gradient descent's best rate and far below Adagrad's, a comparison taken up below
# ("Implicit against explicit decay"). At $\eta = 2$ gradient descent multiplies $x_2$ by
# $1 - 2 \cdot 4 = -7$ each step and diverges. Adagrad's first step on $x_2$ is about
# $-\eta\,\mathrm{sign}(g)$, and the accumulator keeps later steps in check: it converges at a learning
# rate that destroys gradient descent.
#
# ## The first step, and what `initial_accumulator_value` and `eps` do to it

# %%
plots.fig_first_steps()
plt.show()

# %%
print(CLAIMS["first_step_is_eta_sign_with_g0_zero"]())

# %% [markdown]
# **Conclusion.** With $G_0 = 0$ the first update is
# $-\eta\,g/\sqrt{g^2 + \epsilon} \approx -\eta\,\mathrm{sign}(g)$ whatever the size of the gradient
# (until $g^2$ is as small as ε); optax's default $G_0 = 0.1$ damps the first steps of small gradients.
#
# ## Several condition numbers

# %%
plots.fig_condition_numbers()
plt.show()

# %%
print(CLAIMS["default_g0_flat_axis_is_gradient_descent"]())
print(CLAIMS["path_ignores_curvatures_without_g0_and_eps"]())
gd_kappa_1 = claims.kappa_runs(0.1, 1e-7)[1][1]
print(f"gradient descent at kappa = 1 (eta = 1/lambda = 1): loss after one step {gd_kappa_1.loss[1]}")
assert gd_kappa_1.loss[1] == 0

# %% [markdown]
# **Conclusion.** With optax's $G_0 = 0.1$, a flat axis (curvature 0.001) produces gradients whose
# squares barely move its accumulator: there Adagrad is plain gradient descent with rate
# $\eta/\sqrt{G_0}$, and crawls as gradient descent does. With $G_0 = \epsilon = 0$ the update per
# coordinate is $-\eta\,\lambda_i x_i/\sqrt{\sum_\tau \lambda_i^2 x_{i,\tau}^2}$: the curvature cancels,
# and every κ follows the same path. That is the "rescaling" ill-conditioning needs, and $G_0$ undoes it
# on the flattest axes. (At κ = 1 gradient descent's η = 1/λ = 1 lands on the minimum in one step:
# its loss is exactly 0, which a log axis cannot draw, so its dashed line stops at step 0.)
#
# ## Implicit against explicit decay, each at its best learning rate
#
# At one shared learning rate, the one d2l uses, gradient descent wins by many decades:

# %%
print(CLAIMS["shared_eta_favours_gradient_descent"]())

# %% [markdown]
# A learning rate does not mean the same thing to both methods: η is gradient descent's step per unit
# of gradient, but about the size of Adagrad's first step whatever the gradient. The same grid of
# learning rates for every method, each run 300 steps long; for each, the rate that reaches loss
# $10^{-12}$ in the fewest steps ("-": not reached within the 300 steps, whether the run diverged or
# was only too slow):

# %%
for name, (eta, table, _) in claims.tuned_runs().items():
    row = ", ".join(f"{e:g}: {s if s < 10**9 else '-'}" for e, s in table.items())
    print(f"{name}: best eta {eta:g}\n   steps to 1e-12 per eta: {row}")
plots.fig_implicit_vs_explicit()
plt.show()

# %%
print(CLAIMS["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"]())
# the same quadratic rotated by 45°: same eigenvalues, same start, same grid
for name, (eta, table, _) in claims.tuned_runs_rotated().items():
    print(f"rotated 45°, {name}: best eta {eta:g}, {table[eta]} steps to 1e-12")
print(CLAIMS["tuned_gd_beats_diagonal_adagrad_once_rotated"]())

# %% [markdown]
# **Conclusion.** Each at its own best rate from the same grid, with axis-aligned curvature Adagrad reaches
# $10^{-12}$ in 12.7× fewer steps than gradient descent with a constant step and 9.4× fewer than with a
# $\eta_0/\sqrt{t+1}$ step, and it beats gradient descent's best over a whole range of η (the table and the
# claim above). These are ratios on this grid: gradient descent's exact best constant rate,
# $2/(\lambda_{\min} + \lambda_{\max}) \approx 0.476$, falls between two grid points and needs 150 steps,
# not 165. The best decaying run gets there the hard way: while $\eta_0/\sqrt{t+1}$ is above the stability
# limit $2/\lambda_{\max} = 0.5$ it climbs, to loss 4.1e+31 at step 48, then comes back (the figure's legend
# shows it). That advantage is the diagonal's: rotate the axes by 45° and tuned gradient descent (165 steps,
# unchanged) beats tuned diagonal Adagrad (210 steps), whose per-coordinate rates no longer line up with the
# curvature (notebook 6).
#
# ## Exercises (solutions in `08_solutions.ipynb`)
#
# 1. Derive, from the update rule, the cancellation stated above: with $G_0 = \epsilon = 0$ Adagrad's
#    path on a diagonal quadratic does not depend on the curvatures. Check it for κ = 1, 10, 100, 1000.
# 2. Remove the square root: $u = -\eta\,g/G$, with $G_0 = \epsilon = 0$. What is the first step? Does
#    the path still ignore κ?
# 3. From the table of steps per η above, find the range of η over which Adagrad beats gradient
#    descent's best. What does its width say about how carefully each method must be tuned?
