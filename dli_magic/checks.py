"""Argument checks shared by the client, the Python API and the panel: each failure a one-line
``BadInputError`` naming the argument.

Only ``errors`` is imported (difflib where a suggestion is made), so ``import dli_magic`` and
``%load_ext dli_magic`` stay light and every module may use these without an import circle.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .errors import BadInputError


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
