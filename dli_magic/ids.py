"""Job id validation shared by every entry point (Python API, magics, panel). No third-party imports.

Validation happens before any request: a bad id means nothing is sent. One cap (``MAX_JOB_IDS``)
holds for every form of input and is applied before anything is materialised: a ``range`` or a
Series by its ``len()``, any other iterable by reading at most one item more than the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from numbers import Integral
from typing import Any, Iterable

from .checks import check_bool
from .contract import INT64_MAX
from .errors import BadInputError

# One call's job ids, in every form (literal ranges, $var, {expr}, lists, Series, the Python API):
# a typo like 1-100000000 or range(10**8) must be refused, not allocated.
MAX_JOB_IDS = 100_000
# A call that would send more requests than this (ids / chunk size) needs a confirmation: --yes on
# a magic line, yes=True in the Python API. 300 requests take the gateway's default rate (200 calls/s
# per API) for more than a second and show up in every log; 30,000 ids at the default chunk size of
# 100 need no confirmation.
MAX_REQUESTS_UNCONFIRMED = 300


@dataclass(frozen=True)
class ValidatedIds:
    ids: list[int]  # unique, in first-seen order
    duplicates: list[int]  # dropped repeats, in order of appearance

    def notice(self) -> str | None:
        if not self.duplicates:
            return None
        shown = ", ".join(str(i) for i in dict.fromkeys(self.duplicates))
        return f"Dropped {len(self.duplicates)} duplicate job id(s): {shown}"


def missing_name(value: Any) -> str | None:
    """How a missing value reads (None, nan, <NA>, NaT), or None when the value is not one. pandas'
    NA and NaT are told by their type's name: this module imports no pandas."""
    if value is None:
        return "None"
    if isinstance(value, float) and value != value:
        return "nan"
    kind = type(value)
    if kind.__module__.partition(".")[0] == "pandas" and kind.__name__ in ("NAType", "NaTType"):
        return "<NA>" if kind.__name__ == "NAType" else "NaT"
    return None


def describe_value(value: Any) -> str:
    """How an error may show a value it refused: numbers and missing values as themselves; anything
    else only by its type, since a variable holding a string may hold a secret (the output is saved)."""
    missing = missing_name(value)
    if missing is not None:
        return missing
    if isinstance(value, (bool, Integral, float)):
        return repr(value)
    if isinstance(value, str):
        return f"a string of {len(value)} character{'' if len(value) == 1 else 's'}"
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    return f"a {type(value).__name__}"


def too_many_ids(what: str, count: int | None = None) -> BadInputError:
    """The one refusal of the cap; ``count`` when known (a len()), else "more than"."""
    held = f"{count:,} job ids" if count is not None else f"more than {MAX_JOB_IDS:,} job ids"
    return BadInputError(
        f"{what} holds {held}; one call takes at most {MAX_JOB_IDS:,}: split them into several calls.",
        hint="Split the ids into several calls; nothing was sent.",
    )


def bounded_items(values: Any, what: str, limit: int = MAX_JOB_IDS) -> list:
    """``values`` as a list of at most ``limit`` items, refused by ``len()`` before any item is read
    when it has one, else after reading ``limit + 1`` items at most (a generator is not drained).
    ``iter(values)`` raising TypeError is left to the caller."""
    try:
        count = len(values)
    except OverflowError:  # range(10**20): more items than an index can count
        raise too_many_ids(what) from None
    except TypeError:
        count = None
    if count is not None and count > limit:
        raise too_many_ids(what, count)
    if count is not None and hasattr(values, "tolist"):  # pandas Series, numpy array: Python values
        return values.tolist()
    items = list(islice(iter(values), limit + 1))
    if len(items) > limit:
        raise too_many_ids(what)
    return items


def _string_id(shown: str | None, value: str) -> BadInputError:
    subject = f"Job id {shown}" if shown else "A job id"
    text = value.strip()
    if text.isdigit():  # True for the digits of every script, not only 0-9
        if text.isascii():
            return BadInputError(f"{subject} is the string {value!r}; job ids are integers: write {text}.")
        return BadInputError(
            f"{subject} is {value!r}, digits that are not ASCII (full-width or another script's: a "
            "paste error?); type job ids with 0-9."
        )
    return BadInputError(f"{subject} ({describe_value(value)}) is a string; job ids are positive integers.")


def check_job_id(value: Any, shown: str | None = None, *, describe: bool = True) -> int:
    """One job id as an int, or BadInputError naming the offending token (``shown``: where it came
    from, e.g. ``$ids[3]``; the value is described next to it unless ``describe`` is False, for a
    token that is the value as typed)."""
    # bool is an int subclass: True must not become job 1. (type() checks first: the common case.)
    if type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool)):
        number = int(value)
        if 0 < number <= INT64_MAX:
            return number
    if isinstance(value, str):
        raise _string_id(shown, value)
    described = describe_value(value)
    label = described if shown is None else f"{shown} ({described})" if describe else shown  # only when refusing
    missing = missing_name(value)
    if missing is not None:
        raise BadInputError(
            f"Job id {label} is not an integer but a missing value; drop the missing values first, "
            "e.g. ids.dropna().astype(int)."
        )
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
    for value in bounded_items(values, "The job ids"):
        number = check_job_id(value)
        if number in seen:
            duplicates.append(number)
        else:
            seen[number] = None
    if not seen:
        raise BadInputError("No job ids given; pass at least one, e.g. `%dli_run 131 130`.")
    return ValidatedIds(list(seen), duplicates)


def check_request_count(id_count: int, chunk_size: int | None, yes: Any, how_to_confirm: str) -> None:
    """Refuse a call of more than ``MAX_REQUESTS_UNCONFIRMED`` requests unless ``yes`` is True.

    ``chunk_size``: ids per request, or None for a call of one request per job (no chunks to raise).
    ``how_to_confirm`` completes "…: <how> to send them", e.g. "add --yes" or "pass yes=True"."""
    check_bool("yes", yes, show=describe_value)
    requests = -(-id_count // (chunk_size or 1))
    if requests > MAX_REQUESTS_UNCONFIRMED and not yes:
        shape = f"{chunk_size} per request" if chunk_size else "one request per job"
        raise BadInputError(
            f"This call would send {requests:,} requests ({id_count:,} job ids, {shape}), "
            f"more than {MAX_REQUESTS_UNCONFIRMED} without a confirmation: {how_to_confirm} to send them"
            + (", or raise the chunk size." if chunk_size else "."),
            hint=f"{how_to_confirm[0].upper()}{how_to_confirm[1:]} if you mean it; nothing was sent.",
        )
