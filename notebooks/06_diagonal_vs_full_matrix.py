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
# # 6. The diagonal against the full matrix
#
# *Student track, notebook 6. You need: notebook 4 (preconditioning, the rotated quadratic).*
#
# The documentation defines $G = \sum_t g_t g_t^\top$ and then keeps only $\mathrm{diag}(G)$: one
# number per parameter. `adagrad_ref.teaching.full_matrix.FullMatrixAdagrad` keeps the whole matrix
# and preconditions with $(G + \epsilon I)^{-1/2}$, computed by an eigendecomposition. What does the
# diagonal give up? The experiments are in `adagrad_ref/teaching/lessons/diagonal_vs_full_matrix.py`.

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref import adagrad
from adagrad_ref.teaching import experiments as ex
from adagrad_ref.teaching.full_matrix import FullMatrixAdagrad
from adagrad_ref.teaching.lessons import diagonal_vs_full_matrix as lesson

# %% [markdown]
# Each method at its own best η on notebook 4's grid, by notebook 4's rule (the fewest steps to loss
# $10^{-12}$ among the runs whose loss never rises above its start), on the textbook quadratic's
# eigenvalues (0.2 and 4), axis-aligned and rotated by 45°, from (−5, −2):

# %%
lesson.fig_diagonal_vs_full()
plt.show()

# %%
print(lesson.tuned_diagonal_vs_full_matrix_aligned_and_rotated())

# %% [markdown]
# **Conclusion.** Each at its own best η, on the axis-aligned quadratic the diagonal is the sooner of
# the two: there the curvature's axes are the coordinates, which is all the diagonal can see, while
# the full matrix's $G$ also collects the products $g_1 g_2$, so its steps differ from the diagonal's
# even here. Rotated by 45°, each
# coordinate sees both curvatures and the diagonal can no longer tell the steep direction from the
# flat one; the full matrix still can. At one shared untuned η = 0.4 the aligned comparison only
# says when one stopped.
#
# ## Rotation invariance, and the start point
#
# The full matrix's $G$ rotates with the problem, but only if everything rotates, the start point
# included:

# %%
print(lesson.full_matrix_is_rotation_invariant_if_the_start_rotates_too())

# %% [markdown]
# **Conclusion.** Rotate problem and start point together and the full-matrix path is the same path,
# rotated; keep the start point at $(-5, -2)$ and it is a different problem, with a different loss curve.
#
# When every gradient has a single nonzero coordinate, $G$ is diagonal and the two methods agree:

# %%
rng = np.random.default_rng(0)
diag, full = adagrad(0.3), FullMatrixAdagrad(0.3)
sd, sf = diag.init(np.zeros(3)), full.init(np.zeros(3))
worst = 0.0
for t in range(20):
    g = np.zeros(3)
    g[t % 3] = rng.standard_normal()
    ud, sd = diag.update(g, sd)
    uf, sf = full.update(g, sf)
    worst = max(worst, float(np.max(np.abs(ud - uf))))
print(f"The two updates differ by at most {worst:.1e} over 20 steps, each gradient with one nonzero entry.")

# %% [markdown]
# ## Exercise (solution in `10_solutions.ipynb`)
#
# The claim above checks rotation invariance numerically; derive it. Rotate the problem and the start
# by an orthogonal $R$, so that every gradient becomes $R\,g_t$. What becomes of $G_t$, and of
# $(G_t + \epsilon I)^{-1/2}$? Why is the rotated update $R$ times the aligned one? What does the
# argument need of $G_0$ and ε, and why does it fail for the diagonal method at every angle except
# the multiples of 90° (the rotations that map the axes onto the axes)? Change `angle` below (0.3,
# 1.0, then np.pi / 2) and see which method's path rotates with the problem.

# %%
angle = np.pi / 4  # try 0.3, 1.0, then np.pi / 2
R = ex.Quadratic.make([0.2, 4.0], angle=angle).rotation
for name, run in (("full matrix", ex.run_full_matrix), ("diagonal", ex.run_adagrad)):
    aligned = run(ex.Quadratic.make([0.2, 4.0]), [-5.0, -2.0], 0.4, 60)
    rotated = run(ex.Quadratic.make([0.2, 4.0], angle=angle), R @ np.array([-5.0, -2.0]), 0.4, 60)
    gap = np.max(np.abs(aligned.params @ R.T - rotated.params))
    print(f"{name}: max |R w_aligned - w_rotated| over 60 steps = {gap:.2g}")

# %% [markdown]
# ## Summary
#
# - Full-matrix Adagrad keeps $G = \sum_t g_t g_t^\top$ whole and preconditions with
#   $(G + \epsilon I)^{-1/2}$; it costs $O(p^3)$ a step for $p$ parameters.
# - On this axis-aligned problem the diagonal is as good (here a little sooner); rotated, only the
#   full matrix still sees the curvature's directions. It is rotation-invariant when the start rotates too.
# - When every gradient has one nonzero entry, the two are the same method.
#
# Next: notebook 7, what came after Adagrad.
