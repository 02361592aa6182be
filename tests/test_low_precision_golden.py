"""The bfloat16/float16 golden file: it regenerates bit for bit, matches its schema, every
implementation of the rule passes it (the reference, the Numba core, a port written from the guide)
and every low-precision mutant port fails it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from golden_mutants import LOW_PRECISION_PORTS

from adagrad_ref import lowprec
from adagrad_ref.fast import lowprec_kernels
from adagrad_ref.golden import low_precision as lp


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
