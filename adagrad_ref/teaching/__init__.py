"""Teaching code for the notebooks and figures: quadratic experiments, full-matrix Adagrad, the
rare-features problem, the plots, and the claims (every lesson as a computed, asserted fact)."""
