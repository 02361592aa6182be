"""adagrad_ref: the reference implementation of ``optax.adagrad`` in NumPy and Numba.

* :mod:`adagrad_ref.reference`: the plain NumPy class, the formula line by line;
* :mod:`adagrad_ref.fast.kernels`: the Numba core, the same bits, one fused pass;
* :mod:`adagrad_ref.tree`: pytree helpers (dicts, lists, tuples, NamedTuples);
* :mod:`adagrad_ref.checkpoint`: ``save_state`` / ``load_state``, atomic and checked;
* :mod:`adagrad_ref.example`: the documented example;
* :mod:`adagrad_ref.cli`: ``python -m adagrad_ref`` / ``adagrad-ref``.
"""

from adagrad_ref.checkpoint import load_state, save_state
from adagrad_ref.errors import AdagradError
from adagrad_ref.reference import Adagrad, AdagradState, adagrad, apply_updates

__all__ = [
    "Adagrad",
    "AdagradError",
    "AdagradState",
    "adagrad",
    "adagrad_step_inplace",
    "apply_updates",
    "load_state",
    "save_state",
    "sparse_step_inplace",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The Numba core is imported on first use: `import adagrad_ref` stays light.
    if name in ("adagrad_step_inplace", "sparse_step_inplace"):
        from adagrad_ref.fast import kernels

        return getattr(kernels, name)
    raise AttributeError(f"module 'adagrad_ref' has no attribute {name!r}")
