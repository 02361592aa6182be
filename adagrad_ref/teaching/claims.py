"""Every lesson the figures, notebooks and README teach, as a named claim that computes its own numbers.

A claim is a function returning a :class:`Claim`: the sentence the teaching material states, the
values it is measured on, and ``holds``, the predicate on those values. The figures put the values
in their titles and legends, the notebooks print the claims beside their figures, and
``tests/test_claims.py`` asserts that every claim holds: a lesson that stops being true fails a test.

>>> c = CLAIMS["d2l_trace"]()
>>> c.holds, c.values["x1"]
(True, -2.382562771979649)
"""

from __future__ import annotations

from adagrad_ref.teaching import claims_decay, claims_more
from adagrad_ref.teaching.claim_base import CLAIMS, START, Claim, steps_to
from adagrad_ref.teaching.claims_decay import (
    TEXTBOOK_GRID,
    decay_runs,
    kappa_runs,
    recovery_steps,
    slider_run,
    tuned_runs,
    tuned_runs_rotated,
    warning_runs,
)
from adagrad_ref.teaching.claims_more import (
    diag_full_runs,
    diagonal_cost,
    framework_gap,
    framework_runs,
    rare_features_runs,
    regret_slope,
    tuned_diag_full,
)

__all__ = [
    "CLAIMS",
    "START",
    "TEXTBOOK_GRID",
    "Claim",
    "claims_decay",
    "claims_more",
    "decay_runs",
    "diag_full_runs",
    "diagonal_cost",
    "framework_gap",
    "framework_runs",
    "kappa_runs",
    "rare_features_runs",
    "recovery_steps",
    "regret_slope",
    "slider_run",
    "steps_to",
    "tuned_diag_full",
    "tuned_runs",
    "tuned_runs_rotated",
    "warning_runs",
]
