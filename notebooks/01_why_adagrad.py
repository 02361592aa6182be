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
# # 1. Why Adagrad exists: rare features
#
# *Student track, notebook 1 of the course (index: `docs/course.md`). You need: gradient descent,
# NumPy.*
#
# Duchi, Hazan & Singer (2011) built Adagrad for **online learning**: examples arrive one at a time;
# at each step $t$ the learner predicts with its current weights $w_t$, suffers a loss $f_t(w_t)$ on
# that example, and only then updates. With sparse features (a word in a text, a user id in a click
# log) most features are absent from most examples: a rare feature's weight gets few gradients, and a
# single step size small enough for the frequent features leaves it barely trained. Adagrad gives
# each feature a step size set by its own history of gradients.
#
# The problem here: online linear regression with $d = 200$ features; feature $i$ is present in an
# example with probability $0.5/i$ (a Zipf-like law: a few frequent features, many rare ones), with a
# random sign; the target is $y = x \cdot w^* + 0.1\,\xi$ with $\xi$ standard normal. The loss of
# example $t$ is $\tfrac12 (x_t\cdot w - y_t)^2$; its gradient is zero on the features absent.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.teaching import rare_features as rf
from adagrad_ref.teaching.lessons import why_adagrad as lesson

data = rf.make_problem()  # 10,000 examples; data.rows[t]: the features present, data.values[t]: ±1
counts = np.bincount(np.concatenate(data.rows), minlength=data.d)
print(
    f"{data.steps:,} examples, {np.mean([r.size for r in data.rows]):.2f} features present on average;"
    f" the 10 most frequent features appear {counts[:10].min()} to {counts[:10].max()} times,"
    f" the 10 rarest {counts[-10:].min()} to {counts[-10:].max()} times."
)

# %% [markdown]
# ## Adagrad from scratch
#
# Adagrad keeps, per feature $i$, the sum of its squared gradients
# $G_{t,i} = G_{0} + \sum_{\tau \le t} g_{\tau,i}^2$ and steps
# $w_{t+1,i} = w_{t,i} - \eta\, g_{t,i} / \sqrt{G_{t,i} + \epsilon}$. Its *effective learning rate*
# for feature $i$, $\eta/\sqrt{G_{t,i}+\epsilon}$, falls only as that feature's own gradients arrive.
# ($G_0 = 0.1$ and $\epsilon = 10^{-7}$ are optax's defaults: $G_0$ keeps the first division away
# from zero.) In NumPy, one pass over the examples:


# %%
def adagrad_from_scratch(data, eta, G0=0.1, eps=1e-7):
    w = np.zeros(data.d)
    G = np.full(data.d, G0)  # one accumulator per feature
    for rows, values, y in zip(data.rows, data.values, data.y, strict=True):
        g = np.zeros(data.d)
        g[rows] = (values @ w[rows] - y) * values  # gradient of ½(x·w − y)²: zero where x is 0
        G = G + g * g  # each feature sums its own squared gradients
        w = w - eta * (g * (1 / np.sqrt(G + eps)))  # and gets its own rate η/√(G + ε)
    return w


w_scratch = adagrad_from_scratch(data, eta=0.533)  # 0.533: Adagrad's best η on the grid below

# %% [markdown]
# The package does the same steps: `adagrad_ref.adagrad` is optax's `adagrad` in NumPy, and
# `sparse_step_inplace` (Numba) updates only the rows that have a gradient. The same pass through
# both, compared bit for bit with the lines above:

# %%
opt = adagrad(learning_rate=0.533)
w_ref = np.zeros(data.d)
state = opt.init(w_ref)
for rows, values, y in zip(data.rows, data.values, data.y, strict=True):
    g = np.zeros(data.d)
    g[rows] = (values @ w_ref[rows] - y) * values
    updates, state = opt.update(g, state)
    w_ref = apply_updates(w_ref, updates)
w_sparse = rf.run_online(data, "adagrad", 0.533).w  # the sparse Numba step, one row per feature present
same = np.array_equal(w_scratch, w_ref) and np.array_equal(w_scratch, w_sparse)
print(
    f"After {data.steps:,} steps the from-scratch weights, the reference class's and the sparse Numba"
    f" step's are {'identical to the last bit' if same else 'NOT identical'} on all {data.d} features."
)

# %% [markdown]
# ## Adagrad against SGD, each at its best learning rate
#
# The baseline is stochastic gradient descent with the step $\eta_0/\sqrt t$ that the convergence
# proofs use. Each method runs at every η of one grid (0.03 to 9.5) and keeps the η with the least
# cumulative loss; both optima fall inside the grid.

# %%
data, best, (w_hindsight, comparator) = lesson.runs()
lesson.fig_rare_features()
plt.show()

# %%
print(lesson.rare_features_adagrad_learns_rare_weights())

# %% [markdown]
# **Conclusion.** Both methods learn the frequent weights; on the rare ones SGD's error is several
# times Adagrad's, because the global $\eta_0/\sqrt t$ has decayed long before a rare feature has been
# seen often, while that feature's Adagrad rate has only been lowered by its own few gradients.
#
# ## Regret
#
# Online learning is judged by **regret**: the learner's cumulative loss minus that of a
# **comparator**, here the best *fixed* weights in hindsight $w^\dagger$ (least squares on all
# 10,000 examples at once), $R(T) = \sum_{t\le T} f_t(w_t) - \sum_{t\le T} f_t(w^\dagger)$. When the
# regret grows slower than $T$, the average regret $R(T)/T$ goes to 0: in the long run the method does
# as well per example as the best fixed weights.

# %%
print(lesson.rare_features_regret_grows_slower_than_sqrt_t())

# %% [markdown]
# **The regret bound.** For convex losses $f_t$ (ours are) and iterates kept in a bounded set (the
# proof projects onto it; our runs do not project), Duchi et al. prove for diagonal Adagrad with a
# well-chosen η
#
# $$ R(T) \;\le\; \sqrt2\, D_\infty \sum_{i=1}^{d} \lVert g_{1:T,i}\rVert_2, $$
#
# where $g_{1:T,i} = (g_{1,i}, \dots, g_{T,i})$ is feature $i$'s gradients over the run, and
# $D_\infty$ bounds the distance from any iterate to the comparator in the max norm,
# $\lVert w_t - w^\dagger\rVert_\infty \le D_\infty$. Online gradient descent's bound grows instead with
# $D_2\,\lVert g_{1:T}\rVert_F$, where $D_2$ is the same distance in the Euclidean norm and
# $\lVert g_{1:T}\rVert_F = \sqrt{\sum_{t,i} g_{t,i}^2}$ is the Frobenius norm, the root of the sum of
# every squared gradient entry. Sparse gradients can make $\sum_i \lVert g_{1:T,i}\rVert_2$ much smaller
# than its worst case $\sqrt d\,\lVert g_{1:T}\rVert_F$. As stand-ins for $D_\infty$ and $D_2$ we take the
# distances from the start $w = 0$ to the true weights $w^*$ (close to $w^\dagger$):
# $D_\infty = \lVert w^*\rVert_\infty$ and $D_2 = \lVert w^*\rVert_2$:

# %%
print(lesson.comparing_two_upper_bounds_does_not_rank_the_methods())

# %% [markdown]
# **Conclusion.** A regret bound is an upper bound: it says how badly a method can do on the worst
# problem of its class, not how well it does on this one. Adagrad's bound is the larger here, yet its
# measured regret is the smaller. To rank two methods, measure them.
#
# ## How the gain depends on how rare the rare features are
#
# The same experiment with feature $i$ present with probability $0.5/i^a$, for six Zipf exponents $a$
# (larger $a$: rarer rare features), each method again at its best η:

# %%
print(lesson.the_gain_depends_on_how_rare_the_rare_features_are())

# %% [markdown]
# **Conclusion.** Adagrad's advantage needs features that are rare but not absent: the gain is a
# hump, largest at a moderate rarity (where exactly is this draw of the data, not the lesson); when
# every feature is common the gain is smaller (a = 0.5), and a feature never seen cannot be learned
# by anyone (a = 2).
#
# ## Where $\sqrt{\sum g^2}$ comes from
#
# Take a fixed diagonal step, $w \leftarrow w - \eta\,\mathrm{diag}(s)^{-1} g$ with scales $s_i > 0$. The
# part of its regret bound the gradients contribute is proportional to
# $\sum_t \sum_i g_{t,i}^2 / s_i = \sum_i \lVert g_{1:T,i}\rVert_2^2 / s_i$ (Duchi, Hazan & Singer 2011,
# section 1.1). Which scales make it smallest for a fixed budget $\sum_i s_i = c$? With a Lagrange
# multiplier $\lambda$, each term gives $-\lVert g_{1:T,i}\rVert_2^2 / s_i^2 + \lambda = 0$, so
#
# $$ s_i = \frac{\lVert g_{1:T,i}\rVert_2}{\sqrt\lambda} \;\propto\; \sqrt{\textstyle\sum_t g_{t,i}^2}
# \qquad\text{and then}\qquad
# \sum_i \frac{\lVert g_{1:T,i}\rVert_2^2}{s_i} = \frac{\bigl(\sum_i \lVert g_{1:T,i}\rVert_2\bigr)^2}{c}. $$
#
# The best scale is the square root of the sum of the squared gradients. It needs all $T$ gradients
# in hindsight; Adagrad uses the ones seen so far, $\sqrt{G_t}$. Checked on this run's gradients, with
# $c = d$:

# %%
print(lesson.sqrt_of_the_sum_is_the_best_diagonal_in_hindsight())

# %% [markdown]
# **Conclusion.** The square root in Adagrad is not a heuristic: it minimises this bound under the
# budget $\sum_i s_i = c$ (the paper's: a bound on the trace of the diagonal). Under another budget
# another power wins, as the exercise shows.
#
# ## Exercise (solution in `10_solutions.ipynb`)
#
# Redo the derivation with the budget $\sum_i s_i^2 = c$ instead of $\sum_i s_i = c$. Which power $p$
# of $\lVert g_{1:T,i}\rVert_2$ is now best? Change `p` below and compare the cost under that budget
# (the smaller the better); the gradients' column norms $\lVert g_{1:T,i}\rVert_2$ are given.

# %%
p = 1.0  # try other powers
norms = best["adagrad"][0].gradient_column_norms  # ‖g_{1:T,i}‖₂ of the best Adagrad run, one per feature
s = norms**p
s = s * np.sqrt(data.d / np.sum(s * s))  # rescaled onto the budget Σ sᵢ² = d
print(f"power p = {p:g}: cost Σᵢ ‖g_{{1:T,i}}‖²/sᵢ = {np.sum(norms**2 / s):.6g}")

# %% [markdown]
# ## Summary
#
# - Adagrad is a few lines: per feature, sum the squared gradients and divide the step by the root
#   of that sum. The package computes exactly those steps, to the last bit.
# - On sparse features it learns the rare weights that a globally decayed step leaves untrained, and
#   its regret against the best fixed weights is several times smaller.
# - Regret bounds hold for convex losses on a bounded domain; they are upper bounds and do not rank
#   methods. Over the exponents tried, the gain is a hump: largest at a moderate rarity, smaller
#   when every feature is common and when the rare ones are seen at most a few times or never.
# - $\sqrt{\sum g^2}$ is the best diagonal scale in hindsight under a trace budget.
#
# Next: notebook 2, how Adagrad's rate decays.
