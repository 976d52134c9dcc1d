"""Sending: one ``requests.Session`` per client, our own retry loop, a deadline, 401 renewal, and
the gateway's call rate.

Why our own retry loop and not urllib3's ``Retry``: a run/stop POST may be replayed only when the
service provably did not process it (a 429, or a connection that failed before anything was sent),
and ``Retry`` cannot retry a POST on 429 without also retrying it on 5xx. So the adapter has
``max_retries=0`` and every retry is decided (and counted) here. Redirects are never followed: a
redirect must not carry credentials to another host.

Proxies, NO_PROXY and the CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) are read by requests from
the environment on every call. ``.netrc`` is never consulted: every call carries an explicit auth
object (``NO_AUTH`` on the IAM login), so requests never looks for one.

The session is public (``DliClient.session``): mount your own adapter on it, or intercept its
calls with ``responses`` / ``requests-mock`` in your tests.

A caller that may give up on its calls (a batch halted by Ctrl-C or an error, a background wait
stopped) runs them inside ``cancelled_by(event)``: once the event is set they send nothing more.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import random
import threading
import time
from typing import Iterator, Sequence

import requests
from requests.adapters import HTTPAdapter

from . import __version__, contract
from .config import Settings, env_var
from .errors import (
    ConfigError,
    InterruptedBeforeRetry,
    classify_transport_failure,
    config_error_before_sending,
    retry_after_seconds,
    transport_error,
)
from .redaction import get_logger

log = get_logger()

USER_AGENT = f"dli-magic/{__version__}"

# A GET that met one of these is retried; a POST only on 429 (the service did not process it).
RETRY_STATUSES_IDEMPOTENT = frozenset({502, 503, 504})

# A refused connection means nothing listens on that port: one quick retry covers a service that
# is restarting; the whole budget would only make a wrong endpoint slow to report.
REFUSED_RETRIES = 1

CLOSED_MESSAGE = (
    "this DLI client was closed (credentials cleared or settings changed); open a new panel or call again"
)


class NoAuth(requests.auth.AuthBase):
    """Adds nothing. Passed where a call has no credentials (the IAM login) so that requests never
    fills the gap from ``~/.netrc``."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


NO_AUTH = NoAuth()

# The events that cancel the calls made in this context (``cancelled_by``), outermost first; a
# context variable so that no signature between the caller and ``send`` has to carry them.
_CANCEL: contextvars.ContextVar[tuple[threading.Event, ...]] = contextvars.ContextVar("dli_cancel", default=())

# How often a wait on several events looks at them (threading.Event cannot wait for any of several).
_ANY_SET_CHECK_SECONDS = 0.05


@contextlib.contextmanager
def cancelled_by(event: threading.Event) -> Iterator[None]:
    """Every ``HttpSender.send`` made inside the block (on this thread, and in the reads it hands to
    a ``batch.ReadPool`` or the chunks it hands to ``batch.send_in_chunks``, which carry the context
    along) sends nothing more once ``event`` is set: a retry's back-off ends at once, no further
    attempt goes out, and ``send`` raises InterruptedBeforeRetry. A request already out is not cut
    short: its answer is still read.

    Nested blocks compose: a call is cancelled when the event of any enclosing block is set (a
    background handle's stop around a batch's halt, say)."""
    token = _CANCEL.set(_CANCEL.get() + (event,))
    try:
        yield
    finally:
        _CANCEL.reset(token)


class Cancellation:
    """The events of the enclosing ``cancelled_by`` blocks, seen as one: set when any is set."""

    def __init__(self, events: tuple[threading.Event, ...]) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self.events)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; return early (True) once any event is set."""
        if len(self.events) <= 1:
            # No block: a fresh event, made only when there is a wait (every send builds a Cancellation),
            # so only the timeout (or Ctrl-C) ends it.
            return (self.events[0] if self.events else threading.Event()).wait(timeout)
        deadline = time.monotonic() + timeout
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.events[-1].wait(min(left, _ANY_SET_CHECK_SECONDS))
        return True


def current_cancellation() -> Cancellation:
    """What cancels the calls made here (``cancelled_by``); never set outside every block."""
    return Cancellation(_CANCEL.get())


class CallRateLimit:
    """At most ``calls`` requests in any window of ``per`` seconds, shared by every thread of a
    client (chunk workers, parallel list pages, background waits). The window is a little longer
    than the gateway's second: requests leave a moment after their slot, unevenly, and arrive
    closer together than they were let go."""

    def __init__(self, calls: int = contract.GATEWAY_CALLS_PER_SECOND, per: float = 1.1) -> None:
        self.calls = calls
        self.per = per
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self, cancel: Cancellation) -> None:
        """Take a slot; return without one as soon as ``cancel`` is set (nothing is then sent)."""
        while not cancel.is_set():
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.per:
                    self._sent.popleft()
                if len(self._sent) < self.calls:
                    self._sent.append(now)
                    return
                wait = self.per - (now - self._sent[0])
            cancel.wait(wait)


class HttpSender:
    """Sends one logical call with the retry policy; thread-safe (one pool for every worker)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = requests.Session()
        pool = max(10, settings.max_workers + 2)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.verify = settings.verify_tls
        self.session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": "application/json", "Content-Type": "application/json"}
        )
        self.rate_limit = CallRateLimit()
        self._closed = False

    # ---- lifecycle

    def close(self) -> None:
        """For good: a closed sender refuses every call (a pool would silently reopen)."""
        self._closed = True
        self.session.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def check_open(self) -> None:
        if self._closed:
            raise ConfigError(
                CLOSED_MESSAGE,
                hint="Open a new panel (%dli_panel) or run the call again: the magics build a fresh client.",
            )

    # ---- sending

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        *,
        auth: requests.auth.AuthBase,
        idempotent: bool,
        headers: dict[str, str] | None = None,
        job_ids: Sequence[int] = (),
        what: str = "",
        setting: str = "endpoint",
    ) -> tuple[requests.Response, int]:
        """The final response (any status) and the number of attempts.

        ``idempotent``: the call changes nothing (or may safely be repeated), so it is retried after
        a dropped connection or a 502/503/504 too. ``setting`` names where the URL came from, for
        messages about a host that cannot be reached.

        Raises InterruptedBeforeRetry (a KeyboardInterrupt) on Ctrl-C during a retry's back-off,
        and, inside ``cancelled_by(event)``, once the event is set while no attempt is out (during a
        back-off, or before an attempt): nothing more is sent.
        """
        s = self.settings
        deadline = time.monotonic() + s.retry_deadline
        timeout = (s.connect_timeout, s.read_timeout)
        cancel = current_cancellation()  # no cancelled_by block: only Ctrl-C ends a back-off early
        attempts = retries = 0
        reauthenticated = False
        acted = False  # an attempt may have been processed: a Ctrl-C before the next cannot say "nothing done"
        why: str | None = None  # what the last attempt met, once it is to be sent again
        while True:
            self.check_open()  # a client closed during a retry's backoff sends nothing more
            self.rate_limit.acquire(cancel)
            if cancel.is_set():  # no attempt is out: nothing more is sent
                raise InterruptedBeforeRetry(why, took_no_effect=not acted, attempts=attempts)
            attempts += 1
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, url, data=body, headers=headers, auth=auth, timeout=timeout, allow_redirects=False
                )
            except Exception as exc:  # noqa: BLE001 -- every failure is mapped below, none is swallowed
                refused_before_sending = config_error_before_sending(exc, url, setting, env_var(setting))
                if refused_before_sending is not None:
                    raise refused_before_sending from None
                if not isinstance(exc, (requests.RequestException, OSError)):
                    raise
                kind = classify_transport_failure(exc)
                log.debug("%s %s attempt %d failed: %s (%s)", method, url, attempts, kind, type(exc).__name__)
                retryable = kind == "connect" or (idempotent and kind == "dropped")
                budget = s.max_retries
                if kind == "refused":
                    retryable, budget = True, min(budget, REFUSED_RETRIES)
                if not (retryable and retries < budget and time.monotonic() < deadline):
                    raise transport_error(
                        exc, kind, url=url, label=what or f"{method} request", idempotent=idempotent,
                        job_ids=job_ids, attempts=attempts, settings=s, setting=setting,
                    ) from None
                acted = acted or kind == "dropped"
                why, retry_after = f"connection failure ({kind})", None
            else:
                status = response.status_code
                log.debug(
                    "%s %s attempt %d -> HTTP %d in %.0f ms (request id %s)", method, url, attempts, status,
                    (time.monotonic() - started) * 1000, response.headers.get(contract.REQUEST_ID_HEADER),
                )
                if status == 401 and not reauthenticated and getattr(auth, "invalidate", lambda: False)():
                    reauthenticated = True  # the IAM token may have expired early: renew once
                    log.debug("HTTP 401: renewing the IAM token and retrying once")
                    why = "HTTP 401"
                    continue
                retryable = status == 429 or (idempotent and status in RETRY_STATUSES_IDEMPOTENT)
                if not (retryable and retries < s.max_retries and time.monotonic() < deadline):
                    return response, attempts
                acted = acted or status != 429  # a 429 is refused by the gateway, unprocessed
                why, retry_after = f"HTTP {status}", retry_after_seconds(response)
            retries += 1
            try:
                self._backoff(retries, retry_after, deadline, why, cancel)
            except KeyboardInterrupt:  # Ctrl-C while no attempt is out: ends as a cancelled call does
                raise InterruptedBeforeRetry(why, took_no_effect=not acted, attempts=attempts) from None

    def _backoff(self, retry: int, retry_after: float | None, deadline: float, why: str,
                 cancel: Cancellation) -> None:
        """The wait before retry ``retry``; it ends early when ``cancel`` is set."""
        base = self.settings.backoff_base
        delay = retry_after if retry_after is not None else base * 2 ** (retry - 1) * random.uniform(0.5, 1.5)
        delay = max(0.0, min(delay, deadline - time.monotonic()))
        log.debug("retry %d after %s in %.3f s", retry, why, delay)
        if delay:
            cancel.wait(delay)
