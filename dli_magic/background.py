"""Background runs: a handle on a call whose waiting goes on while the notebook keeps working.

``run_jobs(..., background=True)`` (and ``stop_jobs``, ``%dli_run --background``) sends the request
on the caller's thread (a bad input or a refused call raises there, at once), then returns a
``RunHandle`` whose worker thread waits for the jobs (and checks their health) exactly as the
foreground call would, builds the same DataFrame and records the run. Plain Python: no IPython
import except inside ``_ipython_display_``, which only IPython calls.

The run is in the history as "waiting" from the moment the request was answered, so a kernel that
dies meanwhile leaves a run to re-attach to (``%dli_wait RUN_ID``). At interpreter exit a running
wait is stopped and its run recorded as not waited; nothing waits for it.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any, Callable

from .display import StatusView, status_line
from .redaction import exception_line
from .waiting import STOP_WAITING, WaitState

_RUNNING: "weakref.WeakSet[RunHandle]" = weakref.WeakSet()


class RunHandle:
    """A run/stop (or re-attached) call whose wait runs on a worker thread.

    ``done()``, ``result(timeout=None)`` (the frame the foreground call returns, or its exception),
    ``status()`` (a frame of the latest known statuses), ``stop_waiting()`` (never touches the
    jobs), ``run_id`` (the history's), ``add_done_callback(fn)``.
    """

    def __init__(
        self,
        action: str,
        state: WaitState,
        work: Callable[[Callable[[float], None], Callable[[WaitState], None]], Any],
        *,
        run_id: str | None = None,
        on_exit: Callable[[], None] | None = None,
        client: Any = None,
    ) -> None:
        self.action = action
        self.client = client  # the client its wait uses (kept open until the wait ends)
        self.state = state
        self.run_id = run_id
        self._work = work
        self._on_exit = on_exit
        self._stop = threading.Event()
        state.stop_event = self._stop  # the reads of the wait are abandoned when it is set
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[RunHandle], Any]] = []
        self._watchers: list[Callable[[RunHandle], Any]] = []
        self._frame: Any = None
        self._error: BaseException | None = None
        self._finished = False
        _RUNNING.add(self)
        self._thread = threading.Thread(target=self._run, name=f"dli-{action}-background", daemon=True)
        self._thread.start()

    # ---- the worker

    def _sleep(self, seconds: float) -> None:
        """The wait's pause between rounds; ``stop_waiting()`` ends it at once."""
        if self._stop.wait(seconds):
            self.state.stop_reason = STOP_WAITING
            raise KeyboardInterrupt  # the wait's own "stop waiting" path: rows kept, jobs untouched

    def _update(self, state: WaitState) -> None:
        for watch in list(self._watchers):
            try:
                watch(self)
            except Exception:  # a broken view must not end the wait
                pass

    def _run(self) -> None:
        try:
            self._frame = self._work(self._sleep, self._update)
            with self._lock:
                self._finished = True  # recorded: the exit must not overwrite it
        except BaseException as exc:  # handed to result(); a thread has no one else to tell
            self._error = exc
        finally:
            _RUNNING.discard(self)
            with self._lock:
                self._done.set()
                callbacks = list(self._callbacks)
            self._update(self.state)
            for callback in callbacks:
                _call_safely(callback, self)

    # ---- the handle

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None):
        """The call's DataFrame once the wait is over, or its exception (e.g. JobsFailedError with
        strict); ``TimeoutError`` when it is not over within ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"The {self.action} is still waiting after {timeout:g} s; result() again later.")
        if self._error is not None:
            raise self._error
        return self._frame

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self._done.wait(timeout):
            raise TimeoutError(f"The {self.action} is still waiting after {timeout:g} s.")
        return self._error

    def stop_waiting(self) -> None:
        """Stop waiting (the jobs are not touched): ``result()`` then holds what is known."""
        self._stop.set()

    def add_done_callback(self, callback: Callable[["RunHandle"], Any]) -> None:
        """Call ``callback(handle)`` when the wait is over (at once if it is; on the worker thread
        otherwise). An exception in it is ignored, as in ``concurrent.futures``."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        _call_safely(callback, self)

    def watch(self, callback: Callable[["RunHandle"], Any]) -> None:
        """Call ``callback(handle)`` after every round of the wait, and once when it is over."""
        self._watchers.append(callback)

    def status(self):
        """The latest known state of each job: job_id, name, status, status_desc, healthy, waiting."""
        from .results import JobOutcome, outcomes_frame

        state = self.state
        rows = []
        for job_id in state.job_ids:
            job = state.jobs.get(job_id)
            rows.append(JobOutcome(
                job_id, None, "waiting" if job_id in state.pending or job_id in state.watched else "",
                name=state.names.get(job_id),
                status=job.status if job is not None else None,
                status_desc=job.status_desc if job is not None else None,
                healthy=state.healthy.get(job_id),
            ))
        frame = outcomes_frame(rows)
        return frame[["job_id", "name", "status", "status_desc", "healthy", "message"]].rename(
            columns={"message": "waiting"}
        ).assign(waiting=lambda f: f["waiting"] == "waiting")

    def summary(self) -> str:
        """One line: the live status, or how the call ended."""
        if not self.done():
            return status_line(self.action, self.state)
        if self._error is not None:
            return f"{self.action}: ended with {exception_line(self._error)}"
        frame = self._frame
        ok = int(frame["is_success"].fillna(False).sum())
        line = f"{self.action}: done, {ok} of {len(frame)} accepted"
        counts = self.state.counts()
        if counts:
            line += " (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")"
        if self.run_id:
            line += f"; run {self.run_id}"
        return line

    def __repr__(self) -> str:
        return f"<RunHandle {self.summary()}>"

    def _repr_html_(self) -> str:
        if self.done():
            import html

            return f"<div><b>{html.escape(self.summary())}</b></div>"
        return StatusView(self.action, self.state)._repr_html_()

    def _ipython_display_(self) -> None:
        """Shown in a notebook: one display that the worker updates in place, ending with the summary.
        A terminal cannot update a line it printed: there the handle is shown once."""
        from IPython import get_ipython
        from IPython.display import display

        if getattr(get_ipython(), "kernel", None) is None:
            print(repr(self))
            return
        shown = display(_Snapshot(self), display_id=True)
        self.watch(lambda handle: shown.update(_Snapshot(handle)))
        if self.done():
            shown.update(_Snapshot(self))


class _Snapshot:
    """What a handle shows at one moment (text and HTML), for a display update."""

    def __init__(self, handle: RunHandle) -> None:
        self._text = repr(handle)
        self._html = handle._repr_html_()

    def __repr__(self) -> str:
        return self._text

    def _repr_html_(self) -> str:
        return self._html


def _call_safely(callback: Callable[[RunHandle], Any], handle: RunHandle) -> None:
    try:
        callback(handle)
    except Exception:
        pass


def running_handles() -> list[RunHandle]:
    return list(_RUNNING)


@atexit.register
def _stop_at_exit() -> None:
    """Never hang the exit: stop every wait and record its run as not waited."""
    for handle in list(_RUNNING):
        handle._stop.set()
        with handle._lock:
            finished = handle._finished or handle._done.is_set()
        if handle._on_exit is not None and not finished:
            try:
                handle._on_exit()
            except Exception:
                pass
