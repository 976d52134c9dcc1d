"""Job id validation shared by every entry point (Python API, magics, panel). No third-party imports.

Validation happens before any request: a bad id means nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any, Iterable

from .contract import INT64_MAX
from .errors import BadInputError


@dataclass(frozen=True)
class ValidatedIds:
    ids: list[int]  # unique, in first-seen order
    duplicates: list[int]  # dropped repeats, in order of appearance

    def notice(self) -> str | None:
        if not self.duplicates:
            return None
        shown = ", ".join(str(i) for i in dict.fromkeys(self.duplicates))
        return f"Dropped {len(self.duplicates)} duplicate job id(s): {shown}"


def describe_value(value: Any) -> str:
    """How an error may show a value it refused: numbers and None as themselves; anything else
    only by its type, since a variable holding a string may hold a secret (the output is saved)."""
    if value is None or isinstance(value, (bool, Integral, float)):
        return repr(value)
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    return f"a {type(value).__name__}"


def check_job_id(value: Any, shown: str | None = None) -> int:
    """One job id as an int, or BadInputError naming the offending token."""
    # bool is an int subclass: True must not become job 1. (type() checks first: the common case.)
    if type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool)):
        number = int(value)
        if 0 < number <= INT64_MAX:
            return number
    label = shown if shown is not None else describe_value(value)  # only when refusing
    if isinstance(value, bool) or not isinstance(value, Integral):
        kind = type(value).__name__
        raise BadInputError(f"Job id {label} is not an integer ({kind}); job ids are positive integers.")
    if int(value) <= 0:
        raise BadInputError(f"Job id {label} is not positive; job ids are positive integers.")
    raise BadInputError(f"Job id {label} is larger than a 64-bit integer allows.")


def validate_job_ids(values: Iterable[Any]) -> ValidatedIds:
    """Check every value, drop repeats keeping first-seen order; empty input is an error."""
    if isinstance(values, (str, bytes)):
        raise BadInputError(f"Job ids must be integers, not {describe_value(values)}.")
    seen: dict[int, None] = {}
    duplicates: list[int] = []
    for value in values:
        number = check_job_id(value)
        if number in seen:
            duplicates.append(number)
        else:
            seen[number] = None
    if not seen:
        raise BadInputError("No job ids given; pass at least one, e.g. `%dli_run 131 130`.")
    return ValidatedIds(list(seen), duplicates)
