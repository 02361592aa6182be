"""Every lesson of the course, as a named claim that computes its own numbers.

A claim is a function (in a lesson module, ``adagrad_ref.teaching.lessons.<stem>``) returning a
:class:`Claim`: the sentence the teaching material states, the values it is measured on, and
``holds``, the predicate on those values. The notebooks print the sentence; ``tests/teaching/test_claims.py``
asserts that every claim holds: a lesson that stops being true fails a test.

>>> c = CLAIMS["d2l_trace"]()
>>> c.holds, c.values["x1"]
(True, -2.382562771979649)
"""

from __future__ import annotations

from adagrad_ref.teaching import lessons
from adagrad_ref.teaching.claim_base import CLAIMS, START, Claim, steps_to

lessons.modules()  # importing every lesson module registers its claims in CLAIMS

__all__ = ["CLAIMS", "START", "Claim", "steps_to"]
