"""The course's lessons, one module per notebook (see :mod:`adagrad_ref.teaching`).

>>> names = [m.__name__.rsplit(".", 1)[1] for m in modules()]
>>> names[:2]
['why_adagrad', 'learning_rate_decay']
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["modules"]


def modules() -> list[ModuleType]:
    """Every lesson module of this package, in the course's order (its ``NOTEBOOK`` file name; a module
    without one comes after those that have one, by name)."""
    found = [
        importlib.import_module(f"{__name__}.{m.name}")
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_")
    ]
    return sorted(found, key=lambda m: getattr(m, "NOTEBOOK", "~" + m.__name__))
