"""Safe restarts (stop with a savepoint, read it back, resume from it) and savepoints of running jobs.

Plain Python (no IPython, no pandas): ``api.restart_jobs`` / ``api.savepoint_jobs`` check the input
and own the client; this module runs the steps with the pieces ``api.execute`` uses (the client's
chunked ``batch``, ``waiting.read_jobs`` / ``wait_for_jobs`` / ``check_health``) and says, per job,
what happened at each step.

A restart, for the jobs that are read running (``job_running``, ``job_running_exception``):

1. read the jobs (their status and the savepoint they have now); an unknown id ends the call here;
2. ``POST jobs/stop`` with ``trigger_savepoint`` (chunked, on the client's workers);
3. wait until they leave ``job_savepointing``/``job_canceling``; a job in ``job_cancel_success``
   whose ``savepoint_path`` is set and differs from step 1's has a new savepoint (read back). The
   service only enqueues a stop: a read that still shows the job as step 1 did is no answer, so
   such a job is read again until it changes, or until a grace has passed (``_wait_for_effect``);
4. ``POST jobs/run`` with ``resume_savepoint`` for those jobs only;
5. wait until they leave ``job_submitting`` (a read that still shows the job as before the run is
   no answer either, as in step 3, unless it is a run's failure whose ``update_time`` moved on: a job
   that failed to submit again); with ``stable``, the health window.

Safety: a job whose stop or savepoint failed is never started again (``allow_no_savepoint`` stops
such a job without a savepoint and starts it afresh). Ctrl-C or an error part-way stops sending:
every job gets a row that says where it was left and the savepoint it can be resumed from (a
background handle's stop_waiting() too, at once: a read in flight is abandoned, none is made after
it, and a job not read since its latest request says so). Jobs
not running are left alone, or started with ``start_stopped`` (resuming from their savepoint when
they have one).
"""

from __future__ import annotations

import contextlib
import copy
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable

from . import contract
from .batch import (
    INTERRUPTED_IN_FLIGHT,
    NOT_SENT_INTERRUPTED,
    ChunkAnswered,
    NotSentOutcome,
    failed_request_rows,
    send_in_chunks,
)
from .errors import BadInputError, DLIError, NotFoundError, _format_ids
from .http import cancelled_by
from .redaction import exception_line
from .results import Job, JobOutcome
from .waiting import STOP_WAITING, WaitState, _unless_stopped, check_health, effect_grace, read_jobs, wait_for_jobs

RUNNING = "job_running"
STOPPED = "job_cancel_success"
SAVEPOINTING = "job_savepointing"
# Restarted: stopped with a savepoint, then run. A crash-looping job is the point of a restart.
RESTARTABLE_STATUSES = contract.RESTARTABLE_STATUSES
_STOP = contract.ACTIONS["stop"]
_RUN = contract.ACTIONS["run"]

# What a savepoint path may be: ``obs://bucket/dir/`` or the documented ``bucket/dir/`` (an OBS
# bucket name is 3-63 characters of a-z, 0-9, "." and "-"); no blanks, no "..".
_OBS_PATH = re.compile(r"(?:obs://)?([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s\x00-\x1f\x7f]*)?")
SAVEPOINT_PATH_MAX = 1024

Callback = Callable[[WaitState], None]


class SavepointApiUnavailableError(NotFoundError):
    """The region answers ``POST jobs/{id}/savepoint`` with 404 APIGW.0101: it has no such API
    (documented on Huawei Cloud only; Open Telekom Cloud regions do not offer it)."""

    hint = (
        "Take the savepoint with a stop instead: `%dli_restart` (stop with savepoint, then resume) "
        "or `%dli_stop IDS --trigger-savepoint`."
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _described(job: Job | None) -> str:
    if job is None or not job.status:
        return "status not read"
    return f"{job.status} ({job.status_desc})" if job.status_desc else job.status


def _resume_hint(job_id: int) -> str:
    return f"resume it with `%dli_run {job_id} --resume-savepoint`"


def _job_step(step: str, job: Job | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"step": step, "at": _now()}
    if job is not None:
        entry.update(status=job.status, status_desc=job.status_desc, has_savepoint=job.has_savepoint,
                     savepoint_path=job.savepoint_path)
    else:
        entry["status"] = None
    entry.update(extra)
    return entry


def _request_step(step: str, outcome: JobOutcome, **options: Any) -> dict[str, Any]:
    return {"step": step, "at": _now(), **options, "is_success": outcome.is_success,
            "message": outcome.message, "request_id": outcome.request_id}


def _was_sent(outcome: JobOutcome) -> bool:
    """False only when the request for this job provably did not reach the service."""
    return not isinstance(outcome, NotSentOutcome)


@dataclass
class _Track:
    """One job of a restart: what was read, sent and concluded, step by step."""

    job_id: int
    before: Job
    plan: str = "leave"  # "restart", "start" (start_stopped) or "leave"
    last: Job | None = None  # the latest read since the latest request sent for it (None: none since)
    steps: list[dict[str, Any]] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)  # the row's message, step by step
    is_success: bool | None = None
    request_id: str | None = None
    savepoint: str | None = None  # the savepoint it resumed from, or can be resumed from
    # read → stop-sent → stopped (to be run) | stopping, savepoint-failed, ended (not to be run)
    # → run-sent → started | ended
    stage: str = "read"
    resume: bool = False  # the run is sent with resume_savepoint
    failure: str | None = None  # why --strict counts it (None: it did what was asked, or was left alone)
    sent_unknown: bool = False  # the latest request's outcome is unknown: a read decides
    reference: Job | None = None  # the read taken before the latest request: a read like it is no answer

    def note(self, text: str) -> None:
        self.parts.append(text)

    def read(self, job: Job | None, step: str, **extra: Any) -> None:
        if job is not None:
            self.last = job
        self.steps.append(_job_step(step, job, **extra))

    def conclude(self, stage: str, failure: str | None, is_success: bool | None) -> None:
        self.stage = stage
        self.failure = failure
        self.is_success = is_success


@dataclass
class Outcome:
    """What ``Restart`` / ``Savepoints`` hand back to the API: the rows, the frame's attrs, and why
    each failing row fails (for ``strict``)."""

    outcomes: list[JobOutcome]
    attrs: dict[str, Any]
    failures: dict[int, str]


class _Halt(Exception):
    """Internal: Ctrl-C or an error ended the sending; every row says where its job was left."""


def _pending_when(state: WaitState, timeout: float, read_error: str | None = None) -> str:
    if state.interrupted:
        return "when waiting was interrupted"
    if read_error:
        return f"when reading the statuses failed ({read_error})"
    return f"after the {timeout:g} s wait timeout"


class _Operation:
    """What a restart and a savepoint call share: the jobs, the waiting settings, the callbacks and
    the counts of what was sent and read."""

    action = ""  # "restart" / "savepoint": the run log's action

    def __init__(self, client: Any, ids: list[int], *, timeout: float | None, on_state: Callback | None,
                 on_step: Callable[[str], None] | None, notify: Callable[[str], None]) -> None:
        self.client = client
        self.ids = ids
        settings = client.settings
        self.timeout = timeout if timeout is not None else settings.wait_timeout
        self.poll_interval = settings.poll_interval
        self.grace = effect_grace(self.poll_interval)
        self.sleep: Callable[[float], None] = time.sleep  # a background handle's ends at stop_waiting()
        self.on_state = on_state
        self.on_step = on_step or (lambda label: None)
        self.notify = notify
        self.interrupted = False
        self.requests = 0  # POSTs sent
        self.read_rounds = 0
        self.errors: list[str] = []
        self.started = datetime.now(timezone.utc)

    def _base_attrs(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "endpoint": self.client.endpoint,
            "project_id": self.client.project_id,
            "started": self.started.isoformat(),
            "finished": datetime.now(timezone.utc).isoformat(),
            **self._own_attrs(),
            "timeout": self.timeout,
            "dry_run": False,
        }

    def _own_attrs(self) -> dict[str, Any]:
        return {}


class Restart(_Operation):
    """One restart over a connected client (see the module docstring): ``read()``, then
    ``plan_text()`` for a dry run or ``run()``, then ``result()``."""

    action = "restart"

    def __init__(self, client: Any, ids: list[int], *, stable: float | None, allow_no_savepoint: bool,
                 start_stopped: bool, timeout: float | None, chunk_size: int | None,
                 on_state: Callback | None, on_step: Callable[[str], None] | None,
                 notify: Callable[[str], None]) -> None:
        super().__init__(client, ids, timeout=timeout, on_state=on_state, on_step=on_step, notify=notify)
        self.stable = stable
        self.allow_no_savepoint = allow_no_savepoint
        self.start_stopped = start_stopped
        self.chunk_size = chunk_size  # checked by api.restart_jobs before anything is read
        self.tracks: dict[int, _Track] = {}
        self.names: dict[int, str | None] = {}
        self.halted: str | None = None  # why sending stopped (Ctrl-C, an error)
        self.attempts = 0
        self.timed_out: list[str] = []  # the waits that reached the timeout
        self.health: WaitState | None = None
        self.read_error: str | None = None  # why the latest wait stopped reading, if it failed
        self.unread: str | None = None  # why the read after the latest wait failed, when it had read nothing
        # Every job's latest read across the steps: what a background handle shows. Its stop_reason
        # is what interrupted the waiting (a handle's stop_waiting() sets it).
        self.live = WaitState(job_ids=list(ids))

    # ---- 1. read and plan -----------------------------------------------------------------------

    def read(self) -> None:
        """The jobs as they are now; an unknown id ends the call before anything is sent."""
        jobs = read_jobs(self.client, self.ids, expected=(RUNNING,))
        self.read_rounds += 1
        unknown = [job_id for job_id in self.ids if job_id not in jobs]
        if unknown:
            raise unknown_ids_error(unknown, "nothing was stopped or started")
        for job_id in self.ids:
            job = jobs[job_id]
            self.names[job_id] = job.name
            track = _Track(job_id, before=job, last=job)
            track.steps.append(_job_step("read", job))
            self.live.note(job)
            status = job.status
            if status in RESTARTABLE_STATUSES:
                track.plan = "restart"
            elif status in contract.RUNNABLE_STATUSES and self.start_stopped:
                track.plan = "start"
                track.resume = bool(job.has_savepoint and job.savepoint_path)
                track.savepoint = job.savepoint_path if track.resume else None
            elif status in contract.RUNNABLE_STATUSES:
                track.note(f"not running ({_described(job)}): left alone; --start-stopped starts it")
            else:
                track.note(f"busy ({_described(job)}): left alone; restart it once it has settled")
            self.tracks[job_id] = track

    def plan_text(self) -> tuple[str, dict[str, Any]]:
        """The dry run's plan: which jobs, which steps, which requests (nothing is sent)."""
        tracks = list(self.tracks.values())
        restart = [t for t in tracks if t.plan == "restart"]
        start = [t for t in tracks if t.plan == "start"]
        lines = [f"Dry run: no stop or run request was sent (the {len(self.ids)} job(s) were read to plan it)."]
        after = "wait until job_running" + (f", then the {self.stable:g} s health window" if self.stable else "")
        for track in tracks:
            if track.plan == "restart":
                what = ("stop with savepoint → wait for job_cancel_success and a new savepoint_path → "
                        f"run resuming from it → {after}")
                if self.allow_no_savepoint:
                    what += " (if no savepoint can be taken: stop without one, run afresh)"
            elif track.plan == "start":
                what = (f"run resuming from {track.savepoint}" if track.resume else "run (it has no savepoint)")
                what += f" → {after}"
            name = f" {track.before.name}" if track.before.name else ""
            if track.plan == "leave":  # the note names the status already
                lines.append(f"  {track.job_id}{name}: {track.parts[0]}")
            else:
                lines.append(f"  {track.job_id}{name} [{_described(track.before)}]: {what}")
        requests: dict[str, Any] = {}
        for label, action, option, group in (
            ("stop", "stop", True, restart),
            ("run resuming", "run", True, restart + [t for t in start if t.resume]),
            ("run", "run", False, [t for t in start if not t.resume]),
        ):
            if not group:
                continue
            spec = contract.ACTIONS[action]
            request = self.client.describe_request(
                action, [t.job_id for t in group], **{spec.option: option, "chunk_size": self.chunk_size})
            requests[label] = {key: request[key] for key in ("method", "url", "json", "requests")}
            count = request["requests"]
            lines.append(f"{label}: {request['method']} {request['url']} {_json(request['json'])}"
                         + (f" (the first of {count} requests)" if count > 1 else ""))
        if restart:
            lines.append("The run goes only to jobs whose stop recorded a new savepoint; statuses are read from "
                         "the job list (GET …/jobs?status=…) between the steps.")
        if not restart and not start:
            lines.append("Nothing to do: no job is running"
                         + ("." if self.start_stopped else " (--start-stopped starts the stopped ones)."))
        return "\n".join(lines), requests

    # ---- steps 2-5 --------------------------------------------------------------------------------

    def run(self) -> None:
        """Steps 2-5; Ctrl-C or an error ends the sending, and the rows say where each job was left."""
        self.send_stops()
        self.settle()

    def send_stops(self) -> None:
        """Step 2, the stop requests: what a background restart sends before it hands back its handle."""
        restart = [t for t in self.tracks.values() if t.plan == "restart"]
        if restart:
            self._guarded(lambda: self._stop(restart, trigger_savepoint=True))
        self.live.pending = {t.job_id for t in self.tracks.values()
                             if t.stage == "stop-sent" or (t.plan == "start" and not self.halted)}

    def settle(self) -> None:
        """Steps 3-5 after ``send_stops`` (on a background handle's worker: waits, run requests,
        health), then the rows of the jobs the steps did not reach; nothing is sent once halted."""
        if not self.halted:
            self._guarded(self._after_the_stops)
        try:
            self._leave_the_rest()
            if self.halted:
                self._final_read()
        except KeyboardInterrupt:  # a second Ctrl-C: the rows keep what is known so far
            self._halt(self._interrupted(), interrupted=True)
        self.live.pending, self.live.watched = set(), set()
        for track in self.tracks.values():
            if track.last is not None:
                self.live.note(track.last)

    def _after_the_stops(self) -> None:
        restart = [t for t in self.tracks.values() if t.plan == "restart"]
        if restart:
            self._wait_stopped(restart, trigger_savepoint=True)
            kept_running = [t for t in restart if t.stage == "savepoint-failed"]
            if self.allow_no_savepoint and kept_running:
                self._checkpoint()
                self._stop(kept_running, trigger_savepoint=False)
                self._wait_stopped(kept_running, trigger_savepoint=False)
        starting = [t for t in self.tracks.values() if t.stage == "stopped" or t.plan == "start"]
        if starting:
            self._checkpoint()
        for resume in (True, False):
            group = [t for t in starting if t.resume is resume]
            if group:
                self._send_run(group, resume)
        self._wait_started([t for t in starting if t.stage == "run-sent"])

    def _guarded(self, steps: Callable[[], None]) -> None:
        try:
            steps()
        except _Halt:
            pass
        except KeyboardInterrupt:
            self._halt(self._interrupted(), interrupted=True)
        except Exception as exc:  # whatever failed part-way, the rows must say where each job is
            reason = exception_line(exc)
            self._halt(reason)
            self.errors.append(reason)
            self.notify(f"The restart stopped part-way: {reason}")

    def _interrupted(self) -> str:
        return f"interrupted ({self.live.stop_reason})"

    def _checkpoint(self) -> None:
        """Before a request that needs the waiting to go on: a background handle's stop_waiting()
        ends the restart here (its sleep raises KeyboardInterrupt), as Ctrl-C would."""
        self.sleep(0)

    def _show(self, step: WaitState) -> None:
        """A step's wait update, mirrored into ``live``, then passed on."""
        live = self.live
        for job_id, job in list(step.jobs.items()):
            live.note(job)
        live.missing = (live.missing - set(step.job_ids)) | set(step.missing)
        live.pending, live.watched = set(step.pending), set(step.watched)
        live.healthy.update(step.healthy)
        live.health_notes.update(step.health_notes)
        live.phase, live.stable_seconds, live.stable_left = step.phase, step.stable_seconds, step.stable_left
        live.timeout, live.elapsed, live.timed_out = step.timeout, step.elapsed, step.timed_out
        live.rounds = self.read_rounds + step.rounds
        if self.on_state is not None:
            self.on_state(step)

    def _halt(self, why: str, *, interrupted: bool = False) -> None:
        if self.halted is None:
            self.halted = why
        self.interrupted = self.interrupted or interrupted

    def _send(self, action: str, tracks: list[_Track], option: bool) -> list[JobOutcome]:
        """One chunked batch through the client; a row per job whatever happens to the call."""
        ids = [t.job_id for t in tracks]
        stop = self.live.stop_event  # a background handle's: its stop_waiting() cancels a request waiting to retry
        try:
            with cancelled_by(stop) if stop is not None else contextlib.nullcontext():
                result = self.client.batch(action, ids, option, chunk_size=self.chunk_size)
        except KeyboardInterrupt:
            self._halt(f"interrupted (Ctrl-C) during the {action} request", interrupted=True)
            self.requests += 1
            text = f"interrupted (Ctrl-C) during the {action} request: it may have been sent"
            return [JobOutcome(i, None, text) for i in ids]
        except DLIError as error:  # the call failed as a whole: its error on every row
            self.requests += 1
            self.attempts += error.attempts or 1
            return failed_request_rows(error, ids)
        self.requests += result.requests
        self.attempts += result.attempts
        if result.interrupted:
            if stop is not None and stop.is_set():  # stop_waiting(), not Ctrl-C, ended the sending
                self.live.stop_reason = STOP_WAITING
            reason = self.live.stop_reason
            self._halt(f"interrupted ({reason}) during the {action} requests", interrupted=True)
            in_flight = f"interrupted ({reason}) during the {action} request: it may have been sent"
            return [replace(o, message=in_flight) if o.message == INTERRUPTED_IN_FLIGHT else o
                    for o in result.outcomes]
        return result.outcomes

    # 2. stop

    def _stop(self, tracks: list[_Track], *, trigger_savepoint: bool) -> None:
        what = "stop with savepoint" if trigger_savepoint else "stop without savepoint"
        self.on_step("stopping with a savepoint" if trigger_savepoint else "stopping without a savepoint")
        outcomes = self._send("stop", tracks, trigger_savepoint)
        for track, outcome in zip(tracks, outcomes):
            track.steps.append(_request_step("stop", outcome, trigger_savepoint=trigger_savepoint))
            track.request_id = outcome.request_id or track.request_id
            if outcome.is_success is False:
                track.note(f"{what} refused: {outcome.message}")
                track.note(f"not restarted: nothing changed ({_described(track.last)} when read before the stop)")
                track.conclude("ended", f"{what} refused: {outcome.message}", False)
            elif not _was_sent(outcome):
                track.note(f"{what} {outcome.message}")
                track.note(f"not restarted: nothing changed ({_described(track.last)} when read before)")
                track.conclude("ended", f"{what} {outcome.message}", None)
            else:
                track.stage = "stop-sent"
                track.reference = track.last
                track.last = None  # what was read before the stop says nothing now
                track.sent_unknown = outcome.is_success is None
                if outcome.is_success is None:
                    track.note(f"{what}: outcome unknown ({outcome.message})")
        if self.halted:
            raise _Halt

    def _wait_stopped(self, tracks: list[_Track], *, trigger_savepoint: bool) -> None:
        waiting = [t for t in tracks if t.stage == "stop-sent"]
        if not waiting:
            return
        self.on_step("waiting for the stop" + (" and its savepoint" if trigger_savepoint else ""))
        state, changed = self._wait([t.job_id for t in waiting], _STOP,
                                    references={t.job_id: t.reference for t in waiting})
        for track in waiting:
            job = None if track.job_id in state.missing else state.jobs.get(track.job_id)
            new = _new_savepoint(job, track.before) and job.status == STOPPED
            track.read(job, "after stop", new_savepoint=new)
            lost = " (the stop request's outcome was unknown; the job was read afterwards)" if track.sent_unknown else ""
            unknown, track.sent_unknown = track.sent_unknown, False
            if job is None:
                if state.interrupted or self.halted:
                    continue  # not read: the final read says where it is
                if not state.rounds:  # neither the wait nor the read after it read anything
                    self._left_unread(track, self._unread_why(state))
                    continue
                track.note(f"not found in the job list after the stop{lost}" if track.job_id in state.missing
                           else "status not read after the stop")
                track.note("not restarted")
                track.conclude("ended", "not restarted: status not read after the stop", None)
            elif track.job_id in state.pending:
                when = _pending_when(state, self.timeout, self.read_error)
                track.note(f"stop requested; still {_described(job)} {when}")
                if not (self.halted or state.interrupted):  # else the read after the interruption says it
                    track.note("not restarted — once it is job_cancel_success, " + _resume_hint(track.job_id))
                track.conclude("stopping", f"not restarted: still {job.status} {when}", None)
            elif job.status == STOPPED and new:
                track.savepoint = job.savepoint_path
                track.resume = True
                track.note(f"stopped with savepoint {job.savepoint_path}{lost}")
                track.stage = "stopped"
            elif job.status == STOPPED and not trigger_savepoint:
                track.resume = False
                track.note(f"stopped without a savepoint (--allow-no-savepoint){lost}")
                track.stage = "stopped"
            elif job.status == STOPPED:
                older = f"; it still has the older {job.savepoint_path}" if job.savepoint_path else ""
                track.note(f"stopped, but no new savepoint was recorded{older}{lost}")
                if self.allow_no_savepoint:
                    track.resume = False
                    track.stage = "stopped"
                else:
                    track.note(f"not restarted: the job is stopped (job_cancel_success) — start it with "
                               f"`%dli_run {track.job_id}`, or restart with --allow-no-savepoint")
                    track.conclude("ended", "stopped, but no new savepoint was recorded: not restarted", False)
            elif track.job_id not in changed:  # read as before the stop, up to the last read
                self._no_effect(track, job, state, what="stop with savepoint" if trigger_savepoint else "stop",
                                unknown=unknown)
            elif job.status in RESTARTABLE_STATUSES and trigger_savepoint and (_fresh_reason(job, track.reference)
                                                                               or not unknown):
                fresh = _fresh_reason(job, track.reference)
                reason = fresh or "no reason given"
                track.note(f"the stop with savepoint did not happen ({reason})")
                if self.allow_no_savepoint:
                    track.stage = "savepoint-failed"
                else:
                    track.note(f"not restarted: the job is still {job.status}")
                    track.conclude("ended", f"the stop with savepoint did not happen ({reason}); still {job.status}",
                                   False if fresh else None)
            else:  # a failed plain stop, an unknown stop that changed nothing, a job_cancel_fail
                track.note(f"not stopped: {_described(job)} when read after the stop{lost}")
                track.note(f"not restarted: the job is {job.status}")
                track.conclude("ended", f"not stopped ({_described(job)})", None if unknown else False)
        if state.interrupted:
            self._halt(f"{self._interrupted()} while waiting for the stop", interrupted=True)
            raise _Halt

    def _no_effect(self, track: _Track, job: Job, state: WaitState, *, what: str, unknown: bool) -> None:
        """The job was read as it was before the stop until the last read: the stop may still be
        queued, so the row says what was read and that it may still stop; nothing more is sent."""
        when = self._last_read_when(state)
        lost = " (the stop request's outcome was unknown)" if unknown else ""
        track.note(f"no sign of the {what} yet: still {_described(job)}, as before it, {when}{lost}")
        if not (self.halted or state.interrupted):  # else the read after the interruption says where it is
            track.note(f"not restarted: it may still stop — check `%dli_job {track.job_id}`, and once it is "
                       f"job_cancel_success, {_resume_hint(track.job_id)}")
        track.conclude("stopping", f"not restarted: no sign of the {what} yet (still {job.status} {when})", None)

    def _last_read_when(self, state: WaitState) -> str:
        """When a job read as before its request was read so: why the reading stopped, if it did."""
        if state.interrupted or state.timed_out or self.read_error:
            return _pending_when(state, self.timeout, self.read_error)
        return "when last read"

    # 4. run

    def _send_run(self, tracks: list[_Track], resume: bool) -> None:
        if self.halted:
            return  # _leave_the_rest says, for each, that it was stopped and not started
        self.on_step("starting from the savepoints" if resume else "starting")
        outcomes = self._send("run", tracks, resume)
        for track, outcome in zip(tracks, outcomes):
            track.steps.append(_request_step("run", outcome, resume_savepoint=resume))
            track.request_id = outcome.request_id or track.request_id
            if outcome.is_success is False:
                self._not_started(track, f"the run was refused: {outcome.message}", False)
            elif not _was_sent(outcome):
                self._not_started(track, f"the run was {outcome.message}", None)
            else:
                track.stage = "run-sent"
                track.reference = track.last
                track.last = None
                track.sent_unknown = outcome.is_success is None
                if outcome.is_success is None:
                    track.note(f"run: outcome unknown ({outcome.message})")
        if self.halted:
            raise _Halt

    def _not_started(self, track: _Track, why: str, is_success: bool | None) -> None:
        """A job stopped by this restart (or found stopped) that was not started: the row says so,
        with the savepoint it can be resumed from."""
        if track.plan == "start":
            track.note(f"not started: {why}")
            track.conclude("ended", f"not started: {why}", is_success)
            return
        if track.savepoint:
            track.note(f"stopped, not restarted: {why}; savepoint {track.savepoint} — {_resume_hint(track.job_id)}")
        else:
            track.note(f"stopped, not restarted: {why}; no new savepoint — start it with `%dli_run {track.job_id}`")
        track.conclude("ended", f"stopped, not restarted: {why}", is_success)

    # 5. wait until running, then health

    def _wait_started(self, tracks: list[_Track]) -> None:
        if not tracks:
            return
        self.on_step("waiting until running")
        state, changed = self._wait([t.job_id for t in tracks], _RUN,
                                    references={t.job_id: t.reference for t in tracks})
        started: list[int] = []
        for track in tracks:
            job = None if track.job_id in state.missing else state.jobs.get(track.job_id)
            track.read(job, "after run")
            unknown, track.sent_unknown = track.sent_unknown, False
            if job is None:
                if state.interrupted or self.halted:
                    continue  # not read: the final read says where it is
                if not state.rounds:  # neither the wait nor the read after it read anything
                    self._left_unread(track, self._unread_why(state))
                    continue
                where = "not found in the job list" if track.job_id in state.missing else "status not read"
                track.note(f"{where} after the run")
                track.conclude("ended", f"{where} after the run", None)
                continue
            if unknown and job.status not in _RUN.pending and job.status not in (RUNNING, *_RUN.failed):
                self._not_started(track, f"the run request failed and the job was {_described(job)} when "
                                         "read after it", None)
                continue
            lost = "the run's answer was lost, but the job was read starting afterwards; " if unknown else ""
            if track.plan == "start":
                how = (f"started (it was {_described(track.before)}) from its savepoint {track.savepoint}"
                       if track.resume else f"started (it was {_described(track.before)}) without a savepoint")
            else:
                how = "resumed from it" if track.resume else "started without a savepoint"
            if track.job_id in state.pending:
                when = _pending_when(state, self.timeout, self.read_error)
                track.note(f"{lost}{how}; still {job.status} {when}")
                track.conclude("run-sent", f"still {job.status} {when}", None)
            elif job.status == RUNNING:
                track.note(f"{lost}{how}; {job.status}")
                track.conclude("started", None, True)
                started.append(track.job_id)
            elif track.job_id not in changed and job.status in _RUN.failed:
                # Read as before the run (same status and status_desc) with no update_time that moved
                # on to tell: the run may have failed again the same way, or not started yet.
                when = self._last_read_when(state)
                track.note(f"run sent; still {_described(job)} as before it, {when}")
                if not (self.halted or state.interrupted):  # else the read after the interruption says it
                    again = (_resume_hint(track.job_id) if track.resume
                             else f"start it with `%dli_run {track.job_id}`")
                    track.note(f"it may have failed again or not started yet — check `%dli_job {track.job_id}`; "
                               f"if it has not started, {again}")
                track.conclude("run-sent", f"still {job.status} as before the run {when}: failed again or not "
                                           "started yet", None)
            elif track.job_id not in changed:  # read as before the run, up to the last read: maybe still queued
                when = self._last_read_when(state)
                track.note(f"run sent, but no sign of it yet: still {_described(job)}, as before it, {when}")
                if not (self.halted or state.interrupted):  # else the read after the interruption says it
                    again = (_resume_hint(track.job_id) if track.resume
                             else f"start it with `%dli_run {track.job_id}`")
                    track.note(f"it may still start — check `%dli_job {track.job_id}`; if it does not, {again}")
                track.conclude("run-sent", f"no sign of the run yet (still {job.status} {when})", None)
            else:
                again = f"; it can be resumed again from {track.savepoint}" if track.savepoint else ""
                track.note(f"{lost}{how}; then {_described(job)}{again}")
                track.conclude("ended", f"{how}, then {_described(job)}", False)
        if state.interrupted:
            self._halt(f"{self._interrupted()} while waiting for the jobs to start", interrupted=True)
            raise _Halt
        if self.stable is None or not started:
            return
        self.on_step(f"checking health for {self.stable:g} s")
        rounds = state.rounds
        try:
            check_health(self.client, state, started, stable=self.stable, poll_interval=self.poll_interval,
                         on_update=self._show, sleep=self._step_sleep(state))
        except DLIError as exc:  # reading failed round after round: health unknown, the rows stay
            self.errors.append(f"health check: {exception_line(exc)}")
            self.notify(f"Stopped the health check: {exception_line(exc)}")
            for job_id in started:
                if state.healthy.get(job_id) is None:
                    state.healthy[job_id] = None
                    state.health_notes[job_id] = f"health unknown: the statuses could not be read ({type(exc).__name__})"
        self.read_rounds += state.rounds - rounds
        self._take_stop_reason(state)
        self.health = state
        for job_id in started:
            track = self.tracks[job_id]
            healthy = state.healthy.get(job_id)
            note = state.health_notes.get(job_id)
            job = state.jobs.get(job_id)
            track.read(job, "health", healthy=healthy, flink_state=state.flink_states.get(job_id), note=note)
            if healthy is True:
                track.note(f"healthy: running for the {self.stable:g} s window, Flink state RUNNING")
            elif healthy is False:
                track.note(f"unhealthy: {note}")
                track.failure = f"unhealthy: {note}"
            else:
                track.note(note or "health unknown")
                track.failure = note or "health unknown"
        if state.interrupted:
            self._halt(f"{self._interrupted()} during the health check", interrupted=True)

    # ---- reading ------------------------------------------------------------------------------------

    def _wait(self, ids: list[int], spec: contract.Action,
              references: dict[int, Job | None]) -> tuple[WaitState, set[int]]:
        """Wait for ``ids`` to leave ``spec``'s pending statuses, and until each read differs from its
        reference, the read before the request (``_wait_for_effect``). Also returns those read changed."""
        # A background handle's stop_waiting() abandons the step's reads in flight (``_unless_stopped``).
        state = WaitState(job_ids=list(ids), stop_event=self.live.stop_event)
        state.names.update({i: self.names.get(i) for i in ids})
        state.pending = set(ids)
        self.read_error = self.unread = None
        changed: set[int] = set()
        try:
            _wait_for_effect(self.client, state, spec.pending, references, changed, timeout=self.timeout,
                             grace=self.grace, poll_interval=self.poll_interval, expected=spec.passes_through,
                             on_update=self._show, sleep=self._step_sleep(state), ended_in=_ended_in(spec))
        except DLIError as exc:  # reading failed round after round: say so, keep what was read
            self.read_error = type(exc).__name__
            self.errors.append(f"waiting after the {spec.name}: {exception_line(exc)}")
            self.notify(f"Stopped waiting: {exception_line(exc)}")
            self._halt(f"reading the job statuses failed ({type(exc).__name__})")
        finally:
            self.read_rounds += state.rounds
        if state.timed_out:
            self.timed_out.append(spec.name)
            self.notify(f"Wait timeout of {self.timeout:g} s reached while waiting for the {spec.name}.")
        if state.read_errors:
            self.notify(f"Could not read job statuses in {len(state.read_errors)} round(s), read again in the next: "
                        f"{state.read_errors[-1]}")
        if not (state.rounds or state.interrupted or self.halted):
            self._read_once(state, spec, references, changed)
        self._take_stop_reason(state)
        return state, changed

    def _step_sleep(self, state: WaitState) -> Callable[[float], None]:
        """``self.sleep`` for a step's wait: when it is interrupted (a background handle's
        stop_waiting() sets the reason on ``live``), the step's state says why too."""

        def sleep(seconds: float) -> None:
            try:
                self.sleep(seconds)
            except KeyboardInterrupt:
                state.stop_reason = self.live.stop_reason
                raise

        return sleep

    def _take_stop_reason(self, state: WaitState) -> None:
        """A step's read abandoned at a handle's stop_waiting() says so on the step's state: so does ``live``."""
        if state.interrupted and state.stop_reason == STOP_WAITING:
            self.live.stop_reason = STOP_WAITING

    def _read_once(self, state: WaitState, spec: contract.Action, references: dict[int, Job | None],
                   changed: set[int]) -> None:
        """The wait ended before any read succeeded (reads failing up to the timeout, or a 0 s
        timeout): one more read, so that each row says where its job is, whatever the timeout."""
        try:
            jobs = _unless_stopped(state, lambda: read_jobs(self.client, list(references),
                                                            expected=spec.passes_through))
        except KeyboardInterrupt:
            state.interrupted = True
            return
        except DLIError as exc:
            self.unread = type(exc).__name__
            self.errors.append(f"reading after the {spec.name}: {exception_line(exc)}")
            self.notify(f"Could not read the job statuses after the wait for the {spec.name}: {exception_line(exc)}")
            return
        state.rounds += 1
        self.read_rounds += 1
        for job_id, reference in references.items():
            job = jobs.get(job_id)
            if job is None:
                state.missing.add(job_id)
                state.pending.discard(job_id)
                continue
            state.note(job)
            if _touched(job, reference, _ended_in(spec)):
                changed.add(job_id)
            if job.status not in spec.pending:
                state.pending.discard(job_id)
        self._show(state)

    def _unread_why(self, state: WaitState) -> str:
        return f"its status could not be read {_pending_when(state, self.timeout)} ({self.unread})"

    def _leave_the_rest(self) -> None:
        """Jobs the steps did not reach because the sending stopped: stopped ones say so."""
        for track in self.tracks.values():
            if track.stage == "stopped":  # stopped, the run never sent
                self._not_started(track, f"{self.halted or 'the restart stopped'} before the run request", None)
            elif track.stage == "savepoint-failed":
                track.note(f"not restarted: {self.halted or 'the restart stopped'}; the job was "
                           f"{_described(track.last)} when read after the stop")
                track.conclude("ended", "the stop with savepoint did not happen", None)
            elif track.plan == "start" and track.stage == "read" and self.halted:
                track.note(f"not started: {self.halted} before the run request")
                track.conclude("ended", f"not started: {self.halted}", None)

    def _final_read(self) -> None:
        """After Ctrl-C or an error: one read of the jobs whose latest request has no read after it,
        so that each row says where its job was left (best effort: another Ctrl-C ends it)."""
        tracks = [t for t in self.tracks.values() if t.stage in ("stop-sent", "stopping", "run-sent")]
        if not tracks:
            return
        try:  # a background handle's stop_waiting() ends it at once: none starts after the stop
            jobs = _unless_stopped(self.live, lambda: read_jobs(self.client, [t.job_id for t in tracks]))
        except (KeyboardInterrupt, DLIError) as exc:
            stop = self.live.stop_event
            stopped = isinstance(exc, KeyboardInterrupt) and stop is not None and stop.is_set()
            why = "was not read afterwards" if stopped else f"could not be read afterwards ({type(exc).__name__})"
            for track in tracks:
                if stopped and track.last is not None:  # read after its request: that read is its row's
                    self._left_as_read(track)
                else:
                    self._left_unread(track, f"{self.halted}; its status {why}")
            return
        self.read_rounds += 1
        for track in tracks:
            job = jobs.get(track.job_id)
            track.read(job, "read after the interruption" if self.interrupted else "read after the failure")
            if job is None:
                self._left_unread(track, f"{self.halted}; not found in the job list afterwards")
                continue
            new = _new_savepoint(job, track.before)
            if track.stage in ("stop-sent", "stopping"):
                if job.status == STOPPED and new:
                    track.savepoint = job.savepoint_path
                    track.note(f"stopped with savepoint {job.savepoint_path} (read afterwards), not restarted — "
                               + _resume_hint(track.job_id))
                elif job.status in _STOP.pending:
                    path = f", savepoint {job.savepoint_path}" if new else ""
                    if new:
                        track.savepoint = job.savepoint_path
                    track.note(f"the stop is under way ({job.status}{path}, read afterwards), not restarted — "
                               f"once it is job_cancel_success, {_resume_hint(track.job_id)}")
                else:
                    track.note(f"{_described(job)} when read afterwards, not restarted")
                track.conclude(track.stage, track.failure or f"not restarted: {self.halted}", None)
            elif job.status == RUNNING or job.status in _RUN.pending:  # run sent, and it reached the service
                how = f"resuming from savepoint {track.savepoint}" if track.resume and track.savepoint else "started"
                track.note(f"{job.status} when read afterwards: the run reached the service ({how})")
                track.conclude(track.stage, track.failure or f"{self.halted} after the run request", None)
            elif job.status in _RUN.failed and _touched(job, track.reference, _RUN.failed):
                again = f"; it can be resumed again from savepoint {track.savepoint}" if track.savepoint else ""
                track.note(f"{_described(job)} when read afterwards{again}")
                track.conclude("ended", f"{_described(job)} after the run request", False)
            elif job.status in _RUN.failed:  # as before the run: nothing tells a second failure from no start
                track.note(f"{_described(job)} when read afterwards, as before the run: it may have failed again "
                           f"or not started yet — check `%dli_job {track.job_id}`")
                track.conclude(track.stage, track.failure or f"{self.halted} after the run request", None)
            else:  # the run did not take effect
                self._not_started(track, f"{self.halted} during the run request, and the job was "
                                         f"{_described(job)} when read afterwards", None)

    def _left_as_read(self, track: _Track) -> None:
        """A background handle's stop_waiting() came after a read of the job that followed its latest
        request (its row says what it was, when waiting was interrupted): no read after the stop, so
        the row ends with what to do."""
        if track.stage == "run-sent":
            track.note(f"check `%dli_job {track.job_id}`")
        else:
            track.note(f"not restarted — check `%dli_job {track.job_id}`, and once it is job_cancel_success, "
                       + _resume_hint(track.job_id))
        track.conclude(track.stage, track.failure or f"not restarted: {self.halted}", None)

    def _left_unread(self, track: _Track, why: str) -> None:
        """A job with no read after its latest request: the row says what was sent, ``why`` it was
        not read, and what to do."""
        if track.stage == "run-sent":
            saved = f"; savepoint {track.savepoint}" if track.savepoint else ""
            track.note(f"run sent, then {why}{saved} — check `%dli_job {track.job_id}`")
        else:
            track.note(f"stop sent, then {why}; not restarted — check `%dli_job {track.job_id}`, "
                       "and once it is job_cancel_success, " + _resume_hint(track.job_id))
        track.conclude(track.stage, track.failure or why, None)

    def snapshot(self, where: str) -> Outcome:
        """The rows as they stand while the restart goes on elsewhere (``where``: a background
        handle's worker; the interpreter exiting under it), without a read: a job whose latest
        request has no read after it says so, with the savepoint it can be resumed from. The
        restart itself is not changed."""
        ghost = copy.copy(self)
        ghost.tracks = {job_id: copy.deepcopy(track) for job_id, track in list(self.tracks.items())}
        for track in ghost.tracks.values():
            job_id = track.job_id
            if track.stage == "stop-sent":
                track.note(f"stop sent; {where}: not restarted yet — check `%dli_job {job_id}`, and once it is "
                           f"job_cancel_success, {_resume_hint(job_id)}")
            elif track.stage == "stopped":
                resume = (f"savepoint {track.savepoint} — {_resume_hint(job_id)}" if track.savepoint
                          else f"no new savepoint — start it with `%dli_run {job_id}`")
                track.note(f"{where}, before the run request: not started yet; {resume}")
            elif track.stage == "savepoint-failed":
                track.note(f"{where}: not restarted yet; the job was {_described(track.last)} when read after the stop")
            elif track.stage == "run-sent":
                saved = f" (savepoint {track.savepoint})" if track.savepoint else ""
                track.note(f"run sent{saved}; {where}: check `%dli_job {job_id}`")
            elif track.plan == "start" and track.stage == "read":
                track.note(f"{where}: not started yet")
            else:
                continue
            track.is_success = None
        return ghost.result()

    # ---- the result ---------------------------------------------------------------------------------

    def result(self) -> Outcome:
        outcomes = []
        failures: dict[int, str] = {}
        for job_id in self.ids:
            track = self.tracks[job_id]
            if track.plan != "leave" and (track.failure or track.is_success is not True):
                failures[job_id] = track.failure or (track.parts[-1] if track.parts else "not restarted")
            job = track.last
            healthy = None
            if self.health is not None and job_id in self.health.healthy:
                healthy = self.health.healthy[job_id]
            outcomes.append(JobOutcome(
                job_id=job_id,
                is_success=track.is_success,
                message="; ".join(track.parts),
                request_id=track.request_id,
                name=self.names.get(job_id),
                status=job.status if job is not None else None,
                status_desc=job.status_desc if job is not None else None,
                healthy=healthy,
                savepoint_path=track.savepoint,
            ))
        attrs: dict[str, Any] = {
            **self._base_attrs(),
            "requests": self.requests,
            "attempts": self.attempts,
            "read_rounds": self.read_rounds,
            "wait_timed_out": bool(self.timed_out),
            "wait_interrupted": self.interrupted,
            "interrupted": self.interrupted,
            "steps": {job_id: self.tracks[job_id].steps for job_id in self.ids},
            "savepoints": {job_id: t.savepoint for job_id, t in self.tracks.items() if t.savepoint},
        }
        if self.halted:
            attrs["halted"] = self.halted
        if self.errors:
            attrs["errors"] = list(self.errors)
        return Outcome(outcomes, attrs, failures)

    def _own_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"allow_no_savepoint": self.allow_no_savepoint, "start_stopped": self.start_stopped}
        if self.stable is not None:
            attrs["stable"] = self.stable
        if self.chunk_size is not None:
            attrs["chunk_size"] = self.chunk_size
        return attrs

    def dry_run_result(self, requests: dict[str, Any]) -> Outcome:
        outcomes = []
        plans = {}
        for job_id in self.ids:
            track = self.tracks[job_id]
            job = track.before
            if track.plan == "restart":
                message = "dry run: would stop with a savepoint, then resume from it"
            elif track.plan == "start":
                message = ("dry run: would start it from savepoint " + str(track.savepoint)) if track.resume \
                    else "dry run: would start it (no savepoint)"
            else:
                message = f"dry run: {track.parts[0]}"
            plans[job_id] = track.plan
            outcomes.append(JobOutcome(job_id, None, message, name=job.name, status=job.status,
                                       status_desc=job.status_desc,
                                       savepoint_path=track.savepoint if track.plan == "start" else None))
        attrs = {**self._base_attrs(), "dry_run": True, "plan": plans, "request": requests,
                 "steps": {job_id: self.tracks[job_id].steps for job_id in self.ids}}
        return Outcome(outcomes, attrs, {})


def _ended_in(spec: contract.Action) -> frozenset[str]:
    """The statuses whose later update_time shows that ``spec``'s request went through a job read
    as before it: a run's failures (job_submit_fail again). Not a stop's: a crash-looping job's
    update_time moves on with each restart while it keeps running (the emulator's does)."""
    return spec.failed if spec is _RUN else frozenset()


def _fresh_reason(job: Job, reference: Job | None) -> str | None:
    """The job's status_desc when it is new since the read before the request (the reason the
    request failed); the description the job had before says nothing about the request."""
    if job.status_desc and (reference is None or job.status_desc != reference.status_desc):
        return job.status_desc
    return None


def _touched(job: Job, reference: Job | None, ended_in: Any = ()) -> bool:
    """The read differs from the one taken before the request: the job did something since.

    ``ended_in``: statuses the request can end in that the job may already have been in (a run of a
    job in job_submit_fail that fails to submit again, with the same status_desc): a job read in one
    of them whose ``update_time`` (detail reads only) is later than the reference's went through the
    request. Without both update_times such a read says nothing either way."""
    if reference is None:
        return True
    if ((job.status, job.status_desc, job.has_savepoint, job.savepoint_path)
            != (reference.status, reference.status_desc, reference.has_savepoint, reference.savepoint_path)):
        return True
    return (job.status in ended_in and job.update_time is not None and reference.update_time is not None
            and job.update_time > reference.update_time)


def _wait_for_effect(client: Any, state: WaitState, pending: Any, references: dict[int, Job | None],
                     changed: set[int], *, timeout: float, grace: float, poll_interval: float, expected: Any,
                     on_update: Callback | None, sleep: Callable[[float], None], ended_in: Any = ()) -> None:
    """``wait_for_jobs`` over ``state.pending``, where a read that still matches ``references`` (the
    reads taken before the request) is no answer: the service queues a request before the job shows
    it. Such jobs are read again until they change or ``grace`` seconds have passed since the call
    began, within ``timeout``; the last read comes after the grace. ``changed`` gets the ids read
    changed as they are read (it holds them even when reading fails part-way); ``ended_in`` as in
    ``_touched``."""

    def observe(current: WaitState) -> None:
        for job_id, reference in references.items():
            job = current.jobs.get(job_id)
            if job is not None and job_id not in current.missing and _touched(job, reference, ended_in):
                changed.add(job_id)
        if on_update is not None:
            on_update(current)

    began = time.monotonic()
    wait_for_jobs(client, state, pending, timeout=timeout, expected=expected, poll_interval=poll_interval,
                  on_update=observe, sleep=sleep)
    while not (state.interrupted or state.timed_out):
        unchanged = {job_id for job_id in references
                     if job_id not in changed and job_id not in state.missing and job_id in state.jobs}
        spent = time.monotonic() - began
        if not unchanged or spent >= grace:
            break
        if spent >= timeout:
            state.timed_out = True
            break
        state.pending = unchanged
        wait_for_jobs(client, state, pending, timeout=timeout - spent, expected=expected,
                      poll_interval=poll_interval, on_update=observe, sleep=sleep, read_first=False)


def _new_savepoint(job: Job | None, before: Job) -> bool:
    """The job has a savepoint now, and not the one it had when first read."""
    return (job is not None and bool(job.has_savepoint) and bool(job.savepoint_path)
            and job.savepoint_path != before.savepoint_path)


def unknown_ids_error(unknown: list[int], what: str) -> NotFoundError:
    return NotFoundError(
        f"Unknown job id{'s' if len(unknown) > 1 else ''} {_format_ids(unknown)} "
        f"({contract.JOB_NOT_FOUND_CODE}: not in this project); {what}.",
        error_code=contract.JOB_NOT_FOUND_CODE, job_ids=unknown,
        hint=f"Check the ids (`%dli_jobs` lists the project's jobs); {what}.",
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# ---- savepoints of running jobs ---------------------------------------------------------------------


def savepoint_directory(path: Any, what: str = "path") -> str:
    """``obs://bucket/dir/`` or ``bucket/dir`` as the documented ``bucket/dir/``; BadInputError
    (nothing sent) for anything that is not an OBS path."""
    from .ids import describe_value

    if not isinstance(path, str):
        raise BadInputError(f"{what} must be an OBS path such as obs://bucket/dir/, not {describe_value(path)}.")
    text = path.strip()
    match = _OBS_PATH.fullmatch(text)
    rest = (match.group(2) or "/") if match else ""
    if match is None or ".." in text or "//" in rest or len(text) > SAVEPOINT_PATH_MAX:
        shown = text if len(text) <= 60 else text[:57] + "…"
        raise BadInputError(
            f"{what} {shown!r} is not an OBS path: write obs://bucket/dir/ (or bucket/dir/; a bucket name is "
            f"3-63 characters of a-z, 0-9, '.' and '-'); nothing was sent.",
            hint="Give an OBS directory such as obs://my-bucket/savepoints/; nothing was sent.",
        )
    return f"{match.group(1)}{rest.rstrip('/')}/"


_SAVEPOINT_IN_FLIGHT = "interrupted (Ctrl-C) during the savepoint request: it may have been sent"


class Savepoints(_Operation):
    """Savepoints of running jobs without stopping them: ``read()``, then ``plan_text()`` for a dry
    run or ``run()``, then ``result()``. Each job's savepoint goes to ``directory`` (documented form
    ``bucket/dir/``), by default ``{job_config.obs_bucket}/{job_id}/savepoint/`` read from its detail."""

    action = "savepoint"

    def __init__(self, client: Any, ids: list[int], *, directory: str | None, timeout: float | None,
                 on_state: Callback | None, on_step: Callable[[str], None] | None,
                 notify: Callable[[str], None]) -> None:
        super().__init__(client, ids, timeout=timeout, on_state=on_state, on_step=on_step, notify=notify)
        self.directory = directory
        self.workers = client.settings.max_workers
        self.before: dict[int, Job] = {}
        self.targets: dict[int, str] = {}  # running job → the directory its savepoint goes to
        self.sent: dict[int, JobOutcome] = {}
        self.state: WaitState | None = None
        self.changed: set[int] = set()  # read differing from self.before after the request
        self.steps: dict[int, list[dict[str, Any]]] = {job_id: [] for job_id in ids}

    def read(self) -> None:
        """The jobs' statuses (and, without a directory, their OBS bucket from the detail); an
        unknown id, or a running job without a bucket, ends the call before anything is sent."""
        jobs = read_jobs(self.client, self.ids, expected=(RUNNING,))
        self.read_rounds += 1
        unknown = [job_id for job_id in self.ids if job_id not in jobs]
        if unknown:
            raise unknown_ids_error(unknown, "no savepoint was triggered")
        self.before = {job_id: jobs[job_id] for job_id in self.ids}
        running = [job_id for job_id in self.ids if jobs[job_id].status == RUNNING]
        if self.directory is not None:
            self.targets = {job_id: self.directory for job_id in running}
        elif running:
            details = _concurrently(self.client.get_job, running, self.workers)
            no_bucket = []
            for job_id, job in zip(running, details):
                bucket = job.job_config.get("obs_bucket") if isinstance(job.job_config, dict) else None
                if not isinstance(bucket, str) or not bucket.strip():
                    no_bucket.append(job_id)
                    continue
                self.targets[job_id] = savepoint_directory(
                    f"{bucket.strip().rstrip('/')}/{job_id}/savepoint/", f"the OBS bucket of job {job_id}")
            if no_bucket:
                raise BadInputError(
                    f"No savepoint directory for job(s) {_format_ids(no_bucket)}: their job_config has no obs_bucket; "
                    "give one with --path obs://bucket/dir/ (path= in Python). Nothing was sent.",
                    job_ids=no_bucket, hint="Add --path obs://bucket/dir/; nothing was sent.",
                )
        for job_id in self.ids:
            self.steps[job_id].append(_job_step("read", jobs[job_id], savepoint_dir=self.targets.get(job_id)))

    def _url(self, job_id: int) -> str:
        return f"{self.client.endpoint}{contract.API_PREFIX.format(project_id=self.client.project_id)}/jobs/{job_id}/savepoint"

    def plan_text(self) -> tuple[str, dict[str, Any]]:
        lines = [f"Dry run: no savepoint request was sent (the {len(self.ids)} job(s) were read to plan it)."]
        requests = {}
        for job_id in self.ids:
            job = self.before[job_id]
            name = f" {job.name}" if job.name else ""
            if job_id in self.targets:
                body = {"action": "TRIGGER", "savepoint_path": self.targets[job_id]}
                requests[job_id] = {"method": "POST", "url": self._url(job_id), "json": body}
                lines.append(f"  {job_id}{name} [{_described(job)}]: POST {self._url(job_id)} {_json(body)}")
            else:
                lines.append(f"  {job_id}{name} [{_described(job)}]: not running, left alone")
        return "\n".join(lines), requests

    def _trigger(self, job_id: int, probe: bool = False) -> JobOutcome:
        try:
            message = self.client.trigger_savepoint(job_id, self.targets[job_id])
        except DLIError as error:
            if probe and isinstance(error, NotFoundError) and error.error_code in contract.API_NOT_FOUND_CODES:
                raise SavepointApiUnavailableError(
                    "This region does not offer the savepoint API: POST …/jobs/{job_id}/savepoint answered "
                    f"HTTP {error.status} {error.error_code} (documented on Huawei Cloud only); no savepoint was taken.",
                    status=error.status, error_code=error.error_code, request_id=error.request_id,
                    job_ids=[job_id],
                ) from None
            return failed_request_rows(error, [job_id])[0]
        return JobOutcome(job_id, True, message)

    def run(self) -> None:
        ids = list(self.targets)
        if not ids:
            return
        self.on_step("triggering savepoints")
        try:
            # The first request alone: a region without the API answers it, and no other is sent.
            # batch's one-chunk send words its Ctrl-C: one while a retry waited after a 429 (nothing
            # out, nothing done) is a NotSentOutcome "not sent again (…)", one while it was out may
            # have been sent (INTERRUPTED_IN_FLIGHT, said below in a savepoint's words).
            first = send_in_chunks([ids[0]], 1, 1,
                                   lambda chunk: ChunkAnswered([self._trigger(chunk[0], probe=True)], 1))
            self.requests += first.requests
            self.interrupted = first.interrupted
            if first.outcomes[0].message != INTERRUPTED_IN_FLIGHT:
                self.sent[ids[0]] = first.outcomes[0]
            rest = [] if first.interrupted else ids[1:]
            if rest:
                # The others concurrently, one job per chunk: Ctrl-C halts them as it halts run/stop
                # chunks, so one waiting to retry after a 429 is not sent again ("not sent again (…):
                # nothing was done"), those not started are not sent, and those out are answered.
                others = send_in_chunks(rest, 1, self.workers,
                                        lambda chunk: ChunkAnswered([self._trigger(chunk[0])], 1))
                self.requests += others.requests
                self.interrupted = others.interrupted
                for outcome in others.outcomes:
                    if outcome.message == INTERRUPTED_IN_FLIGHT:  # in a savepoint's words, as the first's
                        outcome = JobOutcome(outcome.job_id, None, _SAVEPOINT_IN_FLIGHT)
                    self.sent[outcome.job_id] = outcome
        except KeyboardInterrupt:
            self.interrupted = True
        for job_id in ids:
            outcome = self.sent.get(job_id)
            if outcome is None and job_id == ids[0]:  # the first request, interrupted before its answer
                outcome = JobOutcome(job_id, None, _SAVEPOINT_IN_FLIGHT)
            elif outcome is None:  # Ctrl-C came before the others were sent
                outcome = NotSentOutcome(job_id, None, NOT_SENT_INTERRUPTED)
            self.sent[job_id] = outcome
            self.steps[job_id].append(_request_step("savepoint", outcome, savepoint_path=self.targets[job_id]))
        waiting = [job_id for job_id in ids if _was_sent(self.sent[job_id]) and self.sent[job_id].is_success is not False]
        if not waiting:
            return
        self.on_step("waiting for the savepoints")
        state = self.state = WaitState(job_ids=waiting)
        state.names.update({job_id: self.before[job_id].name for job_id in waiting})
        state.pending = set(waiting)
        if self.interrupted:  # no waiting after Ctrl-C: one read says where each job is
            try:
                jobs = read_jobs(self.client, waiting, expected=(SAVEPOINTING,))
            except (KeyboardInterrupt, DLIError) as exc:
                self.errors.append(f"read after Ctrl-C: {type(exc).__name__}")
                jobs = {}
            self.read_rounds += 1
            for job_id in waiting:
                if job_id in jobs:
                    state.note(jobs[job_id])
                    if _touched(jobs[job_id], self.before[job_id]):
                        self.changed.add(job_id)
                    if jobs[job_id].status != SAVEPOINTING:
                        state.pending.discard(job_id)
            state.interrupted = True
            return
        try:
            _wait_for_effect(self.client, state, {SAVEPOINTING}, {i: self.before[i] for i in waiting}, self.changed,
                             timeout=self.timeout, grace=self.grace, poll_interval=self.poll_interval,
                             expected=(SAVEPOINTING,), on_update=self.on_state, sleep=self.sleep)
        except DLIError as exc:
            self.errors.append(f"waiting: {exception_line(exc)}")
            self.notify(f"Stopped waiting: {exception_line(exc)}")
        self.read_rounds += state.rounds
        self.interrupted = self.interrupted or state.interrupted
        if state.timed_out:
            self.notify(f"Wait timeout of {self.timeout:g} s reached while waiting for the savepoints.")

    def result(self) -> Outcome:
        outcomes = []
        failures: dict[int, str] = {}
        state = self.state
        for job_id in self.ids:
            before = self.before[job_id]
            sent = self.sent.get(job_id)
            job: Job | None = before  # nothing sent, or refused: what was read before still holds
            if sent is not None and _was_sent(sent) and sent.is_success is not False:
                job = state.jobs.get(job_id) if state is not None and job_id not in state.missing else None
            is_success: bool | None = None
            path = None
            request_id = sent.request_id if sent is not None else None
            if job_id not in self.targets:
                message = f"not running ({_described(before)}): no savepoint triggered"
            elif not _was_sent(sent) or sent.is_success is False:
                message = f"savepoint {sent.message}" if sent.is_success is None else f"savepoint refused: {sent.message}"
                is_success = sent.is_success
                failures[job_id] = message
            else:
                lost = f"the savepoint request's outcome was unknown ({sent.message}); " if sent.is_success is None else ""
                if job is None:
                    where = "not found in the job list" if state and job_id in state.missing else "status not read"
                    message = f"{lost}savepoint requested; {where} afterwards"
                elif _new_savepoint(job, before) and job.status != SAVEPOINTING:
                    path = job.savepoint_path
                    is_success = True
                    message = f"{lost}savepoint {path} recorded; {job.status}"
                elif state is not None and job_id in state.pending:
                    message = f"{lost}savepoint requested; still {job.status} {_pending_when(state, self.timeout)}"
                elif job_id not in self.changed:  # read as before the request, up to the last read
                    when = (_pending_when(state, self.timeout) if state is not None
                            and (state.interrupted or state.timed_out) else "when last read")
                    message = (f"{lost}savepoint requested; no sign of it yet: still {_described(job)}, as before "
                               f"the request, {when}; the service may still take it — check `%dli_job {job_id}`")
                elif _fresh_reason(job, before):
                    kept = f" (the previous savepoint {before.savepoint_path} is kept)" if before.savepoint_path else ""
                    message = f"{lost}the savepoint failed: {job.status_desc}; {job.status}{kept}"
                    is_success = False
                else:
                    message = (f"{lost}no new savepoint recorded when read ({job.status}); the service may still be "
                               f"taking it — check `%dli_job {job_id}`")
                if is_success is not True:
                    failures[job_id] = message
                self.steps[job_id].append(_job_step("after savepoint", job, new_savepoint=path is not None))
            outcomes.append(JobOutcome(
                job_id=job_id, is_success=is_success, message=message, request_id=request_id,
                name=(job.name if job is not None and job.name is not None else before.name),
                status=job.status if job is not None else None,
                status_desc=job.status_desc if job is not None else None,
                savepoint_path=path,
            ))
        attrs = {
            **self._base_attrs(),
            "requests": self.requests,
            "read_rounds": self.read_rounds,
            "wait_timed_out": bool(state is not None and state.timed_out),
            "wait_interrupted": self.interrupted,
            "interrupted": self.interrupted,
            "steps": self.steps,
            "savepoints": {o.job_id: o.savepoint_path for o in outcomes if o.savepoint_path},
        }
        if self.errors:
            attrs["errors"] = list(self.errors)
        return Outcome(outcomes, attrs, failures)

    def _own_attrs(self) -> dict[str, Any]:
        return {"savepoint_dir": self.directory}

    def dry_run_result(self, requests: dict[str, Any]) -> Outcome:
        outcomes = []
        for job_id in self.ids:
            job = self.before[job_id]
            message = (f"dry run: would trigger a savepoint into {self.targets[job_id]}" if job_id in self.targets
                       else f"dry run: not running ({_described(job)}): left alone")
            outcomes.append(JobOutcome(job_id, None, message, name=job.name, status=job.status,
                                       status_desc=job.status_desc))
        return Outcome(outcomes, {**self._base_attrs(), "dry_run": True, "request": requests,
                                  "steps": self.steps}, {})


def _concurrently(function: Callable[[int], Any], ids: list[int], workers: int) -> list[Any]:
    if len(ids) == 1 or workers <= 1:
        return [function(job_id) for job_id in ids]
    with ThreadPoolExecutor(max_workers=min(workers, len(ids)), thread_name_prefix="dli-read") as pool:
        return list(pool.map(function, ids))
