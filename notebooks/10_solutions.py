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
# # 10. Solutions to the exercises
#
# Each answer is computed here, and checked as it runs: an `assert` stops the notebook if an answer
# stops being true. In the course's order: notebooks 1–6, then the porters' track, then
# (at the end) notebooks 7 and 8 (notebook 9 has no exercise).

# %%
import numpy as np

from adagrad_ref.example import run_documented_example
from adagrad_ref.numerics.ulp import ulp_distance
from adagrad_ref.teaching.lessons import diagonal_vs_full_matrix as lesson06
from adagrad_ref.teaching.lessons import implicit_vs_explicit_decay as decay
from adagrad_ref.teaching.lessons import learning_rate_decay, the_warning, why_adagrad
from adagrad_ref.teaching.lessons import textbook_quadratic as textbook

# %% [markdown]
# ## Notebook 1: another budget
#
# With $a_i = \lVert g_{1:T,i}\rVert_2^2$ and the budget $\sum_i s_i^2 = c$, the Lagrangian
# $\sum_i a_i/s_i + \lambda(\sum_i s_i^2 - c)$ gives $-a_i/s_i^2 + 2\lambda s_i = 0$, so
# $s_i \propto a_i^{1/3} = \lVert g_{1:T,i}\rVert_2^{2/3}$: a gentler scale than the square root of the sum.
# The budget decides the power; the paper's budget (a bound on the trace, $\sum_i s_i$) gives Adagrad's.

# %%
c = why_adagrad.another_budget_gives_another_power()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 2: the $\eta/(\sigma\sqrt t)$ law
#
# With $g_t = \bar g_t + \sigma\xi_t$, $\mathbb E[g_t^2] = \bar g_t^2 + \sigma^2$, so
# $\mathbb E[G_t] = G_0 + \sum_\tau \bar g_\tau^2 + \sigma^2 t$. The noise keeps the iterate moving
# around the minimum, so $\bar g_\tau$ does not vanish and its sum keeps growing; but it grows far
# more slowly than $t$ (printed below: most of it is collected on the way in), so for large $t$,
# $G_t \approx \sigma^2 t$ and the rate $\eta/\sqrt{G_t} \approx \eta/(\sigma\sqrt t)$.

# %%
c = learning_rate_decay.noisy_rate_is_eta_over_sigma_sqrt_t()
print(c)
assert c.holds
for sigma in (0.5, 2.0):
    tr = learning_rate_decay.decay_runs()[sigma]
    G_per_step = tr.sum_of_squares[-1, 0] / tr.steps
    print(f"sigma = {sigma}: G_t / t = {G_per_step:.3f}, sigma^2 = {sigma**2}")
    assert abs(G_per_step / sigma**2 - 1) < 0.1
    exact = np.cumsum((tr.params[:-1] * np.array([0.2, 4.0])) ** 2, axis=0)  # ḡ = λ·x on f's axes
    s3, s4 = exact[999].sum(), exact[9_999].sum()
    print(f"   sum of exact g^2 (both axes): {s3:.0f} at t = 1,000, {s4:.0f} at t = 10,000 (x{s4 / s3:.2f});")
    print(f"   sigma^2 t over both axes: {2 * sigma**2 * 1000:.0f} and {2 * sigma**2 * 10_000:.0f} (x10)")
    assert 1 < s4 / s3 < 2 and s4 < 0.2 * 2 * sigma**2 * 10_000

# %% [markdown]
# ## Notebook 3: Adagrad with gradient descent's lag
#
# Adagrad's lag is set by its rate at the move, about $\eta/(\sigma\sqrt{5000})$. To match gradient
# descent's rate 0.05 it needs $\eta \approx 0.05\,\sqrt{5000} \approx 3.5$; then it also has
# gradient descent's mean loss before the move: the trade-off is the rate, whichever method reaches it.

# %%
c = the_warning.adagrad_at_gradient_descents_rate_has_its_lag()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 4, exercise 1: with $G_0 = \epsilon = 0$ the path ignores the curvatures
#
# On $f = \tfrac12\sum_i \lambda_i x_i^2$, $g_{t,i} = \lambda_i x_{t,i}$, so
# $u_{t,i} = -\eta\,\lambda_i x_{t,i}/\sqrt{\sum_\tau \lambda_i^2 x_{\tau,i}^2}
# = -\eta\,x_{t,i}/\sqrt{\sum_\tau x_{\tau,i}^2}$:
# λ cancels, and the recursion for each coordinate is the same for every curvature.

# %%
c = textbook.path_ignores_curvatures_without_g0_and_eps()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 4, exercise 2: without the square root
#
# $u = -\eta\,g/G$; the first step is $-\eta\,g/g^2 = -\eta/g$: the smaller the gradient, the larger the
# step, and λ no longer cancels: the first step is $-\eta/(\lambda x)$, largest on the flattest axis,
# and its size depends on the units of $x$.

# %%
c = textbook.without_the_square_root_curvature_comes_back()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 4, exercise 3: where Adagrad beats tuned gradient descent
#
# Adagrad beats gradient descent's best step count over a whole band of η, from just below the
# exercise's η = 1 up to the grid's top, about a decade. From η ≈ 5 on those runs first overshoot
# (their loss rises above its start), so under notebook 4's tuning rule the band ends near 4: still
# most of a decade. On this problem Adagrad need not be tuned carefully to win. Put to the same
# test, whether loss $10^{-12}$ is reached at all within the 300 steps, Adagrad passes at many more of
# the 31 rates than gradient descent, whose narrow band lies below its stability limit
# $2/\lambda_{\max} = 0.5$ (the printed shares of it): too small and it is too slow for the budget;
# close below 0.5 too (at the grid's 0.497 the steep axis is multiplied by $1 - \eta\lambda_{\max}
# \approx -0.99$ a step: it oscillates, and shrinks slowly); above 0.5 it diverges.

# %%
c = textbook.adagrad_beats_tuned_gd_over_a_wide_band()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook 5: the largest η₀ that never climbs
#
# The decay's first step uses η₀ itself. From $(-5, -2)$, $x_1 \to -5(1 - 0.2\eta_0)$ and
# $x_2 \to -2(1 - 4\eta_0)$, so the loss after it is
# $2.5(1 - 0.2\eta_0)^2 + 8(1 - 4\eta_0)^2 = 10.5 - 65\,\eta_0 + 128.1\,\eta_0^2$: at most the starting
# 10.5 while $\eta_0 \le 65/128.1 \approx 0.507$, a little above $2/\lambda_{\max} = 0.5$ (at first
# the flat axis's fall outweighs the steep axis's overshoot). From step 2 on the rate is at most
# $0.507/\sqrt2 < 0.5$: every coordinate shrinks at every step, and so does the loss. So the largest
# η₀ that never climbs is that first-step limit; the grid's last non-climbing point, 0.4967, happens
# to lie just below 0.5.

# %%
c = decay.the_decays_largest_eta0_is_set_by_its_first_step()
print(c)
assert c.holds

# %% [markdown]
# Just above the limit the climb is tiny and grows smoothly with η₀; it comes at step 1 (the first,
# largest step) or soon after, and the run still falls afterwards:

# %%
decaying = decay.runners()["gradient descent η₀/√(t+1)"]
peaks = {}
for eta0 in (0.51, 0.6, 1.0):
    loss = decaying(eta0).loss
    peaks[eta0] = loss.max() / loss[0]
    print(f"η₀ = {eta0}: the loss peaks at {peaks[eta0]:.3g}× its start, at step {loss.argmax()},"
          f" and ends at {loss[-1]:.2g}")  # fmt: skip
assert 1 < peaks[0.51] < 1.05 and peaks[0.51] < peaks[0.6] < peaks[1.0]

# %% [markdown]
# ## Notebook 6: why rotating everything gives the same path
#
# If the rotated run's gradients are $R\,g_\tau$ up to step $t$, its accumulator is
# $G_0 + \sum_\tau R g_\tau g_\tau^\top R^\top = R\,G_t R^\top$, provided $G_0 = g_0 I$ (then
# $R\,G_0 R^\top = G_0$). Adding $\epsilon I = R\,\epsilon I R^\top$ keeps the form, and a matrix
# function commutes with the rotation: if $G_t + \epsilon I = V \Lambda V^\top$ then
# $R(G_t + \epsilon I)R^\top = (RV)\Lambda(RV)^\top$, so
# $(R(G_t + \epsilon I)R^\top)^{-1/2} = R\,(G_t + \epsilon I)^{-1/2}R^\top$. The update is
# $-\eta R (G_t + \epsilon I)^{-1/2} R^\top R g_t = R\,u_t$, so the iterates stay $R\,w_t$ and the
# next gradient is $R g_{t+1}$: by induction, the whole path rotates. It needs $G_0$ and ε to be
# multiples of $I$ (a non-uniform diagonal $G_0$ would not rotate into itself) and the start rotated
# too. The diagonal method keeps only $\mathrm{diag}(R\,G_t R^\top)$, which in general is not
# $R\,\mathrm{diag}(G_t) R^\top$: rotation mixes the coordinates it divides separately. The exception
# is a rotation that maps the axes onto the axes (a signed permutation, in 2-D the multiples of 90°):
# then $R\,D R^\top$ is diagonal for every diagonal $D$, the two are equal, and the diagonal's path
# rotates too.

# %%
c = lesson06.the_diagonal_rotates_only_with_axes_onto_axes()
print(c)
assert c.holds

# %% [markdown]
# ## Notebook p1: the steps by hand
#
# Each operation rounds once, in float32; done in the reference's order the five steps give the
# table's bits exactly. After the square root the reference rounds twice ($1/\sqrt{\cdot}$, then
# $\times g$), the one-division form once ($g/\sqrt{\cdot}$), so from the same state its $u$ can differ
# in the last bit. Whether $w$ notices depends on $w + u$: a
# 1-ULP change of $u$ usually rounds away in the sum, except where the sum nearly cancels (the
# coordinate passing near 0), where one ULP of $u$ is many ULP of the small $w$.

# %%
table = run_documented_example("numpy")
f32 = np.float32
w, G, eps = np.array([1, 2, 3], f32), np.full(3, 0.1, f32), f32(1e-7)
w1, G1 = w.copy(), G.copy()
first_u = first_w = None
for t in range(1, 6):
    g = f32(2) * w
    G = G + g * g
    s = f32(1) / np.sqrt(G + eps)
    u = f32(-1) * (s * g)  # the reference: -η·(s·g); ×(-1) is exact, so two roundings after √
    du = ulp_distance(-(f32(1) * g / np.sqrt(G + eps)), u).astype(int)  # one division, same state
    w = w + u
    assert np.array_equal(w.view(np.uint32), table[t].view(np.uint32)), t
    g1 = f32(2) * w1  # the one-division path, run on its own
    G1 = G1 + g1 * g1
    w1 = w1 + -(f32(1) * g1 / np.sqrt(G1 + eps))
    dw = ulp_distance(w1, table[t]).astype(int)
    print(f"step {t}: by hand == table; one division, same state: u {du} ULP; its own path: w {dw} ULP")
    if first_u is None and du.any():
        first_u = t
    if first_w is None and dw.any():
        first_w, i = t, int(dw.argmax())
        u_ulps, w_ulps, where = int(du[i]), int(dw[i]), abs(float(table[t][i]))
print(f"u first differs at step {first_u}; w first differs at step {first_w}, on x{i + 1} = {where:.3g},")
print(f"where the one-division u, {u_ulps} ULP off, moves w by {w_ulps} ULP")
assert first_u < first_w and u_ulps == 1 and w_ulps > 1 and where < 0.1

# %% [markdown]
# ## Notebooks 07–09
#
# ### Notebook 7, exercise 1: RMSProp's memory
#
# With every gradient equal, RMSProp's rate is $\eta/(|g|\sqrt{1-\beta^t})$: the first rate is
# $1/\sqrt{1-\beta}$ times the steady one (3.16 for 0.9, 10 for 0.99, 31.6 for 0.999), and the warm-up
# lasts about $\ln(0.1)/\ln\beta$ steps, ten times longer for each extra 9. At the same learning rate, a
# longer memory makes the average notice a move later, so the rate stays high just after it and the
# recovery is faster. The mean loss over the run does not follow: it is lowest at 0.99. At 0.999 the
# first phase, the warm-up, costs about twice 0.9's first-phase loss, and between moves the loss settles a
# little higher.

# %%
from adagrad_ref.teaching.lessons import a_real_model as real  # noqa: E402
from adagrad_ref.teaching.lessons import rmsprop_and_adam as ra  # noqa: E402

mem = ra.memory_facts()
for beta, m in mem.items():
    print(f"decay {beta}: first rate {m['first_rate']:.1f}x, within 5% from step {m['warm_up_steps']:.0f};"
          f" at eta = {m['eta']:.3g}: recovery {m['recovery']:.0f} steps, mean loss {m['mean_loss']:.3f}"
          f" (first phase {m['first_phase_loss']:.3f}, settled {m['settled_loss']:.4f})")  # fmt: skip
assert ra.memory_facts_hold(mem)

# %% [markdown]
# ### Notebook 7, exercise 2: a longer run
#
# Tuned again on twice as many moves, Adagrad's best learning rate goes up (its rate falls like
# $1/\sqrt t$, so a longer run needs a larger $\eta$ to keep a usable rate at the end), while RMSProp's
# and Adam's best rates stay where they were: their rate does not depend on how long they have run.
# Within the run, Adagrad's recovery still grows from move to move.

# %%
short, long = ra.moves_facts(10), ra.moves_facts(20)
for m in short["eta"]:
    print(f"{m}: best eta {short['eta'][m]:.3g} over 10 phases, {long['eta'][m]:.3g} over 20")
rec = long["recovery"]["Adagrad"]
print(
    f"Adagrad's recovery over 20 phases: first three moves {rec[:3].mean():.0f},",
    f"last three {rec[-3:].mean():.0f}",
)
assert long["eta"]["Adagrad"] > short["eta"]["Adagrad"]
assert all(long["eta"][m] == short["eta"][m] for m in ("RMSProp", "Adam", "gradient descent"))
assert rec[-3:].mean() > 2 * rec[:3].mean()

# %% [markdown]
# ### Notebook 8, exercise 1: a short budget
#
# With 3 epochs Adagrad's best rate is 1 in every order, against 0.316 for 15 epochs. In each of
# notebook 8's four orders of the mini-batches the lowest objective is Adam's or Adagrad's, never
# SGD's or RMSProp's: Adam's in three orders, Adagrad's in the fourth, by less than 0.005 in two of
# them. The two are not always the first two: in order 1 Adagrad is third, behind RMSProp. So the
# short budget has no single winner either; what one order shows, another can reverse.

# %%
for seed, row in real.orders(3).items():
    best = min(row, key=lambda m: row[m]["final"])
    finals = ", ".join(f"{m} {r['final']:.3f} (eta {r['eta']:.3g})" for m, r in row.items())
    print(f"order {seed}, 3 epochs: {finals}; lowest: {best}")
    assert best in ("Adam", "Adagrad") and round(row["Adagrad"]["eta"], 9) == 1

# %% [markdown]
# ### Notebook 8, exercise 2: where the rates end
#
# At each of these thresholds the rarely-on pixels keep a larger mean rate than the others: the rate
# follows the frequency almost in rank order (rank correlation −0.97 in notebook 8, not −1), so the
# cuts agree.

# %%
freq = real.pixel_frequency()
rates = real.adagrad_pixel_rates(real.compare()["Adagrad"][1])
for threshold in (0.05, 0.1, 0.3):
    rare = (freq > 0) & (freq < threshold)
    a, b = rates[rare].mean(), rates[~rare & (freq > 0)].mean()
    print(f"under {threshold:.0%}: {rare.sum()} pixels, mean rate {a:.3f}; the others {b:.3f}")
    assert a > b
