"""One lesson module per notebook: the experiment a notebook runs, in code a student can open."""
