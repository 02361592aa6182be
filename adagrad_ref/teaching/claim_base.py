"""The claim machinery: a :class:`Claim` is a lesson's sentence, its measured values and its predicate.

Lesson modules (``adagrad_ref.teaching.lessons.<stem>``) register their claims here with :func:`claim`;
``adagrad_ref.teaching.claims`` gathers them all. A claim prints as its sentence only: the reader sees
the lesson with its numbers; whether it holds is asserted by the tests, not printed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CLAIMS", "START", "Claim", "claim", "steps_to"]


@dataclass(frozen=True)
class Claim:
    """``text``: the lesson, in the words the material uses; ``values``: what it is measured on."""

    name: str
    text: str
    values: dict[str, float]
    holds: bool

    def __str__(self) -> str:
        return self.text


#: Every claim, by name (insertion order: the order of the lessons).
CLAIMS: dict[str, Callable[[], Claim]] = {}


def claim(fn: Callable[[], tuple[str, dict, bool]]) -> Callable[[], Claim]:
    @functools.cache
    def make() -> Claim:
        text, values, holds = fn()
        return Claim(fn.__name__, text, {k: float(v) for k, v in values.items()}, bool(holds))

    make.__name__ = make.__qualname__ = fn.__name__
    make.__doc__ = fn.__doc__
    CLAIMS[fn.__name__] = make
    return make


def steps_to(tr, level: float) -> int:
    """The first step at which the loss is below ``level`` (a large number if never)."""
    below = np.flatnonzero(tr.loss < level)
    return int(below[0]) if below.size else 10**9


START = [-5.0, -2.0]
