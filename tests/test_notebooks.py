"""The notebooks: text sources (jupytext percent .py) paired with executed .ipynb; each pair matches,
the committed .ipynb carries its outputs and no error, and each runs top to bottom.

Rebuild after editing a .py: ``jupytext --to ipynb --update --execute notebooks/NN_name.py``.
"""

from __future__ import annotations

import jupytext
import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NB_DIR = ROOT / "notebooks"
SOURCES = sorted(NB_DIR.glob("*.py"))


def test_every_notebook_is_a_text_source_with_its_executed_pair():
    assert [p.stem for p in SOURCES] == [
        "01_documented_example",
        "02_rare_features",
        "03_learning_rate_decay",
        "04_the_warning_and_rmsprop",
        "05_textbook_quadratic",
        "06_diagonal_vs_full_matrix",
        "07_frameworks",
        "08_solutions",
    ]
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == [p.stem for p in SOURCES]
    assert not list(NB_DIR.glob("build_*.py")), "the cells-as-strings builder is retired"


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_pair_matches(src):
    """The .ipynb's cells are the .py's cells, in order, source for source."""
    text = jupytext.read(src)
    committed = nbformat.read(src.with_suffix(".ipynb"), as_version=4)
    assert _cells(committed) == _cells(text)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_has_outputs_and_no_errors(src):
    nb = nbformat.read(src.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert code and outputs, "not executed: rebuild with jupytext --to ipynb --update --execute"
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "[FAILS]" not in text, "a claim printed in the notebook does not hold"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    figure_cells = [c for c in code if "plots.fig_" in c.source or "explore()" in c.source]
    assert len(images) >= len(figure_cells), "a figure cell shows no figure"


def test_every_figure_in_a_lesson_is_followed_by_a_conclusion():
    for src in SOURCES:
        nb = jupytext.read(src)
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and ("plots.fig_" in c.source or c.source.strip() == "explore()"):
                later = [d.source for d in nb.cells[i + 1 :] if d.cell_type == "markdown"]
                assert later and later[0].startswith("**Conclusion.**"), (src.name, c.source)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(src):
    """Executes the .py's cells (the solutions notebook asserts its answers as it runs)."""
    nb = jupytext.read(src)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NB_DIR)}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert "[FAILS]" not in "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
