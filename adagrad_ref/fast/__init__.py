"""The fast CPU core: the Numba kernels (kernels.py, their refusals explained in refusals.py) and
the flat multi-tensor optimizer (flat.py)."""
