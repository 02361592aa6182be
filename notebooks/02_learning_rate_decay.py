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
# # 3. Learning-rate decay: when the rate falls like $1/\sqrt{t}$, and when it levels off
#
# Adagrad divides each coordinate's gradient by $\sqrt{G_t + \epsilon}$, where $G_t$ sums that
# coordinate's squared gradients. The *effective learning rate* $\eta/\sqrt{G_t+\epsilon}$ therefore
# never rises. Textbooks say it falls like $1/\sqrt{t}$; on a quadratic with exact gradients students
# see something else. Both are right: this notebook shows when each holds (notebook 4 shows the price
# of a rate that never rises: the documentation's warning).

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import claims, plots

CLAIMS = claims.CLAIMS

# %% [markdown]
# ## Exact gradients against noisy gradients
#
# The textbook quadratic $f = 0.1\,x_1^2 + 2\,x_2^2$ from $(-5, -2)$, $\eta = 0.4$, 10,000 steps:

# %%
plots.fig_effective_lr()
plt.show()

# %%
print(CLAIMS["exact_gradients_rate_levels_off"]())
print(CLAIMS["noisy_rate_is_eta_over_sigma_sqrt_t"]())

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
plots.fig_accumulator()
plt.show()

# %%
print(CLAIMS["steep_accumulator_settles_first"]())

# %% [markdown]
# **Conclusion.** The steep coordinate collects large gradients early, so its $G$ ends much larger
# and its rate much smaller; once the iterate is near the minimum the gradients vanish and both
# accumulators stop, the steep one first.
#
# ## Try it: sliders for $\eta$, $G_0$, $\epsilon$, $\sigma$ and the condition number
#
# The function below runs Adagrad from $(-5, -2)$ on $f = \tfrac12(\lambda_1 x_1^2 + \lambda_2 x_2^2)$
# with $\lambda_2 = 4$ and $\lambda_1 = 4/\kappa$ (the default κ = 20 is the textbook quadratic
# $0.1\,x_1^2 + 2\,x_2^2$ of notebook 5), and draws the effective rate and the loss. With
# `ipywidgets` and a live kernel the sliders redraw it; the static figure after them is the same
# function at its defaults, so the saved notebook shows it wherever widgets do not run.


# %%
def explore(eta=0.4, g0=0.1, log10_eps=-7.0, sigma=0.0, kappa=20.0, steps=2000):
    tr = claims.slider_run(eta, g0, log10_eps, sigma, kappa, steps)  # run_adagrad on that quadratic
    _, axes = plt.subplots(1, 2, figsize=(12, 4))
    t = np.arange(1, steps + 1)
    for i in range(2):
        lam = (4.0 / kappa, 4.0)[i]
        axes[0].loglog(t, tr.effective_lr[:, i], color=plots.COORD_COLORS[i], label=f"x{i + 1}, λ = {lam:g}")
    if sigma > 0:
        axes[0].loglog(t, eta / (sigma * np.sqrt(t)), "k--", label="η/(σ√t)")
    axes[1].semilogy(np.maximum(tr.loss, 1e-300))
    axes[0].set(title="effective rate η/√(G+ε)", xlabel="step t (log)", ylabel="rate (log)")
    axes[1].set(title=f"loss (after {steps} steps: {tr.loss[-1]:.3g})", xlabel="step t", ylabel="f(x) (log)")
    axes[0].legend()
    plt.show()


try:
    import ipywidgets as w

    controls = w.interactive(
        explore,
        eta=w.FloatLogSlider(value=0.4, base=10, min=-2, max=1, description="η"),
        g0=w.FloatSlider(value=0.1, min=0.0, max=2.0, step=0.05, description="G₀"),
        log10_eps=w.FloatSlider(value=-7, min=-12, max=0, step=1, description="log10 ε"),
        sigma=w.FloatSlider(value=0.0, min=0.0, max=3.0, step=0.25, description="σ"),
        kappa=w.FloatLogSlider(value=20, base=10, min=0, max=4, description="κ"),
        steps=w.fixed(2000),
    )
    from IPython.display import display

    display(controls)
except ImportError:
    print("pip install ipywidgets for the sliders; the static figure follows")

# %%
explore()
print(CLAIMS["slider_defaults_converge_noise_falls_slowly"]())

# %% [markdown]
# **Conclusion.** At the defaults (exact gradients) the rates level off and the loss falls
# geometrically. Move σ above 0 and the rates follow the dashed $\eta/(\sigma\sqrt{t})$; the loss does
# not stall at a floor but its noise level falls only as slowly as the rate does (the printed claim's
# window means, σ = 1: 0.0076 over steps 500–1,000, 0.0036 over 1,500–2,000, 0.0012 over
# 19,000–20,000); set $G_0 = 0$ and the first step becomes
# $-\eta\,\mathrm{sign}(g)$ on both axes (notebook 5 measures it).
#
# ## Exercise (solution in `08_solutions.ipynb`)
#
# Derive the $\eta/(\sigma\sqrt{t})$ law: with gradients $g_t = \bar g_t + \sigma \xi_t$, $\xi_t$ standard
# normal and $\bar g_t$ the exact gradient (small once the iterate is near the minimum), what is
# $\mathbb{E}[G_t]$, and which of its terms wins for large $t$? Check it for $\sigma = 0.5$ and $2$.
