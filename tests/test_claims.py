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


def _one_line(path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())  # line breaks as spaces


def test_the_readme_and_the_teaching_page_state_the_claims_numbers():
    """The numbers of the teaching text (docs/adagrad.md) and of the README's captions are the claims'
    measured values, as rounded there; each caption's numbers are those of the figure it sits under."""
    from conftest import ROOT

    readme, page = _one_line(ROOT / "README.md"), _one_line(ROOT / "docs" / "adagrad.md")
    v = {name: claims.CLAIMS[name]().values for name in claims.CLAIMS}
    dvf = v["tuned_diagonal_ties_aligned_full_matrix_wins_rotated"]
    tuned = v["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"]
    rotated = v["tuned_gd_beats_diagonal_adagrad_once_rotated"]
    eta2 = v["gd_diverges_at_eta_2_adagrad_does_not"]
    frameworks = v["framework_gap_is_g0_not_eps_placement"]
    contour = (
        "at η = 0.4 and η = 2. At η = 2 gradient descent diverges along the steep axis (×−7 a step:"
        f" |x₂| = {eta2['gd_abs_x2']:.2g} after 20 steps); Adagrad's first step on each coordinate is about"
        f" −η·sign(g), and it ends at loss {eta2['adagrad_loss']:.2g}.*"
    )
    assert round(eta2["adagrad_first_x2_step_over_eta"], 2) == 1.0  # "about −η·sign(g)"
    for text in (readme, page):
        assert "figures/contour.png) *Twenty steps from (−5, −2) on f = 0.1·x1² + 2·x2², " + contour in text
    assert (
        "200 float32 steps at η = 0.4 on one problem. PyTorch's params come as far as"
        f" {frameworks['pytorch_vs_optax']:.2g} from optax's because it starts from G₀ = 0, not because it"
        f" puts ε outside the root: given G₀ = 0.1 it stays within {frameworks['pytorch_g0_0.1_vs_optax']:.0e}."
        in readme
    )
    expected = [
        f"gradients {v['comparable_steps_for_unequal_gradients']['gradient_ratio']:.0f}× apart give first steps"
        f" {v['comparable_steps_for_unequal_gradients']['step_ratio']:.2f}× apart",
        f"the mean |Δx₁| of the 20 steps after the optimum moves is"
        f" {v['effective_rate_never_rises_the_step_does']['step_growth']:.1f}× that of the 200 before",
        # Under implicit_vs_explicit.png, the figure whose title states these runs.
        "figures/implicit_vs_explicit.png) *Each at its own best η from one grid, with the curvature's axes"
        f" along the coordinates, Adagrad reaches loss 1e-12 in {tuned['adagrad_steps']:.0f} steps, gradient"
        f" descent in {tuned['gd_steps']:.0f}, {tuned['gd_over_adagrad']:.1f}× as many",
        f"Adagrad needs {rotated['rotated_adagrad_steps']:.0f} steps,"
        f" gradient descent still {rotated['rotated_gd_steps']:.0f}",
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
        assert text in page, text
    for gone in (
        "every step size only shrinks",
        "small takes large steps",
        "build_notebooks",
        "a minute and a half",
    ):
        assert gone not in readme + page, gone


def _prose(stem: str) -> str:
    """A notebook's source with the comment marks and line breaks gone: its sentences as one string."""
    from conftest import ROOT

    text = (ROOT / "notebooks" / f"{stem}.py").read_text()
    lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines()]
    return " ".join(" ".join(lines).split())


def test_the_notebooks_state_the_claims_numbers():
    """Every number a notebook's prose states about Adagrad's behaviour is a claim's value, as rounded
    there: a changed experiment fails here instead of leaving a stale sentence."""
    v = {name: claims.CLAIMS[name]().values for name in claims.CLAIMS}
    best = v["sqrt_of_the_sum_is_the_best_diagonal_in_hindsight"]
    slider = v["slider_defaults_converge_noise_falls_slowly"]
    lag, floor = v["warning_adagrad_lags_after_the_move"], v["warning_adagrad_floor_is_lower_before_the_move"]
    same = v["the_trade_off_is_the_rate_adagrad_has_reached"]
    rms = v["rmsprop_follows_the_move"]
    tuned, rot = (
        v["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"],
        v["tuned_gd_beats_diagonal_adagrad_once_rotated"],
    )
    dvf = v["tuned_diagonal_ties_aligned_full_matrix_wins_rotated"]
    gd_eta = 0.05  # gradient descent's η in claims.warning_runs()
    expected = {
        "02_rare_features": [f"({best['cost_one_scale'] / best['cost_at_sqrt_of_sum']:.1f}× worse here"],
        "03_learning_rate_decay": [
            f"{slider['noisy_mean_loss_500_1000']:.4f} over steps 500–1,000,"
            f" {slider['noisy_mean_loss_1500_2000']:.4f} over 1,500–2,000,"
            f" {slider['noisy_mean_loss_19000_20000']:.4f} over 19,000–20,000"
        ],
        "04_the_warning_and_rmsprop": [
            f"its mean loss is {floor['ratio']:.1f}× below constant-step gradient descent's",
            f"is {gd_eta / lag['adagrad_rate_at_move']:.0f}× below gradient descent's",
            f"already {lag['root_G_at_100']:.1f} after 100 steps",
            f"needs {lag['adagrad_steps']:.0f} steps to follow against gradient descent's {lag['gd_steps']:.0f}",
            f"same floor ({same['gd_floor']:.4f} against {same['adagrad_floor']:.4f}) and the same lag"
            f" ({same['gd_steps']:.0f} steps against {same['adagrad_steps']:.0f})",
            f"near $\\eta/\\sigma$ ({rms['rmsprop_rate_before_move']:.3f} before the move, against Adagrad's"
            f" {lag['adagrad_rate_at_move']:.4f})",
            f"in {rms['rmsprop_steps']:.0f} steps against Adagrad's {rms['adagrad_steps']:.0f}",
            f"lower its rate for a while (to {rms['rmsprop_lowest_rate_after_move']:.3f})",
            f"its mean loss ({rms['rmsprop_floor']:.4f}) is gradient descent's ({floor['gd_floor']:.4f}),"
            f" not Adagrad's ({rms['adagrad_floor']:.4f})",
        ],
        "05_textbook_quadratic": [
            f"x_1 = {v['d2l_trace']['optax_x1']:.3f}",
            f"{tuned['gd_over_adagrad']:.1f}× fewer steps than gradient descent with a constant step and"
            f" {tuned['gd_decay_over_adagrad']:.1f}× fewer",
            f"and needs {tuned['gd_exact_best_steps']:.0f} steps, not {tuned['gd_steps']:.0f}.",
            f"it climbs, to loss {tuned['gd_decay_peak_loss']:.1e} at step {tuned['gd_decay_peak_step']:.0f},",
            f"({rot['rotated_gd_steps']:.0f} steps, unchanged) beats tuned diagonal Adagrad"
            f" ({rot['rotated_adagrad_steps']:.0f} steps)",
        ],
        "08_solutions": [
            f"Adagrad passes at {tuned['adagrad_rates_reaching']:.0f} of the 31 rates (from"
            f" {tuned['adagrad_reaching_from']:.2f} up to the grid's top",
            f"gradient descent at {tuned['gd_rates_reaching']:.0f} (from {tuned['gd_reaching_from']:.2f} to"
            f" {tuned['gd_reaching_to']:.2f}, a factor of {tuned['gd_reaching_to'] / tuned['gd_reaching_from']:.1f},"
            f" {tuned['gd_reaching_from'] / 0.5:.0%} to {tuned['gd_reaching_to'] / 0.5:.0%} of its stability limit",
        ],
        "06_diagonal_vs_full_matrix": [
            f"({dvf['aligned_diag_steps']:.0f} and {dvf['aligned_full_steps']:.0f} steps to loss 1e-12)",
            f"it needs {dvf['rotated_diag_steps']:.0f} steps, the full matrix still {dvf['rotated_full_steps']:.0f}",
            f"ahead at step 10 (ratio {dvf['untuned_aligned_ratio_step_10']:.2f}) and behind at step 60"
            f" ({dvf['untuned_aligned_ratio_step_60']:.2f})",
        ],
    }
    for stem, texts in expected.items():
        prose = _prose(stem)
        for text in texts:
            assert text in prose, (stem, text)
