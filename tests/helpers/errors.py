"""The one way the tests expect a refusal: an AdagradError matching a pattern, in one line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from adagrad_ref import AdagradError


@contextlib.contextmanager
def one_line(match: str) -> Iterator[pytest.ExceptionInfo]:
    """``pytest.raises(AdagradError, match=match)``, and the message holds no line break."""
    with pytest.raises(AdagradError, match=match) as info:
        yield info
    assert "\n" not in str(info.value), str(info.value)
