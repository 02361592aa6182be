"""The golden test vectors: regenerated bit for bit, valid against their schema, small, checked by the
verifier (every bit at exact, the golden file named, the first failure located), and passed by a real C port."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys

import jsonschema
import numpy as np
import pytest
from conftest import ROOT
from helpers.golden_port import run_port

from adagrad_ref.conventions import FACTORIES
from adagrad_ref.golden import decode_array, golden_dir, golden_path, verify
from adagrad_ref.golden.generator import recorded_steps

CONVENTIONS = sorted(FACTORIES)
PORT_SRC = ROOT / "tests" / "helpers" / "ports" / "adagrad_port.c"
#: The issue's budget for the shipped data, unpacked: 2 MiB, raised by 256 KiB for the TensorFlow.js and
#: ONNX files (issue 23's atlas: 2,319,196 bytes in all with them).
MAX_SHIPPED_BYTES = 2 * 2**20 + 256 * 2**10


def load(convention):
    with open(golden_path(convention), encoding="utf-8") as f:
        return json.load(f)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "adagrad_ref", *args], capture_output=True, text=True)


def write(tmp_path, doc, name="results.json"):
    f = tmp_path / name
    f.write_text(json.dumps(doc))
    return f


def all_tests(doc):
    return [t for g in doc["testGroups"] for t in g["tests"]]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    run = cli("golden", "--out", str(out))
    assert run.returncode == 0, run.stderr
    return out


def test_shipped_files_equal_a_fresh_run(fresh):
    names = [*(f"{c}.json" for c in CONVENTIONS), "schema.json"]
    for name in [*names, "optax_low_precision.json", "schema_low_precision.json"]:
        shipped = open(f"{golden_dir()}/{name}", "rb").read()
        assert (fresh / name).read_bytes() == shipped, (
            f"{name} differs from a fresh run: regenerate and commit it"
        )


def test_shipped_data_is_at_most_2_mb():
    import os

    sizes = {n: os.path.getsize(f"{golden_dir()}/{n}") for n in os.listdir(golden_dir())}
    assert sum(sizes.values()) <= MAX_SHIPPED_BYTES, sizes


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_schema_validates_the_shipped_file(convention):
    with open(f"{golden_dir()}/schema.json") as f:
        schema = json.load(f)
    doc = load(convention)
    jsonschema.validate(doc, schema)
    assert doc["numberOfTests"] == len(all_tests(doc))
    flags = {f for t in all_tests(doc) for f in t["flags"]}
    assert flags <= set(doc["notes"])
    for t in all_tests(doc):
        n = t["numberOfSteps"]
        assert [s["step"] for s in t["steps"]] == recorded_steps(n)
        assert t["inputs"]["learning_rate"]["shape"] == [n]
        for leaf in t["inputs"].get("grads", []):
            assert leaf["value"] is None or leaf["value"]["shape"][0] == n


def test_the_optax_file_covers_what_a_port_needs():
    doc = load("optax")
    flags = {f for t in all_tests(doc) for f in t["flags"]}
    needed = {
        "DocumentedExample", "Random", "ZeroGradient", "ZeroAccumulator", "Subnormal", "Overflow", "NaN", "Inf",
        "Schedule", "LongRun", "Scalar", "Empty", "Pytree", "Complex", "SingleStep", "OpenLoop", "ClosedLoop",
    }  # fmt: skip
    assert needed <= flags
    assert {g["dtype"] for g in doc["testGroups"]} == {"float32", "float64", "complex64", "complex128"}
    assert max(t["numberOfSteps"] for t in all_tests(doc)) >= 1000


def test_long_runs_record_the_start_and_checkpoints_and_full_records_every_step(tmp_path):
    out = cli("golden", "--full", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    full, shipped = json.loads((tmp_path / "optax.json").read_text()), load("optax")
    for tf, ts in zip(all_tests(full), all_tests(shipped), strict=True):
        assert [s["step"] for s in tf["steps"]] == list(range(1, tf["numberOfSteps"] + 1))
        by_step = {s["step"]: s for s in tf["steps"]}
        assert all(s == by_step[s["step"]] for s in ts["steps"])  # the checkpoints are the full run's steps
        assert tf["tolerance"] == ts["tolerance"]
    long = [t for t in all_tests(shipped) if t["numberOfSteps"] == 1000]
    assert long and all(len(t["steps"]) == 30 for t in long)
    # A full results file verifies against both the full and the shipped golden file.
    assert verify(str(tmp_path / "optax.json"), golden=golden_path("optax")).passed
    copy_of_full = write(tmp_path, full, "full_results.json")
    verdict = verify(str(copy_of_full), golden=str(tmp_path / "optax.json"))
    assert verdict.passed and not verdict.golden_shipped


def test_the_documented_example_is_in_the_file():
    """The closed-loop case flagged DocumentedExample gives the documentation's objective values."""
    (test,) = [t for t in all_tests(load("optax")) if "DocumentedExample" in t["flags"]]
    values = []
    for step in test["steps"]:
        p = decode_array(step["expected"]["params"][0]["value"], "float32", "p")
        values.append(f"{np.sum(p**2):.2E}")
    assert values == ["5.01E+00", "2.40E+00", "1.25E+00", "6.86E-01", "3.85E-01"]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_a_copy_of_the_shipped_file_verifies_and_the_report_names_the_golden_file(tmp_path, convention):
    f = tmp_path / "copy.json"
    shutil.copyfile(golden_path(convention), f)
    out = cli("verify", str(f))
    assert out.returncode == 0, out.stdout + out.stderr
    sha = hashlib.sha256(open(golden_path(convention), "rb").read()).hexdigest()
    assert (
        out.stdout.splitlines()[0]
        == f"golden: {golden_path(convention)} (sha256 {sha}; a shipped golden file)"
    )
    verdict = verify(str(f), level="exact")
    assert verdict.passed and all(e == 0 for r in verdict.cases for e in r.errors.values())


def test_no_self_certification(tmp_path):
    """A zeroed 'results' file given as its own golden file: refused (same file, or same bytes)."""
    doc = load("optax")
    for t in all_tests(doc):
        for s in t["steps"]:
            for leaves in s["expected"].values():
                for leaf in leaves:
                    if leaf["value"]:
                        leaf["value"]["hex"] = ["0" * len(h) for h in leaf["value"]["hex"]]
    fab = write(tmp_path, doc, "fab.json")
    out = cli("verify", str(fab), "--golden", str(fab))
    assert out.returncode == 2 and "a file cannot certify itself" in out.stderr, out.stderr
    twin = tmp_path / "twin.json"
    shutil.copyfile(fab, twin)
    out = cli("verify", str(fab), "--golden", str(twin))
    assert out.returncode == 2 and "same bytes as the results file" in out.stderr
    (tmp_path / "link.json").symlink_to(fab)
    out = cli("verify", str(tmp_path / "link.json"), "--golden", str(fab))
    assert out.returncode == 2 and "is the results file itself" in out.stderr
    # Against the shipped file, the zeroed values fail, and a different golden is named as not shipped.
    assert cli("verify", str(fab)).returncode == 1
    other = write(tmp_path, load("optax"), "other.json")
    out = cli("verify", str(fab), "--golden", str(other))
    assert out.returncode == 1 and "NOT a shipped golden file" in out.stdout.splitlines()[0]


def test_a_golden_file_must_agree_with_the_shipped_values(tmp_path):
    """--golden certifies only with this package's values: a wrong port's results re-indented and given as
    their own golden file, an emptied golden file, one with a quantity removed, or one value changed: exit 2."""
    wrong = load("optax")
    for t in all_tests(wrong):
        for s in t["steps"]:
            for leaf in s["expected"]["updates"]:
                if leaf["value"]:
                    leaf["value"]["hex"] = ["0" * len(h) for h in leaf["value"]["hex"]]
    results = write(tmp_path, wrong, "wrong.json")
    reindented = tmp_path / "reindented.json"
    reindented.write_text(json.dumps(wrong, indent=1))
    empty = dict(load("optax"), testGroups=[])
    no_updates = load("optax")
    for t in all_tests(no_updates):
        for s in t["steps"]:
            del s["expected"]["updates"]
    one_bit = load("optax")
    leaf = all_tests(one_bit)[3]["steps"][0]["expected"]["params"][0]["value"]
    leaf["hex"][0] = format(int(leaf["hex"][0], 16) ^ 1, f"0{len(leaf['hex'][0])}x")
    cases = {
        "reindented": (reindented, "differs from the shipped golden file's"),
        "empty": (
            write(tmp_path, empty, "empty.json"),
            "is missing; a --golden file must hold every shipped case",
        ),
        "no_updates": (
            write(tmp_path, no_updates, "no_updates.json"),
            "differs from the shipped golden file's",
        ),
        "one_bit": (write(tmp_path, one_bit, "one_bit.json"), "differs from the shipped golden file's"),
    }
    for name, (golden, message) in cases.items():
        out = cli("verify", str(results), "--golden", str(golden))
        assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, (
            name,
            out.stdout,
            out.stderr,
        )


def test_exact_compares_the_sign_of_zero_and_relaxed_allows_it():
    doc = load("optax")
    zeros = 0
    for t in all_tests(doc):
        for s in t["steps"]:
            for leaves in s["expected"].values():
                for leaf in leaves:
                    if leaf["value"]:
                        hexes = leaf["value"]["hex"]
                        for i, h in enumerate(hexes):
                            if int(h, 16) == 1 << (4 * len(h) - 1):  # -0.0
                                hexes[i], zeros = "0" * len(h), zeros + 1
    assert zeros >= 18
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
    exact, relaxed = verify(f.name, level="exact"), verify(f.name, level="relaxed")
    assert not exact.passed and relaxed.passed
    failing = [c for c in exact.cases if not c.passed]
    assert all(c.first_failure["distance"] == 1 for c in failing)


def nudge(doc, tc, quantity, ulps, step=None):
    """Move the first finite, nonzero value of a quantity of case tc by `ulps` ULP (in its bit pattern)."""
    for test in all_tests(doc):
        if test["tcId"] != tc:
            continue
        s = test["steps"][-1] if step is None else next(s for s in test["steps"] if s["step"] == step)
        for leaf in s["expected"][quantity]:
            if leaf["value"] is None:
                continue
            for i, h in enumerate(leaf["value"]["hex"]):
                bits = int(h, 16)
                if bits & 0x7FFFFFFF and (len(h) == 16 or (bits >> 23) & 0xFF != 0xFF):
                    leaf["value"]["hex"][i] = format(bits + ulps, f"0{len(h)}x")
                    return leaf["path"], i, h, leaf["value"]["hex"][i]
    raise AssertionError("nothing to nudge")


@pytest.mark.parametrize("quantity", ["sum_of_squares", "updates", "params"])
def test_a_value_nudged_by_10_ulp_fails_with_case_and_size(tmp_path, quantity):
    doc = load("optax")
    tc = doc["testGroups"][1]["tests"][0]["tcId"]
    nudge(doc, tc, quantity, 10)
    out = cli("verify", str(write(tmp_path, doc)))
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.split()[:1] == [str(tc)])
    assert "FAIL" in line and "10 ULP" in line
    assert f"{doc['numberOfTests'] - 1} passed, 1 failed" in out.stdout


def test_the_first_failure_is_located(tmp_path):
    """Two nudges in the 1,000-step run: the report names the earlier one, step, leaf, index, hex, decimal."""
    doc = load("optax")
    (tc,) = [
        t["tcId"]
        for g in doc["testGroups"]
        for t in g["tests"]
        if g["dtype"] == "float64" and t["numberOfSteps"] == 1000
    ]
    nudge(doc, tc, "updates", 3, step=600)
    path, index, before, after = nudge(doc, tc, "sum_of_squares", 1, step=150)
    out = cli("verify", str(write(tmp_path, doc)))
    lines = out.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.split()[:1] == [str(tc)])
    exp_dec = repr(float(np.uint64(int(before, 16)).view(np.float64)))
    got_dec = repr(float(np.uint64(int(after, 16)).view(np.float64)))
    assert lines[at + 1].strip() == (
        f"first failure: step 150, sum_of_squares{path}[{index}]: expected {before} ({exp_dec}), "
        f"got {after} ({got_dec}), 1 ULP > 0"
    )  # fmt: skip


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: d.update(schemaVersion=1), r"schemaVersion is 1; this verifier reads 2"),
        (lambda d: d.pop("schemaVersion"), r"schemaVersion is missing; this verifier reads 2"),
        (lambda d: d["testGroups"][0]["tests"].pop(0), r"case tcId 1 is missing"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0]["expected"].pop("updates"), r"tcId \d+: step 1: expected\.updates: missing"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0]["expected"]["params"][0]["value"]["hex"].pop(), r"expected\.params\[0\]\.value\.hex: expected \d+ bit patterns"),
        (lambda d: d.update(convention="jax"), r"convention is 'jax'"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"].pop(0), r"tcId \d+: step 1 is missing"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0]["expected"]["params"][0]["value"].update(shape=[0, 2**64]), r"\.shape: expected a list of at most 32 integers"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0]["expected"]["params"][0]["value"].update(shape=[0] * 65), r"\.shape: expected a list of at most 32 integers"),
        (lambda d: d["testGroups"][1]["tests"][0]["steps"][0].update(step="1"), r"steps\[0\]\.step: expected a positive integer"),
        (lambda d: d["testGroups"][1]["tests"][0].update(steps={}), r"steps: expected a list"),
    ],
)  # fmt: skip
def test_malformed_results_get_one_line_and_exit_2(tmp_path, damage, match):
    doc = load("optax")
    damage(doc)
    f = write(tmp_path, doc, "r.json")
    out = cli("verify", str(f))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and str(f) in out.stderr
    assert re.search(match, out.stderr), out.stderr


def test_truncated_and_nan_files_get_one_line(tmp_path):
    text = open(golden_path("keras"), encoding="utf-8").read()
    f = tmp_path / "cut.json"
    f.write_text(text[: len(text) // 2])
    out = cli("verify", str(f))
    assert out.returncode == 2 and out.stderr.startswith(f"adagrad-ref: error: {f}: not valid JSON")
    f.write_text(text.replace('"schemaVersion": 2', '"schemaVersion": NaN', 1))
    out = cli("verify", str(f))
    assert out.returncode == 2 and "NaN where a number belongs" in out.stderr


def test_devices_fifos_folders_and_huge_files_are_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes to it: reading it would block forever
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(256 * 2**20 + 1)  # sparse: no disk used
    braces = tmp_path / "braces.json"  # 12 MB of {} parsed to 0.7 GB before the cap on JSON values
    braces.write_text("[" + ",".join(["{}"] * 6_000_000) + "]")
    cases = {
        "/dev/zero": "not a regular file",
        "/dev/urandom": "not a regular file",
        str(fifo): "not a regular file",
        str(tmp_path): "not a regular file",
        str(big): "more than the 268435456 bytes",
        str(tmp_path / "missing.json"): "cannot read",
        str(braces): "holds more than 4194304 JSON values; refused before parsing",
    }
    for path, message in cases.items():
        out = subprocess.run(
            [sys.executable, "-m", "adagrad_ref", "verify", path], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, (path, out.stderr)
        assert message in out.stderr and path in out.stderr, (path, out.stderr)
    good = write(tmp_path, load("keras"))
    out = subprocess.run(
        [sys.executable, "-m", "adagrad_ref", "verify", str(good), "--golden", "/dev/zero"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "/dev/zero: not a regular file" in out.stderr


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
    verdict = verify(str(write(tmp_path, results)), level="exact")
    failed = [(r.tc_id, r.first_failure) for r in verdict.cases if not r.passed]
    assert not failed, failed
    assert len(verdict.cases) == load(convention)["numberOfTests"]


def test_c_port_with_fma_contraction_is_not_exact_but_meets_the_relaxed_tolerances(port_binaries, tmp_path):
    """What porters need to know: -ffp-contract=fast on an FMA machine changes bits, within the stated bound."""
    results = run_port(str(port_binaries[1]), load("optax"))
    f = write(tmp_path, results)
    exact = verify(str(f), level="exact")
    relaxed = verify(str(f), level="relaxed")
    if exact.passed:
        # A machine whose -march=native has no FMA: the two builds are the same arithmetic.
        out = subprocess.run(
            ["cc", "-march=native", "-Q", "--help=target"], capture_output=True, text=True
        ).stdout
        assert "-mfma                       \t\t[disabled]" in out or "-mfma" not in out
    assert relaxed.passed, [(r.tc_id, r.first_failure) for r in relaxed.cases if not r.passed]


def test_results_file_with_a_copy_of_the_golden_values_passes(tmp_path):
    doc = copy.deepcopy(load("pytorch"))
    out = cli("verify", str(write(tmp_path, doc)), "--level", "relaxed")
    assert (
        out.returncode == 0 and f"{doc['numberOfTests']} passed, 0 failed (relaxed tolerances)" in out.stdout
    )


def test_the_porters_guide_lists_every_hyperparameter_key():
    readme = (ROOT / "docs" / "porting.md").read_text(encoding="utf-8")
    for convention in CONVENTIONS:
        keys = []
        for group in load(convention)["testGroups"]:
            keys += [k for k in group["hyperparameters"] if k not in keys]
        assert f"| {convention} | " + ", ".join(f"`{k}`" for k in keys) + " |" in readme
        for group in load(convention)["testGroups"]:
            for k, v in group["hyperparameters"].items():
                assert isinstance(v, bool) if k == "maximize" else v["shape"] == [1]


def test_params_that_differ_are_never_zero_ulp_apart():
    """The params' distance is in ULP of max(|w|, |u|); where that quotient underflows (a float64 w of
    1e-300 against 0 beside an update of 1e300) it used to be 0, passing exact. Any difference now counts."""
    from adagrad_ref.golden.verifier import params_distance

    d = params_distance(np.array([1e-300]), np.array([0.0]), np.array([1e300]))
    assert 0 < d[0] < 1  # fails exact (tolerance 0), passes any relaxed bound
    assert params_distance(np.array([0.5]), np.array([0.5]), np.array([1e300]))[0] == 0


def test_a_results_file_without_its_null_leaf_is_told_which_leaf(tmp_path):
    """A new user's port left the `null` leaf out (the guide said it was 'skipped'); the verifier said
    only that the leaves differ. It now names the first leaf that differs and the rule."""
    doc = load("optax")
    case = next(
        t
        for g in doc["testGroups"]
        for t in g["tests"]
        if any(leaf["value"] is None for leaf in t["steps"][0]["expected"]["sum_of_squares"])
    )
    expected = case["steps"][0]["expected"]
    null = next(leaf["path"] for leaf in expected["sum_of_squares"] if leaf["value"] is None)
    expected["sum_of_squares"] = [leaf for leaf in expected["sum_of_squares"] if leaf["value"] is not None]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    out = cli("verify", str(path))
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert re.search(
        rf"tcId {case['tcId']}: step 1: expected\.sum_of_squares: leaf \d+ (is .*, the golden file's is "
        rf"{re.escape(repr(null))}|\({re.escape(repr(null))}\) is missing) \(every leaf, a null one too, in order\)$",
        out.stderr.strip(),
    ), out.stderr
