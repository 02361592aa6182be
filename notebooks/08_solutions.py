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
# # 8. Solutions to the exercises
#
# Each answer is computed, and asserted: the test run executes this notebook, so an answer that
# stops being true fails it.

# %%
import numpy as np

from adagrad_ref.example import run_documented_example
from adagrad_ref.teaching import claims
from adagrad_ref.teaching import experiments as ex
from adagrad_ref.ulp import ulp_distance

CLAIMS = claims.CLAIMS

# %% [markdown]
# ## Notebook 1: the steps by hand
#
# Each operation rounds once, in float32; done in the reference's order the five steps give the
# table's bits exactly. The one-division form rounds $g/\sqrt{\cdot}$ once instead of $1/\sqrt{\cdot}$ and
# the product twice, so $u$ can differ in its last bit; where $w + u$ nearly cancels (the coordinate
# passing near 0), one ULP of $u$ is many ULP of the small $w$.

# %%
table = run_documented_example("numpy")
f32 = np.float32
w, G, eps = np.array([1, 2, 3], f32), np.full(3, 0.1, f32), f32(1e-7)
w1, G1 = w.copy(), G.copy()
first = None
for t in range(1, 6):
    g = f32(2) * w
    G = G + g * g
    s = f32(1) / np.sqrt(G + eps)
    w = w + f32(-1) * (s * g)
    assert np.array_equal(w.view(np.uint32), table[t].view(np.uint32)), t
    g1 = f32(2) * w1
    G1 = G1 + g1 * g1
    u1, u = -(g1 / np.sqrt(G1 + eps)), f32(-1) * (s * g)
    w1 = w1 + u1
    du, dw = ulp_distance(u1, u).astype(int), ulp_distance(w1, table[t]).astype(int)
    print(f"step {t}: by hand == table; one division: u {du} ULP, w {dw} ULP from the table, w = {table[t]}")
    if first is None and dw.any():
        first = (t, du, dw, table[t])
t, du, dw, wt = first
where = abs(wt[dw.argmax()])
print(f"first difference at step {t}: u by {du.max()} ULP, w by {dw.max()} ULP where |w| = {where:.3g}")
assert du.max() <= 1 and dw.max() > du.max() and where < 0.1

# %% [markdown]
# ## Notebook 2: another budget
#
# With $a_i = \lVert g_{1:T,i}\rVert_2^2$ and the budget $\sum_i s_i^2 = c$, the Lagrangian
# $\sum_i a_i/s_i + \lambda(\sum_i s_i^2 - c)$ gives $-a_i/s_i^2 + 2\lambda s_i = 0$, so
# $s_i \propto a_i^{1/3} = \lVert g_{1:T,i}\rVert_2^{2/3}$: a gentler scale than the square root of the sum.
# The budget decides the power; the paper's budget (a bound on the trace, $\sum_i s_i$) gives Adagrad's.

# %%
data, _, best, _ = claims.rare_features_runs()
n = best["adagrad"][0].gradient_column_norms
d = n.size


def on_budget(s):  # rescale every row of s to sum(s**2) = d
    s = np.atleast_2d(s)
    return s * np.sqrt(d / np.sum(s * s, axis=1, keepdims=True))


costs = {p: float(claims.diagonal_cost(n, on_budget(n**p))[0]) for p in (2 / 3, 1.0, 0.5, 0.0)}
rng = np.random.default_rng(1)
s_best = on_budget(n ** (2 / 3))
nearby = on_budget(s_best * np.exp(0.05 * rng.standard_normal((1000, d))))
best_nearby = float(claims.diagonal_cost(n, nearby).min())
for p, c in costs.items():
    print(f"s proportional to |g_i|^{p:.3g}: cost {c:.6g}")
print(f"best of 1,000 perturbations of the 2/3 power: {best_nearby:.6g}")
assert costs[2 / 3] < min(costs[1.0], costs[0.5], costs[0.0], best_nearby)

# %% [markdown]
# ## Notebook 3: the $\eta/(\sigma\sqrt t)$ law
#
# With $g_t = \bar g_t + \sigma\xi_t$, $\mathbb E[g_t^2] = \bar g_t^2 + \sigma^2$, so
# $\mathbb E[G_t] = G_0 + \sum_\tau \bar g_\tau^2 + \sigma^2 t$. Near the minimum $\bar g_\tau \to 0$ and the
# sum of $\bar g_\tau^2$ stays bounded, so for large $t$, $G_t \approx \sigma^2 t$ and the rate
# $\eta/\sqrt{G_t} \approx \eta/(\sigma\sqrt t)$.

# %%
c = CLAIMS["noisy_rate_is_eta_over_sigma_sqrt_t"]()
print(c)
assert c.holds
for sigma in (0.5, 2.0):
    tr = claims.decay_runs()[sigma]
    G_per_step = tr.sum_of_squares[-1, 0] / tr.steps
    print(f"sigma = {sigma}: G_t / t = {G_per_step:.3f}, sigma^2 = {sigma**2}")
    assert abs(G_per_step / sigma**2 - 1) < 0.1

# %% [markdown]
# ## Notebook 4: RMSProp's decay
#
# A shorter memory is not faster here: with decay 0.9 the average fills with the large gradients just
# after the move within a few steps, and the rate drops; with 0.999 the average hardly notices them
# and the rate stays near its pre-move value, so the step is gradient descent's. The floor before the
# move is gradient descent's for every decay: the rate settles near η/σ whatever the memory.

# %%
q1 = ex.Quadratic.make([1.0, 1.0])
gd_floor = float(np.mean(claims.warning_runs()[1].loss[4000:5000]))
steps, floors = {}, {}
for decay in (0.9, 0.99, 0.999):
    tr = ex.run_rmsprop(q1, [1.0, 1.0], 0.05, 6000, decay=decay, noise=1.0, shift=(5000, [3.0, -3.0]))
    steps[decay], floors[decay] = claims.recovery_steps(tr), float(np.mean(tr.loss[4000:5000]))
    print(
        f"decay {decay}: back under 0.1 after {steps[decay]} steps; floor before the move {floors[decay]:.4f}"
    )
print(f"gradient descent's floor: {gd_floor:.4f}")
assert steps[0.999] <= steps[0.99] < steps[0.9]
assert all(abs(f / gd_floor - 1) < 0.1 for f in floors.values())

# %% [markdown]
# ## Notebook 5, exercise 1: with $G_0 = \epsilon = 0$ the path ignores the curvatures
#
# On $f = \tfrac12\sum_i \lambda_i x_i^2$, $g_{t,i} = \lambda_i x_{t,i}$, so
# $u_{t,i} = -\eta\,\lambda_i x_{t,i}/\sqrt{\sum_\tau \lambda_i^2 x_{\tau,i}^2}
# = -\eta\,x_{t,i}/\sqrt{\sum_\tau x_{\tau,i}^2}$:
# λ cancels, and the recursion for each coordinate is the same for every curvature.

# %%
c = CLAIMS["path_ignores_curvatures_without_g0_and_eps"]()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 5, exercise 2: without the square root
#
# $u = -\eta\,g/G$; the first step is $-\eta\,g/g^2 = -\eta/g$: the smaller the gradient, the larger the
# step, and λ no longer cancels: the first step is $-\eta/(\lambda x)$, largest on the flattest axis,
# and its size depends on the units of $x$.

# %%
c = CLAIMS["without_the_square_root_curvature_comes_back"]()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 5, exercise 3: where Adagrad beats tuned gradient descent
#
# Adagrad beats gradient descent's best step count over a whole range of η, about a decade wide
# (printed below): on this problem it need not be tuned carefully to win. Gradient descent must be:
# it reaches $10^{-12}$ within the run only in a narrow band of rates just below its stability limit
# $2/\lambda_{\max} = 0.5$ (printed below).

# %%
c = CLAIMS["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"]()
print(c)
assert c.holds
wins = [e for e, s in claims.tuned_runs()["Adagrad"][1].items() if s < c.values["gd_steps"]]
n = len(claims.TEXTBOOK_GRID)
print(f"Adagrad beats gradient descent's best ({c.values['gd_steps']:.0f} steps) at every eta in "
      f"[{min(wins):g}, {max(wins):g}] on the grid ({len(wins)} of {n} rates)")  # fmt: skip
print(f"the range spans a factor of {max(wins) / min(wins):.1f} in eta")
assert len(wins) >= 5 and max(wins) / min(wins) >= 9
gd_ok = [e for e, s in claims.tuned_runs()["gradient descent"][1].items() if s < 10**9]
print(f"gradient descent reaches 1e-12 at {len(gd_ok)} of {n} rates, eta in [{min(gd_ok):g}, {max(gd_ok):g}]")
assert len(gd_ok) < len(wins) and max(gd_ok) < 0.5 and max(gd_ok) / min(gd_ok) < 2

# %% [markdown]
# ## Notebook 6: rotate the start point too

# %%
q_rot = ex.Quadratic.make([0.2, 4.0], angle=np.pi / 4)
R = q_rot.rotation
aligned = ex.run_full_matrix(ex.Quadratic.make([0.2, 4.0]), [-5, -2], 0.4, 60)
rotated = ex.run_full_matrix(q_rot, R @ np.array([-5.0, -2.0]), 0.4, 60)
gap = np.max(np.abs(aligned.params @ R.T - rotated.params))
print(f"max |R x_aligned - x_rotated| over 60 steps: {gap:.1e}")
assert gap < 1e-9
c = CLAIMS["full_matrix_is_rotation_invariant_if_the_start_rotates_too"]()
print(c)
assert c.holds
