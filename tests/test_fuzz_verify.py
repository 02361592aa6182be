"""The golden-value verifier fed thousands of mutated results files: the one-line error or a verdict.

A small golden file (two groups of the keras file) is the reference; the results
file is a copy of it, mutated: JSON values replaced anywhere in the tree by
arbitrary JSON, or its text's bytes flipped, overwritten, inserted or cut. Each
run is under a 5-second alarm. Anything but AdagradError or a list of verdicts
fails the test.
"""

from __future__ import annotations

import json

import pytest
from fuzz_helpers import alarm, mutate_json
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adagrad_ref import AdagradError
from adagrad_ref.golden import dumps, golden_path, verify

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def small_golden(tmp_path_factory):
    with open(golden_path("keras"), encoding="utf-8") as f:
        doc = json.load(f)
    doc["testGroups"] = [doc["testGroups"][0], doc["testGroups"][1]]
    doc["numberOfTests"] = sum(len(g["tests"]) for g in doc["testGroups"])
    path = tmp_path_factory.mktemp("golden") / "small.json"
    path.write_text(dumps(doc))
    return str(path), doc


def check(results_path: str, golden: str) -> None:
    try:
        with alarm(5):
            verdicts = verify(results_path, golden=golden)
    except AdagradError as e:
        assert "\n" not in str(e) and results_path in str(e)
        event("error: " + str(e).split(": ", 2)[-1][:30])
        return
    assert all(isinstance(v.passed, bool) for v in verdicts)
    event("verdict")


@FUZZ
@given(data=st.data())
def test_json_mutations(small_golden, tmp_path, data):
    golden, doc = small_golden
    doc = mutate_json(data, json.loads(json.dumps(doc)))
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    check(str(f), golden)


@FUZZ
@given(
    cut=st.integers(0, 10**6),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
)
def test_byte_mutations(small_golden, tmp_path, cut, flips):
    golden, doc = small_golden
    raw = bytearray(dumps(doc).encode())
    for pos, val in flips:
        raw[pos % len(raw)] = val
    if cut % 3 == 0:
        del raw[cut % len(raw) :]
    f = tmp_path / "r.json"
    f.write_bytes(bytes(raw))
    check(str(f), golden)
