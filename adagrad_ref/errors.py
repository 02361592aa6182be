"""The one exception type this package raises for bad input.

Every message is one line and names the offending argument or leaf path
(``grads['layer1']['w']``), so that the command line can print it as it is.
"""

import reprlib
from typing import Any


class AdagradError(ValueError):
    """Bad input to adagrad_ref: the message names what was wrong and what was expected."""


def refuse_json_constant(constant: str, template: str = "has {}, which is not JSON") -> None:
    """``json.loads``' ``parse_constant``: refuse NaN, Infinity and -Infinity (Python reads them; JSON has
    none) with a ``ValueError`` whose message is ``template`` naming the constant; the caller turns it
    into an :class:`AdagradError` naming the file.

    >>> import json
    >>> json.loads("[NaN]", parse_constant=refuse_json_constant)
    Traceback (most recent call last):
    ValueError: has NaN, which is not JSON
    """
    raise ValueError(template.format(constant))


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 2, 40, 40, 40


def short(value: Any) -> str:
    """The one bounded ``repr`` of messages: a huge or nested value costs no more than a small one,
    and its text stays on one line.

    >>> short("x" * 100)
    "'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"
    """
    return _REPR.repr(value).replace("\n", " ")
