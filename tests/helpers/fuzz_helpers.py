"""Helpers shared by the fuzz tests: a per-call alarm and JSON mutations drawn by hypothesis."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any

from hypothesis import strategies as st


@contextmanager
def alarm(seconds: float):
    """Raise TimeoutError if the block runs longer than ``seconds``: a hang fails the test."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def json_paths(doc: Any, prefix: tuple = ()):
    """Every place in a JSON document that a value can be put."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from json_paths(v, (*prefix, i))


def mutate_json(data: st.DataObject, doc: Any) -> Any:
    """Replace 1 to 3 values anywhere in ``doc`` (the whole of it, possibly) by arbitrary JSON."""
    paths = list(json_paths(doc))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        value = data.draw(json_values)
        if not path:
            return value
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return doc
