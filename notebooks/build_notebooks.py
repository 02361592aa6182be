"""Write the teaching notebooks from this file and execute them, so that they are committed with outputs.

    .venv/bin/python notebooks/build_notebooks.py

The notebooks call the package (``adagrad_ref.teaching.experiments``, ``adagrad_ref.teaching.plots``): every
figure and every number in them is computed, and the test suite runs them top to bottom again.
"""

from __future__ import annotations

import pathlib
import sys

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent

SETUP = """%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt
import adagrad_ref
from adagrad_ref import adagrad, apply_updates
from adagrad_ref.teaching import experiments as ex, plots"""

NOTEBOOKS = {
    "01_documented_example.ipynb": [
        ("md", """# 1. The documented example, step by step

The documentation of `optax.adagrad` runs five steps of Adagrad with learning rate 1 on
$f(x) = \\sum_i x_i^2$ from $x = (1, 2, 3)$ and prints the objective after each step. This notebook
reproduces it with `adagrad_ref` and opens every step up: the params $w_t$, the accumulators
$G_t = 0.1 + \\sum_{\\tau \\le t} g_\\tau^2$, the effective learning rates $\\eta/\\sqrt{G_t + \\epsilon}$
and the objective."""),
        ("code", SETUP),
        ("md", "The documentation's printout, computed here (both backends, compared bit for bit):"),
        ("code", """from adagrad_ref.example import documented_example, run_documented_example
print("\\n".join(documented_example("numpy")))
same = all(np.array_equal(a.view(np.uint32), b.view(np.uint32))
           for a, b in zip(run_documented_example("numpy"), run_documented_example("numba")))
print("NumPy reference and Numba core give identical bits at every step:", same)"""),
        ("md", "Every step of it. The gradient of $f$ is $2x$; each row is the state after that step (float32, as in the documentation):"),
        ("code", """opt = adagrad(learning_rate=1.0)
w = np.array([1.0, 2.0, 3.0], np.float32)
state = opt.init(w)
print(f"{'t':>2} {'w_t':>38} {'G_t':>30} {'eta/sqrt(G_t+eps)':>32} {'f(w_t)':>10}")
print(f"{0:>2} {np.array2string(w, precision=5):>38} {np.array2string(state.sum_of_squares, precision=4):>30} {'':>32} {float(np.sum(w**2)):>10.4g}")
for t in range(1, 6):
    updates, state = opt.update(2 * w, state, w)
    w = apply_updates(w, updates)
    rate = 1.0 / np.sqrt(state.sum_of_squares + np.float32(1e-7))
    print(f"{t:>2} {np.array2string(w, precision=5):>38} {np.array2string(state.sum_of_squares, precision=4):>30} "
          f"{np.array2string(rate, precision=4):>32} {float(np.sum(w**2)):>10.4g}")"""),
        ("md", """The first coordinate starts smallest, so its accumulator grows least and its effective rate
stays largest: after the first step it has almost reached 0. That is Adagrad's per-coordinate
step size at work."""),
        ("code", """first = run_documented_example("numpy")[1]
print(f"after one step: w = {first}, the first coordinate moved {1 - first[0]:.4f} of its 1.0")"""),
        ("md", "## Against the real optax\n\nWhen `optax` is installed (the test requirements install it), the same five steps with optax, and the distance in ULP:"),
        ("code", """try:
    import jax, jax.numpy as jnp, optax
except ImportError:
    print("optax is not installed: pip install -r requirements-dev.txt to compare")
else:
    from adagrad_ref.ulp import ulp_distance
    solver = optax.adagrad(learning_rate=1.0)
    p = jnp.array([1.0, 2.0, 3.0], jnp.float32)
    s = solver.init(p)
    ours = run_documented_example("numpy")
    for t in range(1, 6):
        u, s = solver.update(2 * p, s, p)
        p = optax.apply_updates(p, u)
        print(f"step {t}: optax {np.asarray(p)}  ours {ours[t]}  ULP apart: {ulp_distance(ours[t], np.asarray(p)).astype(int)}")"""),
        ("md", """A few ULP: optax computes $1/\\sqrt{G+\\epsilon}$ with XLA's approximate `rsqrt`, the reference with a
correctly rounded square root and a division. The README's section *How close the reference is to
optax* measures and explains every such gap."""),
    ],
    "02_learning_rate_decay.ipynb": [
        ("md", """# 2. Learning-rate decay on quadratic objectives

Adagrad divides each coordinate's gradient by $\\sqrt{G_t + \\epsilon}$, where $G_t$ sums that
coordinate's squared gradients. The effective learning rate $\\eta/\\sqrt{G_t+\\epsilon}$ therefore only
falls. Textbooks say it falls like $1/\\sqrt{t}$. On a quadratic with exact gradients, students see
something else. Both are right; this notebook shows when each holds."""),
        ("code", SETUP),
        ("md", "## Exact gradients against noisy gradients\n\nThe textbook quadratic $f = 0.1\\,x_1^2 + 2\\,x_2^2$ from $(-5, -2)$, $\\eta = 0.4$, 10,000 steps:"),
        ("code", "plots.fig_effective_lr();"),
        ("code", """q = ex.Quadratic.textbook()
exact = ex.run_adagrad(q, [-5, -2], 0.4, 10_000)
noisy = ex.run_adagrad(q, [-5, -2], 0.4, 10_000, noise=1.0)
for t in (10, 100, 1000, 10_000):
    print(f"after {t:>6} steps: exact-gradient rates {np.array2string(exact.effective_lr[t - 1], precision=4)}, "
          f"noisy {np.array2string(noisy.effective_lr[t - 1], precision=5)}, eta/sqrt(t) = {0.4 / np.sqrt(t):.5f}")"""),
        ("md", """With exact gradients the gradient shrinks as $w$ approaches the minimum, the accumulator stops
growing, and the rate levels off (left). With noise, every step adds about $\\sigma^2$ to $G$, so
$G_t \\approx \\sigma^2 t$ and the rate falls as $\\eta/(\\sigma\\sqrt{t})$ (right): the $1/\\sqrt{t}$ of
the convergence proofs, which assume gradients that do not vanish."""),
        ("md", "## The accumulator per coordinate: the preconditioning picture"),
        ("code", "plots.fig_accumulator();"),
        ("code", """tr = ex.run_adagrad(ex.Quadratic.make([0.2, 4.0]), [-5, -2], 0.4, 200)
print(f"after 200 steps G = {np.array2string(tr.sum_of_squares[-1], precision=2)}: "
      f"the steep coordinate (curvature 4) holds {tr.sum_of_squares[-1][1] / tr.sum_of_squares[-1][0]:.1f} times more")"""),
        ("md", "## Implicit against explicit decay\n\nAdagrad decays each coordinate's rate by its own history. Gradient descent with an explicit $\\eta/\\sqrt{t+1}$ decays every coordinate alike:"),
        ("code", "plots.fig_implicit_vs_explicit();"),
        ("code", """runs = {"Adagrad": ex.run_adagrad(q, [-5, -2], 0.4, 300),
        "GD": ex.run_gd(q, [-5, -2], 0.4, 300),
        "GD eta/sqrt(t+1)": ex.run_gd(q, [-5, -2], lambda t: 0.4 / np.sqrt(t + 1), 300)}
for name, tr in runs.items():
    print(f"{name:>18}: loss after 300 steps {tr.loss[-1]:.3e}")"""),
        ("md", "## The textbook contour plot, at $\\eta = 0.4$ and $\\eta = 2$"),
        ("code", "plots.fig_contour();"),
        ("code", """for eta in (0.4, 2.0):
    a = ex.run_adagrad(q, [-5, -2], eta, 20); g = ex.run_gd(q, [-5, -2], eta, 20)
    print(f"eta = {eta}: after 20 steps Adagrad is at {np.array2string(a.params[-1], precision=3)}, "
          f"gradient descent at {np.array2string(g.params[-1], precision=3)}")"""),
        ("md", """At $\\eta = 2$ gradient descent multiplies $x_2$ by $1 - 2 \\cdot 4 = -7$ each step and diverges;
Adagrad's first step on $x_2$ is about $\\eta\\,\\mathrm{sign}(g)$, and every later one is smaller."""),
        ("md", "## Several condition numbers"),
        ("code", "plots.fig_condition_numbers();"),
        ("code", """for kappa in (1, 10, 100, 1000):
    qk = ex.Quadratic.make([1.0 / kappa, 1.0])
    a = ex.run_adagrad(qk, [1.0, 1.0], 0.5, 500); g = ex.run_gd(qk, [1.0, 1.0], 1.0, 500)
    print(f"kappa = {kappa:>4}: loss after 500 steps, Adagrad {a.loss[-1]:.2e}, gradient descent {g.loss[-1]:.2e}")"""),
        ("md", "## How `initial_accumulator_value` and `eps` shape the first step"),
        ("code", "plots.fig_first_steps();"),
        ("code", """for g0 in (0.0, 0.1, 1.0):
    opt = adagrad(1.0, initial_accumulator_value=g0)
    u, _ = opt.update(np.array([1e-3, 1.0, 1e3]), opt.init(np.zeros(3)))
    print(f"G0 = {g0}: first steps for gradients 1e-3, 1, 1e3: {np.array2string(u, precision=4)}")"""),
        ("md", """With $G_0 = 0$ the first update is $-\\eta\\, g/\\sqrt{g^2 + \\epsilon} \\approx -\\eta\\,\\mathrm{sign}(g)$, whatever the
size of the gradient (until $g^2$ is comparable to $\\epsilon$). optax's default $G_0 = 0.1$ damps the
first steps of small gradients."""),
        ("md", "## The documentation's warning, made visible\n\n*\"The sum keeps growing during training and the learning rate eventually becomes vanishingly small.\"* Here, after 5,000 noisy steps, the optimum moves:"),
        ("code", "plots.fig_warning();"),
        ("code", """q1 = ex.Quadratic.make([1.0, 1.0])
ad = ex.run_adagrad(q1, [1.0, 1.0], 0.5, 6000, noise=1.0, shift=(5000, [3.0, -3.0]))
gd = ex.run_gd(q1, [1.0, 1.0], 0.05, 6000, noise=1.0, shift=(5000, [3.0, -3.0]))
print(f"effective rate when the optimum moves: Adagrad {ad.effective_lr[4999].mean():.4f}, gradient descent 0.05")
print(f"steps until the loss is back under 0.1: Adagrad {plots.recovery_steps(ad, 5000)}, "
      f"gradient descent {plots.recovery_steps(gd, 5000)}")"""),
        ("md", """Adagrad's rate when the optimum moves is what 5,000 noisy gradients left it; the new, large
gradients raise $G$ further, so the rate keeps falling while the params travel. A constant step
does not remember. (Adagrad's successors, RMSProp and Adam, replace the sum by a moving average for
exactly this reason.)"""),
    ],
    "03_diagonal_vs_full_matrix.ipynb": [
        ("md", """# 3. The diagonal against the full matrix

The documentation defines $G = \\sum_t g_t g_t^\\top$ and then keeps only $\\mathrm{diag}(G)$: one
number per parameter. `adagrad_ref.teaching.full_matrix.FullMatrixAdagrad` keeps the whole matrix and
preconditions with $(G + \\epsilon I)^{-1/2}$, computed by an eigendecomposition. On an ill-conditioned
quadratic whose axes are the coordinate axes the diagonal is enough; rotate the same quadratic by
45° and it is not."""),
        ("code", SETUP + "\nfrom adagrad_ref.teaching.full_matrix import FullMatrixAdagrad"),
        ("code", "plots.fig_diagonal_vs_full();"),
        ("code", """for name, angle in (("axis-aligned", 0.0), ("rotated 45 degrees", np.pi / 4)):
    q = ex.Quadratic.make([0.2, 4.0], angle=angle)
    d = ex.run_adagrad(q, [-5, -2], 0.4, 60); f = ex.run_full_matrix(q, [-5, -2], 0.4, 60)
    print(f"{name:>18}: loss after 60 steps, diagonal {d.loss[-1]:.3e}, full matrix {f.loss[-1]:.3e} "
          f"(diagonal / full = {d.loss[-1] / f.loss[-1]:.1f})")"""),
        ("md", """The full matrix does the same on both (it is unchanged by a rotation: $G$ rotates with the
problem). The diagonal only sees how large each coordinate's gradients are, not that the two
coordinates move together; on the rotated quadratic, both coordinates see both curvatures and the
diagonal can no longer tell the steep direction from the flat one.

When every gradient has a single nonzero coordinate, $G$ is diagonal and the two methods agree:"""),
        ("code", """rng = np.random.default_rng(0)
diag, full = adagrad(0.3), FullMatrixAdagrad(0.3)
sd, sf = diag.init(np.zeros(3)), full.init(np.zeros(3))
worst = 0.0
for t in range(20):
    g = np.zeros(3); g[t % 3] = rng.standard_normal()
    ud, sd = diag.update(g, sd); uf, sf = full.update(g, sf)
    worst = max(worst, float(np.max(np.abs(ud - uf))))
print(f"largest difference between the diagonal and the full-matrix updates over 20 axis-aligned steps: {worst:.1e}")"""),
    ],
    "04_frameworks.ipynb": [
        ("md", """# 4. The same optimizer in four frameworks

"Adagrad" names different arithmetic in optax, PyTorch, Keras and TensorFlow. `adagrad_ref.conventions`
implements each in its own order of operations, with its own defaults:

| | $G_0$ | $\\epsilon$ | where $\\epsilon$ goes |
|---|---|---|---|
| optax | 0.1 | 1e-7 | inside the root, with a `G > 0` guard |
| PyTorch | 0 | 1e-10 | outside the root |
| Keras | 0.1 | 1e-7 | inside the root |
| TensorFlow (`ApplyAdagradV2`) | 0.1 | 1e-7 | outside the root |

The same problem, the same learning rate, each framework's defaults:"""),
        ("code", SETUP + "\nfrom adagrad_ref import conventions"),
        ("code", "plots.fig_frameworks();"),
        ("code", """q = ex.Quadratic.textbook()
runs = {name: ex.run_convention(name, q, [-5.0, -2.0], 0.4, 200) for name in conventions.FACTORIES}
for name, tr in runs.items():
    gap = np.max(np.abs(tr.params[1].astype(float) - runs["optax"].params[1].astype(float)))
    print(f"{name:>14}: first step {np.array2string(tr.params[1] - tr.params[0], precision=5)}, "
          f"|w1 - w1_optax| = {gap:.2e}, loss after 200 steps {tr.loss[-1]:.3e}")"""),
        ("md", """PyTorch starts its accumulator at 0, so its first step is $\\eta\\,\\mathrm{sign}(g)$ per coordinate; the
others start at 0.1 and their first steps are smaller for small gradients. Where $\\epsilon$ goes matters
only when $G$ is tiny: with $G_0 = 0$ and $\\epsilon = 0$ a zero gradient gives optax's guarded 0, and
$0/0$ elsewhere:"""),
        ("code", """g, w = np.array([0.5, 0.0]), np.zeros(2)
for name, make in conventions.FACTORIES.items():
    eps_name = "eps" if name in ("optax", "pytorch") else "epsilon"
    opt = make(1.0, initial_accumulator_value=0.0, **{eps_name: 0.0})
    with np.errstate(all="ignore"):
        u, _ = opt.update(g, opt.init(w), w)
    print(f"{name:>14}: update for gradients (0.5, 0) from G = 0, eps = 0: {u}")"""),
        ("md", "Golden values for each convention, for ports to check themselves against, are in `adagrad_ref/golden/` (see the README's porter's guide)."),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 300) -> nbformat.NotebookNode:
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def main() -> int:
    for name, cells in NOTEBOOKS.items():
        nb = execute(build(name, cells))
        nbformat.write(nb, HERE / name)
        print(f"wrote {HERE / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
