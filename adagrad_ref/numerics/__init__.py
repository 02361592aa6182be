"""Floating-point helpers behind the bits: a pure-NumPy fused multiply-add
(:mod:`~adagrad_ref.numerics.fma`), exact ULP distances (:mod:`~adagrad_ref.numerics.ulp`), and the
per-operation rounding of bfloat16/float16 as optax (:mod:`~adagrad_ref.numerics.lowprec`) and
PyTorch (:mod:`~adagrad_ref.numerics.lowprec_torch`) compute it.
"""
