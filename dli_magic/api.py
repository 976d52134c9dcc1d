"""The plain Python API: ``dli_magic.run_jobs``, ``stop_jobs``, ``list_jobs``, ``history``, ``connect``.

No IPython here: the magics (and the panel) call these functions and only parse and display.
One run = validate ids → (dry run: describe and stop) → the run/stop request, with the names this
client does not know read concurrently → with ``wait``, statuses read until the jobs settle (and
with ``stable``, the health window) → the OUTCOME_COLUMNS frame → the run log → --strict.
"""

from __future__ import annotations

import concurrent.futures
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from . import contract, runlog
from .checks import check_bool, check_count, check_positive, list_query
from .errors import BadInputError, ConfigError, DLIError, _format_ids
from .ids import check_request_count
from .redaction import exception_line
from .results import JobOutcome, jobs_frame, outcomes_frame
from .batch import ReadPool
from .waiting import WaitState, changed_reads_max, check_health, read_jobs, until_stopped, wait_for_jobs


class JobsFailedError(DLIError):
    """``strict=True`` / ``--strict``: some jobs failed or their outcome is unknown. ``.frame`` has every row.

    ``succeeded`` counts the jobs that did what was asked; the magic replaces the hint with one
    about ``--out`` (a notebook user has no name for the exception)."""

    hint = "The exception's .frame attribute has every row (a DataFrame)."

    def __init__(self, message: str, *, frame: Any = None, succeeded: int = 0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.frame = frame
        self.succeeded = succeeded
        if "hint" not in kwargs:
            self.hint = type(self).hint + self.others_note()

    def others_note(self) -> str:
        """" The other N jobs were processed." when some succeeded, else ""."""
        if not self.succeeded:
            return ""
        return f" The other {self.succeeded} job{'s were' if self.succeeded != 1 else ' was'} processed."


_REASONS_SHOWN = 2


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _check_keywords(function: Callable, settings: dict[str, Any]) -> None:
    """Keywords a public function passes on as settings: a misspelt parameter of the function itself
    (``resume_savepont=True``) is named as such, before it could be taken for an unknown setting."""
    import difflib
    import inspect

    from .config import FIELD_NAMES

    unknown = [key for key in settings if key not in FIELD_NAMES]
    if not unknown:
        return
    params = [
        name for name, p in inspect.signature(function).parameters.items()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]

    def best(key: str, names) -> tuple[float, str]:
        return max(((difflib.SequenceMatcher(None, key, name).ratio(), name) for name in names), default=(0.0, ""))

    for key in unknown:
        score, name = best(key, params)
        # the function's own parameters first; a setting only when it is strictly closer
        if score >= 0.6 and score >= best(key, FIELD_NAMES)[0]:
            raise BadInputError(
                f"{function.__name__}() got an unknown keyword argument {key!r}. Did you mean {name}?",
                hint="Fix the keyword; nothing was sent.",
            )
    # Not close to a parameter: resolution reports it as an unknown setting (with its own suggestion).


def connect(**settings: Any):
    """A ``DliClient`` from settings (explicit > environment > profile file); reuse it via ``client=``."""
    from .client import DliClient

    _check_keywords(connect, settings)

    return DliClient(**settings)


def client_for(client: Any, profile: str | None, settings: dict[str, Any]) -> tuple[Any, bool]:
    """(client, owned): the given client, or a new one from settings that the caller must close.

    The one "client or settings" check of the API functions and the panel."""
    if client is not None:
        if settings or profile:
            raise BadInputError("Pass either client= or settings/profile, not both.")
        return client, False
    if profile is not None:
        settings = {**settings, "profile": profile}
    return connect(**settings), True


def _coerce_ids(job_ids: Any):
    from .idargs import ids_from_object
    from .ids import ValidatedIds, validate_job_ids

    if isinstance(job_ids, ValidatedIds):  # checked already (the magics check ids before settings)
        return job_ids
    return validate_job_ids(ids_from_object(job_ids, "job_ids"))


def _check_number(name: str, value: Any, *, integer: bool = False) -> None:
    if value is not None:  # None: not given
        check_positive(name, value, integer=integer)


def _check_chunk_size(chunk_size: Any) -> None:
    """The range client.batch checks, here before any request (the names read beside it included)."""
    from .config import CHUNK_SIZE_MAX

    _check_number("chunk_size", chunk_size, integer=True)  # a wrong type in the other numbers' words
    if chunk_size is not None:  # None: the setting's
        check_count("chunk_size", chunk_size, 1, CHUNK_SIZE_MAX)


def _check_type(name: str, value: Any, kinds: tuple[type, ...], wanted: str) -> None:
    """One line naming the argument, for a value of the wrong type (None = not given is fine); a
    string is described, never quoted: it may be a secret passed in the wrong place."""
    from .ids import describe_value

    if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
        raise BadInputError(f"{name} must be {wanted}, not {describe_value(value)}.",
                            hint="Fix the argument; nothing was sent.")


def _check_call_args(profile: Any = None, client: Any = None, progress: Any = None) -> None:
    """The arguments every public function shares, checked before any settings or request."""
    _check_type("profile", profile, (str,), "the name of a profile (a string)")
    if client is not None:
        from .client import DliClient

        _check_type("client", client, (DliClient,), "a DliClient (from dli_magic.connect())")
    if progress is not None and not callable(progress):
        _check_type("progress", progress, (), "a function called with {status: count}")


def _scrubbed(notify: Callable[[str], None]) -> Callable[[str], None]:
    """A notice passes the one scrubber: it may quote an exception's text (a path, a server's
    answer) that holds a secret value, of any layer in use."""
    from .redaction import scrub_in_use

    return lambda text: notify(scrub_in_use(text))


def check_wait_options(*, timeout: Any = None, stable: Any = None) -> None:
    """The checks of ``timeout`` and ``stable`` that every call makes, for callers that keep them
    for later calls (the panel): one line naming the argument."""
    _check_number("timeout", timeout)
    _check_stable(stable)


def _check_stable(stable: Any) -> float | None:
    from .waiting import STABLE_MAX_SECONDS

    if stable is None:
        return None
    if isinstance(stable, bool) or not isinstance(stable, (int, float)) or not 0 < stable <= STABLE_MAX_SECONDS:
        raise BadInputError(
            f"stable must be a number of seconds from 0 to {STABLE_MAX_SECONDS} (a day), not {stable!r}.",
            hint="Give the stability window in seconds, e.g. --stable 30; nothing was sent.",
        )
    return float(stable)


def _check_not_both(dry_run: bool, background: bool) -> None:
    if background and dry_run:
        raise BadInputError("dry_run sends nothing, so there is nothing to wait for in the background.")


def _check_stable_applies(action: str, stable: float | None) -> None:
    if stable is not None and action != "run":
        raise BadInputError("stable= checks jobs that were started: it applies to run (and restart), not stop.")


def _start_lookup(client: Any, ids: list[int], wait: bool, *, before_stop: bool):
    """The jobs this client has no name for, read concurrently with the run/stop request (a safe
    GET that never delays or repeats it); None when there is nothing to read. A call that waits
    reads its jobs anyway: only a few names are then looked up on their own. ``before_stop`` (a
    stop with savepoint that waits): every job, for the savepoint it had before the stop."""
    wanted = list(ids) if before_stop else [i for i in ids if i not in client.job_names]
    many = len(wanted) > changed_reads_max(client)
    if not wanted or (wait and not before_stop and many):
        return None
    # Many jobs: a stop's savepoint is of running ones, found with a listing rather than one by one.
    expected = sorted(contract.RESTARTABLE_STATUSES) if before_stop and many else ()
    pool = ReadPool(max_workers=1, thread_name_prefix="dli-names")
    future = pool.submit(lambda: read_jobs(client, wanted, expected=expected))
    pool.shutdown(cancel_pending=False)  # the lookup runs; its thread ends after it
    return future


def _take_names(call: "_Call", lookup, timeout: float | None) -> None:
    """The names read beside the request, if they are there within ``timeout`` seconds; the rows
    then show names (a slower lookup still teaches the client its names for the next call)."""
    try:
        read = until_stopped(call.state, lookup, timeout)
        call.state.names.update({job_id: job.name for job_id, job in read.items()})
    except (concurrent.futures.TimeoutError, KeyboardInterrupt):  # the rows come back without the names
        pass
    except Exception as exc:
        call.notify(f"Could not read the job names: {exception_line(exc)}")


def _read_before_stop(call: "_Call") -> dict[int, Any]:
    """Each job as the lookup beside a stop read it, where that read found it untouched by the stop
    (still in a status the stop is accepted from): the savepoint it had before. A read that is not
    back, or failed, tells nothing."""
    lookup = call.lookup
    if lookup is None or not lookup.done() or lookup.cancelled() or lookup.exception() is not None:
        return {}
    return {job_id: job for job_id, job in lookup.result().items() if job.status in call.spec.accepted_from}


@dataclass
class _Call:
    """One run/stop call between its phases: sent (or re-attached from history), settled (waited
    for, health checked), finished (the frame, the run log, --strict)."""

    action: str
    spec: contract.Action
    option: bool
    result: Any  # BatchResult: the service's answer per job
    client: Any
    owned: bool  # the client was made for this call: closed when it is finished
    state: WaitState
    wait: bool
    stable: float | None
    timeout: float
    strict: bool
    source: str
    notify: Callable[[str], None]
    extra_attrs: dict[str, Any]
    run_id: str | None = None  # recorded "waiting" right after the request, recorded again at the end
    lookup: Any = None  # the jobs read beside the request (names; a stop's savepoints before it)
    exiting: bool = False  # the interpreter exits: the run is recorded as not waited, nothing more

    @property
    def accepted(self) -> list[int]:
        return [o.job_id for o in self.result.outcomes if o.is_success is True]


def execute(
    action: str,
    job_ids: Any,
    option: bool = False,
    *,
    wait: bool = False,
    timeout: float | None = None,
    stable: float | None = None,
    strict: bool = False,
    dry_run: bool = False,
    yes: bool = False,
    background: bool = False,
    chunk_size: int | None = None,
    profile: str | None = None,
    client: Any = None,
    progress: Callable[[dict[str, int]], None] | None = None,
    on_state: Callable[[WaitState], None] | None = None,
    notify: Callable[[str], None] | None = _stderr,
    echo: Callable[[str], None] | None = print,
    source: str = "api",
    **settings: Any,
):
    """Run or stop jobs and return the OUTCOME_COLUMNS frame (see ``run_jobs``), or with
    ``background`` a ``RunHandle`` as soon as the request was answered.

    The request goes out at once; names the client does not know are read concurrently. Without
    ``wait`` a row's status is <NA>: it was not read. With ``wait`` the jobs' statuses are read
    right after the call and then every ``poll_interval`` until they settle; with ``stable`` the
    running ones are then watched for that many seconds (``waiting.check_health``).
    """
    if action not in contract.ACTIONS:
        raise BadInputError(f"Unknown action {action!r}; use 'run' or 'stop'.")
    spec = contract.ACTIONS[action]
    notify = _scrubbed(notify or (lambda text: None))
    for name, value in ((spec.option, option), ("wait", wait), ("strict", strict), ("dry_run", dry_run),
                        ("background", background)):
        check_bool(name, value)
    _check_not_both(dry_run, background)
    _check_number("timeout", timeout)
    _check_chunk_size(chunk_size)
    stable = _check_stable(stable)
    _check_stable_applies(action, stable)
    # A stability window needs the jobs running first; a background handle is there to wait.
    wait = wait or stable is not None or background
    validated = _coerce_ids(job_ids)  # BadInputError before any client or request exists
    client, owned = client_for(client, profile, settings)
    handed_over = False
    try:
        ids = validated.ids
        if validated.notice():
            notify(validated.notice())
        if dry_run:
            from .dryrun import dry_run_frame  # here: dryrun imports http (requests), this module does not

            return dry_run_frame(client, action, ids, spec.option, option, chunk_size, echo, validated.duplicates)
        check_request_count(  # a call of hundreds of requests is confirmed (ids.MAX_REQUESTS_UNCONFIRMED)
            len(ids), chunk_size or client.settings.chunk_size, yes,
            "add --yes" if source == "magic" else "pass yes=True",
        )

        lookup = _start_lookup(client, ids, wait, before_stop=action == "stop" and option and wait)
        sent = time.monotonic()
        try:
            result = client.batch(action, ids, option, chunk_size=chunk_size)
        except DLIError as exc:
            _record_failed_call(client, action, spec.option, option, ids, exc, source)
            raise
        answered = time.monotonic() - sent
        if result.interrupted:
            unsent = sum(1 for o in result.outcomes if o.is_success is None)
            notify(f"Interrupted (Ctrl-C): {unsent} job(s) were not sent or have no answer; see the rows.")
            wait, stable = False, None  # the user asked to stop: do not start polling now
        state = WaitState(job_ids=list(ids))
        state.names.update({i: client.job_names[i] for i in ids if i in client.job_names})
        extra_attrs: dict[str, Any] = {"duplicates": list(validated.duplicates)}
        if chunk_size is not None:
            extra_attrs["chunk_size"] = chunk_size
        call = _Call(action, spec, option, result, client, owned, state, wait, stable,
                     timeout if timeout is not None else client.settings.wait_timeout, strict, source, notify,
                     extra_attrs)
        if wait:  # recorded now: a kernel that dies while waiting leaves a run to re-attach to
            call.run_id = _record(call, "waiting")
        call.lookup = lookup
        # The lookup went out with the request: wait for it about as long as the request took. A
        # background handle's worker takes it; after Ctrl-C the rows come now, without names.
        if lookup is not None and not background and not result.interrupted:
            _take_names(call, lookup, timeout=max(answered, 0.2))
        handed_over = True
        return _continue(call, background, progress, on_state)
    finally:
        if owned and not handed_over:
            client.close()


def _continue(call: _Call, background: bool, progress, on_state):
    """Settle and finish the call here, or on a worker thread behind a ``RunHandle``."""
    updates = _fan_out(progress, on_state)
    if not background:
        try:
            _settle(call, updates)
            return _finish(call)
        finally:
            if call.owned:
                call.client.close()
    from .background import RunHandle

    def work(sleep: Callable[[float], None], on_update: Callable[[WaitState], None]):
        def both(state: WaitState) -> None:
            on_update(state)
            if updates is not None:
                updates(state)

        try:
            if call.lookup is not None:
                _take_names(call, call.lookup, timeout=call.client.settings.read_timeout)
            _settle(call, both, sleep=sleep)
            return _finish(call)
        finally:
            if call.owned:
                call.client.close()

    return RunHandle(call.action, call.state, work, run_id=call.run_id, on_exit=lambda: _record_exit(call),
                     client=call.client)


def _settle(call: _Call, updates, *, sleep: Callable[[float], None] | None = None) -> None:
    """Wait for the accepted jobs (and check their health); every failure here keeps the rows."""
    state, spec, settings = call.state, call.spec, call.client.settings
    timing = {} if sleep is None else {"sleep": sleep}
    try:
        if call.wait:
            state.pending = set(call.accepted)
            state.refused = {o.job_id for o in call.result.outcomes if o.is_success is False}
            wait_for_jobs(call.client, state, spec.pending, timeout=call.timeout, expected=spec.passes_through,
                          then=spec.settles_in,
                          # re-attached: the request was answered long ago, every read is an answer
                          untouched=() if call.extra_attrs.get("reattached") else spec.accepted_from,
                          poll_interval=settings.poll_interval, on_update=updates, **timing)
            if call.stable is not None:
                check_health(call.client, state, call.accepted, stable=call.stable,
                             poll_interval=settings.poll_interval, on_update=updates, **timing)
    except KeyboardInterrupt:
        state.interrupted = True
    except Exception as exc:  # polling failed: keep the call's result, say why waiting stopped
        why = exception_line(exc)
        call.notify(f"Stopped waiting: {why}")
        call.extra_attrs["wait_error"] = why
        if call.stable is not None:
            state.health_not_checked(call.accepted, why)


def _wait_state(call: _Call) -> str:
    state = call.state
    if not call.wait:
        return "not waited"
    if "wait_error" in call.extra_attrs:
        return "wait failed"
    if state.interrupted:
        return "stopped waiting"
    if state.timed_out:
        return "timed out"
    return "finished"


def _attrs(call: _Call) -> dict[str, Any]:
    state = call.state
    attrs = {**call.result.attrs(), **call.extra_attrs, "wait": call.wait, "strict": call.strict,
             "status_read": call.wait}
    if call.stable is not None:
        attrs["stable"] = call.stable
    if state.read_errors:
        attrs["status_errors"] = list(state.read_errors)
    if call.wait or state.interrupted:
        attrs.update(
            timeout=call.timeout,
            wait_timed_out=state.timed_out,
            wait_interrupted=state.interrupted,
            wait_seconds=round(state.elapsed, 3),
            wait_rounds=state.rounds,
        )
    return attrs


def _outcomes(call: _Call, before: dict[int, Any] | None = None) -> list[JobOutcome]:
    before = _read_before_stop(call) if before is None else before
    return [_finish_outcome(o, call.state, call.spec, call.option, call.timeout, call.stable, before)
            for o in call.result.outcomes]


def _record_failed_call(client: Any, action: str, option_name: str, option: bool, ids: list[int],
                        error: DLIError, source: str) -> None:
    """A whole call that failed after it may have reached the service is in the history too: its
    rows say the outcome is unknown. (One that provably did nothing is only the error.)"""
    from .batch import failure_row_message

    if not error.may_have_taken_effect:
        return
    row = failure_row_message(error)
    outcomes = [JobOutcome(i, None, row, request_id=error.request_id) for i in ids]
    attrs = {"action": action, "endpoint": client.endpoint, "project_id": client.settings.project_id,
             option_name: option, "attempts": error.attempts}
    run_id = runlog.record_outcomes(outcomes, attrs, settings=client.settings, source=source, wait_state="not waited")
    if run_id:
        error.history_run_id = run_id


def _record(call: _Call, wait_state: str) -> str | None:
    return runlog.record_outcomes(_outcomes(call), _attrs(call), settings=call.client.settings,
                                  source=call.source, wait_state=wait_state, run_id=call.run_id)


def _record_exit(call: _Call) -> None:
    """The interpreter exits while a background wait runs: the run is recorded as not waited."""
    call.exiting = True
    call.state.stop_reason = "the interpreter exits"
    runlog.record_outcomes(_outcomes(call), _attrs(call), settings=call.client.settings, source=call.source,
                           wait_state="not waited: interpreter exited", run_id=call.run_id)


def _finish(call: _Call):
    """The frame, the notices, the run log, --strict."""
    state, notify = call.state, call.notify
    if state.read_errors and "wait_error" not in call.extra_attrs:  # the ones that ended the wait are said
        notify(f"Could not read job statuses in {len(state.read_errors)} round(s), read again in the next: "
               f"{state.read_errors[-1]}")
    before = _read_before_stop(call)  # once: the rows and --strict judge the same reads
    outcomes = _outcomes(call, before)
    frame = outcomes_frame(outcomes, attrs=_attrs(call))
    if state.interrupted:
        notify(f"Stopped waiting ({state.stop_reason}); the jobs were not cancelled. {_pending_note(state)}")
    elif state.timed_out:
        notify(f"Wait timeout of {call.timeout:g} s reached. {_pending_note(state)}")
    if state.missing:
        notify(f"Not found in the job list, status unknown: {_format_ids(sorted(state.missing))}")
    run_id = call.run_id if call.exiting else runlog.record_outcomes(
        outcomes, frame.attrs, settings=call.client.settings, source=call.source,
        wait_state=_wait_state(call), run_id=call.run_id,
    )
    if run_id:
        frame.attrs["history_run_id"] = run_id
    if call.strict:
        failing = [(o, reason) for o in outcomes
                   if (reason := _failure(o, call.wait, call.spec, call.option, state, before)) is not None]
        if failing:
            raise JobsFailedError(
                _strict_message(call.action, failing, len(outcomes)),
                frame=frame,
                job_ids=[o.job_id for o, _ in failing],
                succeeded=len(outcomes) - len(failing),
            )
    return frame


def _failure(row: JobOutcome, waited: bool, spec: contract.Action, option: bool, state: WaitState,
             before: dict[int, Any]) -> str | None:
    """Why a row counts as failed for --strict, in a few words; None when it did what was asked."""
    if row.is_success is not True:
        return row.message or ("refused" if row.is_success is False else "outcome unknown")
    if not waited:
        return None
    if row.job_id in state.pending:
        return f"still {row.status} when waiting stopped"
    if row.job_id in state.healthy and row.healthy is not True:  # the health check says most
        return state.health_notes.get(row.job_id) or "unhealthy"
    if row.status is None:
        return "accepted, status unknown"
    if row.status in spec.failed:
        return f"accepted, then {row.status}" + (f": {row.status_desc}" if row.status_desc else "")
    if spec.name == "stop" and option and row.status == _STOPPED:
        return _stop_savepoint(state.jobs[row.job_id], before.get(row.job_id))[1] or None  # not known new
    return None


def _strict_message(action: str, failing: list[tuple[JobOutcome, str]], total: int) -> str:
    """"run: 1 of 1 jobs failed or have an unknown outcome — 131: <why>" (the first two reasons)."""
    from .errors import excerpt

    reasons = "; ".join(f"{o.job_id}: {excerpt(reason, 160)}" for o, reason in failing[:_REASONS_SHOWN])
    more = len(failing) - _REASONS_SHOWN
    if more > 0:
        reasons += f"; and {more} more"
    return f"{action}: {len(failing)} of {total} jobs failed, are unhealthy or have an unknown outcome — {reasons}"


def _fan_out(progress, on_state):
    if progress is None and on_state is None:
        return None

    def update(state: WaitState) -> None:
        if on_state is not None:
            on_state(state)
        if progress is not None:
            progress(state.counts())

    return update


def _pending_note(state: WaitState) -> str:
    if not state.pending:
        return ""
    return f"Still pending: {_format_ids(sorted(state.pending))}."


def _stop_savepoint(job: Any, before: Any) -> tuple[str | None, str]:
    """The savepoint_path of a job stopped with savepoint, and what the row says of it: a path
    only when it is new compared with the job read before the stop (as a restart decides); with no
    such read it is the job's latest savepoint, not claimed to be this stop's."""
    latest = job.savepoint_path if job.has_savepoint else None
    if before is not None and _new_savepoint(job, before):
        return latest, ""
    if before is not None or not latest:
        older = f"; it still has the older {latest}" if latest else ""
        return None, f"stopped, but no new savepoint was recorded{older}"
    return latest, "savepoint_path is the job's latest savepoint (not read before the stop: it may be older)"


def _finish_outcome(outcome: JobOutcome, state: WaitState, spec: contract.Action, option: bool,
                    timeout: float, stable: float | None, before: dict[int, Any]) -> JobOutcome:
    """The client's outcome + what was read of the job (name, status and its description, the
    savepoint) + what waiting and the health check found. Nothing that was not read is filled in.
    ``before``: jobs read before a stop took effect (their savepoints then)."""
    job_id = outcome.job_id
    job = None if job_id in state.missing else state.jobs.get(job_id)  # gone: an older read says nothing now
    message = outcome.message
    if job_id in state.missing:
        message = f"{message}; status unknown: not found in the job list"
    elif job_id in state.pending:
        if state.interrupted:
            message = f"{message}; still {state.status(job_id) or 'unread'} when waiting was interrupted"
        elif state.timed_out:
            message = f"{message}; still {state.status(job_id) or 'unread'} after the {timeout:g} s wait timeout"
    healthy = None
    if stable is not None and job_id in state.healthy:
        healthy = state.healthy[job_id]
        note = state.health_notes.get(job_id)
        if healthy is True:
            message = f"{message}; healthy: running for the {stable:g} s window, Flink state RUNNING"
        elif note:  # an unknown health's note says so itself ("health unknown: …")
            message = f"{message}; unhealthy: {note}" if healthy is False else f"{message}; {note}"
    savepoint = None
    if job is not None and option and job.status not in spec.pending:
        if spec.name == "run":  # it resumed from the one it has
            savepoint = job.savepoint_path if job.has_savepoint else None
        elif job.status == _STOPPED and outcome.is_success is not False:
            # A failed stop leaves the job running with its older savepoint: only a stopped job's counts.
            savepoint, said = _stop_savepoint(job, before.get(job_id))
            if said:
                message = f"{message}; {said}"
    if job is not None and spec.name == "stop" and outcome.is_success and job.status in spec.failed:
        reason = f" ({job.status_desc})" if job.status_desc else ""
        message = f"{message}; not stopped: still {job.status}{reason}"
    return JobOutcome(
        job_id=job_id,
        is_success=outcome.is_success,
        message=message,
        request_id=outcome.request_id,
        name=state.names.get(job_id, outcome.name),
        status=job.status if job is not None else None,
        status_desc=job.status_desc if job is not None else None,
        healthy=healthy,
        savepoint_path=savepoint,
    )


def run_jobs(
    job_ids: Any,
    resume_savepoint: bool = False,
    *,
    wait: bool = False,
    timeout: float | None = None,
    stable: float | None = None,
    strict: bool = False,
    dry_run: bool = False,
    background: bool = False,
    yes: bool = False,
    chunk_size: int | None = None,
    profile: str | None = None,
    client: Any = None,
    progress: Callable[[dict[str, int]], None] | None = None,
    **settings: Any,
):
    """Start Flink jobs; one DataFrame row per job (OUTCOME_COLUMNS), metadata in ``df.attrs``.

    ``job_ids``: an int or an iterable of ints (list, range, Series, a DataFrame with ``job_id``).
    ``wait``: read the jobs' statuses until each accepted job leaves job_init/job_submitting
    (``timeout`` seconds at most, default ``settings.wait_timeout``; Ctrl-C stops waiting and never
    cancels a job); without it ``status`` is <NA> (not read).
    ``stable``: then watch the running jobs for that many seconds (implies ``wait``): a job that
    leaves job_running, restarts, or whose Flink state is not RUNNING at the end is unhealthy
    (``healthy`` column, the reason in ``message``).
    ``strict``: raise ``JobsFailedError`` (``err.frame``) when a job failed, is unhealthy or its
    outcome is unknown. ``dry_run``: validate and describe the request, send nothing.
    ``background``: send the request, then return a ``RunHandle`` at once; the waiting goes on on
    a worker thread (``handle.result()`` is this frame; ``%dli_wait RUN_ID`` re-attaches later).
    ``yes``: needed (True) for a call of more than 300 requests (ids / chunk size); without it such a
    call is refused and nothing is sent. At most 100,000 job ids per call.
    ``progress(counts)`` is called with ``{status: count}`` while waiting. ``client`` reuses a
    ``DliClient``; other keywords are settings.
    """
    _check_keywords(run_jobs, settings)
    _check_call_args(profile, client, progress)
    return execute(
        "run", job_ids, resume_savepoint, wait=wait, timeout=timeout, stable=stable, strict=strict,
        dry_run=dry_run, background=background, yes=yes, chunk_size=chunk_size, profile=profile, client=client,
        progress=progress, **settings,
    )


def stop_jobs(
    job_ids: Any,
    trigger_savepoint: bool = False,
    *,
    wait: bool = False,
    timeout: float | None = None,
    strict: bool = False,
    dry_run: bool = False,
    background: bool = False,
    yes: bool = False,
    chunk_size: int | None = None,
    profile: str | None = None,
    client: Any = None,
    progress: Callable[[dict[str, int]], None] | None = None,
    **settings: Any,
):
    """Stop Flink jobs; same frame as ``run_jobs`` (``yes`` too). ``wait`` polls until they leave
    savepointing/canceling."""
    _check_keywords(stop_jobs, settings)
    _check_call_args(profile, client, progress)
    return execute(
        "stop", job_ids, trigger_savepoint, wait=wait, timeout=timeout, strict=strict, dry_run=dry_run,
        background=background, yes=yes, chunk_size=chunk_size, profile=profile, client=client, progress=progress, **settings,
    )


def list_jobs(
    status: str | None = None,
    name: str | None = None,
    job_type: str | None = None,
    queue_name: str | None = None,
    tags: Any = None,
    *,
    order: str = "desc",
    profile: str | None = None,
    client: Any = None,
    **settings: Any,
):
    """Every job of the project matching the filters (all pages) as a JOB_COLUMNS DataFrame."""
    _check_keywords(list_jobs, settings)
    _check_call_args(profile, client)
    for name_, value in (("status", status), ("name", name), ("job_type", job_type), ("queue_name", queue_name),
                         ("order", order)):
        _check_type(name_, value, (str,), "a string")
    from collections.abc import Mapping

    _check_type("tags", tags, (str, Mapping), "a string k=v,k2=v2 or a dict")
    # Every filter is checked before a client exists: a bad one sends nothing.
    list_query(status=status, name=name, job_type=job_type, queue_name=queue_name, tags=tags, order=order)
    client, owned = client_for(client, profile, settings)
    try:
        jobs = client.iter_jobs(
            status=status, name=name, job_type=job_type, queue_name=queue_name, tags=tags, order=order
        )
        return jobs_frame(jobs)
    finally:
        if owned:
            client.close()


def job(job_id: Any, *, profile: str | None = None, client: Any = None, **settings: Any):
    """Everything about one job: a ``JobView`` (status and its description, times, restarts,
    savepoint, queue, CUs, checkpoints, the SQL, Flink's state). HTML in a notebook, text in a
    terminal, ``.job`` / ``.graph`` / ``.to_series()`` in code. An unknown id raises
    ``JobNotFoundError`` (DLI.16001)."""
    from .errors import JobNotFoundError, NotFoundError
    from .ids import check_job_id
    from .jobview import read_job_view

    _check_keywords(job, settings)
    _check_call_args(profile, client)
    job_id = check_job_id(job_id)
    client, owned = client_for(client, profile, settings)
    try:
        return read_job_view(client, job_id)
    except NotFoundError as exc:
        if exc.error_code != contract.JOB_NOT_FOUND_CODE:
            raise  # e.g. the gateway's APIGW.0101 (no such API): not about the job id
        raise JobNotFoundError(
            exc.error_msg or f"There is no job {job_id} in this project.",
            status=exc.status, error_code=exc.error_code, request_id=exc.request_id,
        ) from None
    finally:
        if owned:
            client.close()


def wait_for(
    run_id: str,
    *,
    timeout: float | None = None,
    stable: float | None = None,
    strict: bool = False,
    background: bool = False,
    profile: str | None = None,
    client: Any = None,
    progress: Callable[[dict[str, int]], None] | None = None,
    on_state: Callable[[WaitState], None] | None = None,
    notify: Callable[[str], None] | None = _stderr,
    source: str = "api",
    **settings: Any,
):
    """Re-attach to a recorded run (``%dli_history``'s run_id, ``df.attrs["history_run_id"]``, a
    handle's ``run_id``): wait now for the jobs it started or stopped, in this or a new kernel,
    without sending any run/stop request again. The run's action and options come from the history
    (``stable`` defaults to the run's); the frame is that of the original call, and the run's
    history record is brought up to date."""
    _check_keywords(wait_for, settings)
    _check_call_args(profile, client, progress)
    if on_state is not None and not callable(on_state):
        _check_type("on_state", on_state, (), "a function called with the wait's state")
    from datetime import datetime

    from .results import BatchResult

    notify = _scrubbed(notify or (lambda text: None))
    for name, value in (("strict", strict), ("background", background)):
        check_bool(name, value)
    _check_number("timeout", timeout)
    client, owned = client_for(client, profile, settings)
    handed_over = False
    try:
        recorded = runlog.find_run(run_id, settings=client.settings)
        if recorded.action not in contract.ACTIONS:
            raise BadInputError(
                f"Run {recorded.run_id} is a {recorded.action!r}; %dli_wait re-attaches to run and stop calls."
            )
        if recorded.endpoint and recorded.endpoint != runlog.public_endpoint(client.endpoint) or (
            recorded.project_id and recorded.project_id != client.project_id
        ):
            raise ConfigError(
                f"Run {recorded.run_id} was made against {recorded.endpoint} (project {recorded.project_id}); "
                f"the current settings point to {client.endpoint} (project {client.project_id}). Nothing was sent.",
                hint="Choose the settings of that run (--profile, %dli_config) and re-attach again.",
            )
        spec = contract.ACTIONS[recorded.action]
        options = recorded.options
        if stable is None and options.get("stable") is not None:
            stable = options["stable"]
        stable = _check_stable(stable)
        _check_stable_applies(spec.name, stable)  # before the history is written or a job read
        option = bool(options.get(spec.option, False))
        outcomes = [
            JobOutcome(row["job_id"], row["is_success"], _original_message(row["message"]),
                       request_id=row["request_id"], name=row["name"])
            for row in recorded.outcomes
        ]
        # The original call's own figures: re-attaching sends nothing and must not erase them.
        result = BatchResult(action=spec.name, outcomes=outcomes, endpoint=client.endpoint,
                             project_id=client.project_id, options={spec.option: option},
                             started=datetime.fromisoformat(recorded.started) if recorded.started else None,
                             finished=datetime.fromisoformat(recorded.finished) if recorded.finished else None,
                             attempts=recorded.attempts or 0, requests=int(options.get("requests") or 0))
        state = WaitState(job_ids=[o.job_id for o in outcomes])
        state.names.update({o.job_id: o.name for o in outcomes if o.name})
        call = _Call(spec.name, spec, option, result, client, owned, state, True, stable,
                     timeout if timeout is not None else client.settings.wait_timeout, strict, source, notify,
                     {"reattached": True, "original_wait": recorded.wait,
                      **({"chunk_size": options["chunk_size"]} if "chunk_size" in options else {})},
                     run_id=recorded.run_id)
        handed_over = True
        return _continue(call, background, progress, on_state)
    finally:
        if owned and not handed_over:
            client.close()


# What a row's message says after a wait ended (the history keeps the row as it was then); a
# re-attached wait starts from the service's own words again.
_WAIT_NOTES = ("; still ", "; status unknown: ", "; healthy: ", "; unhealthy: ", "; health ", "; not stopped: ",
               "; stopped, but no new savepoint", "; savepoint_path is the job's latest")


def _original_message(message: str | None) -> str:
    text = message or ""
    cut = min((text.find(note) for note in _WAIT_NOTES if note in text), default=-1)
    return text[:cut] if cut >= 0 else text


def history(limit: int | None = None, *, path: str | None = None, **settings: Any):
    """Every recorded run/stop outcome (this and earlier sessions); ``limit`` = the N latest runs."""
    _check_keywords(history, settings)
    import os

    _check_number("limit", limit, integer=True)
    _check_type("path", path, (str, os.PathLike), "a file path")
    from .config import resolve_settings

    if path is None:
        resolved = resolve_settings(explicit=settings)  # the profile file may name history_path
        path = str(runlog.default_path(resolved))
    return runlog.load(path, limit=limit)


__all__ = [
    "JobsFailedError",
    "wait_for",
    "job",
    "connect",
    "execute",
    "history",
    "list_jobs",
    "run_jobs",
    "stop_jobs",
]


# --- restart and savepoints (dli_magic.restart runs the steps) -----------------------------------


def _operation_flags(**flags: Any) -> None:
    for name, value in flags.items():
        check_bool(name, value)


def _operation_frame(action: str, outcome: Any, client: Any, *, strict: bool, source: str, duplicates: list[int],
                     wait_state: str | None = None, run_id: str | None = None, record: bool = True):
    """The OUTCOME_COLUMNS frame of a restart/savepoint, in the run log (not a dry run), then --strict.
    ``run_id``: the run recorded "waiting" by a background restart, recorded again now (unless
    ``record`` is False: the interpreter exits, and the run was recorded as not waited)."""
    attrs = {**outcome.attrs, "strict": strict, "duplicates": list(duplicates)}
    frame = outcomes_frame(outcome.outcomes, attrs=attrs)
    if not attrs.get("dry_run"):
        if record:
            run_id = runlog.record_outcomes(outcome.outcomes, frame.attrs, settings=client.settings, source=source,
                                            wait_state=wait_state, run_id=run_id)
        if run_id:
            frame.attrs["history_run_id"] = run_id
    if strict and outcome.failures:
        failing = [(o, outcome.failures[o.job_id]) for o in outcome.outcomes if o.job_id in outcome.failures]
        raise JobsFailedError(
            _strict_message(action, failing, len(outcome.outcomes)),
            frame=frame,
            job_ids=[o.job_id for o, _ in failing],
            succeeded=len(outcome.outcomes) - len(failing),
        )
    return frame


def restart_jobs(
    job_ids: Any,
    *,
    stable: float | None = None,
    allow_no_savepoint: bool = False,
    start_stopped: bool = False,
    dry_run: bool = False,
    timeout: float | None = None,
    strict: bool = False,
    yes: bool = False,
    background: bool = False,
    chunk_size: int | None = None,
    profile: str | None = None,
    client: Any = None,
    progress: Callable[[dict[str, int]], None] | None = None,
    on_state: Callable[[WaitState], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    notify: Callable[[str], None] | None = _stderr,
    echo: Callable[[str], None] | None = print,
    source: str = "api",
    **settings: Any,
):
    """Restart Flink jobs without losing their state; one OUTCOME_COLUMNS row per job.

    For each running job (``job_running``, ``job_running_exception``): stop with a savepoint, wait
    until it is ``job_cancel_success`` with a new ``savepoint_path`` (read back), run it with
    ``resume_savepoint``, wait until ``job_running`` (and with ``stable``, the health window).
    A job whose stop or savepoint failed is not started again; ``allow_no_savepoint=True`` stops
    such a job without a savepoint and starts it afresh. Jobs that are not running are left alone,
    or started with ``start_stopped=True`` (from their savepoint when they have one).

    The row's ``message`` says what happened at each step, ``savepoint_path`` is the savepoint it
    resumed from (or can be resumed from, when it was left stopped), ``df.attrs["steps"]`` has each
    job's steps (JSON-able), and the run is in the history (``%dli_history``). ``timeout``: seconds
    each wait lasts at most (the stop, then the start; default ``settings.wait_timeout``).
    ``dry_run``: read the jobs and print the plan; no stop or run is sent. ``strict``: raise
    ``JobsFailedError`` when a job that was to be restarted was not, or is unhealthy. Ctrl-C stops
    sending and waiting; every row then says where its job was left. ``on_step(label)`` is called
    at each step, ``on_state``/``progress`` while waiting (as in ``run_jobs``). ``yes``: needed for
    more than 300 stop (and as many run) requests, as in ``run_jobs``.
    ``background``: read the jobs and send the stops here, then return a ``RunHandle``: its worker
    waits, sends the runs and checks health; ``handle.result()`` is this frame (or its exception),
    ``handle.stop_waiting()`` ends the restart as Ctrl-C does (nothing more is sent; a job left
    stopped has a row with the savepoint to resume from). The run is in the history from then on.
    """
    _check_keywords(restart_jobs, settings)
    _check_call_args(profile, client, progress)
    _operation_flags(allow_no_savepoint=allow_no_savepoint, start_stopped=start_stopped, dry_run=dry_run,
                     strict=strict, yes=yes, background=background)
    _check_not_both(dry_run, background)
    _check_number("timeout", timeout)
    _check_chunk_size(chunk_size)
    stable = _check_stable(stable)
    validated = _coerce_ids(job_ids)  # BadInputError before any client or request exists
    notify = _scrubbed(notify or (lambda text: None))
    client, owned = client_for(client, profile, settings)
    handed_over = False
    try:
        from .restart import Restart

        if validated.notice():
            notify(validated.notice())
        if not dry_run:  # counted on every id: a restart sends at most this many stops, then runs
            check_request_count(len(validated.ids), chunk_size or client.settings.chunk_size, yes,
                                "add --yes" if source == "magic" else "pass yes=True")
        restart = Restart(client, validated.ids, stable=stable, allow_no_savepoint=allow_no_savepoint,
                          start_stopped=start_stopped, timeout=timeout, chunk_size=chunk_size,
                          on_state=_fan_out(progress, on_state), on_step=on_step, notify=notify)
        restart.read()  # an unknown id ends the call here: nothing was sent
        if dry_run:
            text, requests = restart.plan_text()
            if echo is not None:
                echo(text)
            return _operation_frame("restart", restart.dry_run_result(requests), client, strict=strict,
                                    source=source, duplicates=validated.duplicates)
        if background:
            handed_over = True
            return _restart_in_background(restart, client, owned, strict=strict, source=source,
                                          duplicates=validated.duplicates)
        restart.run()
        return _restart_frame(restart, client, strict=strict, source=source, duplicates=validated.duplicates)
    finally:
        if owned and not handed_over:
            client.close()


def _restart_wait_state(restart: Any) -> str:
    if restart.interrupted:
        return "stopped waiting"
    if restart.read_error or restart.errors:
        return "wait failed"
    if restart.timed_out:
        return "timed out"
    return "finished"


def _restart_frame(restart: Any, client: Any, *, strict: bool, source: str, duplicates: list[int],
                   run_id: str | None = None, record: bool = True):
    outcome = restart.result()
    if restart.interrupted:
        restart.notify(f"Interrupted ({restart.live.stop_reason}): nothing more was sent; each row says where its "
                       "job was left.")
    return _operation_frame("restart", outcome, client, strict=strict, source=source, duplicates=duplicates,
                            wait_state=_restart_wait_state(restart), run_id=run_id, record=record)


def _restart_in_background(restart: Any, client: Any, owned: bool, *, strict: bool, source: str,
                           duplicates: list[int]):
    """Send the stops here, record the run "waiting", and hand the rest to a ``RunHandle``'s worker
    (as ``_continue`` does for a run or stop)."""
    from .background import RunHandle

    restart.send_stops()
    run_id = None
    try:  # the stops are out: whatever happens here, the worker must still finish the restart's rows
        snapshot = restart.snapshot("the restart waits in the background")
        attrs = {**snapshot.attrs, "strict": strict, "duplicates": list(duplicates)}
        run_id = runlog.record_outcomes(snapshot.outcomes, attrs, settings=client.settings, source=source,
                                        wait_state="waiting")
    except KeyboardInterrupt:  # nothing more is sent; the worker reads where the jobs were left
        restart._halt("interrupted (Ctrl-C)", interrupted=True)
    except Exception as exc:
        restart.notify(f"Could not record the restart in the history before waiting: {exception_line(exc)}")
    exiting: list[bool] = []
    updates = restart.on_state

    def work(sleep: Callable[[float], None], on_update: Callable[[WaitState], None]):
        def both(step: WaitState) -> None:
            on_update(restart.live)
            if updates is not None:
                updates(step)

        restart.sleep, restart.on_state = sleep, both
        try:
            restart.settle()
            return _restart_frame(restart, client, strict=strict, source=source, duplicates=duplicates,
                                  run_id=run_id, record=not exiting)
        finally:
            if owned:
                client.close()

    def on_exit() -> None:
        """The interpreter exits while the restart waits: its rows as they stand, recorded as not waited."""
        exiting.append(True)
        restart.live.stop_reason = "the interpreter exits"
        left = restart.snapshot("the interpreter exited while the restart waited")
        runlog.record_outcomes(left.outcomes, {**left.attrs, "strict": strict, "duplicates": list(duplicates)},
                               settings=client.settings, source=source,
                               wait_state="not waited: interpreter exited", run_id=run_id)

    return RunHandle("restart", restart.live, work, run_id=run_id, on_exit=on_exit, client=client)


def savepoint_jobs(
    job_ids: Any,
    path: str | None = None,
    *,
    timeout: float | None = None,
    strict: bool = False,
    dry_run: bool = False,
    yes: bool = False,
    profile: str | None = None,
    client: Any = None,
    progress: Callable[[dict[str, int]], None] | None = None,
    on_state: Callable[[WaitState], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    notify: Callable[[str], None] | None = _stderr,
    echo: Callable[[str], None] | None = print,
    source: str = "api",
    **settings: Any,
):
    """Trigger a savepoint of running jobs without stopping them; one OUTCOME_COLUMNS row per job
    with the new ``savepoint_path`` (read back once the job left ``job_savepointing``).

    ``path``: the OBS directory (``obs://bucket/dir/`` or ``bucket/dir/``); by default each job's
    ``job_config.obs_bucket`` + ``/{job_id}/savepoint/`` (read from its detail). The requests go
    out concurrently (``max_workers``), the first one alone: a region without the API (404
    APIGW.0101, Open Telekom Cloud) answers it and ``SavepointApiUnavailableError`` is raised.
    Jobs that are not running are left alone. In the history as action "savepoint". ``yes``:
    needed for more than 300 jobs (one request each), as in ``run_jobs``.
    """
    _check_keywords(savepoint_jobs, settings)
    _check_call_args(profile, client, progress)
    _operation_flags(strict=strict, dry_run=dry_run, yes=yes)
    _check_number("timeout", timeout)
    from .restart import Savepoints, savepoint_directory

    directory = savepoint_directory(path) if path is not None else None
    validated = _coerce_ids(job_ids)
    notify = _scrubbed(notify or (lambda text: None))
    client, owned = client_for(client, profile, settings)
    try:
        if validated.notice():
            notify(validated.notice())
        if not dry_run:  # one request per job, counted on every id (before the jobs are read)
            check_request_count(len(validated.ids), None, yes, "add --yes" if source == "magic" else "pass yes=True")
        savepoints = Savepoints(client, validated.ids, directory=directory, timeout=timeout,
                                on_state=_fan_out(progress, on_state), on_step=on_step, notify=notify)
        savepoints.read()
        if dry_run:
            text, requests = savepoints.plan_text()
            if echo is not None:
                echo(text)
            outcome = savepoints.dry_run_result(requests)
        else:
            savepoints.run()
            outcome = savepoints.result()
            if savepoints.interrupted:
                notify("Interrupted (Ctrl-C): nothing more was sent; each row says where its job was left.")
        return _operation_frame("savepoint", outcome, client, strict=strict, source=source,
                                duplicates=validated.duplicates)
    finally:
        if owned:
            client.close()


from .restart import STOPPED as _STOPPED, SavepointApiUnavailableError, _new_savepoint  # noqa: E402 -- light

__all__ += ["restart_jobs", "savepoint_jobs", "SavepointApiUnavailableError"]
