"""The one redaction mask and the one scrubber of secret values.

Every secret dli-magic holds or obtains (token, SK, password, IAM tokens it fetched) is registered
here; error messages, log records and dry-run output pass ``scrub`` before a user sees them, so a
secret pasted into the wrong setting is hidden too. A leaf module: no other dli_magic import.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Callable

REDACTED = "***"

# The shortest secret value that is scrubbed from text. A shorter one is NOT scrubbed: "t" or "abc"
# cannot be told from ordinary words, and replacing every occurrence would garble messages while
# hiding nothing real (IAM tokens, SKs and cloud passwords are far longer). Such a value is still
# never shown as a setting's value: settings print "***" for every secret, whatever its length.
SECRET_MIN_LENGTH = 4

LOGGER_NAME = "dli_magic"


class SecretScrubber(logging.Filter):
    """Replaces every registered secret value with ``***``; as a log filter, in every record."""

    MIN_LENGTH = SECRET_MIN_LENGTH

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        """Each value, and the forms a message may quote it in: escaped as Python's repr and JSON
        write it, and without the backslashes a shell-like split of a line removes."""
        forms = set()
        for value in values:
            if isinstance(value, str):
                forms.update((value, repr(value)[1:-1], json.dumps(value)[1:-1], value.replace("\\", "")))
        with self._lock:
            self._secrets.update(v for v in forms if len(v) >= self.MIN_LENGTH)

    def clear(self) -> None:
        """Forget every value (a test starts afresh; a kernel keeps them for its life)."""
        with self._lock:
            self._secrets.clear()

    def scrub(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)  # longest first: no partial leftovers
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


SCRUBBER = SecretScrubber()

# How to find the secrets a call may use before any settings were read (the environment, the
# profile file): config adds its finder when it is imported. Error messages ask first, so an
# argument refused before the settings were read cannot echo a secret pasted into it either.
_SECRET_FINDERS: list[Callable[[], None]] = []


def register_secrets(*values: str | None) -> None:
    SCRUBBER.add(*values)


def add_secret_finder(find: Callable[[], None]) -> None:
    """``find()`` registers the secrets it finds (``register_secrets``); called before an error
    message is scrubbed."""
    if find not in _SECRET_FINDERS:
        _SECRET_FINDERS.append(find)


_finding = threading.local()


def find_secrets() -> None:
    """Run every secret finder; one that fails hides nothing less than before and raises nothing.
    An error built while a finder runs (an unreadable profile file) does not start another search."""
    if getattr(_finding, "active", False):
        return
    _finding.active = True
    try:
        for find in list(_SECRET_FINDERS):
            try:
                find()
            except Exception:  # noqa: BLE001 -- an error being built must not become another error
                pass
    finally:
        _finding.active = False


def scrub(text: str) -> str:
    return SCRUBBER.scrub(text)


def scrub_in_use(text: str) -> str:
    """``scrub`` after looking for the secrets in use (``find_secrets``): for a message that may be
    written before any settings were read."""
    find_secrets()
    return scrub(text)


def exception_line(exc: BaseException) -> str:
    """An exception in one line, ``Type: message``, the secrets in use masked: a callback's or a
    library's text may quote anything."""
    return scrub_in_use(f"{type(exc).__name__}: {exc}")


def get_logger() -> logging.Logger:
    """The package logger: silent by default, secrets scrubbed from every record logged on it."""
    logger = logging.getLogger(LOGGER_NAME)
    if SCRUBBER not in logger.filters:
        logger.addFilter(SCRUBBER)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger
