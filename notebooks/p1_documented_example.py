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
# # p1. The documented example, step by step, to the bit
#
# *Porters' track, notebook p1 (for anyone porting Adagrad or checking a port; students start at
# notebook 1). You need: Adagrad's update (notebook 1), floating-point numbers.*
#
# The documentation of `optax.adagrad` runs five steps of Adagrad with learning rate 1 on
# $f(x) = \sum_i x_i^2$ from $x = (1, 2, 3)$ and prints the objective after each step. This notebook
# reproduces it with `adagrad_ref` and opens every step up: the params $w_t$, the accumulators
# $G_t = 0.1 + \sum_{\tau \le t} g_\tau^2$, the effective learning rates $\eta/\sqrt{G_t + \epsilon}$
# and the objective.

# %%
import numpy as np

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.example import documented_example, run_documented_example
from adagrad_ref.numerics.ulp import ulp_distance
from adagrad_ref.teaching.lessons import documented_example as lesson

# %% [markdown]
# The documentation's printout, computed here (both backends, compared bit for bit):

# %%
print("\n".join(documented_example("numpy")))
same = all(
    np.array_equal(a.view(np.uint32), b.view(np.uint32))
    for a, b in zip(run_documented_example("numpy"), run_documented_example("numba"), strict=True)
)
print(
    f"The NumPy reference and the Numba core give {'identical' if same else 'DIFFERENT'} bits at each step."
)

# %% [markdown]
# Every step of it. The gradient of $f$ is $2x$; each row is the state after that step (float32, as
# in the documentation):

# %%
opt = adagrad(learning_rate=1.0)
w = np.array([1.0, 2.0, 3.0], np.float32)
state = opt.init(w)
print(f"{'t':>2} {'w_t':>34} {'G_t':>28} {'eta/sqrt(G_t+eps)':>30} {'f(w_t)':>9}")
for t in range(1, 6):
    updates, state = opt.update(2 * w, state, w)
    w = apply_updates(w, updates)
    rate = 1.0 / np.sqrt(state.sum_of_squares + np.float32(1e-7))
    row = [np.array2string(a, precision=4) for a in (w, state.sum_of_squares, rate)]
    print(f"{t:>2} {row[0]:>34} {row[1]:>28} {row[2]:>30} {float(np.sum(w**2)):>9.4g}")

# %% [markdown]
# The table rounds to four digits. To the last bit (the shortest decimal that reads back as the same
# float32, and its hexadecimal form), the $w_t$ the exercise at the end asks you to reproduce:

# %%
for t, wt in enumerate(run_documented_example("numpy")[1:], start=1):
    short = [np.format_float_positional(x, unique=True) for x in wt]
    print(f"w_{t} = [{', '.join(short)}]  hex [{', '.join(float(x).hex() for x in wt)}]")

# %% [markdown]
# Look at the first step. The gradients are 2, 4 and 6, yet each coordinate moves by almost exactly
# the same amount, about $\eta = 1$:

# %%
print(lesson.first_step_moves_every_coordinate_by_eta())

# %% [markdown]
# With an empty history the accumulator holds little more than this step's own $g^2$, so
# $g/\sqrt{G_0 + g^2} \approx \mathrm{sign}(g)$: the first step is about $-\eta\,\mathrm{sign}(g)$ for every
# coordinate. $x_1$ lands near 0 only because it started at $1 = \eta$; $x_2$ and $x_3$ moved just as
# far. Later steps differ per coordinate, as each accumulator fills with its own gradients.
#
# ## Against the real optax
#
# When `optax` is installed (the test requirements install it), the same five steps with optax, and
# the distance in ULP (*units in the last place*: the number of gaps between adjacent float32 values
# that separate two numbers; 0 means identical, 1 means neighbours):

# %%
try:
    import jax.numpy as jnp
    import optax
except ImportError:
    print("optax is not installed: pip install -r requirements-dev.txt to compare")
else:
    solver = optax.adagrad(learning_rate=1.0)
    p = jnp.array([1.0, 2.0, 3.0], jnp.float32)
    s = solver.init(p)
    ours = run_documented_example("numpy")
    worst = 0
    for t in range(1, 6):
        u, s = solver.update(2 * p, s, p)
        p = optax.apply_updates(p, u)
        ulps = ulp_distance(ours[t], np.asarray(p)).astype(int)
        print(f"step {t}: optax {np.asarray(p)}, ours {ours[t]}, ULP apart per coordinate: {ulps}")
        worst = max(worst, int(ulps.max()))
    print(f"optax's params and ours are at most {worst} ULP apart.")

# %% [markdown]
# A few ULP in this example: optax computes $1/\sqrt{G+\epsilon}$ with XLA's approximate `rsqrt`,
# the reference with a correctly rounded square root and a division. What is bounded in general is the
# *update*: at most 4 ULP from optax's (measured on CPU, eager and jitted). A parameter is $w + u$, and
# where that sum nearly cancels (a coordinate passing near 0) one ULP of $u$ is many ULP of the small
# $w$, so for parameters the bound is absolute, not in ULP. `docs/numerics.md`, *How close the
# reference is to optax*, measures and explains every such gap.
#
# ## Exercise (solution in `10_solutions.ipynb`)
#
# Do the steps by hand, in float32, one operation at a time: $g_t = 2w_{t-1}$, $G_t = G_{t-1} + g_t^2$,
# $s_t = 1/\sqrt{G_t + \epsilon}$, $u_t = -\eta\,(s_t\,g_t)$, $w_t = w_{t-1} + u_t$. Do you get the table's
# $w_t$ to the last bit (the full values printed after the table)? Then set `one_division = True`,
# which computes $u_t = -\eta\,g_t/\sqrt{G_t+\epsilon}$: at which step do the bits first differ, by how
# many ULP, and why there?

# %%
one_division = False  # try True
f32 = np.float32
w, G, eps = np.array([1, 2, 3], f32), np.full(3, 0.1, f32), f32(1e-7)
table = run_documented_example("numpy")
for t in range(1, 6):
    g = f32(2) * w
    G = G + g * g
    if one_division:
        u = -(f32(1) * g / np.sqrt(G + eps))
    else:
        u = f32(-1) * ((f32(1) / np.sqrt(G + eps)) * g)
    w = w + u
    print(f"step {t}: ULP from the table's w_{t}: {ulp_distance(w, table[t]).astype(int)}")
