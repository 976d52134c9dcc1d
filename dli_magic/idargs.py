"""Job ids as typed on a magic line: `131 130`, `1,2,3`, `130-138`, `$ids`, `{range(1, 4)}`.

Plain Python (no IPython, no pandas) so the panel can parse the same text. Everything is checked
before any request; an error names the offending token. Validation of the numbers themselves is
`dli_magic.ids` (one place); this module only turns text and Python objects into candidate ids.
"""

from __future__ import annotations

import re
from numbers import Integral
from typing import Any, Callable, Iterable, Mapping

from .errors import BadInputError, DLIError
from .ids import (
    MAX_JOB_IDS,
    ValidatedIds,
    bounded_items,
    check_job_id,
    describe_value,
    missing_name,
    too_many_ids,
    validate_job_ids,
)
from .redaction import scrub_in_use

# The one cap of ids.py, for a range as for every other form (kept under its old name).
MAX_RANGE_SIZE = MAX_JOB_IDS

# ASCII digits only: \d would take full-width and other scripts' digits, which int() reads as numbers.
_INT = re.compile(r"[+-]?[0-9]+")
_RANGE = re.compile(r"([0-9]+)\s*-\s*([0-9]*)|([0-9]*)\s*-\s*([0-9]+)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPEN = {"(": ")", "[": "]", "{": "}"}


def split_tokens(text: str) -> list[str]:
    """Split on whitespace and commas, keeping `{expr}`, brackets and quoted strings whole."""
    tokens: list[str] = []
    current: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = None
            continue
        if char in "'\"":
            quote = char
        elif char in _OPEN:
            stack.append(_OPEN[char])
        elif stack and char == stack[-1]:
            stack.pop()
        elif not stack and (char.isspace() or char == ","):
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(char)
    if quote or stack:
        # Never quotes the line: whatever the open quote or bracket holds may be a secret.
        raise BadInputError("Unbalanced brackets or quotes on this line: close them or remove them.")
    if current:
        tokens.append("".join(current))
    return tokens


def _cut(token: str) -> str:
    """A token for an error message, cut short: a pasted secret must not be echoed whole."""
    return repr(token) if len(token) <= 24 else repr(token[:16] + "…")


def _shown(token: str) -> str:
    """``_cut`` of a refused token, a secret in use masked first (once cut, it would not be recognised)."""
    return _cut(scrub_in_use(token))


def _literal_ids(token: str) -> list[int]:
    if any(char.isdigit() and not char.isascii() for char in token):
        raise BadInputError(
            f"Job id {_shown(token)} has digits that are not ASCII (full-width or another script's: a paste "
            "error?); type job ids with 0-9."
        )
    if _INT.fullmatch(token):
        return [check_job_id(int(token), shown=_cut(token), describe=False)]  # digits: no secret to mask
    match = _RANGE.fullmatch(token)
    if match:
        start_text = match.group(1) or match.group(3)
        end_text = match.group(2) or match.group(4)
        if not start_text or not end_text:
            raise BadInputError(f"Bad range {token!r}: write START-END with both ends, e.g. 130-138.")
        start, end = int(start_text), int(end_text)
        if start > end:
            raise BadInputError(f"Bad range {token!r}: the start is after the end; write {end}-{start}.")
        if end - start + 1 > MAX_JOB_IDS:  # counted, never built
            raise too_many_ids(f"Range {token!r}", end - start + 1)
        check_job_id(start, shown=repr(token), describe=False)
        check_job_id(end, shown=repr(token), describe=False)
        return list(range(start, end + 1))
    raise BadInputError(
        f"Job id {_shown(token)} is not an integer; use numbers, ranges (130-138), $variable or {{expression}}."
    )


def ids_from_object(value: Any, label: str) -> list[int]:
    """An int, or an iterable of ints (list, range, Series, a DataFrame's `job_id` column)."""
    if isinstance(value, str) and value.strip().isdigit():
        check_job_id(value, shown=label)  # "131" or a paste of "１３１": named as such
    if isinstance(value, (str, bytes)):
        raise BadInputError(f"{label} holds {describe_value(value)}, not job ids; use integers.")
    if isinstance(value, bool) or value is None:
        check_job_id(value, shown=f"{label} ({value!r})")
    if isinstance(value, Integral):
        return [check_job_id(value, shown=label)]
    if isinstance(value, Mapping):
        raise BadInputError(f"{label} is a {type(value).__name__}; pass a list of job ids instead.")
    columns = getattr(value, "columns", None)
    if columns is not None:  # a DataFrame: its job_id column, as %dli_jobs returns it
        if "job_id" not in list(columns):
            raise BadInputError(f"{label} is a table without a `job_id` column.")
        value = value["job_id"]
    try:
        items = bounded_items(value, label)  # the cap, by len() before a Series or range is read
    except TypeError:
        raise BadInputError(
            f"{label} is a {type(value).__name__}, not a job id or a collection of job ids."
        ) from None
    except DLIError:
        raise
    except Exception as exc:  # a generator or map() that fails while it is read: its text may quote anything
        raise BadInputError(
            f"Reading the job ids of {label} failed: {type(exc).__name__} (its message is not shown: it "
            "may quote a value of the line)."
        ) from None
    # A missing value first: NaN turns a Series of ints into floats, and the first float would be
    # reported in its place.
    for index, item in enumerate(items):
        if missing_name(item) is not None:
            check_job_id(item, shown=f"{label}[{index}]")
    return [check_job_id(item, shown=f"{label}[{index}]") for index, item in enumerate(items)]


def resolve_token(
    token: str,
    lookup: Callable[[str], Any],
    evaluate: Callable[[str], Any],
) -> list[int]:
    """One token to ids; `lookup(name)` reads a variable, `evaluate(expr)` runs `{expr}`."""
    if token.startswith("$"):
        name = token[1:]
        if not _NAME.fullmatch(name):
            raise BadInputError(f"{token!r} is not a variable name; for expressions write {{expr}}.")
        return ids_from_object(lookup(name), token)
    if token.startswith("{") and token.endswith("}"):
        expr = token[1:-1].strip()
        if not expr:
            raise BadInputError("Empty {} in the job ids.")
        return ids_from_object(evaluate(expr), token)
    return _literal_ids(token)


def namespace_resolvers(
    user_ns: Mapping[str, Any], local_ns: Mapping[str, Any] | None = None
) -> tuple[Callable[[str], Any], Callable[[str], Any]]:
    """`lookup` and `evaluate` over a notebook's namespaces (locals first, as Python does)."""
    local_ns = local_ns if local_ns is not None else {}

    def lookup(name: str) -> Any:
        if name in local_ns:
            return local_ns[name]
        if name in user_ns:
            return user_ns[name]
        raise BadInputError(f"${name} is not defined.")

    def evaluate(expr: str) -> Any:
        try:
            globals_ = user_ns if isinstance(user_ns, dict) else dict(user_ns)
            return eval(expr, globals_, dict(local_ns))  # noqa: S307 - the user's own notebook code
        except Exception as exc:  # the user's expression failed: say which one, briefly
            # A ValueError's text usually quotes the value (int('<secret>')): name the type only.
            detail = "" if isinstance(exc, ValueError) else f": {exc}"
            raise BadInputError(f"{{{expr}}} failed: {type(exc).__name__}{detail}") from None

    return lookup, evaluate


def collect_ids(
    tokens: Iterable[str],
    user_ns: Mapping[str, Any] | None = None,
    local_ns: Mapping[str, Any] | None = None,
) -> list[int]:
    """All id tokens of a line → checked ids in order, duplicates kept (the API reports them)."""
    lookup, evaluate = namespace_resolvers(user_ns or {}, local_ns)
    values: list[int] = []
    for token in tokens:
        for part in split_tokens(token):
            values.extend(resolve_token(part, lookup, evaluate))  # each part capped on its own
            if len(values) > MAX_JOB_IDS:
                raise too_many_ids("This line", len(values))
    return values


def parse_job_ids(
    tokens: Iterable[str],
    user_ns: Mapping[str, Any] | None = None,
    local_ns: Mapping[str, Any] | None = None,
) -> ValidatedIds:
    """All id tokens of a line → unique ids in order (+ the dropped duplicates)."""
    return validate_job_ids(collect_ids(tokens, user_ns, local_ns))
