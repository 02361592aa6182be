"""sparse_step_inplace equals, bit for bit, the dense step with zero gradients in untouched rows."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import random_floats
from helpers.paths import ROOT

from adagrad_ref import AdagradError, adagrad_step_inplace, sparse_step_inplace
from adagrad_ref.numerics.ulp import same_bits


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("edges", [False, True])
def test_sparse_equals_dense_bit_for_bit(rng, dtype, edges):
    n, d, k = 500, 7, 300  # k > n/2: many duplicate rows
    table = random_floats(rng, n * d, dtype, with_edges=edges).reshape(n, d)
    G = np.abs(random_floats(rng, n * d, dtype, with_edges=edges)).reshape(n, d)
    rows = rng.integers(0, n, k)
    row_grads = random_floats(rng, k * d, dtype, with_edges=edges).reshape(k, d)
    row_grads[::5] = -0.0  # a negative zero summed first must give what add.at gives
    dense_grad = np.zeros((n, d), dtype)
    np.add.at(dense_grad, rows, row_grads)  # duplicates summed in order of occurrence, from +0
    t_dense, G_dense = table.copy(), G.copy()
    adagrad_step_inplace(t_dense, dense_grad, G_dense, 0.3, 1e-7)
    t_sparse, G_sparse = table.copy(), G.copy()
    sparse_step_inplace(t_sparse, rows, row_grads, G_sparse, 0.3, 1e-7)
    assert same_bits(t_sparse, t_dense) and same_bits(G_sparse, G_dense)
    untouched = np.setdiff1d(np.arange(n), rows)
    assert same_bits(t_sparse[untouched], table[untouched])


def test_no_rows_changes_nothing():
    table, G = np.ones((4, 3), np.float32), np.full((4, 3), 0.1, np.float32)
    sparse_step_inplace(table, np.zeros(0, np.int64), np.zeros((0, 3), np.float32), G, 0.1)
    assert np.all(table == 1) and np.all(G == np.float32(0.1))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"rows": np.array([0, 4])}, r"^rows holds 4, outside \[0, 4\): the rows of table$"),
        ({"rows": np.array([-1, 0])}, r"^rows holds -1, outside \[0, 4\)"),
        (
            {"rows": np.array([0.0, 1.0])},
            r"^rows must be a 1-D integer array, got float64 array of shape \(2,\)$",
        ),
        (
            {"row_grads": np.ones((3, 3), np.float32)},
            r"^row_grads has shape \(3, 3\); expected \(2, 3\): \(len\(rows\), d\)$",
        ),
        (
            {"row_grads": np.ones((2, 3), np.float64)},
            r"^row_grads has dtype float64; expected float32 as table$",
        ),
        (
            {"G": np.ones((4, 2), np.float32)},
            r"^sum_of_squares has shape \(4, 2\); expected \(4, 3\) as table$",
        ),
        ({"table": np.ones(12, np.float32)}, r"^table must be 2-D \(rows, d\), got shape \(12,\)$"),
        ({"lr": float("nan")}, r"^learning_rate must be finite, got nan$"),
    ],
)
def test_sparse_refuses_with_one_line(change, match):
    args = {
        "table": np.ones((4, 3), np.float32),
        "rows": np.array([0, 2]),
        "row_grads": np.ones((2, 3), np.float32),
        "G": np.full((4, 3), 0.1, np.float32),
        "lr": 0.1,
    }
    args.update(change)
    before = args["table"].copy()
    with pytest.raises(AdagradError, match=match) as info:
        sparse_step_inplace(args["table"], args["rows"], args["row_grads"], args["G"], args["lr"])
    assert "\n" not in str(info.value)
    assert np.array_equal(args["table"], before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_option_changes_no_bit(rng, dtype):
    n = 200_003
    p, g = random_floats(rng, n, dtype), random_floats(rng, n, dtype)
    G = np.abs(random_floats(rng, n, dtype))
    results = []
    for parallel in (False, True, None):
        pc, Gc = p.copy(), G.copy()
        adagrad_step_inplace(pc, g, Gc, 0.2, 1e-7, parallel=parallel)
        results.append((pc, Gc))
    for pc, Gc in results[1:]:
        assert same_bits(pc, results[0][0]) and same_bits(Gc, results[0][1])


@pytest.mark.parametrize("into", ["table", "sum_of_squares"])
@pytest.mark.parametrize("what", ["rows", "row_grads"])
def test_rows_and_row_grads_may_not_alias_what_is_written(into, what):
    """Issue 12: rows as a view into table segfaulted (writing row 0 changed rows[1], which then
    indexed out of bounds); a view into the accumulator ran silently. Both are refused, unwritten."""
    table, G = np.ones((4, 3)), np.full((4, 3), 0.1)
    target = table if into == "table" else G
    rows, row_grads = np.array([0, 1]), np.ones((2, 3))
    if what == "rows":
        rows = target.reshape(-1).view(np.int64)[:2]  # the bits of 1.0 or 0.1: huge row numbers
        rows[...] = [0, 1]
    else:
        row_grads = target[2:]
    before = (table.tobytes(), G.tobytes(), rows.tobytes(), row_grads.tobytes())
    with pytest.raises(AdagradError) as info:
        sparse_step_inplace(table, rows, row_grads, G, 0.1)
    message = str(info.value)
    assert message == (
        f"rows and {into} share memory; the sparse step writes {into} while reading rows"
        if what == "rows"
        else f"{'table' if into == 'table' else 'row_grads'} and "
        f"{'row_grads' if into == 'table' else 'sum_of_squares'} share memory; "
        "the in-place step needs separate buffers"
    ), message
    assert (table.tobytes(), G.tobytes(), rows.tobytes(), row_grads.tobytes()) == before


def test_rows_into_table_does_not_crash_a_fresh_process(tmp_path):
    """The issue's crash case, in a fresh process on an empty cache (it died with exit 139)."""
    script = (
        "import numpy as np\n"
        "from adagrad_ref import AdagradError, sparse_step_inplace\n"
        "table = np.zeros((4, 2), np.int64)\n"
        "rows = table[:, 0]\n"
        "rows[:] = [0, 3, 1, 2]\n"
        "t = table.view(np.float64)\n"
        "try:\n"
        "    sparse_step_inplace(t, rows, np.ones((4, 2)), np.full((4, 2), 0.1), 0.1)\n"
        "except AdagradError as e:\n"
        "    print(e)\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert (
        out.stdout.strip() == "rows and table share memory; the sparse step writes table while reading rows"
    )
