"""Every number docs/low_precision.md states is computed here (or asserted by the test it names)."""

from __future__ import annotations

import json
import math

import ml_dtypes
import numpy as np
import pytest
from conftest import ROOT
from helpers.golden_mutants import LOW_PRECISION_PORTS, low_precision_table

from adagrad_ref import conventions
from adagrad_ref.errors import AdagradError
from adagrad_ref.golden import low_precision as golden
from adagrad_ref.numerics import lowprec
from adagrad_ref.teaching.lessons import low_precision as lesson

DOC = (ROOT / "docs" / "low_precision.md").read_text(encoding="utf-8")
FORMATS = {"bfloat16": (np.dtype(ml_dtypes.bfloat16), 8), "float16": (np.dtype(np.float16), 11)}


def test_the_table_is_the_measured_one():
    table = DOC.split("<!-- low-precision table -->\n")[1].split("\n<!-- end -->")[0]
    assert table == low_precision_table()


@pytest.mark.parametrize("name", FORMATS)
def test_sqrt_then_divide_differs_on_the_stated_number_of_inputs(name):
    dt, _ = FORMATS[name]
    fl = lowprec.flushes(dt)
    x = np.arange(2**16, dtype=np.uint16).view(dt)
    once = lowprec.rsqrt(x)
    with np.errstate(all="ignore"):
        root = lowprec._round(np.sqrt(lowprec._read(x, fl)), dt, fl)
        twice = lowprec._round(np.float32(1) / lowprec._read(root, fl), dt, fl)
    nan = np.isnan(once.astype(np.float32)) & np.isnan(twice.astype(np.float32))
    n = int(((once.view(np.uint16) != twice.view(np.uint16)) & ~nan).sum())
    assert f"**{n:,}** of the 65,536 {name} inputs" in DOC


@pytest.mark.parametrize("name", FORMATS)
def test_rsqrt_margin(name):
    """The exact 1/sqrt of every positive finite input, in float32 ULP from the nearest rounding
    boundary of the format: the margin an approximate float32 rsqrt may use without changing a bit."""
    dt, p = FORMATS[name]
    x = np.arange(2**16, dtype=np.uint16).view(dt)
    with np.errstate(invalid="ignore"):
        xf = lowprec._read(x, lowprec.flushes(dt)).astype(np.float64)
    xf = xf[np.isfinite(xf) & (xf > 0)]
    y = 1 / np.sqrt(xf)
    e = np.floor(np.log2(y))
    ulp = 2.0 ** (e - (p - 1))
    frac = y / ulp
    margin = float((np.abs(frac - np.floor(frac) - 0.5) * ulp / 2.0 ** (e - 23)).min())
    assert margin > 2 and f"at least **{math.floor(margin * 10) / 10:.1f}**" in DOC


def test_the_golden_file_size_stated():
    doc = json.loads(golden.FILE.read_text(encoding="utf-8"))
    assert f"{doc['numberOfTests']} tests in\nbfloat16 and float16" in DOC


def test_the_stall_numbers():
    s = lesson.stalls()
    runs = lesson.accumulator_runs()["normal"]
    assert f"reaches **{s['bfloat16 stops at']:g}** at step **{s['bfloat16 stops at step']}**" in DOC
    assert f"float16 stops at **{s['float16 stops at']:g}** (step **{s['float16 stops at step']}**)" in DOC
    assert f"**{s['bfloat16 / float32 G, noisy, end']:.2f}×**" in DOC
    n = len(runs["bfloat16"])
    frozen = s["noisy steps where bfloat16 G did not change"]
    assert f"after {n:,} steps" in DOC and f"**{frozen:,}** of the {n - 1:,} steps after the first" in DOC


@pytest.mark.parametrize("name", [*conventions.FACTORIES, *conventions.OTHER_FACTORIES])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_convention_but_optax_refuses_low_precision_in_one_line(name, fmt):
    """The doc's list of refusing conventions is every convention but optax, each refusing in one line."""
    factory = {**conventions.FACTORIES, **conventions.OTHER_FACTORIES}[name]
    w = np.ones(3, FORMATS[fmt][0])
    intro = DOC.split("## The rule")[0]
    if name == "optax":
        u, state = factory(0.1).update(w, factory(0.1).init(w), w)
        assert u.dtype == w.dtype and state.sum_of_squares.dtype == w.dtype
        assert "`conventions.optax`" not in intro
        return
    with pytest.raises(AdagradError) as e:
        factory(0.1).init(w)
    message = str(e.value)
    takes = " or ".join(factory(0.1).dtypes or ("float32", "float64"))  # tfjs: float32 only
    assert "\n" not in message and f"is {fmt}; the {name} convention here takes {takes} (" in message
    assert f"`conventions.{name}`" in intro.replace("\n", " ")


def test_the_no_flush_port_fails_exactly_the_stated_tests():
    """A port that keeps bfloat16 subnormals fails exactly the two bfloat16 tests the doc names."""
    port = dict(LOW_PRECISION_PORTS)["bfloat16 subnormals kept (no flush-to-zero)"]
    failing = sorted(int(line.split()[1]) for line in golden.verify_port(port))
    assert failing == [5, 8]
    doc = json.loads(golden.FILE.read_text(encoding="utf-8"))
    dtypes = {t["tcId"]: g["dtype"] for g in doc["testGroups"] for t in g["tests"]}
    assert all(dtypes[t] == "bfloat16" for t in failing)
    text = DOC.replace("\n", " ")
    assert "fail exactly two tests, both bfloat16: **tcId 5** (edge gradients) and **tcId 8**" in text
