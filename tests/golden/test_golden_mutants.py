"""A table of mutant ports proves the verifier: every real bug fails both levels, every legitimate variant
passes relaxed (and fails exact exactly where its bits differ); the porter's guide (docs/porting.md) shows the same tables."""

from __future__ import annotations

import pytest
from conftest import ROOT
from helpers.golden_mutants import bounds_markdown, markdown, run_table


@pytest.fixture(scope="module")
def rows():
    return run_table()


def test_every_bug_fails_both_levels(rows):
    bugs = [r for r in rows if r["kind"] == "bug"]
    assert len({r["name"] for r in bugs}) >= 9
    failing_both = [r for r in bugs if not r["exact"] and not r["relaxed"] and r["relaxed_failed"] > 0]
    assert failing_both == bugs, [r for r in bugs if r not in failing_both]


def test_every_legitimate_variant_passes_relaxed_and_fails_exact_where_its_bits_differ(rows):
    variants = [r for r in rows if r["kind"] == "variant"]
    assert any("held out" in r["name"] for r in variants)
    assert all(r["relaxed"] for r in variants), [r for r in variants if not r["relaxed"]]
    assert all(r["exact"] == r["same_bits"] for r in variants)
    # Each variant changes bits somewhere (else it would prove nothing about the relaxed level).
    names = {r["name"] for r in variants}
    assert all(any(not r["exact"] for r in variants if r["name"] == n) for n in names)


def test_the_porters_guide_shows_these_tables(rows):
    guide = (ROOT / "docs" / "porting.md").read_text(encoding="utf-8")
    assert markdown(rows) in guide
    assert bounds_markdown() in guide
