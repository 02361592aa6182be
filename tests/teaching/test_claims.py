"""Every lesson of the figures, notebooks and README holds on the numbers it is computed from.

Each claim of each lesson module (``adagrad_ref.teaching.lessons.<stem>``, gathered in
``adagrad_ref.teaching.claims.CLAIMS``) computes its values and a predicate on them; a lesson that
stops being true (a changed default, a changed experiment) fails here by name. A new lesson module's
claims are found and asserted here without touching this file.
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
    assert c.holds, f"{c.text}\n    measured: {c.values}"


def test_a_claim_prints_as_its_sentence_only():
    """What a notebook prints is the lesson, not the harness: no tag, no key = value dump."""
    c = claims.CLAIMS["d2l_trace"]()
    assert str(c) == c.text and "[holds]" not in str(c) and "measured" not in str(c)


def test_every_lesson_module_belongs_to_a_notebook_and_every_figure_is_registered():
    from conftest import ROOT

    from adagrad_ref.teaching import lessons, plots

    stems = {p.stem for p in (ROOT / "notebooks").glob("*.py")}
    for module in lessons.modules():
        if hasattr(module, "NOTEBOOK"):
            assert module.NOTEBOOK in stems, module.__name__
            assert module.NOTEBOOK.split("_", 1)[1] == module.__name__.rsplit(".", 1)[1]
        for name, fn in getattr(module, "FIGURES", {}).items():
            assert plots.FIGURES[name] is fn
    assert {
        "rare_features.png", "effective_lr.png", "accumulator.png", "warning.png", "contour.png",
        "first_steps.png", "condition_numbers.png", "implicit_vs_explicit.png", "diagonal_vs_full.png",
        "frameworks.png",
    } <= set(plots.FIGURES)  # fmt: skip


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
    dvf = v["tuned_diagonal_vs_full_matrix_aligned_and_rotated"]
    rule = v["tuned_adagrad_divides_out_the_curvatures"]
    tuned = v["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"]
    rotated = v["tuned_gd_beats_diagonal_adagrad_once_rotated"]
    eta2 = v["gd_diverges_at_eta_2_adagrad_does_not"]
    climb = v["explicit_decay_is_too_slow_without_noise"]
    assert climb["decay_steps"] == 10**9  # "not within the 300 steps"
    frameworks = v["framework_gap_is_g0_not_eps_placement"]
    contour = (
        "at η = 0.4 and η = 2. At η = 2 gradient descent diverges along the steep axis (×−7 a step:"
        f" |x₂| = {eta2['gd_abs_x2']:.2g} after 20 steps); Adagrad's first step on each coordinate is about"
        f" −η·sign(g), and at η = 2 it ends at loss {eta2['adagrad_loss']:.2g}.*"
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
        # Under implicit_vs_explicit.png: the runs that figure draws (the no-climb rule).
        "figures/implicit_vs_explicit.png) *The same quadratic, by one rule for all three methods (each at"
        " the best η of one grid among the runs whose loss never rises above its start): Adagrad reaches loss"
        f" 1e-12 in {climb['adagrad_steps']:.0f} steps, gradient descent with a constant step in"
        f" {climb['gd_steps']:.0f}, and gradient descent with η₀/√(t+1) not within the 300 steps (it ends at"
        f" loss {climb['decay_final_loss']:.2g})",
        # Notebook 04's grid by the same rule: no figure draws these, so they are prose, not a caption.
        "By the same rule on notebook 04's grid, with the curvature's axes along the coordinates, Adagrad"
        f" reaches loss 1e-12 in {tuned['adagrad_steps']:.0f} steps, gradient descent in {tuned['gd_steps']:.0f},"
        f" {tuned['gd_over_adagrad']:.1f}× as many",
        f"(Dropping the rule buys Adagrad {rule['best_steps'] - rule['fastest_steps']:.0f} steps,"
        f" {rule['fastest_steps']:.0f} at η = {rule['fastest_eta']:g}, for a {rule['fastest_peak_over_start']:.1f}×"
        " rise of its loss before it falls",
        f"Adagrad needs {rotated['rotated_adagrad_steps']:.0f} steps,"
        f" gradient descent still {rotated['rotated_gd_steps']:.0f}",
        f"reach loss 1e-12 in {dvf['aligned_diag_steps']:.0f}"
        f" and {dvf['aligned_full_steps']:.0f} steps on the"
        " axis-aligned quadratic; on the same quadratic rotated by 45° the diagonal needs"
        f" {dvf['rotated_diag_steps']:.0f} steps and the"
        f" full matrix {dvf['rotated_full_steps']:.0f}.",
        f"{v['warning_adagrad_lags_after_the_move']['adagrad_steps']:.0f} steps to recover, against"
        f" {v['warning_adagrad_lags_after_the_move']['gd_steps']:.0f} for gradient descent",
        f"{v['warning_adagrad_mean_loss_is_lower_before_the_move']['ratio']:.1f}× lower than gradient descent's",
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


def test_the_notebooks_prose_agrees_with_the_claims():
    """The few statements about Adagrad's behaviour that a notebook's prose makes in words rather than
    in a printed sentence, checked against the claims' values: a changed experiment fails here instead
    of leaving a stale sentence."""
    v = {name: claims.CLAIMS[name]().values for name in claims.CLAIMS}
    tuned = v["tuned_adagrad_beats_tuned_gd_on_the_textbook_quadratic"]
    lag = v["warning_adagrad_lags_after_the_move"]
    mean = v["warning_adagrad_mean_loss_is_lower_before_the_move"]
    rare = v["rare_features_adagrad_learns_rare_weights"]
    regret = v["rare_features_regret_grows_slower_than_sqrt_t"]
    gain = v["the_gain_depends_on_how_rare_the_rare_features_are"]
    first = v["the_decays_largest_eta0_is_set_by_its_first_step"]
    checks = {
        "01_why_adagrad": [
            ("SGD's error is several", rare["sgd_rare10_rms_error"] > 3 * rare["adagrad_rare10_rms_error"]),
            ("several times smaller", regret["sgd_regret"] > 3 * regret["adagrad_regret"]),
            ("when every feature is common the gain is smaller", gain["gain_a0.5"] < gain["gain_a1"]),
            ("a feature never seen", gain["rarest_ten_min_count_a2"] == 0),
            (
                "the gain is a hump: largest at a moderate rarity, smaller when every feature is common and"
                " when the rare ones are seen at most a few times or never",
                gain["peak_gain"] == max(v for k, v in gain.items() if k.startswith("gain_a")),
            ),
        ],
        "03_the_warning": [
            ("about 10 after 100 steps", abs(lag["root_G_at_100"] - 10) < 0.5),
            ("several times below constant-step gradient descent's", 3 < mean["ratio"] < 10),
            ("is several times below gradient descent's", 3 < 0.05 / lag["adagrad_rate_at_move"] < 10),
            ("many times longer to follow", lag["adagrad_steps"] > 4 * lag["gd_steps"]),
        ],
        "04_textbook_quadratic": [
            ("an order of magnitude fewer steps", tuned["gd_over_adagrad"] >= 10),
        ],
        "10_solutions": [
            ("about a decade", 5 < 10 / v["adagrad_beats_tuned_gd_over_a_wide_band"]["edge"] < 20),
            ("From η ≈ 5 on", 4.5 < v["adagrad_beats_tuned_gd_over_a_wide_band"]["rule_edge"] < 5.5),
            ("ends near 4", 3.5 < v["adagrad_beats_tuned_gd_over_a_wide_band"]["rule_band_top"] < 4.5),
            (
                "at the grid's 0.497",
                f"{v['adagrad_beats_tuned_gd_over_a_wide_band']['gd_next_above']:.3g}" == "0.497"
                and v["adagrad_beats_tuned_gd_over_a_wide_band"]["gd_next_above_steps"] >= 10**9,
            ),
            (
                "= {:g} - {:g}\\,\\eta_0 + {:g}\\,\\eta_0^2".format(
                    first["start_loss"], first["gTg"], first["half_gTAg"]
                ),
                abs(first["first_step_limit"] - first["gTg"] / first["half_gTAg"]) < 1e-12,
            ),
            (f"$\\eta_0 \\le 65/128.1 \\approx {first['first_step_limit']:.3f}$", first["gTg"] == 65),
            (f"grid's last non-climbing point, {first['grid_largest']:g}", first["grid_largest"] < 0.5),
        ],
    }
    for stem, pairs in checks.items():
        prose = _prose(stem)
        for text, holds in pairs:
            assert text in prose, (stem, text)
            assert holds, (stem, text)
