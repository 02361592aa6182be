"""Teaching code for the notebooks and figures: quadratic experiments, full-matrix Adagrad, plots."""
