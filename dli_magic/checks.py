"""Argument checks shared by the client, the Python API and the panel: each failure a one-line
``BadInputError`` naming the argument. Also the filters of a job listing (``list_query``).

Only ``contract``, ``errors`` and ``config`` are imported (difflib where a suggestion is made), so
``import dli_magic`` and ``%load_ext dli_magic`` stay light and every module but those three may use
these without an import circle.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

# config is imported for its secret finder (redaction.find_secrets): an argument refused here may
# hold a secret pasted in before any settings were read, and the error must mask it.
from . import config, contract  # noqa: F401
from .errors import BadInputError

_ORDERS = ("asc", "desc")


def check_bool(name: str, value: Any, show: Callable[[Any], str] = repr) -> bool:
    """``value`` when it is True or False. "false" is truthy: a string is refused, never guessed at.
    ``show`` writes the refused value (``ids.describe_value`` where it may be a secret)."""
    if not isinstance(value, bool):
        raise BadInputError(f"{name} must be True or False, not {show(value)}.")
    return value


def check_count(name: str, value: Any, low: int, high: int) -> int:
    """``value`` when it is an int from ``low`` to ``high`` (True is an int to Python, not here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInputError(f"{name} must be an integer from {low} to {high}, not {value!r}.")
    return value


def check_positive(name: str, value: Any, *, integer: bool = False) -> None:
    """A positive integer, or (``integer`` False) a positive number of seconds; None is refused."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        kind = "a positive integer" if integer else "a positive number of seconds"
        raise BadInputError(f"{name} must be {kind}, not {value!r}.")


def suggestion(value: str, choices: Sequence[str]) -> str:
    """" Did you mean 'x'?" for the closest choice, else " Choose from: a, b." (to follow a sentence)."""
    import difflib  # here: only a mistyped value needs it

    close = difflib.get_close_matches(value, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else f" Choose from: {', '.join(choices)}."


def list_query(
    *,
    status: str | None = None,
    name: str | None = None,
    job_type: str | None = None,
    queue_name: str | None = None,
    tags: str | Mapping[str, str] | None = None,
    order: str = "desc",
    show_detail: bool = False,
    page_size: int = contract.LIST_PAGE_MAX,
) -> list[tuple[str, object]]:
    """The query parameters of a job listing (``GET jobs``, without ``limit``/``offset``), each
    filter checked against ``contract`` first: the client sends them, the API checks them before a
    client exists."""
    params: list[tuple[str, object]] = []
    if status is not None:
        if status not in contract.JOB_STATUSES:
            raise BadInputError(f"Unknown job status {status!r}." + suggestion(str(status), contract.JOB_STATUSES))
        params.append(("status", status))
    if job_type is not None:
        if job_type not in contract.JOB_TYPES:
            raise BadInputError(f"Unknown job type {job_type!r}." + suggestion(str(job_type), contract.JOB_TYPES))
        params.append(("job_type", job_type))
    if name is not None:
        if not isinstance(name, str) or len(name) > contract.JOB_NAME_MAX:
            raise BadInputError(f"name must be a string of at most {contract.JOB_NAME_MAX} characters.")
        params.append(("name", name))
    if queue_name is not None:
        params.append(("queue_name", str(queue_name)))
    if tags:
        if isinstance(tags, Mapping):
            tags = ",".join(f"{k}={v}" for k, v in tags.items())
        params.append(("tags", str(tags)))
    if order not in _ORDERS:
        raise BadInputError(f"order must be 'asc' or 'desc', not {order!r}.")
    params.append(("order", order))
    if check_bool("show_detail", show_detail):
        params.append(("show_detail", True))
    check_count("page_size", page_size, 1, contract.LIST_PAGE_MAX)
    return params
