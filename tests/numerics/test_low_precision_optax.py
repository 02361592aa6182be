"""bfloat16 and float16 against the real optax, bit for bit (no tolerance), on CPU.

The rule of :mod:`adagrad_ref.numerics.lowprec` (each operation in float32, rounded once to the leaf's dtype;
``rsqrt`` one operation; bfloat16 flushes subnormals) is checked three ways:

* the operations alone, against jax: ``rsqrt`` over all 65,536 values of each format, ``+`` and
  ``*`` over random bit patterns (every class: zeros, subnormals, NaN, Inf, overflow);
* whole runs against ``optax.adagrad`` + ``optax.apply_updates``, eager for both formats and jitted
  for bfloat16, over every case class the float32 tests use: random values over many decades,
  edge gradients (zeros, subnormals, ``g*g`` overflowing, NaN, +-Inf), a zero accumulator (the
  guard), a subnormal accumulator with ``eps = 0``, a schedule, a 0-d and an empty leaf;
* jitted float16: the same bits once ``lr`` and ``eps`` are rounded as jit rounds them (directly
  from the float64); with an ``lr`` where that differs from eager's float32 route, the gap is
  counted and must be that rounding alone.

Any NaN matches any NaN (as in the float32 tests); every other bit, the sign of zero included, counts.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

from adagrad_ref import adagrad, apply_updates
from adagrad_ref.numerics import lowprec

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
FORMATS = {"bfloat16": BF16, "float16": F16}


def mismatches(a, b) -> int:
    """Elements whose bits differ; any NaN matches any NaN."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    nan = np.isnan(a.astype(np.float32)) & np.isnan(b.astype(np.float32))
    return int(((a.view(np.uint16) != b.view(np.uint16)) & ~nan).sum())


def all_values(dt: np.dtype) -> np.ndarray:
    return np.arange(2**16, dtype=np.uint16).view(dt)


def random_bits(dt: np.dtype, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**16, n, dtype=np.uint16).view(dt)


# ---------------------------------------------------------------- the operations alone


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("jit", [False, True])
def test_rsqrt_every_value(name, jit):
    """All 65,536 inputs: jax.lax.rsqrt is 1/sqrt in float32 rounded once (bfloat16: subnormal in -> Inf)."""
    x = all_values(FORMATS[name])
    f = jax.jit(jax.lax.rsqrt) if jit else jax.lax.rsqrt
    assert mismatches(lowprec.rsqrt(x), f(jnp.asarray(x))) == 0


@pytest.mark.parametrize("name", FORMATS)
def test_rsqrt_is_not_sqrt_then_divide(name):
    """The two-rounding reading (sqrt rounded, then 1/ rounded) is wrong for thousands of inputs."""
    dt = FORMATS[name]
    x = all_values(dt)
    with np.errstate(all="ignore"):
        twice = (np.float32(1) / np.sqrt(x.astype(np.float32)).astype(dt).astype(np.float32)).astype(dt)
    assert mismatches(twice, jax.lax.rsqrt(jnp.asarray(x))) > 5000


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("op", ["add", "multiply"])
def test_binary_operations_random_bits(name, op):
    """``+`` and ``*`` on 2**20 random bit patterns (every class of value), eager and jitted."""
    dt = FORMATS[name]
    a, b = random_bits(dt, 2**20, 1), random_bits(dt, 2**20, 2)
    fl = lowprec.flushes(dt)
    with np.errstate(all="ignore"):
        x = getattr(np, op)(lowprec._read(a, fl), lowprec._read(b, fl))
    ours = lowprec._round(x, dt, fl)
    jop = getattr(jnp, op)
    assert mismatches(ours, jop(jnp.asarray(a), jnp.asarray(b))) == 0
    assert mismatches(ours, jax.jit(jop)(jnp.asarray(a), jnp.asarray(b))) == 0


@pytest.mark.parametrize("name", FORMATS)
def test_compare_reads_subnormals_as_zero_in_bfloat16_only(name):
    """The ``G > 0`` guard: XLA's compare sees a bfloat16 subnormal as 0; a float16 one as positive."""
    dt = FORMATS[name]
    x = all_values(dt)
    ours = lowprec._read(x, lowprec.flushes(dt)) > 0
    assert np.array_equal(ours, np.asarray(jnp.asarray(x) > 0))


# ---------------------------------------------------------------- whole runs against optax


def magnitudes(rng, n: int, dt: np.dtype, lo: float, hi: float) -> np.ndarray:
    return (rng.standard_normal(n) * 10.0 ** rng.uniform(lo, hi, n)).astype(dt)


def edge_gradients(dt: np.dtype) -> np.ndarray:
    fi = ml_dtypes.finfo(dt)
    values = [0.0, -0.0, fi.smallest_subnormal, -fi.smallest_normal, float(np.sqrt(float(fi.max))) * 2,
              np.nan, np.inf, -np.inf, float(fi.smallest_normal) * 4, -float(fi.smallest_subnormal) * 3]  # fmt: skip
    return np.array(values, np.float64).astype(dt)


def run_cases(dt: np.dtype):
    """(name, optimizer keyword arguments, params, list of gradients): every case class."""
    rng = np.random.default_rng(20)
    lo, hi = (-15, 15) if dt == BF16 else (-6, 3)  # float16: 6e-8 .. 65504, g*g overflows above 256
    fi = ml_dtypes.finfo(dt)
    n = 4096
    yield (
        "random",
        {"learning_rate": 0.1},
        magnitudes(rng, n, dt, -2, 2),
        [magnitudes(rng, n, dt, lo, hi) for _ in range(20)],
    )
    edge = edge_gradients(dt)
    yield "edge", {"learning_rate": 0.3}, magnitudes(rng, edge.size, dt, -2, 2), [edge, edge[::-1].copy()]
    tiny = np.array([0.0, -0.0, fi.smallest_subnormal, float(fi.smallest_normal), 1e-3, 3.0]).astype(dt)
    yield (
        "zero accumulator",
        {"learning_rate": 0.3, "initial_accumulator_value": 0.0},
        np.ones(6, dt),
        [tiny, np.zeros(6, dt), tiny],
    )
    sub = float(fi.smallest_subnormal) * 5
    yield "subnormal accumulator, eps 0", {"learning_rate": 0.3, "initial_accumulator_value": sub,
                                           "eps": 0.0}, np.ones(6, dt), [tiny, tiny]  # fmt: skip
    yield (
        "schedule",
        {"learning_rate": optax.exponential_decay(0.5, 10, 0.5)},
        magnitudes(rng, 512, dt, -2, 2),
        [magnitudes(rng, 512, dt, lo, hi) for _ in range(30)],
    )
    yield "0-d", {"learning_rate": 0.05}, np.asarray(1.5, dt), [np.asarray(x, dt) for x in (0.5, -2.0, 0.0)]
    yield "empty", {"learning_rate": 0.05}, np.zeros((0, 3), dt), [np.zeros((0, 3), dt)]
    yield (
        "subnormal params",
        {"learning_rate": 1e-3},
        np.full(4, fi.smallest_subnormal, dt),
        [np.array([1.0, -1.0, 0.0, 1e-3]).astype(dt)],
    )


def fused_update_leaf(g, sum_of_squares, learning_rate, eps):
    """:func:`adagrad_ref.numerics.lowprec.update_leaf` (float16) with its ``G`` line as one fused
    multiply-add, ``G_t = RN(g·g + G_{t-1})``, rounded once: what jitted optax computes on a CPU with
    native float16 FMA (AVX512-FP16: LLVM contracts ``g*g + G`` into ``vfmadd213ph``). Computed in float64:
    the product of two float16 values is exact there, and rounding the float64 sum on to float16 gives
    the FMA's one rounding (docs/low_precision.md, "Jitted float16", says why). The other lines are the
    rule's: each in float32, rounded once."""
    dt = sum_of_squares.dtype

    def f(a):
        return np.asarray(a).astype(np.float32)

    def r(x):
        return np.asarray(x, np.float32).astype(dt)

    with np.errstate(all="ignore"):
        G = (g.astype(np.float64) * g.astype(np.float64) + sum_of_squares.astype(np.float64)).astype(dt)
        inv = lowprec.rsqrt(r(f(G) + f(lowprec.scalar(eps, dt))))
        s = np.where(f(G) > 0, inv, np.zeros((), dt))
        u = r(f(s) * f(g))
        u = r(f(lowprec.scalar(-learning_rate, dt)) * f(u))
    return np.asarray(u), np.asarray(G)


def _fused_model(g: np.ndarray, G: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (g.astype(np.float64) * g.astype(np.float64) + G.astype(np.float64)).astype(F16)


@functools.cache
def xla_fuses_float16_multiply_add() -> bool:
    """Does jitted ``g*g + G`` in float16 round once (an FMA) on this CPU, or twice? Read from the numbers:
    2**16 random pairs on which the two readings differ in many places, and jit must give one of them
    bit for bit (AMD EPYC Zen 4, F16C only: twice; Intel Xeon with AVX512-FP16: once)."""
    rng = np.random.default_rng(11)
    g = magnitudes(rng, 2**16, F16, -3, 2)
    G = magnitudes(rng, 2**16, F16, -3, 3)
    with np.errstate(all="ignore"):
        twice = (g.astype(np.float32) * g.astype(np.float32)).astype(F16)
        twice = (twice.astype(np.float32) + G.astype(np.float32)).astype(F16)
    once = _fused_model(g, G)
    assert mismatches(once, twice) > 1000  # the sample tells the two apart
    jitted = np.asarray(jax.jit(lambda g, G: g * g + G)(g, G))
    if mismatches(jitted, once) == 0:
        return True
    assert mismatches(jitted, twice) == 0, "jitted float16 g*g + G is neither one rounding nor two"
    return False


def compare_run(dt, kwargs, params, grads, jit, ref_kwargs=None) -> dict:
    """Run optax and the reference side by side (closed: each from its own state); count mismatches.
    Jitted float16 on a CPU whose XLA fuses ``g*g + G`` (see :func:`xla_fuses_float16_multiply_add`)
    is compared with :func:`fused_update_leaf` in place of the rule's update."""
    if jit and dt == F16 and xla_fuses_float16_multiply_add():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(lowprec, "update_leaf", fused_update_leaf)
            return _compare_run(dt, kwargs, params, grads, jit, ref_kwargs)
    return _compare_run(dt, kwargs, params, grads, jit, ref_kwargs)


def _compare_run(dt, kwargs, params, grads, jit, ref_kwargs=None) -> dict:
    opt = optax.adagrad(**kwargs)
    ours = adagrad(**(ref_kwargs or kwargs))
    update = jax.jit(opt.update) if jit else opt.update
    apply = jax.jit(optax.apply_updates) if jit else optax.apply_updates
    wj = jnp.asarray(params)
    sj = (jax.jit(opt.init) if jit else opt.init)(wj)
    w = params.copy()
    s = ours.init(w)
    count = {"G0": mismatches(s.sum_of_squares, sj[0].sum_of_squares), "G": 0, "u": 0, "w": 0, "n": 0}
    for g in grads:
        uj, sj = update(jnp.asarray(g), sj, wj)
        wj = apply(wj, uj)
        u, s = ours.update(g, s, w)
        w = apply_updates(w, u)
        count["G"] += mismatches(s.sum_of_squares, sj[0].sum_of_squares)
        count["u"] += mismatches(u, uj)
        count["w"] += mismatches(w, wj)
        count["n"] += g.size
    return count


CASES = [(f, c[0]) for f in FORMATS for c in run_cases(FORMATS[f])]


def _case(name, case):
    dt = FORMATS[name]
    return next(c for c in run_cases(dt) if c[0] == case)


@pytest.mark.parametrize("name,case", CASES)
def test_eager_optax_bit_for_bit(name, case):
    _, kwargs, params, grads = _case(name, case)
    count = compare_run(FORMATS[name], kwargs, params, grads, jit=False)
    assert {k: v for k, v in count.items() if k != "n"} == {"G0": 0, "G": 0, "u": 0, "w": 0}, count


@pytest.mark.parametrize("case", [c for f, c in CASES if f == "bfloat16"])
def test_jitted_optax_bfloat16_bit_for_bit(case):
    _, kwargs, params, grads = _case("bfloat16", case)
    count = compare_run(BF16, kwargs, params, grads, jit=True)
    assert {k: v for k, v in count.items() if k != "n"} == {"G0": 0, "G": 0, "u": 0, "w": 0}, count


def test_jitted_bfloat16_whole_step_scan():
    """One jitted program for 20 steps (lax.scan, update and apply fused): still every bit."""
    rng = np.random.default_rng(3)
    opt = optax.adagrad(0.1)
    params = magnitudes(rng, 2048, BF16, -2, 2)
    grads = np.stack([magnitudes(rng, 2048, BF16, -10, 10) for _ in range(20)])

    def body(carry, g):
        w, st = carry
        u, st = opt.update(g, st, w)
        return (optax.apply_updates(w, u), st), u

    (wj, sj), uj = jax.jit(lambda w, gs: jax.lax.scan(body, (w, opt.init(w)), gs))(params, grads)
    ours = adagrad(0.1)
    w, s, us = params, ours.init(params), []
    for g in grads:
        u, s = ours.update(g, s)
        w = apply_updates(w, u)
        us.append(u)
    assert mismatches(w, wj) == mismatches(s.sum_of_squares, sj[0].sum_of_squares) == 0
    assert mismatches(np.stack(us), uj) == 0


def _f16_sensitive_rate() -> float:
    """A learning rate whose float16 rounding differs: float64 -> float16 directly, or through float32."""
    v = np.random.default_rng(0).uniform(1e-3, 1, 200_000)
    direct, via32 = v.astype(F16), v.astype(np.float32).astype(F16)
    return float(v[direct.view(np.uint16) != via32.view(np.uint16)][0])


@pytest.mark.parametrize("case", [c for f, c in CASES if f == "float16"])
def test_jitted_optax_float16_same_bits_with_its_hyperparameter_rounding(case):
    """Jitted float16: bit for bit, once lr and eps are rounded directly from float64 as jit does
    (for these cases' hyperparameters the two routes agree, so the reference is unchanged)."""
    _, kwargs, params, grads = _case("float16", case)
    for key in ("learning_rate", "eps"):
        v = kwargs.get(key, 1e-7)
        if not callable(v):
            assert np.float16(v) == np.float16(np.float32(v))  # both routes round alike here
    count = compare_run(F16, kwargs, params, grads, jit=True)
    assert {k: v for k, v in count.items() if k != "n"} == {"G0": 0, "G": 0, "u": 0, "w": 0}, count


@pytest.mark.parametrize("key", ["learning_rate", "eps"])
def test_jitted_float16_gap_is_the_hyperparameter_rounding(key):
    """Where jit's direct float64 -> float16 rounding differs from eager's route through float32, jitted
    optax differs from eager (and from the reference) and equals the reference given the value jit used."""
    v = _f16_sensitive_rate()
    kwargs = {"learning_rate": 0.1, key: v}
    rng = np.random.default_rng(4)
    params = magnitudes(rng, 4096, F16, -2, 2)
    grads = [
        magnitudes(rng, 4096, F16, -4 if key == "eps" else -2, -1 if key == "eps" else 2) for _ in range(5)
    ]
    gap = compare_run(F16, kwargs, params, grads, jit=True)
    assert gap["u"] > 100 and gap["w"] > 0  # measured: thousands of updates
    as_jit = dict(kwargs, **{key: float(np.float16(v))})  # jit's value, exact in float16
    count = compare_run(F16, kwargs, params, grads, jit=True, ref_kwargs=as_jit)
    assert {k: v for k, v in count.items() if k != "n"} == {"G0": 0, "G": 0, "u": 0, "w": 0}, count
    # eager (float64 enabled, as in this suite): the weak float64 scalar is converted by XLA at run time,
    # through float32 on a CPU without native float16 (AMD EPYC Zen 4), directly with vcvtsd2sh on one
    # with AVX512-FP16 (Intel Xeon); the reference given the value that route gives matches bit for bit
    eager = compare_run(
        F16, kwargs, params, grads, jit=False, ref_kwargs=as_jit if _eager_direct(v) else None
    )
    assert {k: v for k, v in eager.items() if k != "n"} == {"G0": 0, "G": 0, "u": 0, "w": 0}, eager


def _eager_direct(v: float) -> bool:
    """Does eager jax (float64 enabled) round the Python float ``v`` to float16 directly (True), or through
    float32 (False)? ``v`` is one where the two differ; any other result fails."""
    got = np.asarray(jnp.ones(1, F16) * v)[0]
    direct, via32 = np.float16(v), np.float16(np.float32(v))
    assert direct != via32 and got in (direct, via32), (got, direct, via32)
    return bool(got == direct)


# ---------------------------------------------------------------- apply_updates, mixed precision


def test_apply_updates_mixed_precision():
    """optax's test_apply_updates_mixed_precision, adapted: bfloat16 params + float32 updates stay
    bfloat16, with optax's bits; and the other mixtures jax promotes."""
    params = ({"a": np.ones((3, 2), BF16)}, np.ones((1,), BF16))
    grads = ({"a": np.full((3, 2), 2.0, np.float32)}, np.full((1,), 2.0, np.float32))
    new = apply_updates(params, grads)
    for leaf in jax.tree.leaves(new):
        assert leaf.dtype == BF16
    expected = jax.jit(optax.apply_updates)(params, grads)
    assert all(
        mismatches(a, b) == 0 for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(expected), strict=True)
    )


@pytest.mark.parametrize(
    "p_dtype,u_dtype",
    [
        (BF16, np.float32),
        (F16, np.float32),
        (np.float32, BF16),
        (np.float32, F16),
        (BF16, F16),
        (F16, BF16),
        (BF16, BF16),
        (F16, F16),
    ],
)
def test_apply_updates_mixed_random_bits(p_dtype, u_dtype):
    """Every class of value (random bit patterns): the params' dtype kept, optax's bits (eager and jit)."""
    p_dtype, u_dtype = np.dtype(p_dtype), np.dtype(u_dtype)
    rng = np.random.default_rng(5)
    nbits = {2: np.uint16, 4: np.uint32}
    p = rng.integers(0, 2 ** (8 * p_dtype.itemsize), 2**16, dtype=nbits[p_dtype.itemsize]).view(p_dtype)
    u = rng.integers(0, 2 ** (8 * u_dtype.itemsize), 2**16, dtype=nbits[u_dtype.itemsize]).view(u_dtype)
    ours = apply_updates(p, u)
    assert ours.dtype == p_dtype
    for f in (optax.apply_updates, jax.jit(optax.apply_updates)):
        theirs = np.asarray(f(jnp.asarray(p), jnp.asarray(u)))
        bits = {2: np.uint16, 4: np.uint32}[p_dtype.itemsize]
        nan = np.isnan(ours.astype(np.float32)) & np.isnan(theirs.astype(np.float32))
        assert int(((ours.view(bits) != theirs.view(bits)) & ~nan).sum()) == 0


def test_xla_cpu_compiles_bfloat16_with_a_float32_convert_around_every_operation_and_float16_as_is():
    """What jit compiles (the whole step, update and apply fused): bfloat16 arithmetic is done in
    float32 with a convert back to bfloat16 after every operation; float16 stays float16 in the HLO
    (each op then lowered one at a time: the runs above show no intermediate kept wider)."""
    opt = optax.adagrad(0.1)

    def step(w, g, st):
        u, st = opt.update(g, st, w)
        return optax.apply_updates(w, u), u, st

    texts = {}
    for name, dt in (("bfloat16", jnp.bfloat16), ("float16", jnp.float16)):
        w = jnp.ones(8, dt)
        texts[name] = jax.jit(step).lower(w, w, opt.init(w)).compile().as_text()
    bf = texts["bfloat16"]
    for op in ("multiply", "add", "rsqrt"):
        assert f"f32[8]{{0}} {op}(" in bf and f"bf16[8]{{0}} {op}(" not in bf, op
    assert bf.count("bf16[8]{0} convert(") >= 6  # one rounding after each of the six operations
    f16 = texts["float16"]
    assert "f32[" not in f16 and "f16[8]{0} rsqrt(" in f16 and "f16[8]{0} multiply(" in f16


_DUMP_F16_STEP = """
import jax, jax.numpy as jnp, optax
opt = optax.adagrad(0.1)
def step(w, g, st):
    u, st = opt.update(g, st, w)
    return optax.apply_updates(w, u), u, st
w = jnp.ones(8, jnp.float16)
jax.jit(step).lower(w, w, opt.init(w)).compile()
"""


def _cpu_has_native_float16() -> bool:
    """x86 with AVX512-FP16 (native float16 arithmetic, FMA included), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512_fp16" in line for line in f)
    except OSError:
        return False


def test_xla_cpu_float16_machine_code_fuses_multiply_add_only_on_native_float16(tmp_path):
    """The HLO test above reads XLA's program before LLVM, which cannot show an FMA contraction (XLA's CPU
    backend allows it: float32 g*g + G is fused under jit, docs/numerics.md). So dump what LLVM made of
    the jitted float16 step (XLA_FLAGS=--xla_dump_to, a child process) on this CPU. Its optimised IR
    computes on `half` with no fma/fmuladd intrinsic and no contract/fast flag on any CPU; the object
    code depends on the CPU:

    * without native float16 (AMD EPYC Zen 4: F16C only) every kernel widens half to float32 and
      narrows it back (vcvtph2ps, vcvtps2ph) around each operation, and FMA instructions occur only in
      the rsqrt kernel (float32 arithmetic inside the one rsqrt), none in those computing g*g + G and
      (-lr)*u + w: jitted float16 is the rule, two roundings for g*g + G;
    * with AVX512-FP16 (Intel Xeon, Sapphire Rapids and later) the back end contracts g*g + G into a
      float16 FMA (vfmadd...ph/sh): one rounding, as :func:`xla_fuses_float16_multiply_add` reads from
      the numbers and :func:`fused_update_leaf` reproduces bit for bit."""
    import os
    import re
    import shutil
    import subprocess
    import sys

    dump = tmp_path / "xla"
    env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={dump}", JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", _DUMP_F16_STEP], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    ir = [p for p in dump.iterdir() if "jit_step" in p.name and p.name.endswith("ir-with-opt.ll")]
    objects = [p for p in dump.iterdir() if "jit_step" in p.name and p.name.endswith(".o")]
    assert ir and objects
    text = "\n".join(p.read_text() for p in ir)
    assert "fmul half" in text and "fadd half" in text
    assert "llvm.fma" not in text and "fmuladd" not in text
    assert not any(
        f in line for line in text.splitlines() if " half" in line for f in (" contract ", " fast ")
    )
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to read the compiled step"
    asm = {
        p.name: subprocess.run([objdump, "-d", str(p)], capture_output=True, text=True, check=True).stdout
        for p in objects
    }
    arithmetic = {
        name: a for name, a in asm.items() if "rsqrt" not in name and re.search(r"\bv(mul|fn?m)", a)
    }
    assert any("add" in name for name in arithmetic)  # the g*g + G kernel was read
    float16_fma = {
        name: bool(re.search(r"\bvfn?m(add|sub)\w*(ph|sh)\b", a)) for name, a in arithmetic.items()
    }
    float32_fma = {
        name: bool(re.search(r"\bvfn?m(add|sub)\w*(ps|ss)\b", a)) for name, a in arithmetic.items()
    }
    assert not any(float32_fma.values()), float32_fma  # never a float32 FMA outside rsqrt
    if _cpu_has_native_float16():
        assert any(float16_fma.values()), float16_fma
        assert xla_fuses_float16_multiply_add()
    else:
        assert all("vcvtph2ps" in a and "vcvtps2ph" in a for a in asm.values())  # widened, narrowed (F16C)
        assert not any(float16_fma.values()), float16_fma
        assert not xla_fuses_float16_multiply_add()


@pytest.mark.parametrize("low", [BF16, F16])
def test_apply_updates_with_float64_and_complex_params_keeps_their_precision(low):
    """float64 or complex params plus low-precision updates (jax without x64 has no float64 to compare
    with): the update converted exactly, added in the params' type, one rounding; nothing through float32."""
    rng = np.random.default_rng(9)
    u = rng.standard_normal(1000).astype(low)
    p64 = 1 + rng.standard_normal(1000) * 1e-12  # differences float32 would lose
    got = apply_updates(p64, u)
    assert got.dtype == np.float64 and np.array_equal(got, p64 + u.astype(np.float32).astype(np.float64))
    pc = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    got = apply_updates(pc, u)
    assert got.dtype == np.complex64 and np.array_equal(got, pc + u.astype(np.float32).astype(np.complex64))
