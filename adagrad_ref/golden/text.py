"""The prose written into every golden file: its header, the meaning of each flag, the tolerances."""

from __future__ import annotations

__all__ = ["HEADER", "NOTES", "TOLERANCE_NOTES"]

HEADER = [
    "Every float is its IEEE-754 bit pattern (hex of the uint32/uint64), C order; most arrays also give",
    "the shortest round-trip decimal under dec (informative: hex is the value). Complex values hold two",
    "entries per element (real, imaginary). A case's inputs: learning_rate, the rate of every step (final:",
    "never recompute it), and grads, per leaf the gradients of every step stacked on a first axis of",
    "length numberOfSteps (closed loops: none; the gradient formula computes them). A step t = 1, 2, ...:",
    "apply orderOfOperations to every entry of every leaf (null leaves are skipped), every operation",
    "rounding once in the dtype. steps lists the recorded steps: every step of a short case; step 1-10,",
    "every 50th and the last of a long one (python -m adagrad_ref golden --full --out DIR records all).",
    "count starts at 0 (single steps: initial.count); the state starts at initial_accumulator_value",
    "unless initial.sum_of_squares is given.",
]

NOTES = {
    "DocumentedExample": "The optax.adagrad documentation's example: f(x) = sum(x**2) from [1, 2, 3], lr 1.",
    "Random": "Random values spanning many orders of magnitude.",
    "ZeroGradient": "A gradient of exactly zero in some or all entries.",
    "ZeroAccumulator": "initial_accumulator_value = 0: G can be 0 (optax: the G > 0 guard, update 0).",
    "EpsZero": "eps = 0: with G = 0, only the guard (optax) avoids 0/0.",
    "Subnormal": "Subnormal gradients: g*g underflows to 0 or to a subnormal.",
    "Overflow": "|g| > sqrt(max): g*g overflows to Inf, 1/sqrt(Inf) = 0, the coordinate freezes.",
    "NaN": "NaN gradients: NaN propagates into G, the update and the param (any NaN matches any NaN).",
    "Inf": "Infinite gradients: G = Inf, update = 0*Inf = NaN (optax) or Inf/Inf = NaN.",
    "Schedule": "A learning-rate schedule; each step states the rate it uses, rounded to the dtype.",
    "LongRun": "1,000 steps or more: the effective step shrinks as G grows.",
    "Scalar": "A 0-d param.",
    "Empty": "A param with no elements.",
    "Pytree": "Several leaves, one of them None (a leaf without params, skipped).",
    "Complex": (
        "Complex params (optax): G = fma(a, a, b*b) + G on the real part (imaginary part: 0 + G.imag); "
        "s = 1/sqrt(G.real + eps) - 0i where G > 0 (as jax's complex rsqrt), s = 0 + 0i where G <= 0; "
        "u = s*g and u = (-lr + 0i)*u as full complex products ((x+iy)(c+id) = (xc - yd) + i(xd + yc))."
    ),
    "WeightDecay": (
        "PyTorch weight_decay: g = fma(weight_decay, w, g), one rounding, after maximize has negated g "
        "(decaying first, g = -(g + weight_decay * w), is a different optimizer)."
    ),
    "LrDecay": "PyTorch lr_decay: clr = lr / (1 + (step - 1) * lr_decay), stated per step.",
    "DecayFactor": (
        "ONNX decay_factor: r = R / (1 + T * decay_factor), T = count (0 at the first step), stated per step."
    ),
    "NormCoefficient": "ONNX norm_coefficient: g = norm_coefficient * w + g first (two roundings, always).",
    "Maximize": "PyTorch maximize: the gradient is negated first, before weight decay is added.",
    "SingleStep": "One step from a given state: checks a step on its own, with no drift.",
    "OpenLoop": "A trajectory whose gradients are given.",
    "ClosedLoop": "A trajectory whose gradient is computed from the params by the stated formula.",
}

TOLERANCE_NOTES = {
    "exact": (
        "0 ULP in every quantity, every bit including the sign of zero: what a port produces that follows "
        "orderOfOperations with IEEE-754 correctly rounded +, -, *, / and sqrt in the stated dtype, and "
        "nothing fused (compile C with -ffp-contract=off, no -ffast-math). Any NaN matches any NaN (its "
        "sign and payload are not specified)."
    ),
    "relaxed": (
        "Every quantity of every recorded step has a bound, per case: 2 * m + 2 ULP, where m is the "
        "largest error, at any step, of the legitimate variants: g*g + G fused into one FMA (PyTorch: "
        "not fused), and 1/sqrt and the division computed 2 ULP up or down (hardware rsqrt and fast "
        "division), alone and combined. A sign of zero that differs counts 1 ULP; a zero where a subnormal "
        "is expected counts 0 (flush to zero, as XLA on CPU and GPUs with -ftz do)."
    ),
    "params_ulp": "ULP for params are counted in units of ulp(max(|w_expected|, |u_expected|)) of that step.",
}
