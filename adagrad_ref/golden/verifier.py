"""Verifying a port's results file against a golden file.

Distances are in ULP of the case's dtype (:mod:`adagrad_ref.numerics.ulp`), with two rules of the format:
any NaN matches any NaN, and ``+0.0`` against ``-0.0`` is 1 ULP (distinct bit patterns: ``exact``
compares every bit). Params are counted in ULP of ``max(|w_expected|, |u_expected|)`` of the step
(``w + u`` cancels; ULP of a ``w`` near zero would mean nothing). Every quantity of every recorded
step is compared at both levels, against the golden file's tolerances (a results file's own
``tolerance`` is ignored). Files are read with care: only regular files, at most
:data:`MAX_BYTES`, and every malformed input is one :class:`AdagradError` line.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from adagrad_ref.conventions import FACTORIES, OTHER_FACTORIES
from adagrad_ref.errors import AdagradError, refuse_json_constant
from adagrad_ref.golden.encoding import DTYPES, QUANTITIES, decode_tree, encode_array
from adagrad_ref.numerics.ulp import ulp_distance

__all__ = ["MAX_BYTES", "QUANTITIES", "SCHEMA_VERSION", "CaseResult", "Verdict", "compare_docs", "verify"]

SCHEMA_VERSION = 2
ORDER = ("grads", *QUANTITIES)  # the order a step is checked in (grads: closed loops only)
LEVELS = ("exact", "relaxed")
#: Every convention with a golden file: the four frameworks', then the other libraries' (tfjs, onnx).
CONVENTIONS = (*FACTORIES, *OTHER_FACTORIES)
#: The largest file read (a --full results file of every convention is about 30 MB).
MAX_BYTES = 256 * 2**20


def golden_dir() -> str:
    return str(resources.files("adagrad_ref") / "golden" / "data")


def golden_path(convention: str) -> str:
    return os.path.join(golden_dir(), f"{convention}.json")


# ---------------------------------------------------------------- reading a file, refusing what is not one


def read_bytes(path: str) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes (at most MAX_BYTES); never blocks on a FIFO, never reads a device."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise AdagradError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise AdagradError(f"{path}: not a regular file (a device, FIFO, socket or folder); refused")
        if st.st_size > MAX_BYTES:
            raise AdagradError(
                f"{path}: {st.st_size} bytes, more than the {MAX_BYTES} bytes this verifier reads"
            )
        chunks, total = [], 0
        while total <= MAX_BYTES:
            chunk = os.read(fd, min(2**20, MAX_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_BYTES:
            raise AdagradError(f"{path}: more than the {MAX_BYTES} bytes this verifier reads")
        return b"".join(chunks), st
    except OSError as e:
        raise AdagradError(f"{path}: cannot read ({e.strerror or e})") from None
    finally:
        os.close(fd)


#: What a NaN or Infinity in a golden file is (``json.loads`` reads them; JSON has none).
_refuse_constant = functools.partial(
    refuse_json_constant, template="{} where a number belongs (floats are hex strings in this format)"
)


#: JSON values a file may hold (a ``golden --full`` file holds about 320,000): parsing allocates under
#: about 100 bytes a value, so a hostile file of ``{}`` costs at most about 0.4 GB, not 26 x its size.
MAX_JSON_VALUES = 2**22


#: Nesting a file may have: the shipped files' deepest value is 12 levels down (a leaf's hex list, in a
#: step, of a test, of a group); the verifier's recursive comparisons stay far from Python's limit.
MAX_DEPTH = 64


def _depth_over(doc: Any, limit: int) -> bool:
    """Is any value nested more than ``limit`` levels deep? (iterative: no recursion to exhaust)"""
    stack = [(doc, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            if d > limit:
                return True
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return False


def parse_json(raw: bytes, path: str) -> dict:
    values = raw.count(b",") + raw.count(b"{") + raw.count(b"[") + raw.count(b'"') // 2
    if values > MAX_JSON_VALUES:
        raise AdagradError(f"{path}: holds more than {MAX_JSON_VALUES} JSON values; refused before parsing")
    try:
        doc = json.loads(
            raw.decode("utf-8"),
            parse_constant=_refuse_constant,
        )
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise AdagradError(f"{path}: not valid JSON ({str(e).splitlines()[0][:200]})") from None
    except ValueError as e:
        raise AdagradError(f"{path}: {str(e).splitlines()[0][:200]}") from None
    if not isinstance(doc, dict):
        raise AdagradError(f"{path}: expected a JSON object at the top")
    if _depth_over(doc, MAX_DEPTH):
        raise AdagradError(f"{path}: nested more than {MAX_DEPTH} levels deep; refused")
    return doc


def _leaf_difference(golden: list, results: list) -> str:
    """Where a results file's leaves first differ from the golden file's: the leaf paths, quoted."""
    g, r = [p for p, _ in golden], [p for p, _ in results]
    rule = "(every leaf, a null one too, in order)"
    for i, (a, b) in enumerate(zip(g, r, strict=False)):
        if a != b:
            return f"leaf {i} is {b!r:.60}, the golden file's is {a!r:.60} {rule}"
    if len(r) < len(g):
        return f"leaf {len(r)} ({g[len(r)]!r:.60}) is missing {rule}"
    return f"leaf {len(g)} ({r[len(g)]!r:.60}) is one more than the golden file's {len(g)}"


#: The low-precision golden file (bfloat16, float16; :mod:`adagrad_ref.golden.low_precision`): its own
#: layout, recognised by its ``format``, verified at one level, exact. Its name is its file's.
LOW_PRECISION = "optax_low_precision"


def _header(doc: dict, path: str) -> str:
    """The convention a file is of (``optax_low_precision`` for the low-precision format), or the error."""
    if "format" in doc and "schemaVersion" not in doc:
        from adagrad_ref.golden.low_precision import FORMAT

        if doc["format"] != FORMAT:
            raise AdagradError(f"{path}: format is {doc['format']!r:.40}; this verifier reads {FORMAT!r}")
        return LOW_PRECISION
    if "schemaVersion" not in doc:
        what = " (a JSON Schema, not a results file)" if "$schema" in doc else ""
        raise AdagradError(
            f"{path}: schemaVersion is missing{what}; this verifier reads {SCHEMA_VERSION} (or, for "
            "bfloat16 and float16, the low-precision format)"
        )
    if doc.get("schemaVersion") != SCHEMA_VERSION:
        raise AdagradError(
            f"{path}: schemaVersion is {doc.get('schemaVersion')!r:.40}; this verifier reads {SCHEMA_VERSION}"
        )
    convention = doc.get("convention")
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise AdagradError(f"{path}: convention is {convention!r:.40}; expected one of {sorted(CONVENTIONS)}")
    return convention


def _index_tests(doc: dict, path: str) -> dict[int, tuple[dict, dict]]:
    groups = doc.get("testGroups")
    if not isinstance(groups, list):
        raise AdagradError(f"{path}: testGroups: expected a list")
    out: dict[int, tuple[dict, dict]] = {}
    for gi, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("tests"), list):
            raise AdagradError(f"{path}: testGroups[{gi}].tests: expected a list")
        for ti, test in enumerate(group["tests"]):
            tc = test.get("tcId") if isinstance(test, dict) else None
            if not isinstance(tc, int) or isinstance(tc, bool):
                raise AdagradError(f"{path}: testGroups[{gi}].tests[{ti}].tcId: expected an integer")
            if tc in out:
                raise AdagradError(f"{path}: tcId {tc} appears twice")
            out[tc] = (group, test)
    return out


def _steps_by_number(test: dict, where: str) -> dict[int, dict]:
    steps = test.get("steps")
    if not isinstance(steps, list):
        raise AdagradError(f"{where}: steps: expected a list")
    out = {}
    for i, s in enumerate(steps):
        n = s.get("step") if isinstance(s, dict) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise AdagradError(f"{where}: steps[{i}].step: expected a positive integer")
        if n in out:
            raise AdagradError(f"{where}: step {n} appears twice")
        if not isinstance(s.get("expected"), dict):
            raise AdagradError(f"{where}: steps[{i}].expected: missing")
        out[n] = s
    return out


# ---------------------------------------------------------------- distances


def _flushed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where a is a zero and b a subnormal: what flushing subnormals to zero (FTZ) gives."""
    return (a == 0) & (b != 0) & (np.abs(b) < np.finfo(b.dtype).smallest_normal)


def distance(got: np.ndarray, exp: np.ndarray, ftz: bool = False) -> np.ndarray:
    """ULP distance, except that +0.0 against -0.0 is 1 (and any NaN matches any NaN).

    ``ftz`` (the relaxed level): a zero where a subnormal is expected is 0 ULP away. Complex: the
    larger of the two components' distances.
    """
    if np.iscomplexobj(exp):
        return np.maximum(distance(got.real, exp.real, ftz), distance(got.imag, exp.imag, ftz))
    d = ulp_distance(got, exp)
    d = np.where((got == 0) & (exp == 0) & (np.signbit(got) != np.signbit(exp)), np.maximum(d, 1.0), d)
    return np.where(_flushed(got, exp), 0.0, d) if ftz else d


def params_distance(got: np.ndarray, exp_p: np.ndarray, exp_u: np.ndarray) -> np.ndarray:
    """|w_got - w_expected| in units of ulp(max(|w_expected|, |u_expected|)); NaN, zeros as distance()."""
    parts = (
        [(got.real, exp_p.real, exp_u.real), (got.imag, exp_p.imag, exp_u.imag)]
        if np.iscomplexobj(exp_p)
        else [(got, exp_p, exp_u)]
    )
    worst = np.zeros(exp_p.shape)
    for a, b, u in parts:
        with np.errstate(all="ignore"):
            scale = np.spacing(np.maximum(np.abs(b), np.abs(u)).astype(b.dtype))
            d = np.abs(a.astype(np.float64) - b.astype(np.float64)) / scale.astype(np.float64)
        d = np.where(a == b, 0.0, d)  # equal values, Inf included
        # Different values are never 0 ULP apart, even where the quotient underflows (1e-300 / ulp(1e300)):
        d = np.where((a != b) & (d == 0), np.finfo(np.float64).smallest_subnormal, d)
        d = np.where((a == 0) & (b == 0) & (np.signbit(a) != np.signbit(b)), 1.0, d)
        d = np.where(np.isnan(a) & np.isnan(b), 0.0, d)
        d = np.where(np.isnan(a) ^ np.isnan(b), np.inf, d)
        worst = np.maximum(worst, np.nan_to_num(d, nan=np.inf))
    return worst


# ---------------------------------------------------------------- comparing


@dataclass
class CaseResult:
    tc_id: int
    comment: str
    errors: dict[str, float]  # the largest distance per quantity (ULP) over every recorded step
    passed: bool
    first_failure: dict | None = None  # step, quantity, path, index, expected, got, distance, tolerance


@dataclass
class Verdict:
    """What ``verify`` found: the golden file it used and one result per case."""

    results_path: str
    golden_path: str
    golden_sha256: str
    golden_shipped: bool
    level: str
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)


def _scalar_text(x: np.generic) -> tuple[str, str]:
    e = encode_array(np.asarray(x).reshape(1))
    return " ".join(e["hex"]), " ".join(e["dec"])


def _compare_case(gtest: dict, rtest: Any, dtype: str, level: str, golden: str, where: str) -> CaseResult:
    tc = gtest["tcId"]
    tol = gtest["tolerance"][level]
    if not isinstance(rtest, dict):
        raise AdagradError(f"{where}: expected an object")
    rsteps = _steps_by_number(rtest, where)
    gsteps = _steps_by_number(gtest, f"{golden}: tcId {tc}")
    errors = {q: 0.0 for q in tol}
    first = None
    for n, gstep in sorted(gsteps.items()):
        if n not in rsteps:
            raise AdagradError(f"{where}: step {n} is missing (the golden file records it)")
        gexp, rexp = gstep["expected"], rsteps[n]["expected"]
        decoded = {}
        for q in ORDER:
            if q not in gexp:
                continue
            if q not in rexp:
                raise AdagradError(f"{where}: step {n}: expected.{q}: missing")
            g_leaves = decode_tree(gexp[q], dtype, f"{golden}: tcId {tc}: step {n}: expected.{q}")
            r_leaves = decode_tree(rexp[q], dtype, f"{where}: step {n}: expected.{q}")
            if [p for p, _ in r_leaves] != [p for p, _ in g_leaves]:
                raise AdagradError(f"{where}: step {n}: expected.{q}: {_leaf_difference(g_leaves, r_leaves)}")
            for (p, gv), (_, rv) in zip(g_leaves, r_leaves, strict=True):
                if (gv is None) != (rv is None) or (gv is not None and gv.shape != rv.shape):
                    raise AdagradError(
                        f"{where}: step {n}: expected.{q}{p}: shape differs from the golden file's"
                    )
            decoded[q] = (g_leaves, r_leaves)
        for q, (g_leaves, r_leaves) in decoded.items():
            if q not in errors:
                continue
            for li, ((path, gv), (_, rv)) in enumerate(zip(g_leaves, r_leaves, strict=True)):
                if gv is None or gv.size == 0:
                    continue
                if q == "params":
                    d = params_distance(rv, gv, decoded["updates"][0][li][1])
                else:
                    d = distance(rv, gv, ftz=level == "relaxed")
                errors[q] = max(errors[q], float(d.max()))
                bad = np.flatnonzero(d.reshape(-1) > tol[q]) if tol[q] is not None else []
                if first is None and len(bad):
                    i = int(bad[0])
                    index = [int(k) for k in np.unravel_index(i, gv.shape)] if gv.ndim else []
                    first = {
                        "step": n, "quantity": q, "path": path, "index": index,
                        "expected": _scalar_text(gv.reshape(-1)[i]), "got": _scalar_text(rv.reshape(-1)[i]),
                        "distance": float(d.reshape(-1)[i]), "tolerance": tol[q],
                    }  # fmt: skip
    passed = first is None
    return CaseResult(tc, str(gtest.get("comment", "")), errors, passed, first)


def _paired_tests(res: dict, gold: dict, results_path: str, golden: str) -> tuple[dict, dict]:
    """Both files' tests by tcId; every golden case must be in the results (AdagradError naming the first)."""
    gold_tests = _index_tests(gold, golden)
    res_tests = _index_tests(res, results_path)
    missing = sorted(set(gold_tests) - set(res_tests))
    if missing:
        raise AdagradError(
            f"{results_path}: case tcId {missing[0]} is missing ({len(missing)} of {len(gold_tests)})"
        )
    return gold_tests, res_tests


def compare_docs(res: dict, gold: dict, level: str, results_path: str = "results", golden: str = "golden"):
    """One CaseResult per golden case (every distance computed, whatever the tolerance)."""
    gold_tests, res_tests = _paired_tests(res, gold, results_path, golden)
    out = []
    for tc, (group, test) in sorted(gold_tests.items()):
        try:
            dtype = group["dtype"]
            tol = test["tolerance"][level]
            if dtype not in DTYPES or not isinstance(tol, dict):
                raise TypeError("dtype or tolerance")
            for q, v in tol.items():
                if not (v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)):
                    raise TypeError(f"tolerance.{level}.{q}")
        except (KeyError, TypeError, IndexError) as e:
            raise AdagradError(f"{golden}: tcId {tc}: not a golden case ({e})") from None
        out.append(_compare_case(test, res_tests[tc][1], dtype, level, golden, f"{results_path}: tcId {tc}"))
    return out


def _is_shipped(raw: bytes, convention: str) -> bool:
    try:
        with open(golden_path(convention), "rb") as f:
            return f.read() == raw
    except OSError:
        return False


def verify(results_path: str, golden: str | None = None, level: str = "exact") -> Verdict:
    """Compare a port's results file with a golden file (default: the shipped one of its convention).

    A results file of the low-precision format (bfloat16 and float16: its ``format`` field) is checked
    against ``optax_low_precision.json`` by :func:`compare_low_precision`, exact only.
    Refuses (AdagradError) a malformed file, and a ``golden`` that is the results file itself: the
    same file, or another file with the same bytes unless those bytes are the shipped golden file's
    (a copy of the shipped values is a correct answer; a copy of any other file proves nothing).
    """
    if level not in LEVELS:
        raise AdagradError(f"level is {level!r}; expected one of {LEVELS}")
    raw, rstat = read_bytes(results_path)
    res = parse_json(raw, results_path)
    convention = _header(res, results_path)
    if convention == LOW_PRECISION and level != "exact":
        raise AdagradError(
            f"{results_path}: a low-precision results file is verified at one level, exact (every bit; "
            "docs/low_precision.md); --level relaxed is for the float32 and float64 files"
        )
    golden = golden or golden_path(convention)
    graw, gstat = read_bytes(golden)
    shipped = _is_shipped(graw, convention)
    if os.path.samestat(rstat, gstat):
        raise AdagradError(
            f"{golden}: is the results file itself ({results_path}); a file cannot certify itself"
        )
    if graw == raw and not shipped:
        raise AdagradError(
            f"{golden}: has the same bytes as the results file {results_path}; a file cannot certify itself"
        )
    gold = parse_json(graw, golden)
    if (gold_convention := _header(gold, golden)) != convention:
        raise AdagradError(
            f"{golden}: convention is {gold_convention!r}, the results file's is {convention!r}"
        )
    if not shipped:
        check_agrees_with_shipped(gold, convention, golden)
    verdict = Verdict(results_path, golden, hashlib.sha256(graw).hexdigest(), shipped, level)
    try:
        if convention == LOW_PRECISION:
            verdict.cases = compare_low_precision(res, gold, results_path, golden)
        else:
            verdict.cases = compare_docs(res, gold, level, results_path, golden)
    except AdagradError:  # already one line naming the file and the field
        raise
    except (KeyError, TypeError, IndexError, ValueError) as e:  # malformed: exit 2, never a traceback
        detail = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        raise AdagradError(f"{golden} or {results_path}: malformed ({detail})") from None
    return verdict


def _without_dec(o: Any) -> Any:
    """The JSON without its informative ``dec`` strings: the bits alone."""
    if isinstance(o, dict):
        return {k: _without_dec(v) for k, v in o.items() if k != "dec"}
    if isinstance(o, list):
        return [_without_dec(v) for v in o]
    return o


def check_agrees_with_shipped(gold: dict, convention: str, golden: str) -> None:
    """Refuse a ``--golden`` that is not the shipped file extended: it must hold every shipped case with
    the same group (dtype, hyperparameters), inputs, initial values and tolerances, and every step the
    shipped file records with the same bits (``golden --full`` writes exactly such a file). So no file
    can certify a port unless its values are this package's: a results file, re-indented or renamed,
    an emptied or edited golden file, are all refused."""
    with open(golden_path(convention), "rb") as f:
        ship = json.loads(f.read())
    ship_tests = _index_tests(ship, "shipped")
    gold_tests = _index_tests(gold, golden)
    for tc, (sgroup, stest) in sorted(ship_tests.items()):
        if tc not in gold_tests:
            raise AdagradError(
                f"{golden}: tcId {tc} is missing; a --golden file must hold every shipped case"
            )
        ggroup, gtest = gold_tests[tc]
        for key in ("dtype", "hyperparameters"):
            if _without_dec(ggroup.get(key)) != _without_dec(sgroup.get(key)):
                raise AdagradError(f"{golden}: tcId {tc}: {key} differs from the shipped golden file's")
        for key in ("initial", "inputs", "tolerance", "numberOfSteps"):
            if _without_dec(gtest.get(key)) != _without_dec(stest.get(key)):
                raise AdagradError(f"{golden}: tcId {tc}: {key} differs from the shipped golden file's")
        gsteps = _steps_by_number(gtest, f"{golden}: tcId {tc}")
        for n, sstep in sorted(_steps_by_number(stest, f"shipped: tcId {tc}").items()):
            if n not in gsteps or _without_dec(gsteps[n]) != _without_dec(sstep):
                raise AdagradError(
                    f"{golden}: tcId {tc}: step {n} differs from the shipped golden file's (or is missing):"
                    " a --golden file must agree bit for bit with the shipped values it records"
                )


def compare_low_precision(
    res: dict, gold: dict, results_path: str = "results", golden: str = "golden"
) -> list:
    """One :class:`CaseResult` per test of ``gold`` (``optax_low_precision.json``): the largest distance
    per quantity (ULP of the dtype, :func:`~adagrad_ref.golden.low_precision.distance`) over its
    recorded steps, and the first value whose bits
    differ (the tolerance is 0: this file has one level, exact). Malformed input: one AdagradError line."""
    from adagrad_ref.golden import low_precision as lp

    gold_tests, res_tests = _paired_tests(res, gold, results_path, golden)
    out = []
    for tc, (group, gtest) in sorted(gold_tests.items()):
        dt = lp.dtype_named(group.get("dtype"))
        where = f"{results_path}: tcId {tc}"
        rsteps = _steps_by_number(res_tests[tc][1], where)
        errors, first = dict.fromkeys(QUANTITIES, 0.0), None
        for n, gstep in sorted(_steps_by_number(gtest, f"{golden}: tcId {tc}").items()):
            if n not in rsteps:
                raise AdagradError(f"{where}: step {n} is missing (the golden file records it)")
            gexp, rexp = gstep["expected"], rsteps[n]["expected"]
            for q in QUANTITIES:
                if q not in rexp:
                    raise AdagradError(f"{where}: step {n}: expected.{q}: missing")
                gv = lp.decode_checked(gexp.get(q), dt, f"{golden}: tcId {tc}: step {n}: expected.{q}")
                rv = lp.decode_checked(rexp[q], dt, f"{where}: step {n}: expected.{q}")
                if rv.shape != gv.shape:
                    raise AdagradError(
                        f"{where}: step {n}: expected.{q}: shape {list(rv.shape)}, the golden file's is "
                        f"{list(gv.shape)}"
                    )
                d = lp.distance(rv, gv).reshape(-1)
                if d.size:
                    errors[q] = max(errors[q], float(d.max()))
                bad = np.flatnonzero(d > 0)
                if first is None and bad.size:
                    i = int(bad[0])
                    first = {
                        "step": n, "quantity": q, "path": "",
                        "index": [int(k) for k in np.unravel_index(i, gv.shape)] if gv.ndim else [],
                        "expected": lp.value_text(gv.reshape(-1)[i : i + 1]),
                        "got": lp.value_text(rv.reshape(-1)[i : i + 1]),
                        "distance": float(d[i]), "tolerance": 0,
                    }  # fmt: skip
        out.append(CaseResult(tc, str(gtest.get("comment", "")), errors, first is None, first))
    return out
