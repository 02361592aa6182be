"""adagrad_ref: the reference implementation of ``optax.adagrad`` in NumPy and Numba.

* :mod:`adagrad_ref.reference`: the teaching text: the formula, mapped over pytrees;
* :mod:`adagrad_ref.validation`, :mod:`adagrad_ref.trees`, :mod:`adagrad_ref.backends`:
  the boundary checks, the optree plumbing and the backend table it calls once;
* :mod:`adagrad_ref.fast`: the Numba core (``kernels``) and ``FlatAdagrad`` (``flat``);
* :mod:`adagrad_ref.conventions`: PyTorch's, Keras's and TensorFlow's Adagrad;
* :mod:`adagrad_ref.golden`: golden values for ports;
* :mod:`adagrad_ref.state.checkpoint`: ``save_state`` / ``load_state``, atomic and checked;
* :mod:`adagrad_ref.example`, :mod:`adagrad_ref.cli`: the documented example, ``python -m adagrad_ref``.

``import adagrad_ref`` loads the reference alone: Numba on the first Numba step,
the checkpoint module on the first ``save_state``/``load_state``.
"""

from adagrad_ref.errors import AdagradError, AdagradMemoryError
from adagrad_ref.reference import Adagrad, AdagradState, adagrad, apply_updates

__all__ = [
    "Adagrad",
    "AdagradError",
    "AdagradMemoryError",
    "AdagradState",
    "FlatAdagrad",
    "adagrad",
    "adagrad_step_inplace",
    "apply_updates",
    "load_state",
    "save_state",
    "sparse_step_inplace",
]
__version__ = "0.1.0"

_LAZY = ("FlatAdagrad", "adagrad_step_inplace", "sparse_step_inplace", "save_state", "load_state")


def __getattr__(name: str):
    # Imported on first use, so that `import adagrad_ref` stays light (no Numba, no zip/json code).
    if name in ("adagrad_step_inplace", "sparse_step_inplace"):
        from adagrad_ref.fast import kernels

        return getattr(kernels, name)
    if name == "FlatAdagrad":
        from adagrad_ref.fast.flat import FlatAdagrad

        return FlatAdagrad
    if name in ("save_state", "load_state"):
        from adagrad_ref.state import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module 'adagrad_ref' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
