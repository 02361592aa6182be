"""The command line: ``python -m adagrad_ref COMMAND`` (or ``adagrad-ref COMMAND``).

Commands:
  example      print the optax documentation's example, computed with each backend
  optax-gaps   measure the ULP gaps to the real optax (needs jax and optax) as a Markdown table

Bad input ends in one line on stderr, ``adagrad-ref: error: ...``, and exit
status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from adagrad_ref.errors import AdagradError
from adagrad_ref.reference import BACKENDS

__all__ = ["main"]


def _cmd_example(args: argparse.Namespace) -> int:
    from adagrad_ref.example import documented_example, run_documented_example

    backends = BACKENDS if args.backend == "all" else (args.backend,)
    outputs = {b: documented_example(b) for b in backends}
    first = outputs[backends[0]]
    print("\n".join(first))
    if len(backends) > 1:
        bits = {b: [p.view(np.uint32).tolist() for p in run_documented_example(b)] for b in backends}
        same = all(bits[b] == bits[backends[0]] for b in backends)
        if not same or any(outputs[b] != first for b in backends):
            print("adagrad-ref: error: the backends disagree on the example's params", file=sys.stderr)
            return 1
        print(f"(computed with {' and '.join(backends)}: identical bits at every step)", file=sys.stderr)
    return 0


def _cmd_optax_gaps(args: argparse.Namespace) -> int:
    try:
        from adagrad_ref.compare_optax import report

        print(report(steps=args.steps))
    except ImportError as e:
        raise AdagradError(
            f"optax-gaps needs jax and optax ({e.name} is missing): pip install -r requirements-dev.txt"
        ) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adagrad-ref", description="Reference implementation of optax.adagrad in NumPy and Numba."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ex = sub.add_parser("example", help="print the optax documentation's example, computed here")
    ex.add_argument(
        "--backend",
        choices=(*BACKENDS, "all"),
        default="all",
        help="which backend computes it (default: all, checked to agree bit for bit; a note on stderr)",
    )
    ex.set_defaults(run=_cmd_example)
    gaps = sub.add_parser("optax-gaps", help="measure the ULP gaps to the real optax (jax, CPU)")
    gaps.add_argument("--steps", type=int, default=25, help="steps per configuration (default 25)")
    gaps.set_defaults(run=_cmd_optax_gaps)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except AdagradError as e:
        print(f"adagrad-ref: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"adagrad-ref: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
