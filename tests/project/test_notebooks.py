"""The notebooks: text sources (jupytext percent .py) paired with executed .ipynb; each pair matches,
the committed .ipynb carries its outputs and no error, each runs top to bottom within a per-cell
timeout, the slider notebook several times, and nothing a student reads is test-harness output.

Every notebook in ``notebooks/`` is found by its file name: a new notebook is covered as it lands.
Rebuild after editing a .py: ``jupytext --to ipynb --update notebooks/<name>.py`` (keeps the cell ids),
then ``jupyter nbconvert --to notebook --execute --inplace notebooks/<name>.ipynb``. Not
``jupytext --update --execute``: jupytext 1.19.6 writes the new sources with the old outputs.
"""

from __future__ import annotations

import os
import re

import jupytext
import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NB_DIR = ROOT / "notebooks"
SOURCES = sorted(NB_DIR.glob("*.py"))
STUDENT = [p for p in SOURCES if re.fullmatch(r"\d\d_\w+", p.stem) and "solutions" not in p.stem]
PORTERS = [p for p in SOURCES if re.fullmatch(r"p\d_\w+", p.stem)]
SLIDERS = NB_DIR / "02_learning_rate_decay.py"

#: Per cell: far above the slowest cell (about 25 s, notebook 1's four Zipf exponents) and far below
#: a stall, which used to wait forever.
CELL_TIMEOUT = 60
SLIDER_RUNS = 3

#: What the test harness prints and a student must not read.
HARNESS = ("[holds]", "[FAILS]", "measured:")


def test_every_notebook_is_a_text_source_with_its_executed_pair():
    assert SOURCES and STUDENT and PORTERS
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == [p.stem for p in SOURCES]
    assert all(re.fullmatch(r"(\d\d|p\d)_\w+", p.stem) for p in SOURCES), [p.stem for p in SOURCES]
    assert not list(NB_DIR.glob("build_*.py")), "the cells-as-strings builder is retired"
    assert SLIDERS in SOURCES


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_pair_matches(src):
    """The .ipynb's cells are the .py's cells, in order, source for source."""
    text = jupytext.read(src)
    committed = nbformat.read(src.with_suffix(".ipynb"), as_version=4)
    assert _cells(committed) == _cells(text)


@pytest.mark.parametrize("src", STUDENT, ids=lambda p: p.stem)
def test_a_student_notebook_ends_with_a_summary(src):
    nb = jupytext.read(src)
    summaries = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Summary" in c.source]
    assert summaries, "no ## Summary"
    later = [c for c in nb.cells[summaries[-1] + 1 :] if c.cell_type == "markdown"]
    assert not later, "the Summary is not the last section"


@pytest.mark.parametrize("src", PORTERS, ids=lambda p: p.stem)
def test_a_porters_notebook_says_so_first(src):
    assert "Porters' track" in jupytext.read(src).cells[0].source


def _stream_text(nb) -> str:
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return "".join(o.get("text", "") for o in outs) + "".join(
        o.get("data", {}).get("text/plain", "") for o in outs if o.output_type != "stream"
    )


def _harness_output(text: str) -> list[str]:
    """Harness tags and dumps: a tag, or a table of numbers on one line (more than 8 ``number: value``
    pairs, like a per-η table, or more than 30 numbers)."""
    found = [tag for tag in HARNESS if tag in text]
    for line in text.splitlines():
        line = re.sub(r"-?0x[0-9a-f.]+p[-+]?\d+", "HEX", line)  # a float's hex form is one number
        pairs = re.findall(r"\d[\d.e+-]*\s*:\s*(?:-|\d)", line)
        if len(pairs) > 8 or len(re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", line)) > 30:
            found.append(line[:80])
    return found


def test_the_harness_check_catches_what_it_is_for():
    assert _harness_output("[holds] x\n    measured: a = 1")
    assert _harness_output(", ".join(f"{e / 7:.3g}: {e * 3}" for e in range(31)))
    assert _harness_output(", ".join(f"{e / 7:.3g}: -" for e in range(31)))
    assert not _harness_output("Adagrad needs 13 steps, gradient descent 165 (12.7× as many).")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_has_outputs_and_no_errors(src):
    nb = nbformat.read(src.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert code and outputs, "not executed: rebuild as this module's docstring says"
    assert not [o for o in outputs if o.output_type == "error"]
    assert not _harness_output(_stream_text(nb))
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    figure_cells = [c for c in code if ".fig_" in c.source or c.source.strip() == "explore()"]
    assert len(images) >= len(figure_cells), "a figure cell shows no figure"


def test_every_figure_in_a_lesson_is_followed_by_a_conclusion():
    for src in SOURCES:
        nb = jupytext.read(src)
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and (".fig_" in c.source or c.source.strip() == "explore()"):
                later = [d.source for d in nb.cells[i + 1 :] if d.cell_type == "markdown"]
                assert later and later[0].startswith("**Conclusion.**"), (src.name, c.source)


def _headless_env() -> dict[str, str]:
    """The environment of a script executing notebooks: no Jupyter server session, no slider switch."""
    return {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "ADAGRAD_REF_SLIDERS")}


def _execute(src):
    nb = jupytext.read(src)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NB_DIR)}}
    )
    client.execute(env=_headless_env())
    return nb


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, pattern
    return float(found[1])


#: What a notebook prints and its prose builds on, checked on the run (the notebook asserts nothing: a
#: student reads no test code). Notebook -> a check of its printed text.
PRINTED = {
    # 'the from-scratch weights, the reference class's and the sparse Numba step's are identical'
    "01_why_adagrad": lambda text: "identical to the last bit" in text and "NOT identical" not in text,
    # 'The two updates differ by at most ... over 20 steps' (diagonal and full matrix, 1-sparse gradients)
    "06_diagonal_vs_full_matrix": lambda text: (
        _number(r"differ by at most (\S+) over 20 steps", text) < 1e-12
    ),
    # 'optax's params and ours are at most N ULP apart': 'a few ULP in this example'
    "p1_documented_example": lambda text: _number(r"at most (\d+) ULP apart", text) <= 4,
}


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(src):
    """Executes the .py's cells, each within CELL_TIMEOUT (the solutions notebook asserts its answers as it
    runs); a stall fails here instead of waiting forever. What it prints holds (:data:`PRINTED`)."""
    nb = _execute(src)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert not _harness_output(_stream_text(nb))
    assert PRINTED.get(src.stem, lambda text: True)(_stream_text(nb))


def test_the_printed_checks_can_fail():
    assert not PRINTED["01_why_adagrad"]("... are NOT identical on all 512 features.")
    assert not PRINTED["06_diagonal_vs_full_matrix"](
        "The two updates differ by at most 3.0e-09 over 20 steps"
    )
    assert not PRINTED["p1_documented_example"]("optax's params and ours are at most 9 ULP apart.")
    assert PRINTED["p1_documented_example"]("optax's params and ours are at most 2 ULP apart.")


@pytest.mark.parametrize("run", range(2, SLIDER_RUNS + 1))
def test_the_slider_notebook_never_stalls(run):
    """Executing the slider notebook used to hang in 3 of 8 runs (nbclient and ipywidgets); headless it
    now makes no widget at all. Run it again (the first run is in test_notebook_runs_top_to_bottom)."""
    nb = _execute(SLIDERS)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert not widgets, "a widget was made in a headless run"
    assert "no sliders" in _stream_text(nb)


def test_sliders_only_in_a_live_front_end(monkeypatch, capsys):
    from adagrad_ref.teaching.lessons import learning_rate_decay as lesson

    monkeypatch.delenv("ADAGRAD_REF_SLIDERS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not lesson.live_front_end()
    assert lesson.show_sliders(lambda **kw: None) is False
    assert "no sliders" in capsys.readouterr().out
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/student/02_learning_rate_decay.ipynb")
    assert lesson.live_front_end()
    monkeypatch.setenv("ADAGRAD_REF_SLIDERS", "0")
    assert not lesson.live_front_end()
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.setenv("ADAGRAD_REF_SLIDERS", "1")
    assert lesson.live_front_end()
