"""Every lesson of the figures, notebooks and README holds on the numbers it is computed from.

Each claim in ``adagrad_ref.teaching.claims`` computes its values and a predicate on them; a lesson
that stops being true (a changed default, a changed experiment) fails here by name.
"""

from __future__ import annotations

import numpy as np
import pytest

from adagrad_ref.teaching import claims


@pytest.mark.parametrize("name", list(claims.CLAIMS))
def test_claim_holds(name):
    c = claims.CLAIMS[name]()
    assert c.name == name and c.text and c.values
    assert all(np.isfinite(v) for v in c.values.values()), c
    assert c.holds, str(c)


def test_a_claim_whose_numbers_change_fails():
    """The predicate is computed from the values, not a constant: break one input, the claim fails."""
    from adagrad_ref.teaching import experiments as ex

    q = ex.Quadratic.textbook()
    tr = ex.run_adagrad(q, claims.START, 0.4, 20)  # optax's G₀ = 0.1: not d2l's trace
    assert f"{tr.params[-1, 0]:f}" != "-2.382563"
    assert claims.CLAIMS["d2l_trace"]().values["x1"] != tr.params[-1, 0]


def test_every_claim_text_names_the_numbers_it_states():
    """A number printed in a claim's sentence is one of its measured values (rounded as shown)."""
    c = claims.CLAIMS["warning_adagrad_lags_after_the_move"]()
    assert (
        f"{c.values['adagrad_steps']:.0f} steps" in c.text
        and f"(η = 0.05) {c.values['gd_steps']:.0f}:" in c.text
    )
    c = claims.CLAIMS["gd_diverges_at_eta_2_adagrad_does_not"]()
    assert f"|x₂| = {c.values['gd_abs_x2']:.2g}" in c.text


def test_the_readme_states_the_claims_numbers():
    """The numbers in the README's teaching text are the claims' measured values, as rounded there."""
    from conftest import ROOT

    readme = " ".join((ROOT / "README.md").read_text().split())  # line breaks as spaces
    v = {name: claims.CLAIMS[name]().values for name in claims.CLAIMS}
    dvf = v["tuned_diagonal_ties_aligned_full_matrix_wins_rotated"]
    expected = [
        f"gradients {v['comparable_steps_for_unequal_gradients']['gradient_ratio']:.0f}× apart give first steps"
        f" {v['comparable_steps_for_unequal_gradients']['step_ratio']:.2f}× apart",
        f"({v['effective_rate_only_shrinks_the_step_does_not']['step_growth']:.1f}× just after the optimum moves",
        "Adagrad reaches loss 1e-12 in"
        f" {v['tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic']['adagrad_steps']:.0f} steps, gradient"
        f" descent in {v['tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic']['gd_steps']:.0f},"
        f" {v['tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic']['gd_over_adagrad']:.1f}× as many",
        f"Adagrad needs {v['tuned_gd_beats_diagonal_adagrad_once_rotated']['rotated_adagrad_steps']:.0f} steps,"
        f" gradient descent still {v['tuned_gd_beats_diagonal_adagrad_once_rotated']['rotated_gd_steps']:.0f}",
        f"reach loss 1e-12 in {dvf['aligned_diag_steps']:.0f}"
        f" and {dvf['aligned_full_steps']:.0f} steps on the"
        " axis-aligned quadratic, a tie; on the same quadratic rotated by 45° the diagonal needs"
        f" {dvf['rotated_diag_steps']:.0f} steps and the"
        f" full matrix {dvf['rotated_full_steps']:.0f}.",
        f"{v['warning_adagrad_lags_after_the_move']['adagrad_steps']:.0f} steps to recover, against"
        f" {v['warning_adagrad_lags_after_the_move']['gd_steps']:.0f} for gradient descent",
        f"loss floor {v['warning_adagrad_floor_is_lower_before_the_move']['ratio']:.1f}× lower",
    ]
    for text in expected:
        assert text in readme, text
    for gone in ("every step size only shrinks", "small takes large steps", "build_notebooks"):
        assert gone not in readme, gone
