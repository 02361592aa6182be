"""Teaching code: the course's lessons, one module per notebook, and what they share.

* ``lessons/<stem>.py``: one module per notebook (``notebooks/01_why_adagrad.py`` has
  ``lessons/why_adagrad.py``): the experiment the notebook runs, its claims and its figures, in one
  file a student can open.
* ``experiments.py`` (quadratics and runs), ``rare_features.py`` (the online problem),
  ``full_matrix.py`` (full-matrix Adagrad): the building blocks the lessons share.
* ``claim_base.py``: a *claim* is a lesson's sentence with the numbers it states, computed, and the
  predicate on them. The notebook prints the sentence; ``tests/teaching/test_claims.py`` asserts every claim
  of every lesson module holds, so a lesson that stops being true fails a test by name.
* ``plots.py``: the figures' shared style and ``python -m adagrad_ref figures``, which draws every
  figure of every lesson module.

Adding a lesson touches at most three files:

1. ``notebooks/NN_<stem>.py`` (jupytext percent source; build its ``.ipynb`` with
   ``jupytext --to ipynb --update`` then ``jupyter nbconvert --to notebook --execute --inplace``:
   ``jupytext --update --execute`` keeps stale outputs), ending with ``## Summary``;
2. ``adagrad_ref/teaching/lessons/<stem>.py``: its experiment; each lesson a function decorated with
   :func:`adagrad_ref.teaching.claim_base.claim` returning ``(sentence, values, holds)``; its figures
   as functions listed in a module-level ``FIGURES = {"name.png": fig_function}``;
3. ``tests/test_lesson_<stem>.py`` for anything beyond "every claim holds" (which
   ``tests/teaching/test_claims.py`` already checks for every lesson module it finds).

Nothing registers a lesson by hand: ``adagrad_ref.teaching.lessons.modules()`` finds every module of
the package, ``claims.CLAIMS`` gathers their claims and ``plots.FIGURES`` their figures, and
``tests/project/test_notebooks.py`` finds every notebook by its file name.
"""
