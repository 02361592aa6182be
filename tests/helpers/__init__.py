"""What several test files share: fuzzing helpers, the mutant ports of the golden files, the
driver of the C port (``ports/``), the data the tests read (``data/``) and the repository's paths
(:mod:`helpers.paths`). ``pytest`` puts ``tests/`` on ``sys.path`` (``pythonpath`` in pyproject.toml):
``from helpers.paths import ROOT``."""
