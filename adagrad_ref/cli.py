"""The command line: ``python -m adagrad_ref COMMAND`` (or ``adagrad-ref COMMAND``).

Commands:
  example      print the optax documentation's example, computed with each backend
  optax-gaps   measure the ULP gaps to the real optax (needs jax and optax) as a Markdown table
  bench        the benchmark: the Numba core against the roofline, NumPy, torch and optax
  golden       write the golden test vectors (one JSON file per convention) into a folder
  figures      draw every figure of the docs and the notebooks into a folder (default figures/)
  verify       check a port's results file against the golden test vectors
  atlas        run every real Adagrad installed here (optax, torch, Keras, TensorFlow, ONNX, tfjs...)
               on the golden inputs and say which convention each computes, to the bit or in ULP

Bad input ends in one line on stderr, ``adagrad-ref: error: ...``, and exit
status 2; never a traceback. Ctrl-C stops a command quietly with status 130 (a closed
pipe, 141), and every file it writes is left whole (:mod:`adagrad_ref.state.atomic`).
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import os
import stat
import sys
import threading

import numpy as np

from adagrad_ref.backends import BACKENDS
from adagrad_ref.errors import AdagradError, out_of_memory
from adagrad_ref.state.atomic import check_target, write_text

__all__ = ["main"]


def _cmd_example(args: argparse.Namespace) -> int:
    from adagrad_ref.example import objective_lines, run_documented_example

    backends = tuple(BACKENDS) if args.backend == "all" else (args.backend,)
    trajectories = {b: run_documented_example(b) for b in backends}  # each computed once
    outputs = {b: objective_lines(trajectories[b]) for b in backends}
    first = outputs[backends[0]]
    print("\n".join(first))
    if len(backends) > 1:
        bits = {b: [p.view(np.uint32).tolist() for p in trajectories[b]] for b in backends}
        same = all(bits[b] == bits[backends[0]] for b in backends)
        if not same or any(outputs[b] != first for b in backends):
            print("adagrad-ref: error: the backends disagree on the example's params", file=sys.stderr)
            return 1
        print(f"(computed with {' and '.join(backends)}: identical bits at every step)", file=sys.stderr)
    return 0


def _cmd_optax_gaps(args: argparse.Namespace) -> int:
    try:
        from adagrad_ref.tools.optax_gaps import report

        print(report(steps=args.steps))
    except ImportError as e:
        raise AdagradError(
            f"optax-gaps needs jax and optax ({e.name} is missing): pip install -r requirements-dev.txt"
        ) from None
    return 0


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(x)) for x in text.split(",") if x.strip()]
    except (ValueError, OverflowError):  # OverflowError: inf
        raise argparse.ArgumentTypeError(
            f"expected comma-separated sizes like 1e3,1e6, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    memory = _memory_bytes()
    if memory and 3 * 8 * max(sizes) > memory:  # params, grads and sums in float64, at the least
        raise argparse.ArgumentTypeError(
            f"n = {max(sizes):.3g} needs at least {3 * 8 * max(sizes) / 2**30:,.0f} GiB (3 float64 arrays); "
            f"this machine has {memory / 2**30:,.1f} GiB"
        )
    return sizes


def _positive_int(text: str, most: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    if most is not None and value > most:
        raise argparse.ArgumentTypeError(f"must be at most {most:,}, got {value:,}")
    return value


#: optax-gaps' largest --steps: the rates 0.5 * 0.9**t underflow float64 long before (t = 7,000),
#: and each step runs optax three times, so this is hours, not a MemoryError.
MAX_GAP_STEPS = 100_000


def _gap_steps(text: str) -> int:
    return _positive_int(text, MAX_GAP_STEPS)


#: The most bytes ``bench --tables`` reads from a result file (a full run writes about 60 KB).
MAX_RESULT_BYTES = 64 << 20


def _read_regular(path: str, what: str) -> bytes:
    """The bytes of a regular file (never a FIFO or a device) of at most MAX_RESULT_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise AdagradError(f"{path}: cannot read ({e.strerror or e})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise AdagradError(f"{path}: not a regular file (a device, FIFO, socket or folder); refused")
        raw = f.read(MAX_RESULT_BYTES + 1)
    if len(raw) > MAX_RESULT_BYTES:
        raise AdagradError(f"{path}: more than {MAX_RESULT_BYTES} bytes; not {what}")
    return raw


def _read_result(path: str) -> dict:
    """A benchmark result file: a regular file (never a FIFO or a device) of at most MAX_RESULT_BYTES."""
    import json

    raw = _read_regular(path, "a benchmark result")

    def refuse(c: str) -> None:
        raise ValueError(f"{c} is not a timing")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError) as e:
        raise AdagradError(f"{path} is not a benchmark result ({type(e).__name__}: {e})") from None


def _cmd_bench(args: argparse.Namespace) -> int:

    if args.tables or args.update_docs:  # the performance page's numbers, from the JSON: nothing is measured
        from adagrad_ref.tools.bench_report import check_timings, readme, replace_readme_block

        path = args.json or os.path.join("figures", "bench.json")
        result = _read_result(path)
        try:
            check_timings(result)
            block = readme(result)
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, IndexError) as e:
            detail = f"{type(e).__name__}: {e}".splitlines()[0][:200]  # ArithmeticError: a 0.0 timing
            raise AdagradError(f"{path} is not a benchmark result ({detail})") from None
        if args.update_docs:
            try:
                text = _read_regular(args.update_docs, "a page to update").decode("utf-8")
            except UnicodeDecodeError as e:
                raise AdagradError(
                    f"{args.update_docs}: not UTF-8 text ({e.reason} at byte {e.start})"
                ) from None
            try:
                text = replace_readme_block(text, block)
            except ValueError as e:
                raise AdagradError(f"{args.update_docs}: {e}") from None
            write_text(args.update_docs, text, "cannot update the performance numbers")
            print(f"updated the performance numbers of {args.update_docs} from {path}", file=sys.stderr)
        else:
            print(block)
        return 0

    from adagrad_ref.tools.bench import BenchConfig, run
    from adagrad_ref.tools.bench_report import report, save

    if args.quick:
        config = BenchConfig(
            sizes=[10**3, 10**5, 10**6], dtypes=["float32"], repeats=3, min_seconds=0.005, startup=False,
            api_cases=[("float32", 200, "1-D")], api_elements=2 * 10**6,
        )  # fmt: skip
    else:
        config = BenchConfig()
    if args.sizes:
        config.sizes = args.sizes
    if args.dtype != "both":
        config.dtypes = [args.dtype]
    if args.repeats:
        config.repeats = args.repeats
    json_path = args.json or (None if args.quick else os.path.join("figures", "bench.json"))
    if json_path:  # every file the run will write, checked before anything is measured
        plot = json_path[:-5] + ".png" if json_path.endswith(".json") else json_path + ".png"
        try:
            os.makedirs(os.path.dirname(json_path) or ".", exist_ok=True)
        except OSError as e:
            raise AdagradError(f"{json_path}: cannot create its folder ({e.strerror or e})") from None
        check_target(json_path, "cannot write the benchmark result")
        for figure in (plot, plot[:-4] + ".svg"):
            check_target(figure, "cannot write the figure")
    result = run(config, progress=not args.no_progress)
    print(report(result))
    if json_path:
        save(result, json_path, plot)
        print(f"\nwrote {json_path} and {plot}", file=sys.stderr)
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from adagrad_ref.teaching.plots import write_figures

    write_figures(args.out)
    return 0


def _cmd_golden(args: argparse.Namespace) -> int:
    from adagrad_ref.golden import write_all

    for path in write_all(args.out, full=args.full):
        print(path)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from adagrad_ref.golden import format_report, verify

    verdict = verify(args.results, golden=args.golden, level=args.level)
    print(format_report(verdict))
    return 0 if verdict.passed else 1


def _cmd_atlas(args: argparse.Namespace) -> int:
    from adagrad_ref.tools.atlas import main as atlas_main

    return atlas_main(quick=args.quick, only=args.only, update=args.update_docs, out_dir=args.out)


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
    gaps.add_argument(
        "--steps",
        type=_gap_steps,
        default=25,
        help=f"steps per configuration (default 25, at most {MAX_GAP_STEPS:,})",
    )
    gaps.set_defaults(run=_cmd_optax_gaps)
    bench = sub.add_parser(
        "bench", help="the benchmark (writes figures/bench.json, .png and .svg unless --quick)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="a small run: float32, n = 1e3, 1e5, 1e6, 3 repeats"
    )
    bench.add_argument(
        "--json",
        metavar="FILE",
        help="write the results here, and the plots beside it (.png, .svg); --tables reads it",
    )
    bench.add_argument(
        "--tables",
        action="store_true",
        help="measure nothing: print the tables of docs/performance.md from figures/bench.json (or --json)",
    )
    bench.add_argument(
        "--update-docs",
        nargs="?",
        const=os.path.join("docs", "performance.md"),
        metavar="FILE",
        help="measure nothing: write the tables into FILE (default docs/performance.md), between its markers",
    )
    bench.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    bench.add_argument("--sizes", type=_sizes, help="comma-separated element counts, e.g. 1e3,1e6,1e8")
    bench.add_argument(
        "--repeats", type=_positive_int, help="interleaved repeats per size (default 7; quick 3)"
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    bench.set_defaults(run=_cmd_bench)
    figs = sub.add_parser("figures", help="draw every figure into a folder, one progress line each")
    figs.add_argument("--out", default="figures", metavar="DIR", help="the folder (default: figures)")
    figs.set_defaults(run=_cmd_figures)
    golden = sub.add_parser(
        "golden", help="write the golden test vectors and their two schemas into a folder"
    )
    golden.add_argument("--out", required=True, metavar="DIR", help="the folder (created if missing)")
    golden.add_argument(
        "--full",
        action="store_true",
        help="record every step of every trajectory (the shipped files: checkpoints)",
    )
    golden.set_defaults(run=_cmd_golden)
    verify = sub.add_parser("verify", help="check a port's results file against the golden test vectors")
    verify.add_argument("results", metavar="RESULTS.json", help="the port's results, in the golden format")
    verify.add_argument(
        "--golden",
        metavar="FILE",
        help="the golden file (default: the shipped one of its convention; never the results file itself)",
    )
    verify.add_argument(
        "--level",
        choices=("exact", "relaxed"),
        default="exact",
        help="exact: every bit (default); relaxed: the tolerances for FMA and approximate rsqrt",
    )
    verify.set_defaults(run=_cmd_verify)
    atlas = sub.add_parser("atlas", help="run the real libraries' Adagrads on the golden inputs")
    atlas.add_argument("--quick", action="store_true", help="only the cases of at most 30 steps")
    atlas.add_argument(
        "--only", metavar="LIB", help="only the libraries whose name contains LIB (or its family)"
    )
    atlas.add_argument("--out", metavar="DIR", help="where atlas.json and atlas.svg go (default: figures)")
    atlas.add_argument("--update-docs", action="store_true", help="write the table into docs/atlas.md")
    atlas.set_defaults(run=_cmd_atlas)
    return parser


@contextlib.contextmanager
def _ctrl_c_never_swallowed():
    """A Ctrl-C that lands in a finalizer (a weakref callback, a ``__del__``) is printed as
    'Exception ignored' and lost, and the command runs on to its end. Here it is raised again a few
    milliseconds later, from a timer thread as a new Ctrl-C (``_thread.interrupt_main``), once the
    finalizer is over (raised at once, it would land in this hook and be lost again), so the command
    stops (status 130) and prints nothing."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            timer = threading.Timer(0.005, _thread.interrupt_main)
            timer.daemon = True  # never holds the interpreter's exit
            timer.start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with _ctrl_c_never_swallowed():
            status = args.run(args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return status
    except BrokenPipeError:
        # The reader of stdout went away (`| head`, `| true`): stop quietly, with the status a shell
        # gives a tool killed by SIGPIPE, and keep the interpreter's final flush from failing again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        # Ctrl-C: stop quietly with the status a shell gives a tool killed by SIGINT (128 + 2); a
        # file being written was left whole (its temporary file is removed on the way out).
        return 130
    except MemoryError as e:  # a file under the size cap that still does not fit (`verify` under a ulimit)
        print(f"adagrad-ref: error: {out_of_memory(args.command, e)}", file=sys.stderr)
        return 2
    except AdagradError as e:
        print(f"adagrad-ref: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"adagrad-ref: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
