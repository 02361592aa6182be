"""The golden-value verifier fed thousands of mutated results files: the one-line error or a verdict.

A small golden file (two groups of the keras file) is the reference; the results
file is a copy of it, mutated: JSON values replaced anywhere in the tree by
arbitrary JSON, an array's shape or bit patterns replaced by hostile ones (shapes
of 2**64 or 65 dimensions, wrong types, huge and negative numbers), or its text's
bytes flipped, overwritten, inserted or cut. Each run is under a 5-second alarm.
Anything but AdagradError (one line, naming the results file) or a verdict fails the test.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
from helpers.fuzz_helpers import alarm, json_values, mutate_json
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adagrad_ref import AdagradError
from adagrad_ref.golden import dumps, golden_path, verifier, verify

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
        # The small golden file is a subset of the shipped one, which verify() refuses as a --golden
        # (tests/golden/test_golden.py); here the target is the results file's parsing, so that check is off.
        with alarm(5), mock.patch.object(verifier, "check_agrees_with_shipped"):
            verdict = verify(results_path, golden=golden)
    except AdagradError as e:
        assert "\n" not in str(e) and results_path in str(e)
        event("error: " + str(e).split(": ", 2)[-1][:30])
        return
    assert verdict.golden_path == golden and not verdict.golden_shipped
    assert all(isinstance(v.passed, bool) for v in verdict.cases)
    event("verdict")


@FUZZ
@given(data=st.data())
def test_json_mutations(small_golden, tmp_path, data):
    golden, doc = small_golden
    doc = mutate_json(data, json.loads(json.dumps(doc)))
    f = tmp_path / "r.json"
    f.write_text(json.dumps(doc))
    check(str(f), golden)


def _arrays(node, out):
    if isinstance(node, dict):
        if "hex" in node and "shape" in node:
            out.append(node)
        for v in node.values():
            _arrays(v, out)
    elif isinstance(node, list):
        for v in node:
            _arrays(v, out)
    return out


hostile_shapes = st.one_of(
    st.lists(st.integers(-(2**70), 2**70), max_size=70),
    st.just([0, 2**64]),
    st.just([0] * 65),
    st.just([2**31, 0]),
    st.lists(st.sampled_from([0, 1, 2, 3, -1, 2**63]), max_size=40),
    json_values,
)
hostile_hex = st.one_of(
    st.lists(
        st.sampled_from(["3f800000", "0" * 16, "7ff8000000000000", "ZZ", "", "3F800000", 1, None]), max_size=9
    ),
    json_values,
)


@FUZZ
@given(data=st.data())
def test_array_mutations(small_golden, tmp_path, data):
    """Shapes and bit patterns that are valid JSON but impossible arrays: one line, never a traceback."""
    golden, doc = small_golden
    doc = json.loads(json.dumps(doc))
    arrays = _arrays(doc["testGroups"], [])
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(arrays))
        if data.draw(st.booleans()):
            target["shape"] = data.draw(hostile_shapes)
        else:
            target["hex"] = data.draw(hostile_hex)
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
