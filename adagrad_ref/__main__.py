"""``python -m adagrad_ref``: see :mod:`adagrad_ref.cli`."""

from adagrad_ref.cli import main

raise SystemExit(main())
