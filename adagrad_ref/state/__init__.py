"""The optimizer's state on disk: ``save_state``/``load_state`` (:mod:`~adagrad_ref.state.checkpoint`),
the state-file format they write and read (:mod:`~adagrad_ref.state.statefile`), and the atomic
file writes every file of the package goes through (:mod:`~adagrad_ref.state.atomic`).
"""
