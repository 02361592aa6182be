"""The fast CPU core: the Numba kernels (kernels.py) and the flat multi-tensor optimizer (flat.py)."""
