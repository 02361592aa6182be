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
# # 9. Adagrad today, and the course in one page
#
# ## Where Adagrad is used
#
# Adagrad was built for **sparse features**: inputs where each example switches on a few of very many
# features, and the informative ones are often rare (Duchi, Hazan & Singer, "Adaptive Subgradient
# Methods for Online Learning and Stochastic Optimization", *Journal of Machine Learning Research* 12,
# 2121–2159, 2011: "needles in haystacks", in their words "very predictive but rarely seen
# features"). That is where it has been used at scale:
#
# * **Click-through-rate (CTR) models.** McMahan et al., "Ad Click Prediction: a View from the
#   Trenches" (KDD 2013), describe a deployed ad click prediction system trained online with
#   FTRL-Proximal and *per-coordinate learning rates*, the Adagrad idea applied to billions of sparse
#   features.
# * **Large distributed networks.** Dean et al., "Large Scale Distributed Deep Networks" (NIPS 2012,
#   the DistBelief system), used Adagrad's per-parameter rates with their asynchronous Downpour SGD
#   and found they made training more robust.
# * **Word embeddings.** Pennington, Socher & Manning, "GloVe: Global Vectors for Word Representation"
#   (EMNLP 2014), train their word vectors with AdaGrad; their released code (`glove.c`) starts from a
#   learning rate of 0.05. An embedding table is a sparse-feature model: each word's vector gets a
#   gradient only when that word occurs.
#
# Notebooks 1 and 8 measured the mechanism: the rate of a weight is set by its own feature's history,
# so a rare feature keeps a large rate (on the digits, the rank correlation between a pixel's
# frequency and its rate was almost −1).
#
# ## Its limitation, and what replaced it
#
# The rate $\eta/\sqrt{G_t}$ only falls. On a problem that keeps changing, Adagrad's reaction time
# grows with the history it has summed (notebook 7: it doubled over nine moves of the optimum), and
# its learning rate must be tuned to the length of the run. RMSProp and Adam keep the rate per
# coordinate but average the squared gradients with a leak, so they forget; Adam adds momentum and a
# bias correction. They do not dominate it: between changes Adagrad's falling rate averages noise
# away (notebook 7's lowest mean loss), and on a small convex model all four reach about the same
# test accuracy (notebook 8: within a handful of its 449 test images).
#
# ## The defaults differ between frameworks
#
# "Adagrad" is one formula with different defaults. They are printed from `adagrad_ref.conventions`,
# whose factories mirror each framework (`tests/teaching/test_lesson_a_real_model.py` checks these defaults
# against the installed optax, PyTorch and Keras):

# %%
import inspect

from adagrad_ref import conventions

for name in ("optax", "pytorch", "keras", "tensorflow_v2"):
    p = inspect.signature(getattr(conventions, name)).parameters
    lr = p.get("learning_rate", p.get("lr")).default
    eps = p.get("eps", p.get("epsilon")).default
    lr = "none (required)" if lr is inspect.Parameter.empty else f"{lr:g}"
    print(f"{name}: learning rate {lr}, initial accumulator G0 = {p['initial_accumulator_value'].default:g}, "
          f"epsilon = {eps:g}")  # fmt: skip

# %% [markdown]
# The differences matter more than they look:
#
# * **$G_0$ = 0.1 against 0.** With $G_0 = 0$ (PyTorch) the first step is $-\eta\,\mathrm{sign}(g)$
#   whatever the size of $g$; with $G_0 = 0.1$ (optax, Keras, TensorFlow) small first gradients take
#   small steps, and a coordinate whose gradients stay small moves like gradient descent at rate
#   $\eta/\sqrt{0.1}$. The porters' track measures what this does to a run.
# * **Where ε sits.** optax and Keras add ε inside the root, $1/\sqrt{G+\epsilon}$; PyTorch and
#   TensorFlow's `ApplyAdagradV2` kernel add it outside, $1/(\sqrt G + \epsilon)$. Only optax's code
#   guards $G = 0$ with a zero update.
# * **The learning rate.** PyTorch's default 0.01 and Keras's 0.001 are defaults, not tuned values:
#   notebooks 7 and 8 found best rates from 0.3 to 10 for Adagrad on their problems.
#
# ## When to reach for Adagrad
#
# * Sparse, high-dimensional features of very different frequencies (linear models on one-hot or
#   hashed features, CTR prediction, embedding tables), especially trained online, one pass.
# * A convex problem with noisy gradients and a fixed objective, where the decaying rate is what
#   averages the noise (its regret bound, notebook 1).
# * Not for a problem that keeps changing, or a long non-convex training whose later phases need a
#   rate its history has already spent: there RMSProp or Adam, which forget.
#
# ## Summary of the course
#
# * **Why** (notebook 1): a rate per coordinate, set by that coordinate's history, trains rare
#   features; Adagrad is a few lines of NumPy, and `adagrad_ref` gives the same bits as optax.
# * **Decay** (notebooks 2 and 3): the accumulator only grows, so the rate only falls, like
#   $\eta/(\sigma\sqrt t)$ under noise; that is the built-in decay, and the documentation's warning.
# * **Preconditioning** (notebooks 4 to 6): dividing by $\sqrt{G}$ is a cheap diagonal preconditioner;
#   it fixes scales along the axes, not along rotated directions (the full matrix does).
# * **What came after** (notebook 7): RMSProp and Adam forget; their rates fall and rise again.
# * **A real model** (notebook 8): on handwritten digits, the rare pixels keep the largest rates.
# * **Today** (this notebook): sparse features and embeddings; know your framework's defaults.
