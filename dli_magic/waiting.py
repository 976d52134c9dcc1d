"""Reading job statuses with few round trips, waiting for jobs to settle, and the health window.

What a round costs (``read_jobs``): the list API filtered by each status the jobs are expected in
(the pages of each listing fetched concurrently), so a round over N waited jobs costs about
ceil(M / 100) requests, M being the project's jobs in those statuses, however many other jobs the
project holds. A waited job missing from those listings has changed status: it is read once, with a
detail call when a few changed in the round (concurrently), or with one pass over the job list when
many did. Health (``check_health``) watches running jobs the same way (filter ``job_running``) and
ends with at most one execute-graph call per job.

Ctrl-C only stops *waiting*; jobs keep going. Plain Python: the caller passes ``on_update`` to
draw progress (the magic, the panel, a terminal).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable

from .batch import ReadPool
from .contract import LIST_PAGE_MAX
from .errors import DLIError, InterruptedBeforeRetry, NotFoundError
from .http import cancelled_by
from .results import Job

UNKNOWN = "unknown"  # no read yet (or it failed): nothing is known about the job's status
NOT_LISTED = "not listed"  # a read of the job did not find it
REFUSED = "refused"  # the service refused the request for it: it was not waited for

RUNNING = "job_running"
FLINK_RUNNING = "RUNNING"
STABLE_MAX_SECONDS = 24 * 3600  # a stability window longer than a day is a typo
# A read round that fails for a passing reason is tried again next round; this many in a row end
# the wait (the error is raised), and so does any other failure at once.
FAILED_READS_MAX = 3
# The service answers a request once it has queued it; the job shows it later. A job read as if
# untouched is read again for the longer of these before the call concludes the request showed
# no effect (the wait of a run or stop, a restart's stop, a savepoint).
EFFECT_GRACE_POLLS = 3
EFFECT_GRACE_MIN_SECONDS = 2.0


def effect_grace(poll_interval: float) -> float:
    """How long a job read unchanged after a request is read again."""
    return max(EFFECT_GRACE_POLLS * poll_interval, EFFECT_GRACE_MIN_SECONDS)
_PASSING_FAILURES = ("TransportError", "ServiceError", "ThrottledError", "MalformedResponseError")
STOP_WAITING = "stop_waiting()"  # the stop_reason of a background handle's stop
_STOP_CHECK_SECONDS = 0.05


def changed_reads_max(client: Any) -> int:
    """Up to this many jobs whose status changed in one round are read with detail calls; more
    cost one pass over the job list instead."""
    return 2 * client.settings.max_workers


@dataclass
class WaitState:
    """What is known about the jobs of one call while (and after) waiting and checking health."""

    job_ids: list[int]
    jobs: dict[int, Job] = field(default_factory=dict)  # the last read of each job
    names: dict[int, str | None] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)  # still in a pending status, being waited on
    refused: set[int] = field(default_factory=set)  # the request for them was refused: not read
    missing: set[int] = field(default_factory=set)  # not found by the last read
    elapsed: float = 0.0
    rounds: int = 0  # read rounds (listing passes)
    timeout: float | None = None
    timed_out: bool = False
    interrupted: bool = False
    stop_reason: str = "Ctrl-C"  # what interrupted the wait (a background handle's stop_waiting())
    # A background handle's stop_waiting(): reads are then made on a reader thread and abandoned
    # when it is set, as Ctrl-C abandons them in the foreground, and send nothing more.
    stop_event: threading.Event | None = None
    # health (``stable=``)
    phase: str = "waiting"  # "waiting", "stability", "final check", "done"
    stable_seconds: float | None = None
    stable_left: float | None = None
    watched: set[int] = field(default_factory=set)  # running jobs in the stability window
    healthy: dict[int, bool | None] = field(default_factory=dict)
    health_notes: dict[int, str] = field(default_factory=dict)
    flink_states: dict[int, str | None] = field(default_factory=dict)
    read_errors: list[str] = field(default_factory=list)  # rounds whose read failed (retried next round)
    consecutive_failures: int = 0

    @property
    def done(self) -> bool:
        return not self.pending

    @property
    def statuses(self) -> dict[int, str | None]:
        return {job_id: job.status for job_id, job in self.jobs.items()}

    def status(self, job_id: int) -> str | None:
        job = self.jobs.get(job_id)
        return job.status if job is not None else None

    def note(self, job: Job) -> None:
        self.jobs[job.job_id] = job
        self.missing.discard(job.job_id)
        if job.name is not None or job.job_id not in self.names:
            self.names[job.job_id] = job.name

    def label(self, job_id: int) -> str:
        """What to show for a job: its status; "refused" when the service refused the request for
        it (it is not read); "not listed" when a read of it did not find it (a deleted job);
        "unknown" before any read, or when the read showed the job without a status."""
        if job_id in self.missing:
            return NOT_LISTED
        status = self.status(job_id)
        if status:
            return status
        if job_id in self.refused:
            return REFUSED
        return UNKNOWN

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for job_id in self.job_ids:
            label = self.label(job_id)
            result[label] = result.get(label, 0) + 1
        return result

    def unhealthy(self, job_id: int, reason: str) -> None:
        self.healthy[job_id] = False
        self.health_notes[job_id] = reason
        self.watched.discard(job_id)

    def health_not_checked(self, job_ids: Iterable[int], why: str) -> None:
        """The health check stopped (a read failed) before judging these jobs: health unknown, with
        why, so that --strict counts them as failed rather than passing unchecked jobs."""
        for job_id in job_ids:
            if job_id not in self.healthy:
                self.healthy[job_id] = None
                self.health_notes[job_id] = f"health not checked: {why}"
        self.watched.clear()


# --- reading ---------------------------------------------------------------------------------------


def until_stopped(state: WaitState, future: concurrent.futures.Future, timeout: float | None = None) -> Any:
    """``future.result(timeout)``; once a background handle's stop is set (``state.stop_event``),
    KeyboardInterrupt instead: the wait's own "stop waiting" path, the read's answer dropped."""
    stop = state.stop_event
    if stop is None:
        return future.result(timeout=timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if stop.is_set():
            state.stop_reason = STOP_WAITING
            raise KeyboardInterrupt
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise concurrent.futures.TimeoutError
        try:
            return future.result(timeout=_STOP_CHECK_SECONDS if left is None else min(left, _STOP_CHECK_SECONDS))
        except concurrent.futures.TimeoutError:
            continue
        except InterruptedBeforeRetry:  # the stop ended the read's retry wait: the stop's path above
            if not stop.is_set():
                raise


def _unless_stopped(state: WaitState, read: Callable[[], Any]) -> Any:
    """``read()`` here, or for a background handle on a reader thread that ``stop_waiting()``
    abandons (``until_stopped``); nothing is read once the stop is set. The abandoned read sends
    nothing more either: it runs inside ``http.cancelled_by(stop)``, so a retry waiting to go out
    (after a 503, say) is not sent, on a client that stays open after the handle ended."""
    stop = state.stop_event
    if stop is None:
        return read()
    if stop.is_set():
        state.stop_reason = STOP_WAITING
        raise KeyboardInterrupt

    def cancellable() -> Any:
        with cancelled_by(stop):
            return read()

    pool = ReadPool(max_workers=1, thread_name_prefix="dli-wait")
    future = pool.submit(cancellable)
    pool.shutdown(cancel_pending=False)
    return until_stopped(state, future)


def _listed(client: Any, wanted: set[int], statuses: Collection[str]) -> dict[int, Job]:
    """The wanted jobs among those in ``statuses`` (the likeliest first): one listing per status,
    concurrently."""
    statuses = list(dict.fromkeys(statuses))

    def listed(status: str) -> list[Job]:
        # Most wanted jobs are in the likeliest status: its pages for them are asked for at once.
        expected = len(wanted) if status == statuses[0] else None
        jobs = client.iter_jobs(status=status, page_size=LIST_PAGE_MAX, expected=expected)
        return [job for job in jobs if job.job_id in wanted]

    if len(statuses) == 1:
        results = [listed(statuses[0])]
    else:
        with ReadPool(max_workers=len(statuses)) as pool:
            results = list(pool.map(listed, statuses))
    found: dict[int, Job] = {}
    for jobs in results:
        for job in jobs:
            found.setdefault(job.job_id, job)
    return found


def read_jobs(client: Any, job_ids: Iterable[int], *, expected: Collection[str] = (),
              then: Collection[str] = ()) -> dict[int, Job]:
    """The current ``Job`` of each wanted id that exists (a missing id is not in the answer).

    ``expected``: the statuses the jobs are probably in; ``then``: those they move to. One listing
    per expected status finds those (concurrently, each with its pages concurrent); the rest are
    read one by one when few, else looked for among the ``then`` statuses first, and what is left
    with one pass over the whole job list (``iter_jobs`` stops paging once every id was seen).
    """
    wanted = set(job_ids)
    found: dict[int, Job] = {}
    if not wanted:
        return found
    if expected:
        found.update(_listed(client, wanted, expected))
    rest = wanted - set(found)
    if len(rest) > changed_reads_max(client) and then:
        found.update(_listed(client, rest, then))
        rest -= set(found)
    if not rest:
        return found
    if len(rest) <= changed_reads_max(client):
        found.update(_read_each(client, sorted(rest)))
    else:
        for job in client.iter_jobs(page_size=LIST_PAGE_MAX):
            if job.job_id in rest:
                found[job.job_id] = job
                rest.discard(job.job_id)
                if not rest:
                    break  # every id seen: no further pages are read
    return found


def _read_each(client: Any, job_ids: list[int]) -> dict[int, Job]:
    """Detail calls, concurrently; a job the service does not know is left out."""

    def one(job_id: int) -> Job | None:
        try:
            return client.get_job(job_id)
        except NotFoundError:
            return None

    workers = min(client.settings.max_workers, len(job_ids))
    if workers <= 1:
        jobs = [one(job_id) for job_id in job_ids]
    else:
        with ReadPool(max_workers=workers) as pool:
            jobs = list(pool.map(one, job_ids))
    return {job.job_id: job for job in jobs if job is not None}


# --- waiting -------------------------------------------------------------------------------------


def wait_for_jobs(
    client: Any,
    state: WaitState,
    pending_statuses: Collection[str],
    *,
    timeout: float,
    poll_interval: float,
    on_update: Callable[[WaitState], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    read_first: bool = True,
    expected: Collection[str] | None = None,
    then: Collection[str] = (),
    untouched: Collection[str] = (),
) -> WaitState:
    """Poll until no job in ``state.pending`` is in ``pending_statuses``, the timeout, or Ctrl-C.

    ``state.pending`` holds the ids to wait for; with ``read_first`` the first round reads at once
    (right after the call), later rounds every ``poll_interval``. Each round reads the job list
    filtered by each ``expected`` status (default: the pending ones), and by the ``then`` statuses
    when many jobs left them (``read_jobs``). A job found in an ``untouched`` status (one the request
    is accepted from) within ``effect_grace(poll_interval)`` of the request is read again before its
    status is believed. ``state`` is updated in place and returned. A job the service no longer knows stops being waited on (``state.missing``).
    """
    expected = tuple(pending_statuses) if expected is None else tuple(expected)
    picked_up: set[int] = set()
    grace = effect_grace(poll_interval)
    start = clock()
    state.timeout = timeout
    state.phase = "waiting"
    try:
        if on_update and not read_first:  # else the first view shows the first read
            on_update(state)
        first = read_first
        while state.pending:
            remaining = timeout - (clock() - start)
            if remaining <= 0:
                state.timed_out = True
                break
            if not first:
                sleep(min(poll_interval, remaining))
            first = False
            read = _read_round(client, state, state.pending, expected, then)
            if read is None:
                continue
            # Until the grace is over, a job in a status the request is accepted from may just not
            # have been picked up yet (the service queues requests): it is read again.
            early = read_first and clock() - start < grace  # picked_up: seen on its way
            for job_id in list(state.pending):
                job = read.get(job_id)
                if job is None:
                    state.missing.add(job_id)
                    state.pending.discard(job_id)
                    continue
                state.note(job)
                if job.status in pending_statuses:
                    picked_up.add(job_id)
                elif early and job.status in untouched and job_id not in picked_up:
                    continue
                if job.status not in pending_statuses:
                    state.pending.discard(job_id)
            state.elapsed = clock() - start
            if on_update:
                on_update(state)
    except KeyboardInterrupt:
        # Ctrl-C means "stop waiting": return what is known, never cancel the jobs.
        state.interrupted = True
    state.elapsed = clock() - start
    _final_update(state, on_update)
    return state


def _read_round(client: Any, state: WaitState, ids: Collection[int], expected: Collection[str],
                then: Collection[str] = ()):
    """One read round; None when it failed for a passing reason (noted in ``state.read_errors``)."""
    try:
        read = _unless_stopped(state, lambda: read_jobs(client, ids, expected=expected, then=then))
    except DLIError as exc:
        if type(exc).__name__ not in _PASSING_FAILURES:
            raise
        state.read_errors.append(f"{type(exc).__name__}: {exc}")
        state.consecutive_failures += 1
        if state.consecutive_failures >= FAILED_READS_MAX:
            raise
        return None
    state.consecutive_failures = 0
    state.rounds += 1
    return read


def _final_update(state: WaitState, on_update: Callable[[WaitState], None] | None) -> None:
    if on_update and (state.timed_out or state.interrupted):
        try:  # the live line must end saying why waiting stopped
            on_update(state)
        except KeyboardInterrupt:
            state.interrupted = True


# --- health --------------------------------------------------------------------------------------


def check_health(
    client: Any,
    state: WaitState,
    accepted: Collection[int],
    *,
    stable: float,
    poll_interval: float,
    on_update: Callable[[WaitState], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitState:
    """After waiting: watch the accepted jobs that reached ``job_running`` for ``stable`` seconds.

    A job is unhealthy when it did not reach ``job_running``, leaves it, gains restarts
    (``restart_times`` grows), or Flink's own state (execute-graph) is not RUNNING at the end.
    ``state.healthy[id]`` is True/False, or None (with a note) when health could not be told.
    """
    if state.interrupted:
        for job_id in accepted:
            state.healthy[job_id] = None
            state.health_notes[job_id] = "health not checked: waiting was interrupted"
        return state
    baseline: dict[int, int] = {}
    for job_id in accepted:
        status = state.status(job_id)
        if job_id in state.pending:
            state.healthy[job_id] = None
            state.health_notes[job_id] = f"health not checked: still {status} when waiting stopped"
        elif job_id in state.missing or status is None:
            state.healthy[job_id] = None
            state.health_notes[job_id] = "health not checked: the job's status could not be read"
        elif status != RUNNING:
            state.unhealthy(job_id, f"did not reach job_running: {_described(state.jobs[job_id])}")
        else:
            state.watched.add(job_id)
            baseline[job_id] = state.jobs[job_id].restart_times or 0
    state.phase = "stability"
    state.stable_seconds = stable
    start = clock()
    try:
        while state.watched:
            left = stable - (clock() - start)
            state.stable_left = max(0.0, left)
            if on_update:
                on_update(state)
            if left <= 0:
                break
            sleep(min(poll_interval, left))
            read = _read_round(client, state, state.watched, (RUNNING,), ("job_running_exception",))
            if read is None:
                continue
            seconds = clock() - start
            for job_id in list(state.watched):
                job = read.get(job_id)
                if job is None:
                    state.missing.add(job_id)
                    state.healthy[job_id] = None
                    state.health_notes[job_id] = "health unknown: the job is no longer listed"
                    state.watched.discard(job_id)
                    continue
                state.note(job)
                if job.status != RUNNING:
                    state.unhealthy(job_id, f"left job_running after {seconds:.0f} s: {_described(job)}")
                elif (job.restart_times or 0) > baseline[job_id]:
                    restarts = (job.restart_times or 0) - baseline[job_id]
                    state.unhealthy(job_id, f"restarted {restarts} time{'s' if restarts != 1 else ''} "
                                            f"within {seconds:.0f} s of the {stable:g} s window")
        state.stable_left = 0.0
        state.phase = "final check"
        if on_update:
            on_update(state)
        _check_flink_states(client, state)
    except KeyboardInterrupt:
        state.interrupted = True
        for job_id in list(state.watched):
            state.healthy[job_id] = None
            state.health_notes[job_id] = f"health check interrupted ({state.stop_reason})"
        state.watched.clear()
    state.phase = "done"
    state.elapsed += clock() - start
    if on_update:
        try:  # the live view ends with the verdicts
            on_update(state)
        except KeyboardInterrupt:
            state.interrupted = True
    return state


def _check_flink_states(client: Any, state: WaitState) -> None:
    """One execute-graph call per job still healthy, concurrently; a failed call leaves health unknown."""
    ids = sorted(state.watched)
    if not ids:
        return

    def graph(job_id: int):
        try:
            return job_id, client.get_execute_graph(job_id), None
        except DLIError as exc:
            return job_id, None, exc

    def graphs():
        with ReadPool(max_workers=min(client.settings.max_workers, len(ids)), thread_name_prefix="dli-graph") as pool:
            return list(pool.map(graph, ids))

    answers = _unless_stopped(state, graphs)
    for job_id, answer, error in answers:
        state.watched.discard(job_id)
        if error is not None:
            state.healthy[job_id] = None
            rid = f", request id {error.request_id}" if error.request_id else ""
            state.health_notes[job_id] = (
                f"health unknown: Flink's state could not be read ({type(error).__name__}: {error.message}{rid})"
            )
            continue
        state.flink_states[job_id] = answer.state
        if answer.state == FLINK_RUNNING:
            state.healthy[job_id] = True
        else:
            state.unhealthy(job_id, f"Flink state is {answer.state or 'unknown'} (DLI says job_running)")


def _described(job: Job) -> str:
    text = job.status or "no status"
    return f"{text} ({job.status_desc})" if job.status_desc else text
