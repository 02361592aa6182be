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
# # 2. Learning-rate decay: when the rate falls like $1/\sqrt{t}$, and when it levels off
#
# *Student track, notebook 2. You need: notebook 1 (Adagrad's update).*
#
# Adagrad divides each coordinate's gradient by $\sqrt{G_t + \epsilon}$, where $G_t$ sums that
# coordinate's squared gradients. The *effective learning rate* $\eta/\sqrt{G_t+\epsilon}$ therefore
# never rises. Textbooks say it falls like $1/\sqrt{t}$; on a quadratic with exact gradients students
# see something else. Both are right: this notebook shows when each holds (notebook 3 shows the price
# of a rate that never rises: the documentation's warning). The experiments are in
# `adagrad_ref/teaching/lessons/learning_rate_decay.py`.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching import plots
from adagrad_ref.teaching.lessons import learning_rate_decay as lesson

# %% [markdown]
# ## Exact gradients against noisy gradients
#
# The textbook quadratic $f = 0.1\,x_1^2 + 2\,x_2^2$ (its curvatures, the eigenvalues of its
# Hessian, are $\lambda_1 = 0.2$ and $\lambda_2 = 4$) from $(-5, -2)$, $\eta = 0.4$, 10,000 steps;
# "noisy" adds Gaussian noise of standard deviation $\sigma$ to every gradient:

# %%
lesson.fig_effective_lr()
plt.show()

# %%
print(lesson.exact_gradients_rate_levels_off())
print(lesson.noisy_rate_is_eta_over_sigma_sqrt_t())

# %% [markdown]
# **Conclusion.** With exact gradients the gradient shrinks as $w$ approaches the minimum, the
# accumulator stops growing and the rate levels off (left). With gradient noise of standard
# deviation $\sigma$ every step adds about $\sigma^2$ to $G$, so $G_t \approx \sigma^2 t$ and the rate falls
# as $\eta/(\sigma\sqrt{t})$ (right; the dashed line has the $\sigma$ in it). The convergence proofs
# assume bounded gradients, $|g| \le L$; then $G_t \le G_0 + L^2 t$, so the rate never falls below
# $\eta/\sqrt{G_0 + L^2 t + \epsilon}$: $1/\sqrt{t}$ is the fastest it can fall, reached only while
# gradients of size $L$ keep arriving. How fast it really falls depends on how much gradient arrives.
#
# ## The accumulator per coordinate

# %%
lesson.fig_accumulator()
plt.show()

# %%
print(lesson.steep_accumulator_settles_first())

# %% [markdown]
# **Conclusion.** The steep coordinate collects large gradients early, so its $G$ ends much larger
# and its rate much smaller; once the iterate is near the minimum the gradients vanish and both
# accumulators stop, the steep one first.
#
# ## Try it: sliders for $\eta$, $G_0$, $\epsilon$, $\sigma$ and the condition number
#
# The function below runs Adagrad from $(-5, -2)$ on $f = \tfrac12(\lambda_1 x_1^2 + \lambda_2 x_2^2)$
# with $\lambda_2 = 4$ and $\lambda_1 = 4/\kappa$, where the *condition number* $\kappa =
# \lambda_{\max}/\lambda_{\min}$ says how much steeper the steep axis is than the flat one (the default
# κ = 20 is the textbook quadratic of notebook 4), and draws the effective rate and the loss. In a live
# Jupyter notebook with `ipywidgets` sliders redraw it; executed by a script (or on a web page) there
# are no widgets, and the figure after them is the same function at its defaults.


# %%
def explore(eta=0.4, g0=0.1, log10_eps=-7.0, sigma=0.0, kappa=20.0, steps=2000):
    tr = lesson.slider_run(eta, g0, log10_eps, sigma, kappa, steps)  # run_adagrad on that quadratic
    _, axes = plt.subplots(1, 2, figsize=(12, 4))
    t = np.arange(1, steps + 1)
    for i in range(2):
        lam = (4.0 / kappa, 4.0)[i]
        axes[0].loglog(t, tr.effective_lr[:, i], color=plots.COORD_COLORS[i], label=f"x{i + 1}, λ = {lam:g}")
    if sigma > 0:
        axes[0].loglog(t, eta / (sigma * np.sqrt(t)), "k--", label="η/(σ√t)")
    axes[1].semilogy(np.maximum(tr.loss, plots.LOSS_FLOOR))
    axes[0].set(title="effective rate η/√(G+ε)", xlabel="step t (log)", ylabel="rate (log)")
    axes[1].set(
        title=f"loss (after {steps} steps: {tr.loss[-1]:.3g})", xlabel="step t", ylabel="f(x) (log, ≥ 1e-16)"
    )
    axes[0].legend()
    plt.show()


shown = lesson.show_sliders(explore)  # False (and why) where no widgets can be drawn

# %%
explore()

# %% [markdown]
# **Conclusion.** At the defaults (exact gradients) the rates level off and the loss falls
# geometrically. Move σ above 0 and the rates follow the dashed $\eta/(\sigma\sqrt{t})$. Set $G_0 = 0$
# and the first step becomes $-\eta\,\mathrm{sign}(g)$ on both axes (notebook 4 measures it).
#
# ## No noise floor
#
# A **noise floor** is a level at which the loss settles under gradient noise and then stays, on
# average, however much longer the run (this course uses the word for that only). Gradient descent
# with a constant step has one: the noise keeps kicking the iterate by steps that never shrink.
# Adagrad has none: its mean loss keeps falling, but only as slowly as its rate does:

# %%
print(lesson.slider_defaults_converge_noise_falls_slowly())

# %% [markdown]
# **Conclusion.** The mean loss keeps falling with Adagrad and stays put with the constant step. The
# price of that slow fall is the subject of notebook 3: a rate that never rises.
#
# ## Exercise (solution in `10_solutions.ipynb`)
#
# Derive the $\eta/(\sigma\sqrt{t})$ law: with gradients $g_t = \bar g_t + \sigma \xi_t$, $\xi_t$ standard
# normal and $\bar g_t$ the exact gradient (small once the iterate is near the minimum), what is
# $\mathbb{E}[G_t]$, and which of its terms wins for large $t$? Change `sigma` below and compare
# $G_t/t$ with $\sigma^2$.

# %%
sigma = 0.5  # try 1.0 and 2.0
tr = ex.run_adagrad(ex.Quadratic.textbook(), [-5, -2], 0.4, 10_000, noise=sigma)
G_per_step = tr.sum_of_squares[-1, 0] / tr.steps
print(f"sigma = {sigma:g}: on the flat axis G_t / t = {G_per_step:.4f} at t = 10,000; sigma^2 = {sigma**2:g}")

# %% [markdown]
# ## Summary
#
# - Adagrad's effective rate $\eta/\sqrt{G_t+\epsilon}$ never rises. How fast it falls depends on how
#   much gradient arrives: with exact gradients on a quadratic it levels off; with gradient noise of
#   standard deviation σ it falls as $\eta/(\sigma\sqrt t)$: the $1/\sqrt t$ shape of the proofs' step size.
# - The steep coordinate's accumulator grows most and settles first.
# - Under noise Adagrad has no noise floor: its mean loss keeps falling, as slowly as its rate.
#
# Next: notebook 3, the documentation's warning.
