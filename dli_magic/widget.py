"""The job panel (`dli_magic.panel()` / `%dli_panel`): pick Flink jobs, run or stop them.

Core ipywidgets only (no custom JavaScript), so it renders wherever widgets render (JupyterLab,
Notebook 7, VS Code). Requests run on a worker thread so the notebook stays usable; the worker
only sets trait values and replaces ``Output.outputs`` — never ``with out:`` from a thread, which
ipykernel 7 no longer routes (ipywidgets #4020). Every handler catches its exceptions and shows
the short message in the panel's Output, because ipywidgets only logs callback errors (#2949).

The panel holds a client, never a secret: no widget trait carries a token, SK or password.
Run/stop go through the same API functions as ``%dli_run`` / ``%dli_stop`` (same DataFrame, same
waiting code, same history), so the panel adds no second poller and no second schema.
"""

from __future__ import annotations

import html
import threading
import time
from itertools import islice
from typing import Any, Callable, Iterable, Sequence

import ipywidgets as widgets

from . import api
from .contract import ACTIONS, JOB_STATUSES
from .errors import DLIError
from .ids import validate_job_ids
from .results import Job

ALL_STATUSES = "all"

# Fixed-width columns of the picker: (header, width). Labels are padded with no-break spaces
# because a browser collapses ordinary runs of spaces inside <option> text.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("name", 28),
    ("id", 12),
    ("status", 24),
    ("type", 24),
    ("sp", 3),
)
_PAD = "\u00a0"
_SEP = f"{_PAD}|{_PAD}"

# Colours of the summary bar: ok / failed / unknown.
BAR_COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "unknown": "#9e9e9e"}

# Scoped style for the picker: a monospace font keeps the columns aligned. Plain CSS in an
# HTML widget (no JavaScript); without it the panel still works, only less aligned.
_STYLE = (
    "<style>.dli-panel .dli-jobs select, .dli-panel .dli-jobs-header "
    "{font-family: monospace; font-size: 12px;}</style>"
)


# ---------------------------------------------------------------- pure helpers (tested directly)


def _cell(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text + _PAD * (width - len(text))


def header_label() -> str:
    """The column header shown above the picker."""
    return _SEP.join(_cell(name, width) for name, width in COLUMNS).rstrip(_PAD)


def job_label(job: Job) -> str:
    """One picker row: ``name | id | status | type | sp`` in fixed-width columns."""
    savepoint = {True: "yes", False: "no"}.get(job.has_savepoint, "?")  # type: ignore[arg-type]
    values = (job.name, job.job_id, job.status, job.job_type, savepoint)
    return _SEP.join(_cell(v, w) for v, (_, w) in zip(values, COLUMNS)).rstrip(_PAD)


def filter_jobs(jobs: Iterable[Job], text: str = "", status: str = ALL_STATUSES) -> list[Job]:
    """Jobs whose name contains ``text`` (case-insensitive) and whose status matches."""
    needle = (text or "").strip().lower()
    kept = []
    for job in jobs:
        if status and status != ALL_STATUSES and job.status != status:
            continue
        if needle and needle not in (job.name or "").lower():
            continue
        kept.append(job)
    return kept


def status_options(jobs: Iterable[Job], keep: str | None = None) -> list[tuple[str, str]]:
    """Dropdown options: "all" plus each documented status that occurs, with its count.

    ``keep`` stays listed even when no job has it any more, so a refresh never silently
    switches the user's filter back to "all".
    """
    jobs = list(jobs)
    counts: dict[str, int] = {}
    for job in jobs:
        if job.status:
            counts[job.status] = counts.get(job.status, 0) + 1
    options = [(f"all ({len(jobs)})", ALL_STATUSES)]
    for status in JOB_STATUSES:
        if status in counts or status == keep:
            options.append((f"{status} ({counts.get(status, 0)})", status))
    # An undocumented status from the service is still offered, after the known ones.
    for status in sorted(set(counts) - set(JOB_STATUSES)):
        options.append((f"{status} ({counts[status]})", status))
    return options


def outcome_counts(frame: Any) -> tuple[int, int, int]:
    """(ok, failed, unknown) from a run/stop DataFrame's nullable ``is_success`` column."""
    column = frame["is_success"]
    ok = int((column == True).sum())  # noqa: E712 - nullable boolean: NA counts as neither
    failed = int((column == False).sum())  # noqa: E712
    return ok, failed, len(frame) - ok - failed


def summary_html(action: str, ok: int, failed: int, unknown: int, seconds: float | None = None) -> str:
    """A one-line summary with a small proportional bar (ok green / failed red / unknown grey)."""
    total = ok + failed + unknown
    line = f"{html.escape(action)}: {total} job{'s' if total != 1 else ''} — {ok} ok, {failed} failed, {unknown} unknown"
    if seconds is not None:
        line += f" · {seconds:.1f} s"
    segments = []
    for key, count in (("ok", ok), ("failed", failed), ("unknown", unknown)):
        if count and total:
            width = 100.0 * count / total
            segments.append(
                f'<div class="dli-bar-{key}" title="{count} {key}" '
                f'style="width:{width:.2f}%;background:{BAR_COLOURS[key]};height:100%"></div>'
            )
    bar = (
        '<div class="dli-bar" style="display:flex;width:240px;height:8px;border-radius:2px;'
        f'overflow:hidden;background:#eeeeee;margin-top:2px">{"".join(segments)}</div>'
    )
    return f'<div class="dli-summary-line">{line}</div>{bar}'


def error_lines(exc: BaseException) -> list[str]:
    """The short message of an error: DLIError's own rendering, else ``Type: message``."""
    if isinstance(exc, DLIError):
        try:
            return list(exc._render_traceback_())
        except Exception:  # pragma: no cover - rendering must never hide the error
            pass
    return [f"{type(exc).__name__}: {exc}"]


def progress_text(action: str, counts: dict[str, int], seconds: float, pending: int = 0) -> str:
    """One live progress line, e.g. ``run: 2 job_submitting · 1 job_running · waiting on 2 (3.0 s)``.

    ``counts`` maps status → number of jobs (``WaitState.counts()``), in the contract's order.
    """
    order = {status: i for i, status in enumerate(JOB_STATUSES)}
    ordered = sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    parts = [f"{n} {status}" for status, n in ordered if n]
    if pending:
        parts.append(f"waiting on {pending}")
    body = " · ".join(parts) if parts else "working…"
    return f"{action}: {body} ({seconds:.1f} s)"


# ---------------------------------------------------------------- the widget


class DliPanel(widgets.VBox):
    """The job panel. Build it with :func:`panel`.

    ``result`` holds the last run/stop DataFrame, ``last_error`` the last exception, ``jobs`` the
    last loaded job list; ``wait_idle(timeout)`` blocks until the worker finished.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        max_jobs: int = 1000,
        load: bool = True,
        profile: str | None = None,
        **settings: Any,
    ) -> None:
        # A client from settings is built here, so bad settings fail the cell at once (ConfigError,
        # one line) and the settings (secrets included) live only inside the client, never in the panel.
        self._client, self._owns_client = api.client_for(client, profile, settings)
        self._build_widgets()
        super().__init__(children=self._layout_children())
        self.add_class("dli-panel")

        self.wait = wait
        self.timeout = timeout
        self.max_jobs = max_jobs
        self.result = None
        self.last_error: BaseException | None = None
        self.jobs: list[Job] = []
        self.last_worker_thread: threading.Thread | None = None

        self._busy = False
        self._busy_lock = threading.Lock()
        self._view_lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._cancel_wait = threading.Event()
        self.progress_log: list[str] = []  # every progress line of the panel's runs, for tests/debugging

        self.filter_text.observe(self._on_filter_change, names="value")
        self.status_filter.observe(self._on_filter_change, names="value")
        self.job_select.observe(self._on_selection_change, names="value")
        self.refresh_button.on_click(self._on_refresh_click)
        self.run_button.on_click(self._on_run_click)
        self.stop_button.on_click(self._on_stop_click)
        self.cancel_button.on_click(self._on_cancel_click)
        self._update_buttons()
        if load:
            self.refresh()

    # -- construction

    def _build_widgets(self) -> None:
        full = widgets.Layout(width="100%")
        self.style_html = widgets.HTML(_STYLE)
        self.title = widgets.HTML("<b>DLI Flink jobs</b>")
        self.filter_text = widgets.Text(
            placeholder="filter by name", description="Name", continuous_update=True
        )
        self.filter_text.add_class("dli-filter")
        self.status_filter = widgets.Dropdown(
            options=[("all", ALL_STATUSES)], value=ALL_STATUSES, description="Status"
        )
        self.status_filter.add_class("dli-status-filter")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", tooltip="Reload the job list")
        self.refresh_button.add_class("dli-refresh")
        self.header = widgets.HTML(self._header_html())
        self.header.add_class("dli-jobs-header")
        self.job_select = widgets.SelectMultiple(options=[], rows=12, layout=full)
        self.job_select.add_class("dli-jobs")
        self.count_label = widgets.HTML("")
        self.count_label.add_class("dli-count")
        run, stop = ACTIONS["run"], ACTIONS["stop"]
        self.savepoint_box = widgets.Checkbox(value=False, description=run.option_label, indent=False)
        self.savepoint_box.add_class("dli-savepoint")
        self.run_button = widgets.Button(description="Run", button_style="success", tooltip="Run the selected jobs")
        self.run_button.add_class("dli-run")
        self.trigger_box = widgets.Checkbox(value=False, description=stop.option_label, indent=False)
        self.trigger_box.add_class("dli-trigger-savepoint")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", tooltip="Stop the selected jobs")
        self.stop_button.add_class("dli-stop")
        self.cancel_button = widgets.Button(
            description="Stop waiting", disabled=True, tooltip="Stop polling; the jobs keep going"
        )
        self.cancel_button.add_class("dli-cancel-wait")
        self.progress = widgets.HTML("")
        self.progress.add_class("dli-progress")
        self.summary = widgets.HTML("")
        self.summary.add_class("dli-summary")
        self.output = widgets.Output(layout=full)
        self.output.add_class("dli-output")

    def _layout_children(self) -> list[widgets.Widget]:
        filters = widgets.HBox([self.filter_text, self.status_filter, self.refresh_button])
        run_row = widgets.HBox([self.savepoint_box, self.run_button])
        stop_row = widgets.HBox([self.trigger_box, self.stop_button])
        actions = widgets.HBox([run_row, stop_row, self.cancel_button])
        return [
            self.style_html,
            self.title,
            filters,
            self.header,
            self.job_select,
            self.count_label,
            actions,
            self.progress,
            self.summary,
            self.output,
        ]

    @staticmethod
    def _header_html() -> str:
        return f"<span style='white-space:pre'><b>{html.escape(header_label())}</b></span>"

    # -- state

    @property
    def busy(self) -> bool:
        """True while a request runs; clicks arriving meanwhile are ignored."""
        return self._busy

    @property
    def selected_ids(self) -> list[int]:
        return [int(v) for v in self.job_select.value]

    def select(self, job_ids: Sequence[int]) -> None:
        """Select these jobs (those visible under the current filter)."""
        visible = {value for _, value in self.job_select.options}
        self.job_select.value = tuple(int(i) for i in job_ids if int(i) in visible)

    def _update_buttons(self) -> None:
        has_selection = bool(self.job_select.value)
        self.run_button.disabled = self._busy or not has_selection
        self.stop_button.disabled = self._busy or not has_selection
        self.refresh_button.disabled = self._busy

    # -- client

    @property
    def client(self):
        """The ``DliClient`` the panel sends its requests with."""
        return self._client

    # -- filtering (main thread on typing, worker thread after a load: hence the lock)

    def _apply_filter(self) -> None:
        with self._view_lock:
            current_status = self.status_filter.value
            options = status_options(self.jobs, keep=current_status)
            if list(self.status_filter.options) != options:
                self.status_filter.options = options
                self.status_filter.value = current_status if current_status in {v for _, v in options} else ALL_STATUSES
            shown = filter_jobs(self.jobs, self.filter_text.value, self.status_filter.value)
            # A hidden job is never run: the selection keeps only what is still visible.
            previous = set(self.job_select.value)
            new_options = [(job_label(job), job.job_id) for job in shown]
            if list(self.job_select.options) != new_options:
                self.job_select.options = new_options
            self.job_select.value = tuple(job.job_id for job in shown if job.job_id in previous)
            note = f" (only the newest {self.max_jobs} were loaded)" if len(self.jobs) >= self.max_jobs else ""
            self.count_label.value = f"<small>{len(shown)} of {len(self.jobs)} jobs shown{note}</small>"
            self._update_buttons()

    def _on_filter_change(self, change: dict) -> None:
        try:
            self._apply_filter()
        except Exception as exc:  # a handler must never fail silently
            self._show_error(exc)

    def _on_selection_change(self, change: dict) -> None:
        try:
            self._update_buttons()
        except Exception as exc:
            self._show_error(exc)

    # -- output helpers (thread-safe: only trait assignments)

    def _show_error(self, exc: BaseException) -> None:
        self.last_error = exc
        self.output.append_stderr("\n".join(error_lines(exc)) + "\n")

    def _show_notice(self, text: str) -> None:
        self.output.append_stdout(text.rstrip("\n") + "\n")

    # -- the worker

    def _start(self, name: str, work: Callable[[], None]) -> bool:
        """Run ``work`` on a worker thread unless one is running; False when ignored as busy."""
        with self._busy_lock:
            if self._busy:
                return False
            self._busy = True
        self._update_buttons()
        thread = threading.Thread(target=self._work, args=(work,), name=f"dli-panel-{name}", daemon=True)
        self._worker = thread
        thread.start()
        return True

    def _work(self, work: Callable[[], None]) -> None:
        self.last_worker_thread = threading.current_thread()
        try:
            work()
        except BaseException as exc:  # shown, never lost to the log
            self._show_error(exc)
        finally:
            with self._busy_lock:
                self._busy = False
            try:
                self._update_buttons()
            except Exception as exc:  # pragma: no cover - comm closed under us
                self.last_error = exc

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the worker finished; True when idle, False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            worker = self._worker
            if worker is not None:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                worker.join(remaining)
                if worker.is_alive():
                    return False
            if not self._busy:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)  # a worker is being started: let it register

    # -- refresh

    def refresh(self) -> bool:
        """Reload the job list on the worker; False when ignored because the panel is busy."""
        return self._start("refresh", self._load_jobs)

    def _load_jobs(self) -> None:
        self.progress.value = "<small>loading jobs…</small>"
        try:
            jobs = list(islice(self._client.iter_jobs(), self.max_jobs))
        finally:
            self.progress.value = ""
        self.jobs = jobs
        self._apply_filter()

    def _on_refresh_click(self, button: widgets.Button) -> None:
        try:
            self.refresh()
        except Exception as exc:
            self._show_error(exc)

    # -- run / stop

    def _on_run_click(self, button: widgets.Button) -> None:
        self._action_click("run", bool(self.savepoint_box.value))

    def _on_stop_click(self, button: widgets.Button) -> None:
        self._action_click("stop", bool(self.trigger_box.value))

    def _action_click(self, action: str, option: bool) -> None:
        try:
            if self._busy:
                return  # a click queued while a request runs is ignored
            ids = validate_job_ids(self.selected_ids).ids  # BadInputError: nothing sent
            self._start(action, lambda: self._run_action(action, ids, option))
        except Exception as exc:
            self._show_error(exc)

    def _run_action(self, action: str, ids: list[int], option: bool) -> None:
        # The same function %dli_run / %dli_stop use: same frame, same waiting code, same
        # history (source "panel"). Its notices go to the panel's Output, not to a thread's stderr.
        self.output.outputs = ()
        self.summary.value = ""
        self._cancel_wait.clear()
        started = time.monotonic()
        self.progress.value = html.escape(f"{action}: sending {len(ids)} job{'s' if len(ids) != 1 else ''}…")
        if self.wait:
            self.cancel_button.disabled = False
        try:
            frame = api.execute(
                action,
                ids,
                option,
                wait=self.wait,
                timeout=self.timeout,
                client=self._client,
                on_state=lambda state: self._on_wait_state(action, state),
                notify=self._show_notice,
                echo=None,
                source="panel",
            )
        finally:
            self.cancel_button.disabled = True
            self.progress.value = ""
        seconds = time.monotonic() - started
        self.result = frame
        ok, failed, unknown = outcome_counts(frame)
        self.summary.value = summary_html(action, ok, failed, unknown, seconds)
        self.output.append_display_data(frame)
        # Fresh statuses in the picker; a failed reload is shown, the result stays.
        try:
            self._load_jobs()
        except Exception as exc:
            self._show_error(exc)

    def _on_wait_state(self, action: str, state: Any) -> None:
        """Live progress while the API polls the list; "Stop waiting" ends the wait (not the jobs)."""
        if self._cancel_wait.is_set():
            # wait_for_jobs treats KeyboardInterrupt from its callback as "stop waiting".
            raise KeyboardInterrupt
        try:
            self.progress_log.append(progress_text(action, state.counts(), state.elapsed, len(state.pending)))
            self.progress.value = html.escape(self.progress_log[-1])
        except Exception as exc:  # progress must never break the run
            self.last_error = exc

    def stop_waiting(self) -> None:
        """Stop polling for the current run/stop (the jobs keep going); the result shows what is known."""
        self._cancel_wait.set()

    def _on_cancel_click(self, button: widgets.Button) -> None:
        try:
            self.stop_waiting()
        except Exception as exc:
            self._show_error(exc)

    # -- lifecycle

    def close(self) -> None:
        """Close every widget of the panel, and the client when the panel created it."""
        # Also reached from Widget.__del__ on a panel whose __init__ failed: attributes may be missing.
        cancel = getattr(self, "_cancel_wait", None)
        if cancel is not None:
            cancel.set()
        for widget in _walk(self):
            if widget is not self:
                widget.close()
        super().close()
        client = getattr(self, "_client", None)
        if getattr(self, "_owns_client", False) and client is not None:
            self._client = None
            client.close()


def _walk(widget: widgets.Widget) -> Iterable[widgets.Widget]:
    """The widget and all its descendants (children, layouts and styles included)."""
    seen: set[int] = set()
    stack = [widget]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for name in current.keys:
            value = getattr(current, name, None)
            values = value if isinstance(value, (list, tuple)) else [value]
            stack.extend(v for v in values if isinstance(v, widgets.Widget))


def panel(client: Any = None, **kwargs: Any) -> DliPanel:
    """Open the job panel: ``dli_magic.panel()``; ``%dli_panel`` calls this too.

    Pass a ``client`` (a ``DliClient``) or settings (``profile=``, ``endpoint=``, …) exactly as
    for ``dli_magic.connect``; ``wait=False`` returns after the run call without polling.
    """
    return DliPanel(client, **kwargs)

