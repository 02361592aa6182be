"""The one exception type this package raises for bad input.

Every message is one line and names the offending argument or leaf path
(``grads['layer1']['w']``), so that the command line can print it as it is.
"""

import functools
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar


class AdagradError(ValueError):
    """Bad input to adagrad_ref: the message names what was wrong and what was expected."""


class AdagradMemoryError(AdagradError, MemoryError):
    """Too little memory for the arrays a call must make (a broadcast view of 10**12 elements as grads,
    say): an :class:`AdagradError`, and a ``MemoryError`` for code that catches that. ``detail`` is
    NumPy's (or Numba's) own message; the text is ``"<call>: out of memory: <detail>"``."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: out of memory: {detail}")
        self.where, self.detail = where, detail

    def __reduce__(self) -> tuple:
        return type(self), (self.where, self.detail)


def overflow(name: str, value: float, dtype: Any, largest: str) -> AdagradError:
    """The one refusal of a finite hyperparameter that rounds to Inf in the arrays' dtype (it would act
    as infinity); ``largest`` is the dtype's largest finite value as the message says it.

    >>> overflow("eps", 1e39, "float32", "3.4028235e+38")
    AdagradError('eps 1e+39 overflows float32 (largest finite 3.4028235e+38)')
    """
    return AdagradError(f"{name} {value!r} overflows {dtype} (largest finite {largest})")


F = TypeVar("F", bound=Callable[..., Any])

#: How NumPy begins a ValueError for an array larger than any it can describe (2**61 float32 elements):
#: the same failure as a MemoryError, one step earlier.
_TOO_BIG = ("array is too big", "Maximum allowed size exceeded")


def out_of_memory(where: str, error: BaseException) -> BaseException:
    """``error`` raised in the public call ``where``, as what that call raises: an
    :class:`AdagradMemoryError` naming ``where`` if ``error`` is a ``MemoryError`` (one raised by an
    inner call of the package too) or NumPy's "array is too big"; any other error as it is.

    >>> out_of_memory("update", MemoryError("Unable to allocate 3.64 TiB"))
    AdagradMemoryError('update: out of memory: Unable to allocate 3.64 TiB')
    """
    if isinstance(error, AdagradMemoryError):
        return AdagradMemoryError(where, error.detail)
    if isinstance(error, AdagradError) or not (
        isinstance(error, MemoryError) or (isinstance(error, ValueError) and str(error).startswith(_TOO_BIG))
    ):
        return error
    return AdagradMemoryError(where, " ".join(str(error).split()) or type(error).__name__)


def refuses_out_of_memory(where: str) -> Callable[[F], F]:
    """A public call that allocates arrays the size of its input, with a ``MemoryError`` (or NumPy's
    "array is too big") raised inside it turned into an :class:`AdagradMemoryError` of one line naming
    the call as users write it, ``where``. Nothing is lost: such calls write into new arrays only.

    >>> import numpy as np
    >>> @refuses_out_of_memory("full")
    ... def full(n):
    ...     return np.zeros(n)
    >>> full(2**50)
    Traceback (most recent call last):
    ...
    adagrad_ref.errors.AdagradMemoryError: full: out of memory: Unable to allocate 8.00 PiB for an array ...
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (MemoryError, ValueError) as e:
                refusal = out_of_memory(where, e)
                if refusal is e:
                    raise
                raise refusal from None

        return wrapper  # type: ignore[return-value]

    return decorate


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
