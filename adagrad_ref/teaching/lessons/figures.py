"""The lesson modules' figures, by file name, for ``python -m adagrad_ref figures`` (``plots.FIGURES``
takes them in with one line)."""

from adagrad_ref.teaching.lessons import a_real_model, rmsprop_and_adam

FIGURES = {**rmsprop_and_adam.FIGURES, **a_real_model.FIGURES}
