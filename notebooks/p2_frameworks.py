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
# # p2. The same optimizer in four frameworks
#
# *Porters' track, notebook p2. You need: notebook p1.*
#
# "Adagrad" names different arithmetic in optax, PyTorch, Keras and TensorFlow.
# `adagrad_ref.conventions` implements each in its own order of operations, with its own defaults:
#
# | | $G_0$ | $\epsilon$ | where $\epsilon$ goes |
# |---|---|---|---|
# | optax | 0.1 | 1e-7 | inside the root, with a `G > 0` guard |
# | PyTorch | 0 | 1e-10 | outside the root |
# | Keras | 0.1 | 1e-7 | inside the root |
# | tf.keras 2 `Adagrad` (op `ApplyAdagradV2`, no defaults of its own) | 0.1 | 1e-7 | outside the root |
#
# The same problem, the same learning rate, each framework's defaults (and PyTorch once more with
# $G_0 = 0.1$, to tell its two differences apart):

# %%
import matplotlib.pyplot as plt
import numpy as np

from adagrad_ref.teaching.lessons import frameworks as lesson

# %%
lesson.fig_frameworks()
plt.show()

# %%
for name, tr in lesson.framework_runs().items():
    step = np.array2string(tr.params[1] - tr.params[0], precision=5)
    print(
        f"{name}: first step {step}; at most {lesson.framework_gap(name):.2e} from optax's params;"
        f" loss after 200 steps {tr.loss[-1]:.3e}"
    )
print(lesson.framework_gap_is_g0_not_eps_placement())

# %% [markdown]
# **Conclusion.** PyTorch starts its accumulator at 0, so its first step is $-\eta\,\mathrm{sign}(g)$
# per coordinate (the printed $+0.4$ moves against a negative gradient); the others start at 0.1.
# That, not where ε goes, is PyTorch's gap: given $G_0 = 0.1$ it stays with optax to float32 rounding,
# and TensorFlow, which also puts ε outside the
# root, stays with Keras on this problem.
#
# ## The `G > 0` guard
#
# With $G_0 = 0$ and $\epsilon = 0$, a zero gradient meets $G = 0$:

# %%
print(lesson.zero_accumulator_guard())

# %% [markdown]
# **Conclusion.** optax's guard returns a zero update where $G = 0$; the others compute $0/0$.
# This is the guard at work, not the placement of ε. Golden values for each convention, for ports to
# check themselves against, are in `adagrad_ref/golden/` (the porter's guide: `docs/porting.md`).
