"""The bfloat16/float16 golden file: it regenerates bit for bit, matches its schema, every
implementation of the rule passes it (the reference, the Numba core, a port written from the guide)
and every low-precision mutant port fails it, in-process and through ``python -m adagrad_ref verify``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jsonschema
import numpy as np
import pytest
from conftest import ROOT
from helpers.golden_mutants import LOW_PRECISION_PORTS

from adagrad_ref.fast import lowprec_kernels
from adagrad_ref.golden import low_precision as lp
from adagrad_ref.numerics import lowprec


@pytest.fixture(scope="module")
def doc():
    return json.loads(lp.FILE.read_text(encoding="utf-8"))


def test_regenerates_bit_for_bit():
    assert lp.dumps(lp.build()) == lp.FILE.read_text(encoding="utf-8")


def test_schema(doc):
    jsonschema.validate(doc, json.loads(lp.SCHEMA.read_text(encoding="utf-8")))
    assert {g["dtype"] for g in doc["testGroups"]} == {"bfloat16", "float16"}
    flags = {f for g in doc["testGroups"] for t in g["tests"] for f in t["flags"]}
    assert {
        "ZeroAccumulator",
        "Subnormal",
        "Overflow",
        "NaN",
        "Inf",
        "Schedule",
        "OpenLoop",
        "Stall",
    } <= flags


def _reference_port(leaf_update):
    def port(g, G, w, lr, eps):
        u, G = leaf_update(g, G, lr, eps)
        return u, G, lowprec.add(w, u)

    return port


@pytest.mark.parametrize(
    "port",
    [_reference_port(lowprec.update_leaf), _reference_port(lowprec_kernels.update_leaf)],
    ids=["numpy", "numba"],
)
def test_the_reference_and_the_numba_core_pass(doc, port):
    assert lp.verify_port(port, doc) == []


def test_the_guides_port_passes_and_every_mutant_fails(doc):
    (name, correct), *mutants = LOW_PRECISION_PORTS
    assert lp.verify_port(correct, doc) == [], name
    for name, port in mutants:
        assert lp.verify_port(port, doc), f"the mutant '{name}' passed"


def test_the_stall_cases_stop_growing(doc):
    """The accumulator of the stall cases ends where G + 1 rounds back to G (256, 2048), short of the
    exact sum G0 + 300."""
    ends = {}
    for g in doc["testGroups"]:
        for t in g["tests"]:
            if "Stall" in t["flags"]:
                start = float(t["initial"]["sum_of_squares"]["dec"][0])
                final = float(t["steps"][-1]["expected"]["sum_of_squares"]["dec"][0])
                assert t["numberOfSteps"] == 300 and start + 300 > final + 40
                ends[g["dtype"]] = final
    assert ends == {"bfloat16": 256.0, "float16": 2048.0}


# ---------------------------------------------------------------- through the command line


def cli(*args):
    return subprocess.run([sys.executable, "-m", "adagrad_ref", *args], capture_output=True, text=True)


def write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def first_difference(results, doc):
    """(tcId, step, quantity, index, expected hex, got hex) of the first bits that differ, scanning tests
    by tcId, steps in order, quantities in the file's order: computed here from the two files alone."""
    got = {t["tcId"]: t for g in results["testGroups"] for t in g["tests"]}
    nan = {"bfloat16": (0x7F80, 0x7F), "float16": (0x7C00, 0x3FF)}
    for g in doc["testGroups"]:
        exp_mask, man_mask = nan[g["dtype"]]
        for t in g["tests"]:
            rsteps = {s["step"]: s for s in got[t["tcId"]]["steps"]}
            for s in t["steps"]:
                for q in lp.QUANTITIES:
                    a, b = s["expected"][q]["hex"], rsteps[s["step"]]["expected"][q]["hex"]
                    for i, (x, y) in enumerate(zip(a, b, strict=True)):
                        both_nan = all(
                            (int(h, 16) & exp_mask) == exp_mask and int(h, 16) & man_mask for h in (x, y)
                        )
                        if x != y and not both_nan:
                            return t["tcId"], s["step"], q, i, x, y
    return None


def test_golden_writes_the_low_precision_file_and_full_records_every_step(tmp_path):
    out = cli("golden", "--full", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert {"optax_low_precision.json", "schema_low_precision.json"} <= {p.name for p in tmp_path.iterdir()}
    full = json.loads((tmp_path / "optax_low_precision.json").read_text())
    shipped = json.loads(lp.FILE.read_text(encoding="utf-8"))
    for gf, gs in zip(full["testGroups"], shipped["testGroups"], strict=True):
        for tf, ts in zip(gf["tests"], gs["tests"], strict=True):
            assert [s["step"] for s in tf["steps"]] == list(range(1, tf["numberOfSteps"] + 1))
            by_step = {s["step"]: s for s in tf["steps"]}
            assert all(s == by_step[s["step"]] for s in ts["steps"])  # the shipped steps are the full run's
    assert sum(len(t["steps"]) for g in full["testGroups"] for t in g["tests"]) > sum(
        len(t["steps"]) for g in shipped["testGroups"] for t in g["tests"]
    )
    jsonschema.validate(full, json.loads(lp.SCHEMA.read_text(encoding="utf-8")))
    # A port's full results verify against the full file, which is accepted as the shipped one extended.
    res = write(tmp_path / "full_results.json", lp.results(LOW_PRECISION_PORTS[0][1], full))
    run = cli("verify", str(res), "--golden", str(tmp_path / "optax_low_precision.json"))
    assert run.returncode == 0 and "NOT a shipped golden file" in run.stdout.splitlines()[0], run.stdout


def test_a_copy_of_the_golden_values_passes_verify(tmp_path, doc):
    copy = tmp_path / "copy.json"
    copy.write_bytes(lp.FILE.read_bytes())
    out = cli("verify", str(copy))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0].startswith(f"golden: {lp.FILE} (sha256 ")
    assert f"{doc['numberOfTests']} passed, 0 failed (exact tolerances)" in out.stdout
    # The results layout alone (format, tcId, steps, shape and hex) is enough.
    (_, correct), *_ = LOW_PRECISION_PORTS
    out = cli("verify", str(write(tmp_path / "port.json", lp.results(correct, doc))))
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize("index", range(1, len(LOW_PRECISION_PORTS)))
def test_every_low_precision_mutant_fails_verify_at_its_first_difference(tmp_path, doc, index):
    name, port = LOW_PRECISION_PORTS[index]
    results = lp.results(port, doc)
    first = first_difference(results, doc)
    assert first is not None, f"the mutant '{name}' reproduces every bit"
    tc, step, q, i, exp, got = first
    out = cli("verify", str(write(tmp_path / "mutant.json", results)))
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    at = next(k for k, ln in enumerate(lines) if ln.split()[:1] == [str(tc)])
    assert "FAIL" in lines[at]
    dt = lp.dtype_named(next(g["dtype"] for g in doc["testGroups"] for t in g["tests"] if t["tcId"] == tc))

    def dec(h):
        return lp.encode(np.array([int(h, 16)], np.uint16).view(dt))["dec"][0]

    ulp = lp.distance(*(np.array([int(h, 16)], np.uint16).view(dt) for h in (got, exp)))[0]
    assert lines[at + 1].strip() == (
        f"first failure: step {step}, {q}[{i}]: expected {exp} ({dec(exp)}), got {got} ({dec(got)}), "
        f"{ulp:g} ULP > 0"
    )
    # Every test before it passes.
    assert all("pass" in ln for ln in lines[3:at] if not ln.startswith(" "))
    if name == "one final rounding instead of per operation":  # the example docs/low_precision.md shows
        doc_text = " ".join((ROOT / "docs" / "low_precision.md").read_text(encoding="utf-8").split())
        assert " ".join(lines[at + 1].split()) in doc_text.replace("`", "")


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: d.update(format="adagrad_ref low precision 2"), r"format is 'adagrad_ref low precision 2'"),
        (lambda d: d["testGroups"][0]["tests"].pop(0), r"case tcId 1 is missing"),
        (lambda d: d["testGroups"][0]["tests"][0]["steps"].pop(0), r"tcId 1: step 1 is missing"),
        (lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["expected"].pop("params"), r"tcId 1: step 1: expected\.params: missing"),
        (lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["expected"]["params"]["hex"].__setitem__(0, "3F80"), r"expected\.params\.hex\[0\]: expected 4 lowercase hex digits"),
        (lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["expected"]["params"]["hex"].pop(), r"expected\.params\.hex: expected 8 bit patterns, got 7"),
        (lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["expected"]["params"].update(shape=[2, 4]), r"expected\.params: shape \[2, 4\], the golden file's is \[8\]"),
        (lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["expected"]["params"].update(shape=[-1]), r"expected\.params\.shape: expected a list"),
    ],
)  # fmt: skip
def test_malformed_low_precision_results_get_one_line_and_exit_2(tmp_path, doc, damage, match):
    bad = json.loads(json.dumps(doc))
    damage(bad)
    f = write(tmp_path / "r.json", bad)
    out = cli("verify", str(f))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and str(f) in out.stderr
    assert re.search(match, out.stderr), out.stderr


def test_relaxed_and_a_foreign_golden_file_are_refused(tmp_path):
    copy = tmp_path / "copy.json"
    copy.write_bytes(lp.FILE.read_bytes())
    out = cli("verify", str(copy), "--level", "relaxed")
    assert out.returncode == 2 and "one level, exact" in out.stderr, out.stderr
    out = cli("verify", str(copy), "--golden", str(lp.FILE.parent / "optax.json"))
    assert (
        out.returncode == 2
        and "convention is 'optax', the results file's is 'optax_low_precision'" in out.stderr
    )
    # A golden file with one bit changed certifies nothing.
    edited = json.loads(lp.FILE.read_text(encoding="utf-8"))
    leaf = edited["testGroups"][0]["tests"][0]["steps"][0]["expected"]["updates"]
    leaf["hex"][0] = format(int(leaf["hex"][0], 16) ^ 1, "04x")
    out = cli("verify", str(copy), "--golden", str(write(tmp_path / "edited.json", edited)))
    assert out.returncode == 2 and "differs from the shipped golden file's" in out.stderr, out.stderr
