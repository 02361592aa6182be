"""``python -m adagrad_ref``: see :mod:`adagrad_ref.cli`."""

try:
    from adagrad_ref.cli import main
except KeyboardInterrupt:  # Ctrl-C while the package loads: as in main, quietly, status 130
    raise SystemExit(130) from None

raise SystemExit(main())
