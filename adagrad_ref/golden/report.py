"""The verifier's report: the golden file used, each case's largest errors, where it first failed."""

from __future__ import annotations

from adagrad_ref.golden.verifier import ORDER, Verdict

__all__ = ["format_report"]


def format_report(verdict: Verdict) -> str:
    """The report ``python -m adagrad_ref verify`` prints."""
    origin = "a shipped golden file" if verdict.golden_shipped else "NOT a shipped golden file"
    lines = [
        f"golden: {verdict.golden_path} (sha256 {verdict.golden_sha256}; {origin})",
        f"results: {verdict.results_path}",
        "tcId  " + "  ".join(f"{q:>15s}" for q in (*ORDER[1:], ORDER[0])) + "  result  comment",
    ]
    for r in verdict.cases:
        cells = ["—" if q not in r.errors else f"{r.errors[q]:g} ULP" for q in (*ORDER[1:], ORDER[0])]
        lines.append(
            f"{r.tc_id:4d}  "
            + "  ".join(f"{c:>15s}" for c in cells)
            + f"  {'pass' if r.passed else 'FAIL':6s}  {r.comment}"
        )
        f = r.first_failure
        if f is not None:
            index = "[" + ", ".join(map(str, f["index"])) + "]"
            lines.append(
                f"      first failure: step {f['step']}, {f['quantity']}{f['path']}{index}: expected "
                f"{f['expected'][0]} ({f['expected'][1]}), got {f['got'][0]} ({f['got'][1]}), "
                f"{f['distance']:g} ULP > {f['tolerance']}"
            )
    n_fail = sum(not r.passed for r in verdict.cases)
    lines.append(f"{len(verdict.cases) - n_fail} passed, {n_fail} failed ({verdict.level} tolerances)")
    return "\n".join(lines)
