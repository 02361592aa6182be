"""Tools beside the core: the benchmark and the measured gaps to optax."""
