"""Batches: ids in chunks, chunks on a few workers, early stop, Ctrl-C, rows in id order.

One function, ``send_in_chunks``, used for run and stop (and anything else that sends ids in
chunks). It never hides a call that may have taken effect: one error (naming every id) only when
no chunk succeeded and no failed chunk may have been processed; otherwise a row per id.
Reads go on a ``ReadPool``; ``fetch_pages`` reads a paged listing with it (the job list).
"""

from __future__ import annotations

import contextvars
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable, Iterator, Sequence

from .errors import DLIError, InterruptedBeforeRetry, MAY_HAVE_TAKEN_EFFECT_TEXT, NotFoundError, RequestRejectedError
from .http import cancelled_by
from .results import JobOutcome

# Errors about one chunk's content (an unknown id, a refused job): the other chunks still go out.
# Anything else (auth, throttling, transport) would fail every chunk, so sending stops.
CHUNK_SPECIFIC_ERRORS = (NotFoundError, RequestRejectedError)

NOT_SENT_INTERRUPTED = "not sent (interrupted)"
# The caller waits for its chunks in steps this long: a Ctrl-C delivered without a signal
# (``_thread.interrupt_main``, how a Windows kernel interrupts) is only raised between them.
INTERRUPT_CHECK_SECONDS = 0.05
MAY_HAVE_TAKEN_EFFECT_ROW = "may have taken effect — check %dli_jobs"


@dataclass
class ChunkAnswered:
    outcomes: list[JobOutcome]
    attempts: int


@dataclass
class _ChunkFailed:
    job_ids: list[int]
    error: DLIError


@dataclass
class _ChunkSkipped:
    job_ids: list[int]
    interrupted: bool = False  # left because of Ctrl-C (else: an error elsewhere stopped sending)
    retry_after: str | None = None  # left while its retry waited after this (nothing was done)
    attempts: int = 0  # HTTP attempts that went out before it was left (refused unprocessed)


@dataclass
class _ChunkInFlight:
    job_ids: list[int]  # Ctrl-C while its request was out: it may have been sent and processed


@dataclass(frozen=True)
class NotSentOutcome(JobOutcome):
    """A row whose request provably never reached the service (its chunk was not started, or failed
    before anything left this machine): nothing was done for the job. Its message starts "not sent"."""


def never_sent(error: DLIError) -> bool:
    """The failed request provably did not reach the service: no answer, and the error says it
    cannot have acted (a refused connection, an unknown host, a failed TLS handshake)."""
    return error.status is None and not error.may_have_taken_effect


def failed_request_rows(error: DLIError, job_ids: Sequence[int]) -> list[JobOutcome]:
    """The rows of a request (a chunk) that failed: not sent; refused by the service (nothing was
    done: False); or no answer, or one that may have acted (the outcome is not known: None)."""
    row = failure_row_message(error)
    if never_sent(error):
        return [NotSentOutcome(j, None, f"not sent: {row}", request_id=error.request_id) for j in job_ids]
    refused = False if not error.may_have_taken_effect else None
    return [JobOutcome(j, refused, row, request_id=error.request_id) for j in job_ids]


INTERRUPTED_IN_FLIGHT = f"interrupted (Ctrl-C) while the request was out: it may have been sent; {MAY_HAVE_TAKEN_EFFECT_ROW}"


@dataclass
class BatchRows:
    outcomes: list[JobOutcome]
    attempts: int
    requests: int  # requests sent (answered or not)
    interrupted: bool


def chunked(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def failure_row_message(error: DLIError) -> str:
    """The message of a row whose chunk failed: the error, its request id, and whether it may have acted."""
    text = error.message
    if error.may_have_taken_effect and text.endswith(MAY_HAVE_TAKEN_EFFECT_TEXT):
        text = text[: -len(MAY_HAVE_TAKEN_EFFECT_TEXT)]  # said below, once
    rid = f" (request id {error.request_id})" if error.request_id else ""
    message = f"{type(error).__name__}: {text}{rid}"
    if error.may_have_taken_effect:
        message += f"; {MAY_HAVE_TAKEN_EFFECT_ROW}"
    return message


def send_in_chunks(
    ids: Sequence[int],
    chunk_size: int,
    max_workers: int,
    send_chunk: Callable[[list[int]], ChunkAnswered],
) -> BatchRows:
    """Send ``ids`` in chunks with ``send_chunk`` (which raises DLIError for a failed chunk).

    Ctrl-C during a multi-chunk call stops sending, waits for the requests in flight and returns
    the rows (``interrupted=True``); with one chunk there is no pool and Ctrl-C propagates, unless
    it came while the request waited to be retried. Each chunk is sent inside
    ``http.cancelled_by(halt)``: once sending stops (Ctrl-C, or an error that would fail every
    chunk), a chunk waiting to retry is not sent again. A ``cancelled_by`` around the call (a
    background handle's stop) holds in every chunk too: a chunk it ends is "not sent", as at Ctrl-C.
    """
    chunks = chunked(ids, chunk_size)
    halt = threading.Event()
    halt_lock = threading.Lock()
    halted_by: list[DLIError] = []  # the error that actually stopped the sending (none: Ctrl-C)
    cancelled = threading.Event()  # a chunk was left by a cancelled_by around the call, not by halt

    def stop_sending(error: DLIError | None) -> None:
        with halt_lock:
            if not halt.is_set():
                if error is not None:
                    halted_by.append(error)
                halt.set()

    def send(chunk: list[int]):
        if halt.is_set():
            return _ChunkSkipped(chunk)
        try:
            with cancelled_by(halt):
                return send_chunk(chunk)
        except InterruptedBeforeRetry as stop:  # halted (or Ctrl-C, one chunk) while no attempt was out
            if not halt.is_set():  # an enclosing cancelled_by (a background handle's stop): as Ctrl-C
                cancelled.set()
            if not stop.took_no_effect:  # an earlier attempt may have been processed
                return _ChunkInFlight(chunk)
            # No error stopped the sending: Ctrl-C (or an enclosing cancelled_by) did.
            return _ChunkSkipped(chunk, interrupted=not halted_by, retry_after=stop.after, attempts=stop.attempts)
        except DLIError as error:
            if not isinstance(error, CHUNK_SPECIFIC_ERRORS):
                stop_sending(error)
            return _ChunkFailed(chunk, error)

    interrupted = False
    if len(chunks) == 1:
        try:
            results = [send(chunks[0])]
            # Nothing halts a lone chunk before it is answered: left while its retry waited, it was
            # Ctrl-C (or a cancelled_by around the call: a background handle's stop).
            interrupted = isinstance(results[0], (_ChunkSkipped, _ChunkInFlight))
        except KeyboardInterrupt:  # Ctrl-C while the one request was out: it may have been sent and processed
            interrupted = True
            results = [_ChunkInFlight(chunks[0])]
        if isinstance(results[0], _ChunkFailed):
            raise results[0].error  # one request for every id: its error says all there is
    else:
        with ThreadPoolExecutor(max_workers=min(max_workers, len(chunks)), thread_name_prefix="dli-chunk") as pool:
            futures: list[Future] = []
            try:
                for chunk in chunks:  # in the caller's context: its own cancelled_by holds there too
                    futures.append(pool.submit(contextvars.copy_context().run, send, chunk))
                while not all(future.done() for future in futures):
                    wait(futures, timeout=INTERRUPT_CHECK_SECONDS)
                results = [future.result() for future in futures]  # id order
            except KeyboardInterrupt:
                # Send nothing more, but keep what was done: requests in flight are already out,
                # so wait for their answers; chunks not started are "not sent".
                interrupted = True
                stop_sending(None)
                for future in futures:
                    future.cancel()
                results = []
                for index, chunk in enumerate(chunks):
                    future = futures[index] if index < len(futures) else None
                    if future is None or future.cancelled():
                        results.append(_ChunkSkipped(chunk, interrupted=True))
                    else:
                        results.append(future.result())

    interrupted = interrupted or cancelled.is_set()
    failures = [r for r in results if isinstance(r, _ChunkFailed)]
    if (
        failures
        and not interrupted
        and not any(isinstance(r, (ChunkAnswered, _ChunkInFlight)) for r in results)
        and not any(f.error.may_have_taken_effect for f in failures)
    ):
        # Nothing took effect for sure: one error about every id of the call (failed and skipped
        # alike). The error that stopped the sending explains the skipped chunks.
        error = halted_by[0] if halted_by else failures[0].error
        error.job_ids = list(ids)
        raise error
    outcomes: list[JobOutcome] = []
    attempts = 0
    for result in results:
        if isinstance(result, ChunkAnswered):
            outcomes.extend(result.outcomes)
            attempts += result.attempts
        elif isinstance(result, _ChunkFailed):
            attempts += result.error.attempts or 1
            outcomes.extend(failed_request_rows(result.error, result.job_ids))
        elif isinstance(result, _ChunkInFlight):
            attempts += 1
            outcomes.extend(JobOutcome(j, None, INTERRUPTED_IN_FLIGHT) for j in result.job_ids)
        else:
            attempts += result.attempts
            if result.interrupted or not halted_by:
                message = NOT_SENT_INTERRUPTED if result.retry_after is None else (
                    f"not sent again (interrupted while waiting to retry after {result.retry_after}): nothing was done"
                )
            else:
                cause = halted_by[0]
                stopped = f"stopped after {type(cause).__name__} in another chunk: {cause.message}"
                message = f"not sent: {stopped}" if result.retry_after is None else (
                    f"not sent again after {result.retry_after} (nothing was done): {stopped}"
                )
            outcomes.extend(NotSentOutcome(j, None, message) for j in result.job_ids)
    return BatchRows(
        outcomes=outcomes,
        attempts=attempts,
        requests=sum(1 for r in results if not isinstance(r, _ChunkSkipped) or r.attempts),
        interrupted=interrupted,
    )


class ReadPool:
    """Concurrent reads (list pages, details, execution graphs) on daemon threads, with the part of
    ``ThreadPoolExecutor``'s interface used here (``submit``, ``map``, ``with``).

    Leaving it, a Ctrl-C in the caller, or the interpreter's exit never waits for a read in
    flight: its answer is dropped and reads not yet started are cancelled. (A thread pool joins
    its threads, so a slow GET would hold up a Ctrl-C or the exit for a whole read timeout.) Run
    and stop requests keep ``send_in_chunks``, which waits for the answers of requests already out.

    Each read runs in the context it was submitted from, so an ``http.cancelled_by`` around the
    caller covers the reads it hands here as well.
    """

    def __init__(self, max_workers: int, thread_name_prefix: str = "dli-read") -> None:
        self._workers = max(1, max_workers)
        self._name = thread_name_prefix
        self._queue: "queue.SimpleQueue[tuple | None]" = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, fn: Callable, *args) -> Future:
        if self._closed:
            raise RuntimeError("this read pool is shut down")
        future: Future = Future()
        self._queue.put((future, contextvars.copy_context(), fn, args))
        if len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return future

    def map(self, fn: Callable, items) -> list:
        futures = [self.submit(fn, item) for item in items]
        return [future.result() for future in futures]

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, context, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(context.run(fn, *args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    def shutdown(self, cancel_pending: bool = True) -> None:
        """No more reads: with ``cancel_pending`` what has not started is cancelled, else it still
        runs (a read whose future the caller takes later); reads in flight finish on their own."""
        self._closed = True
        while cancel_pending:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)

    def __enter__(self) -> "ReadPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def fetch_pages(
    fetch_page: Callable[[int], tuple[list, int | None]],
    page_size: int,
    expected: int,
    workers: int,
    key: Callable[[Any], Any] = attrgetter("job_id"),
) -> Iterator:
    """Every item of a paged listing, in order; ``fetch_page(offset)`` answers one page and the
    listing's total (None when the answer had none). The first page gives the total; the other
    pages are then fetched concurrently (``workers`` at most). ``expected``: about how many items
    there are, when the caller knows: those pages go out together with the first. A consumer that
    stops early cancels the pages not yet started."""
    # Pages known to be needed go out together with the first one.
    early = list(range(page_size, expected, page_size))[: workers - 1]
    with ReadPool(max_workers=workers, thread_name_prefix="dli-page") as pool:
        futures = {offset: pool.submit(fetch_page, offset) for offset in [0, *early]}
        try:
            first, total = futures[0].result()
            if total is None:  # no total: one page after another until a short page
                yield from first
                offset, page = len(first), first
                while page and len(page) >= page_size:
                    page, _ = fetch_page(offset)
                    offset += len(page)
                    yield from page
                return
            seen = {key(item) for item in first}  # an item created meanwhile shifts the pages: none twice
            yield from first  # a consumer that stops here costs no further page
            offsets = list(range(page_size, total, page_size)) if first else []
            for offset in offsets:
                if offset not in futures:
                    futures[offset] = pool.submit(fetch_page, offset)
            for offset in offsets:
                for item in futures[offset].result()[0]:
                    identity = key(item)
                    if identity not in seen:
                        seen.add(identity)
                        yield item
        finally:
            for future in futures.values():  # the consumer stopped early, or a page failed
                future.cancel()
