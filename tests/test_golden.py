"""The golden test vectors: regenerated bit for bit, valid against their schema, checked by the verifier,
and passed by a real C port."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import jsonschema
import numpy as np
import pytest
from conftest import ROOT
from golden_port import run_port

from adagrad_ref.conventions import FACTORIES
from adagrad_ref.golden import golden_dir, golden_path, verify

CONVENTIONS = sorted(FACTORIES)
PORT_SRC = ROOT / "tests" / "ports" / "adagrad_port.c"


def load(convention):
    with open(golden_path(convention), encoding="utf-8") as f:
        return json.load(f)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "adagrad_ref", *args], capture_output=True, text=True)


def test_shipped_files_equal_a_fresh_run(tmp_path):
    out = cli("golden", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    for convention in CONVENTIONS:
        fresh = (tmp_path / f"{convention}.json").read_bytes()
        shipped = open(golden_path(convention), "rb").read()
        assert fresh == shipped, f"{convention}.json differs from a fresh run: regenerate and commit it"


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_schema_validates_the_shipped_file(convention):
    with open(f"{golden_dir()}/schema.json") as f:
        schema = json.load(f)
    doc = load(convention)
    jsonschema.validate(doc, schema)
    assert doc["numberOfTests"] == sum(len(g["tests"]) for g in doc["testGroups"])
    flags = {f for g in doc["testGroups"] for t in g["tests"] for f in t["flags"]}
    assert flags <= set(doc["notes"])


def test_the_optax_file_covers_what_a_port_needs():
    doc = load("optax")
    flags = {f for g in doc["testGroups"] for t in g["tests"] for f in t["flags"]}
    needed = {
        "DocumentedExample", "Random", "ZeroGradient", "ZeroAccumulator", "Subnormal", "Overflow", "NaN", "Inf",
        "Schedule", "LongRun", "Scalar", "Empty", "Pytree", "Complex", "SingleStep", "OpenLoop", "ClosedLoop",
    }  # fmt: skip
    assert needed <= flags
    assert {g["dtype"] for g in doc["testGroups"]} == {"float32", "float64", "complex64", "complex128"}
    assert max(len(t["steps"]) for g in doc["testGroups"] for t in g["tests"]) >= 1000


def test_the_documented_example_is_in_the_file():
    """The closed-loop case flagged DocumentedExample gives the documentation's objective values."""
    from adagrad_ref.golden import decode_array

    doc = load("optax")
    (test,) = [t for g in doc["testGroups"] for t in g["tests"] if "DocumentedExample" in t["flags"]]
    values = []
    for step in test["steps"]:
        p = decode_array(step["expected"]["params"][0]["value"], "float32", "p")
        values.append(f"{np.sum(p**2):.2E}")
    assert values == ["5.01E+00", "2.40E+00", "1.25E+00", "6.86E-01", "3.85E-01"]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_golden_file_verifies_against_itself(convention):
    results = verify(golden_path(convention), level="exact")
    assert results and all(r.passed for r in results)
    assert all(e == 0 for r in results for e in r.errors.values() if e is not None)


def nudge(doc, tc, quantity, ulps):
    """Move the first finite, nonzero value of a quantity of case tc by `ulps` ULP (in its bit pattern)."""
    for group in doc["testGroups"]:
        for test in group["tests"]:
            if test["tcId"] != tc:
                continue
            for leaf in test["steps"][-1]["expected"][quantity]:
                if leaf["value"] is None:
                    continue
                for i, h in enumerate(leaf["value"]["hex"]):
                    bits = int(h, 16)
                    if bits & 0x7FFFFFFF and (len(h) == 16 or (bits >> 23) & 0xFF != 0xFF):
                        leaf["value"]["hex"][i] = format(bits + ulps, f"0{len(h)}x")
                        return
    raise AssertionError("nothing to nudge")


@pytest.mark.parametrize("quantity", ["sum_of_squares", "updates", "params"])
def test_a_value_nudged_by_10_ulp_fails_with_case_and_size(tmp_path, quantity):
    doc = load("optax")
    tc = doc["testGroups"][1]["tests"][0]["tcId"]
    nudge(doc, tc, quantity, 10)
    f = tmp_path / "results.json"
    f.write_text(json.dumps(doc))
    out = cli("verify", str(f))
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.split()[:1] == [str(tc)])
    assert "FAIL" in line and "10 ULP" in line
    assert f"{doc['numberOfTests'] - 1} passed, 1 failed" in out.stdout


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: d.update(schemaVersion=2), r"schemaVersion is 2; this verifier reads 1"),
        (lambda d: d["testGroups"][0]["tests"].pop(0), r"case tcId 1 is missing"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0]["expected"].pop("updates"), r"tcId \d+: steps\[0\]\.expected\.updates: missing"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0]["expected"]["params"][0]["value"]["hex"].pop(), r"expected\.params\[0\]\.value\.hex: expected \d+ bit patterns"),
        (lambda d: d.update(convention="jax"), r"convention is 'jax'"),
    ],
)  # fmt: skip
def test_malformed_results_get_one_line_and_exit_2(tmp_path, damage, match):
    doc = load("optax")
    damage(doc)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    out = cli("verify", str(f))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and str(f) in out.stderr
    import re

    assert re.search(match, out.stderr), out.stderr


def test_truncated_and_nan_files_get_one_line(tmp_path):
    text = open(golden_path("keras"), encoding="utf-8").read()
    f = tmp_path / "cut.json"
    f.write_text(text[: len(text) // 2])
    out = cli("verify", str(f))
    assert out.returncode == 2 and out.stderr.startswith(f"adagrad-ref: error: {f}: not valid JSON")
    f.write_text(text.replace('"schemaVersion": 1', '"schemaVersion": NaN', 1))
    out = cli("verify", str(f))
    assert out.returncode == 2 and "NaN where a number belongs" in out.stderr


@pytest.fixture(scope="module")
def port_binaries(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed for the C port (the machines have gcc)"
    d = tmp_path_factory.mktemp("port")
    exact, fused = d / "port_exact", d / "port_fma"
    common = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", str(PORT_SRC), "-lm"]
    subprocess.run([cc, "-ffp-contract=off", "-o", str(exact), *common], check=True)
    subprocess.run([cc, "-march=native", "-ffp-contract=fast", "-o", str(fused), *common], check=True)
    return exact, fused


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_c_port_passes_every_case_exactly(port_binaries, tmp_path, convention):
    results = run_port(str(port_binaries[0]), load(convention))
    f = tmp_path / "c_results.json"
    f.write_text(json.dumps(results))
    report = verify(str(f), level="exact")
    failed = [(r.tc_id, r.errors) for r in report if not r.passed]
    assert not failed, failed
    assert len(report) == load(convention)["numberOfTests"]


def test_c_port_with_fma_contraction_is_not_exact_but_meets_the_relaxed_tolerances(port_binaries, tmp_path):
    """What porters need to know: -ffp-contract=fast on an FMA machine changes bits, within the stated bound."""
    results = run_port(str(port_binaries[1]), load("optax"))
    f = tmp_path / "fma_results.json"
    f.write_text(json.dumps(results))
    exact = verify(str(f), level="exact")
    relaxed = verify(str(f), level="relaxed")
    fused_changed_bits = not all(r.passed for r in exact)
    if not fused_changed_bits:
        # A machine whose -march=native has no FMA: the two builds are the same arithmetic.
        out = subprocess.run(
            ["cc", "-march=native", "-Q", "--help=target"], capture_output=True, text=True
        ).stdout
        assert "-mfma                       \t\t[disabled]" in out or "-mfma" not in out
    assert all(r.passed for r in relaxed), [(r.tc_id, r.errors) for r in relaxed if not r.passed]


def test_results_file_with_a_copy_of_the_golden_values_passes(tmp_path):
    doc = copy.deepcopy(load("pytorch"))
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    out = cli("verify", str(f), "--level", "relaxed")
    assert (
        out.returncode == 0 and f"{doc['numberOfTests']} passed, 0 failed (relaxed tolerances)" in out.stdout
    )
