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
# # 2. Why Adagrad exists: rare features
#
# Duchi, Hazan & Singer (2011) built Adagrad for online learning with sparse features: a rare
# feature's weight gets few gradients, and a global step size small enough for the frequent features
# leaves it barely trained. Adagrad gives each feature a rate set by its own history. Their regret
# bound for Adagrad grows with $D_\infty \sum_i \lVert g_{1:T,i}\rVert_2$, where online gradient
# descent's grows with $D_2 \lVert g_{1:T}\rVert_F$ ($D_\infty$ and $D_2$ bound the distance from the
# iterates to the optimum $w^*$, in the max norm and the Euclidean norm); sparse gradients can make
# the first much smaller. Below, starting from $w = 0$, we use $\lVert w^*\rVert_\infty$ and
# $\lVert w^*\rVert_2$ as stand-ins for $D_\infty$ and $D_2$.
#
# The problem: online linear regression with 200 features, feature $i$ present with probability
# $0.5/i$ (Zipf-like), random signs, $y = x \cdot w^* + 0.1\,\xi$. Each step the learner predicts,
# suffers $\tfrac12 (x\cdot w - y)^2$, and updates the weights of the features present only:
# Adagrad with `adagrad_ref.sparse_step_inplace`, SGD with the proofs' $\eta_0/\sqrt{t}$.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching import claims, plots

CLAIMS = claims.CLAIMS
data, grid, best, (w_hindsight, comparator) = claims.rare_features_runs()
counts = np.bincount(np.concatenate(data.rows), minlength=data.d)
print(f"{data.steps:,} examples, {np.mean([r.size for r in data.rows]):.2f} features present on average;")
print(f"the 10 most frequent features appear {counts[:10].min()}-{counts[:10].max()} times,")
print(f"the 10 rarest {counts[-10:].min()}-{counts[-10:].max()} times")

# %% [markdown]
# ## The learning-rate sweep
#
# Each method at every η of the same grid; the cumulative loss over the run decides its best η:

# %%
for method, (run, table) in best.items():
    row = ", ".join(f"{eta:g}: {loss:.0f}" for eta, loss in table.items())
    print(f"{method:>8} (best eta {run.learning_rate:g}): cumulative loss per eta: {row}")

# %% [markdown]
# Both optima are inside the grid, not at its ends.
#
# ## Rare and frequent weights, and the regret

# %%
plots.fig_rare_features()
plt.show()

# %%
print(CLAIMS["rare_features_adagrad_learns_rare_weights"]())
print(CLAIMS["rare_features_regret_grows_slower_than_sqrt_t"]())

# %% [markdown]
# **Conclusion.** Each at its best η, both methods learn the frequent weights; on the rare ones SGD's error
# is several times Adagrad's, because the global $\eta_0/\sqrt{t}$ has decayed long before a rare feature
# has been seen often, while Adagrad's rate for that feature has only been lowered by that feature's own few
# gradients. The regret curves show the same thing over time: at large $T$ (slopes fitted over $T$ =
# 1,000–10,000) both grow more slowly than $\sqrt T$ on this problem (its noise is small and $w^*$ is
# learnable), but Adagrad's flattens much sooner. The paper's quantity $\sum_i \lVert g_{1:T,i}\rVert_2$ is
# printed beside it, with the worst case $\sqrt d\,\lVert g_{1:T}\rVert_F$ it is bounded by
# (Cauchy–Schwarz). With Zipf frequencies $\propto 1/i$ it is not far below that worst case, and the two
# bounds' data terms do not favour Adagrad here: the bounds are worst cases, and on this problem the
# measured gap is larger than they predict.
#
# ## Where $\sqrt{\sum g^2}$ comes from
#
# The experiment shows that a rate per feature helps; the paper also derives *which* rate. Take a
# fixed diagonal step, $w \leftarrow w - \eta\,\mathrm{diag}(s)^{-1} g$ with scales $s_i > 0$. The
# part of its regret bound that the gradients contribute is proportional to
# $\sum_t \sum_i g_{t,i}^2 / s_i = \sum_i \lVert g_{1:T,i}\rVert_2^2 / s_i$ (Duchi, Hazan & Singer 2011,
# section 1.1). Which scales make it smallest for a fixed budget $\sum_i s_i = c$? With a Lagrange
# multiplier $\lambda$, each term gives $-\lVert g_{1:T,i}\rVert_2^2 / s_i^2 + \lambda = 0$, so
#
# $$ s_i = \frac{\lVert g_{1:T,i}\rVert_2}{\sqrt\lambda} \;\propto\; \sqrt{\textstyle\sum_t g_{t,i}^2}
# \qquad\text{and then}\qquad
# \sum_i \frac{\lVert g_{1:T,i}\rVert_2^2}{s_i} = \frac{\bigl(\sum_i \lVert g_{1:T,i}\rVert_2\bigr)^2}{c}. $$
#
# The best scale is the square root of the sum of the squared gradients, and what it achieves is the
# paper's quantity $\sum_i \lVert g_{1:T,i}\rVert_2$, squared. It needs all $T$ gradients in
# hindsight; Adagrad uses the ones seen so far, $\sqrt{G_t}$, and that is why its regret bound
# carries $\sum_i \lVert g_{1:T,i}\rVert_2$. Checked on this run's gradients, with $c = d$:

# %%
print(CLAIMS["sqrt_of_the_sum_is_the_best_diagonal_in_hindsight"]())

# %% [markdown]
# **Conclusion.** The closed form and the direct sum agree, and no other scales tried do better: not
# one scale for all features (1.5× worse here, which is $(\sqrt d\,\lVert g_{1:T}\rVert_F /
# \sum_i \lVert g_{1:T,i}\rVert_2)^2$), not random ones, not small perturbations. The square root in
# Adagrad is not a heuristic: it is the minimiser of this bound under the budget $\sum_i s_i = c$
# (the paper's: it bounds the trace of the diagonal). Under another budget another power wins, as
# the exercise shows.
#
# ## Exercise (solution in `08_solutions.ipynb`)
#
# Redo the derivation with the budget $\sum_i s_i^2 = c$ instead of $\sum_i s_i = c$. Which power of
# $\lVert g_{1:T,i}\rVert_2$ is now best? Check numerically, as the claim above does, that it beats
# $s_i \propto \lVert g_{1:T,i}\rVert_2$ under that budget.
