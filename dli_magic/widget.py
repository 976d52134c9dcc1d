"""The job panel (`dli_magic.panel()` / `%dli_panel`): a live console of the project's Flink jobs.

The job list is an ``itables`` ``ITable`` (DataTables in an anywidget): sortable, searchable, rows
picked by click / shift-click / ctrl-click. anywidget ships the table's JavaScript inside the widget
model, so it renders in JupyterLab 4, Notebook 7 and VS Code without a network or a CDN.

Threads: the kernel's main thread only handles clicks and trait changes. The job list is read on a
worker thread, actions run on a worker thread, the detail pane loads on its own thread, and a timer
thread starts the automatic refresh. Worker threads only assign traits and append to an Output's
``outputs``: printing from a thread is not routed by ipykernel 7 (ipywidgets #4020), and every
handler catches its exceptions because ipywidgets only logs callback errors (#2949).

Refresh and actions share one lock, so no listing runs while an action is being sent and an action
clicked during a refresh is sent once that listing is done. The automatic refresh runs only while a
view of the panel is on screen: a tiny anywidget "bridge" in the panel reports from the browser
every few seconds (and stops when its view is removed, e.g. the cell is run again or cleared).

The panel holds a client, never a secret: no widget trait carries a token, SK or password.
Run/stop go through ``api.execute`` and restart through ``api.restart_jobs`` (same DataFrame,
waiting code and history as ``%dli_run`` / ``%dli_restart``); the detail pane shows ``dli_magic.job``.
"""

from __future__ import annotations

import html
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import Any, Callable, Iterable, Mapping, Sequence

import anywidget
import ipywidgets as widgets
import traitlets

from . import api, contract
from .checks import check_bool, check_positive
from .contract import JOB_STATUSES
from .errors import BadInputError, DLIError
from .ids import validate_job_ids
from .redaction import exception_line
from .results import Job

# ---------------------------------------------------------------- settings

REFRESH_SECONDS = 10.0  # default auto-refresh interval
REFRESH_CHOICES: tuple[tuple[str, float], ...] = (
    ("5 s", 5.0), ("10 s", 10.0), ("30 s", 30.0), ("1 min", 60.0), ("5 min", 300.0),
)
CONFIRM_OVER = 20  # an action on more jobs than this asks for a second click
CONFIRM_SECONDS = 30.0  # an armed confirmation lapses after this long
DEFAULT_MAX_JOBS = 10_000
HEARTBEAT_MS = 2000  # how often the browser says the panel is on screen
# A view counts as shown while its last report is this recent (a few reports may be late while the
# kernel is busy with another cell; the refresh then waits for it).
SHOWN_FOR = 3 * HEARTBEAT_MS / 1000
# No automatic refresh right after a keystroke or click in the panel: rebuilding the table under
# a user who is typing a search or shift-clicking rows would get in their way.
QUIET_AFTER_INPUT = 2.0
TICK = 0.25  # the timer thread's resolution

# The statuses each button acts on (contract.py: what the service accepts each request from).
ACTION_STATUSES: dict[str, frozenset[str]] = {
    "run": contract.RUNNABLE_STATUSES,
    "stop": contract.STOPPABLE_STATUSES,
    "restart": contract.RESTARTABLE_STATUSES,
}
ACTION_VERBS = {"run": "Run", "stop": "Stop", "restart": "Restart"}
_BUTTON_STYLES = {"run": "success", "stop": "danger", "restart": "warning"}

# Colour family of each documented status; anything else is "unknown" (grey).
STATUS_FAMILIES: dict[str, str] = {
    "job_running": "running",
    "job_idle": "running",
    "job_submit_fail": "failing",
    "job_running_exception": "failing",
    "job_cancel_fail": "failing",
    "job_arrearage_stopped": "failing",
    "job_submitting": "transitional",
    "job_downloading": "transitional",
    "job_savepointing": "transitional",
    "job_canceling": "transitional",
    "job_arrearage_recovering": "transitional",
    "job_init": "stopped",
    "job_cancel_success": "stopped",
    "job_finish": "stopped",
}
# (text, background, border) per family: running green, failing red, transitional amber, stopped grey.
FAMILY_COLOURS: dict[str, tuple[str, str, str]] = {
    "running": ("#1b5e20", "#e8f5e9", "#2e7d32"),
    "failing": ("#b71c1c", "#ffebee", "#c62828"),
    "transitional": ("#7a5200", "#fff8e1", "#f9a825"),
    "stopped": ("#424242", "#eeeeee", "#9e9e9e"),
    "unknown": ("#424242", "#f5f5f5", "#bdbdbd"),
}
# Colours of the summary bar: ok / failed / unknown.
BAR_COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "unknown": "#9e9e9e"}

# The table's columns; the last two are hidden sort keys of "started" and "duration".
TABLE_COLUMNS: tuple[str, ...] = (
    "name", "id", "status", "type", "queue", "restarts", "savepoint", "started", "duration",
    "started_ms", "duration_ms",
)
_COL = {name: i for i, name in enumerate(TABLE_COLUMNS)}


def _css() -> str:
    pills = "".join(
        f".dli-panel .dli-s-{family}{{color:{fg};background:{bg};border:1px solid {border}}}"
        for family, (fg, bg, border) in FAMILY_COLOURS.items()
    )
    return (
        "<style>"
        ".dli-panel .dli-s{display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;"
        "line-height:16px;white-space:nowrap}"
        f"{pills}"
        ".dli-panel .dli-table{flex:1 1 720px;min-width:0;overflow-x:auto}"
        ".dli-panel .dli-jobs table.dataTable{font-size:12px}"
        ".dli-panel .dli-detail{flex:0 1 310px;min-width:240px;border-left:1px solid #e0e0e0;"
        "padding-left:8px;font-size:12px;overflow-wrap:anywhere}"
        ".dli-panel .dli-detail table{border-collapse:collapse}"
        ".dli-panel .dli-detail th{text-align:left;font-weight:600;padding:1px 8px 1px 0;vertical-align:top;"
        "white-space:nowrap}"
        ".dli-panel .dli-detail td{padding:1px 0;vertical-align:top}"
        ".dli-panel .dli-refresh-error{color:#c62828}"
        ".dli-panel .dli-confirm{color:#7a5200;font-weight:600}"
        "</style>"
    )


# ---------------------------------------------------------------- pure helpers (tested directly)


def status_family(status: str | None) -> str:
    """``running`` / ``failing`` / ``transitional`` / ``stopped`` / ``unknown``."""
    return STATUS_FAMILIES.get(status or "", "unknown")


def status_html(status: str | None) -> str:
    """The status as a coloured pill (escaped; an unknown status is shown as it came)."""
    family = status_family(status)
    text = html.escape(status) if status else "unknown"
    return f'<span class="dli-s dli-s-{family}">{text}</span>'


def job_value(job: Job, name: str) -> Any:
    """A job field: the ``Job`` attribute where it has one and it is set, else the API's own key in
    ``job.raw`` (a field the client does not read yet)."""
    value = getattr(job, name, None)
    return job.raw.get(name) if value is None else value


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def format_duration(ms: Any) -> str:
    """``2d 03:04:05``, ``3:04:05``, ``0:04:05``; "" when there is none."""
    ms = _count(ms)
    if not ms:
        return ""
    seconds = ms // 1000
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{days}d {hours:02d}:{minutes:02d}:{seconds:02d}" if days else clock


def format_time(ms: Any) -> str:
    """Epoch milliseconds as the kernel's local time, ``YYYY-MM-DD HH:MM``; "" when there is none."""
    ms = _count(ms)
    if not ms:
        return ""
    try:
        return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def savepoint_html(job: Job) -> str:
    path = job_value(job, "savepoint_path")
    if job.has_savepoint is True or path:
        title = f' title="{html.escape(str(path))}"' if path else ""
        return f"<span{title}>yes</span>"
    return "no" if job.has_savepoint is False else ""


def type_html(job_type: str | None) -> str:
    """``flink_opensource_sql_job`` shown as ``opensource_sql`` (the full name as its tooltip)."""
    if not job_type:
        return ""
    short = job_type.removeprefix("flink_").removesuffix("_job") or job_type
    return f'<span title="{html.escape(job_type)}">{html.escape(short)}</span>'


def table_row(job: Job) -> list[Any]:
    """One table row (TABLE_COLUMNS); every text is escaped because the table renders HTML."""
    started = _count(job.start_time)
    duration = _count(job_value(job, "duration"))
    restarts = _count(job_value(job, "restart_times"))
    return [
        html.escape(job.name or ""),
        job.job_id,
        status_html(job.status),
        type_html(job.job_type),
        html.escape(job.queue_name or ""),
        "" if restarts is None else restarts,
        savepoint_html(job),
        format_time(started),
        format_duration(duration),
        started if started else -1,
        duration if duration is not None else -1,
    ]


def table_frame(jobs: Iterable[Job]):
    """The table's data, one row per job in ascending id order: a job keeps its row position while
    newer jobs are added, so a selection made in the browser during a refresh still means the same jobs."""
    import pandas as pd

    rows = [table_row(job) for job in sorted(jobs, key=lambda job: job.job_id)]
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    # Integer columns go to the browser as numbers; itables sends other non-text columns as text.
    return frame.astype({"id": "int64", "started_ms": "int64", "duration_ms": "int64"}) if rows else frame


def table_options(state_key: str) -> dict[str, Any]:
    """The ITable / DataTables options of the job table.

    The table is rebuilt whenever its data changes, so its search, sort order and page are kept in
    the browser's session storage under ``state_key`` (one per panel) and read back on each rebuild;
    the selection is restored by the widget itself (from ``selected_rows``), so it is left out."""
    from itables import JavascriptFunction

    save = JavascriptFunction(
        "function (settings, data) { try { delete data.select; "
        f"window.sessionStorage.setItem('{state_key}', JSON.stringify(data)); }} catch (e) {{}} }}"
    )
    load = JavascriptFunction(
        "function (settings) { try { return JSON.parse("
        f"window.sessionStorage.getItem('{state_key}') || 'null'); }} catch (e) {{ return null; }} }}"
    )
    hidden = [_COL["started_ms"], _COL["duration_ms"]]
    numbers = [_COL[name] for name in ("id", "restarts", "started", "duration", "started_ms", "duration_ms")]
    texts = [_COL[name] for name in ("name", "status", "type", "queue", "savepoint")]
    return dict(
        select={"style": "os"},  # click, shift-click (range), ctrl/cmd-click (toggle)
        maxBytes=0,  # never downsample: every job is a row
        allow_html=True,  # status pills; every value is escaped by table_row
        showIndex=False,
        classes="display compact nowrap hover",
        style="width:100%;margin:0",
        order=[[_COL["id"], "desc"]],
        pageLength=25,
        lengthMenu=[10, 25, 50, 100, 500],
        text_in_header_can_be_selected=False,  # a click on a header sorts
        columnDefs=[
            {"targets": hidden, "visible": False, "searchable": False},
            # Types given, so DataTables need not inspect every cell of every column to guess them.
            {"targets": numbers, "type": "num"},
            {"targets": texts, "type": "html"},
            # Sort (and type-detect) by the hidden millisecond columns, show the readable text.
            {"targets": _COL["started"], "data": {"_": _COL["started"], "sort": _COL["started_ms"],
                                                  "type": _COL["started_ms"]}},
            {"targets": _COL["duration"], "data": {"_": _COL["duration"], "sort": _COL["duration_ms"],
                                                   "type": _COL["duration_ms"]}},
        ],
        language={"emptyTable": "No jobs loaded yet", "zeroRecords": "No job matches the search"},
        stateSave=True,
        stateSaveCallback=save,
        stateLoadCallback=load,
        warn_on_undocumented_option=False,  # the two state callbacks are DataTables options itables does not list
    )


def applicable_ids(action: str, selected: Iterable[int], statuses: Mapping[int, str | None]) -> list[int]:
    """The selected jobs that ``action`` can be applied to, by their last known status, in id order."""
    allowed = ACTION_STATUSES[action]
    return sorted(i for i in set(selected) if statuses.get(i) in allowed)


def action_label(action: str, count: int, *, confirm: bool = False) -> str:
    """``Stop 12 jobs``, ``Run 1 job``, ``Restart`` (nothing to do), ``Confirm: stop 25 jobs``."""
    verb = ACTION_VERBS[action]
    if not count:
        return verb
    text = f"{verb} {count} job{'s' if count != 1 else ''}"
    return f"Confirm: {text[0].lower()}{text[1:]}" if confirm else text


def selection_text(selected: Sequence[int], statuses: Mapping[int, str | None], total: int) -> str:
    """``3 of 5,000 jobs selected: 2 job_running, 1 job_cancel_success``."""
    if not selected:
        return f"{total:,} job{'s' if total != 1 else ''} · none selected"
    counts: dict[str, int] = {}
    for job_id in selected:
        status = statuses.get(job_id) or "unknown"
        counts[status] = counts.get(status, 0) + 1
    order = {status: i for i, status in enumerate(JOB_STATUSES)}
    parts = [f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]
    return f"{len(selected):,} of {total:,} jobs selected: {', '.join(parts)}"


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


def row_problem(row: Mapping[str, Any], failed_statuses: Iterable[str] = ()) -> str | None:
    """``failed`` (refused, or unhealthy, or ended in a failed status), ``unknown`` (no answer), or None."""
    ok = row.get("is_success")
    if ok is False or row.get("healthy") is False or row.get("status") in set(failed_statuses):
        return "failed"
    if ok is not True:
        return "unknown"
    return None


_ROW_STYLES = {"failed": "background-color:#ffebee;color:#b71c1c", "unknown": "background-color:#fff8e1"}


RESULT_ROWS_SHOWN = 500  # a bigger result shows its problem rows first, then the rest up to this


def styled_result(frame: Any, failed_statuses: Iterable[str] = ()) -> Any:
    """The result frame as shown under the table: failed/unhealthy rows red, unknown ones amber (a
    pandas Styler; the plain frame where the Styler cannot be used, as it needs jinja2). A result
    of more than RESULT_ROWS_SHOWN rows shows its problem rows first and is cut there
    (``panel.result`` keeps every row)."""
    failed_statuses = frozenset(failed_statuses)
    problems = [
        row_problem({k: (None if _isna(v) else v) for k, v in row.items()}, failed_statuses)
        for row in frame.to_dict("records")
    ]
    shown = frame
    if len(frame) > RESULT_ROWS_SHOWN:
        order = sorted(range(len(frame)), key=lambda i: problems[i] is None)  # stable: problems first
        order = order[:RESULT_ROWS_SHOWN]
        shown = frame.iloc[order]
        problems = [problems[i] for i in order]
    styles = dict(zip(shown.index, problems))

    def paint(row):
        return [_ROW_STYLES.get(styles.get(row.name), "")] * len(row)

    try:
        styler = shown.style.apply(paint, axis=1).hide(axis="index")
    except ImportError:
        return shown
    if len(shown) < len(frame):
        styler = styler.set_caption(
            f"{len(shown):,} of {len(frame):,} rows, problems first; panel.result has every row"
        )
    return styler


def _isna(value: Any) -> bool:
    try:
        return bool(value != value) or value is None or str(value) == "<NA>"
    except (TypeError, ValueError):
        return False


def error_lines(exc: BaseException) -> list[str]:
    """The short message of an error: DLIError's own rendering, else ``Type: message`` scrubbed
    (an unexpected error may quote anything, the panel's state is saved with the notebook)."""
    if isinstance(exc, DLIError):
        try:
            return list(exc._render_traceback_())
        except Exception:  # pragma: no cover - rendering must never hide the error
            pass
    return [exception_line(exc)]


def progress_text(action: str, counts: dict[str, int], seconds: float, pending: int = 0) -> str:
    """One live progress line, e.g. ``run: 2 job_submitting · 1 job_running · waiting on 2 (3.0 s)``."""
    order = {status: i for i, status in enumerate(JOB_STATUSES)}
    ordered = sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    parts = [f"{n} {status}" for status, n in ordered if n]
    if pending:
        parts.append(f"waiting on {pending}")
    body = " · ".join(parts) if parts else "working…"
    return f"{action}: {body} ({seconds:.1f} s)"


def detail_html(view: Any) -> str:
    """The detail pane for one job from its one-job view (``dli_magic.job``: ``title()``,
    ``fields()``, ``job``): every field of ``%dli_job``, the status as a coloured pill.

    The SQL body is left out (``%dli_job ID`` shows it): it often carries connector passwords, and a
    console's widget state is saved with the notebook."""
    job = view.job
    rows = []
    for label, value in view.fields():
        if label == "status":
            cell = status_html(job.status)
        elif label == "Flink state":
            cell = f"<b>{html.escape(str(value))}</b>"
        else:
            cell = html.escape(str(value))
        rows.append(f"<tr><th>{html.escape(str(label))}</th><td>{cell}</td></tr>")
    sql = getattr(job, "sql_body", None)
    if sql:
        lines = sql.count("\n") + 1
        rows.append(f"<tr><th>SQL</th><td>{lines} line{'s' if lines != 1 else ''} "
                    f"(<code>%dli_job {job.job_id}</code> shows it)</td></tr>")
    return f'<div class="dli-detail-job"><b>{html.escape(view.title())}</b><table>{"".join(rows)}</table></div>'


# ---------------------------------------------------------------- the browser bridge


_BRIDGE_ESM = """
function attach(model, el) {
  const root = el.closest('.dli-panel');
  if (!root) return null;
  let lastInput = 0, lastSent = 0, searchFocused = false;
  const beat = () => {
    lastSent = Date.now();
    model.send({kind: 'alive', hidden: document.hidden, idle_ms: lastInput ? Date.now() - lastInput : -1});
  };
  const onInput = () => { lastInput = Date.now(); if (Date.now() - lastSent > 200) beat(); };
  const isSearch = (node) => node instanceof Element && node.matches('.dt-search input');
  // Where the user put the focus: a search box that loses it because the table was rebuilt
  // under it gets it back; focus moved anywhere else, or a click elsewhere, lets it go.
  const onFocusIn = (e) => { searchFocused = isSearch(e.target) && root.contains(e.target); };
  const onPointer = (e) => { if (!isSearch(e.target)) searchFocused = false; };
  const observer = new MutationObserver(() => {
    if (!searchFocused || isSearch(document.activeElement)) return;
    const box = root.querySelector('.dt-search input');
    if (box) { box.focus(); const end = box.value.length; box.setSelectionRange(end, end); }
  });
  root.addEventListener('keydown', onInput, true);
  root.addEventListener('pointerdown', onInput, true);
  document.addEventListener('focusin', onFocusIn);
  document.addEventListener('pointerdown', onPointer, true);
  document.addEventListener('visibilitychange', beat);
  observer.observe(root, {childList: true, subtree: true});
  beat();
  const timer = setInterval(beat, model.get('period_ms'));
  return () => {
    clearInterval(timer);
    observer.disconnect();
    root.removeEventListener('keydown', onInput, true);
    root.removeEventListener('pointerdown', onInput, true);
    document.removeEventListener('focusin', onFocusIn);
    document.removeEventListener('pointerdown', onPointer, true);
    document.removeEventListener('visibilitychange', beat);
  };
}
export default {
  render({ model, el }) {
    el.style.display = 'none';
    let cleanup = null, tries = 0, waiting = null;
    // The view is put in the page after render: wait until it is inside its panel.
    const tryAttach = () => {
      cleanup = attach(model, el);
      if (!cleanup && tries++ < 200) waiting = setTimeout(tryAttach, 50);
    };
    tryAttach();
    return () => { clearTimeout(waiting); if (cleanup) cleanup(); };
  }
};
"""


class PanelBridge(anywidget.AnyWidget):
    """Invisible part of the panel: while a view of it is in the page it reports every
    ``period_ms`` ("alive", whether the browser tab is hidden, ms since the last keystroke or click
    in the panel), and keeps the table's search box focused across a rebuild of the table."""

    _esm = _BRIDGE_ESM
    period_ms = traitlets.Int(HEARTBEAT_MS).tag(sync=True)


# ---------------------------------------------------------------- the widget


class DliPanel(widgets.VBox):
    """The job console. Build it with :func:`panel`.

    ``result`` holds the last action's DataFrame, ``last_error`` the last exception, ``jobs`` the
    last loaded job list, ``selected_ids`` the selected jobs; ``wait_idle(timeout)`` blocks until
    no worker runs.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        stable: float | None = None,
        max_jobs: int = DEFAULT_MAX_JOBS,
        refresh_interval: float = REFRESH_SECONDS,
        auto_refresh: bool = True,
        load: bool = True,
        profile: str | None = None,
        client_source: Callable[[], Any] | None = None,
        **settings: Any,
    ) -> None:
        _check_interval(refresh_interval)
        # Checked now, as the API checks them: a value refused only at the first Run would be too late.
        check_bool("wait", wait)
        check_bool("auto_refresh", auto_refresh)
        check_bool("load", load)
        api.check_wait_options(timeout=timeout, stable=stable)
        if stable is not None and not wait:
            raise BadInputError("stable= checks the started jobs' health, which needs wait=True.")
        check_positive("max_jobs", max_jobs, integer=True)
        # A client from settings is built here, so bad settings fail the cell at once (ConfigError,
        # one line) and the settings (secrets included) live only inside the client, never in the panel.
        if client_source is not None:
            if client is not None or profile is not None or settings:
                raise BadInputError("Pass client_source= alone, without client=, profile= or settings.")
            with _checked_source(client_source):  # bad settings fail the cell now here too
                pass
            self._client, self._owns_client = None, False
        else:
            self._client, self._owns_client = api.client_for(client, profile, settings)
        self._client_source = client_source
        self._state_key = f"dli-panel-{uuid.uuid4().hex}"

        self.wait = wait
        self.timeout = timeout
        self.stable = stable
        self.max_jobs = max_jobs
        self.result = None
        self.last_error: BaseException | None = None
        self.refresh_error: BaseException | None = None
        self.jobs: list[Job] = []
        self.last_refreshed: datetime | None = None
        self.last_worker_thread: threading.Thread | None = None
        self.progress_log: list[str] = []  # every progress line of the panel's actions
        # (start, end, "auto"/"manual", "ok"/"error"/"skipped") per listing, monotonic seconds
        self.refresh_log: list[tuple[float, float, str, str]] = []
        # (sent, done, action, job count) per action: from when its requests could start to its end
        self.action_log: list[tuple[float, float, str, int]] = []

        self._statuses: dict[int, str | None] = {}
        self._row_ids: list[int] = []  # the job id of each table row position
        self._selected: list[int] = []  # selected job ids, kept across refreshes
        self._frame_rows: list[list[Any]] = []  # the table's current data, to skip unchanged refreshes
        self._syncing = False  # the kernel itself is setting the table's selection
        self._armed: tuple[str, tuple[int, ...], bool, float] | None = None  # confirm step
        self._busy = False  # an action is being sent or waited for
        self._loading = False  # a listing is running
        self._state_lock = threading.Lock()
        self._view_lock = threading.RLock()
        self._io_lock = threading.Lock()  # one listing or one action at a time
        self._threads: list[threading.Thread] = []
        self._cancel_wait = threading.Event()
        self._handle: Any = None  # the RunHandle of the run or stop being waited for
        self._closed = threading.Event()
        self._ready = threading.Event()  # the widgets exist (or building them failed: then closed)
        self._last_refresh_end = time.monotonic()
        self._seen_at: float | None = None  # last report from a view in the browser
        self._page_hidden = False
        self._input_at: float | None = None  # last keystroke or click in the panel
        self._detail_generation = 0
        self._detail_for: int | None = None

        # The first listing starts before the widgets are built: it waits on the service while the
        # table library is imported and the widgets are made.
        if load:
            self.refresh()
        try:
            self._build_widgets(refresh_interval, auto_refresh)
            super().__init__(children=self._layout_children())
        except BaseException:
            self._closed.set()
            raise
        finally:
            self._ready.set()
        self.add_class("dli-panel")

        self.table.observe(self._on_table_selection, names="selected_rows")
        self.bridge.on_msg(self._on_bridge_msg)
        self.refresh_button.on_click(self._on_refresh_click)
        self.pause_button.observe(self._on_pause_change, names="value")
        self.interval_select.observe(self._on_interval_change, names="value")
        self.run_button.on_click(lambda _: self._action_click("run"))
        self.stop_button.on_click(lambda _: self._action_click("stop"))
        self.restart_button.on_click(lambda _: self._action_click("restart"))
        self.savepoint_box.observe(self._on_option_change, names="value")
        self.trigger_box.observe(self._on_option_change, names="value")
        self.cancel_button.on_click(self._on_cancel_click)
        self._update_controls()
        self._timer = threading.Thread(target=self._timer_loop, name="dli-panel-timer", daemon=True)
        self._timer.start()

    # -- construction

    def _build_widgets(self, refresh_interval: float, auto_refresh: bool) -> None:
        from itables.widget import ITable  # imported here, while the first listing runs

        self.style_html = widgets.HTML(_css())
        self.title = widgets.HTML("<b>DLI Flink jobs</b>")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", tooltip="Reload the job list now")
        self.refresh_button.add_class("dli-refresh")
        self.pause_button = widgets.ToggleButton(
            value=not auto_refresh, description="Pause" if auto_refresh else "Resume",
            icon="pause" if auto_refresh else "play", tooltip="Pause or resume the automatic refresh",
        )
        self.pause_button.add_class("dli-pause")
        choices = list(REFRESH_CHOICES)
        if all(value != refresh_interval for _, value in choices):
            choices.append((f"{refresh_interval:g} s", float(refresh_interval)))
            choices.sort(key=lambda item: item[1])
        self.interval_select = widgets.Dropdown(
            options=choices, value=float(refresh_interval), description="every",
            layout=widgets.Layout(width="150px"), style={"description_width": "40px"},
        )
        self.interval_select.add_class("dli-interval")
        # The first listing writes its outcome here once the widgets exist (it is running now).
        self.refresh_status = widgets.HTML("<small>loading jobs…</small>" if self._loading else "")
        self.refresh_status.add_class("dli-refresh-status")
        self.table = ITable(table_frame([]), **table_options(self._state_key))
        self.table.add_class("dli-jobs")
        self.selection_label = widgets.HTML("")
        self.selection_label.add_class("dli-selection")
        self.detail = widgets.HTML("<small>Select one job to see its details.</small>")
        self.detail.add_class("dli-detail")
        run, stop = contract.ACTIONS["run"], contract.ACTIONS["stop"]
        self.savepoint_box = widgets.Checkbox(value=False, description=run.option_label, indent=False,
                                              layout=widgets.Layout(width="auto"))
        self.savepoint_box.add_class("dli-savepoint")
        wide = widgets.Layout(width="auto", min_width="110px")  # "Confirm: restart 25 jobs" fits
        self.run_button = widgets.Button(description="Run", button_style="success", layout=wide)
        self.run_button.add_class("dli-run")
        self.trigger_box = widgets.Checkbox(value=False, description=stop.option_label, indent=False,
                                            layout=widgets.Layout(width="auto"))
        self.trigger_box.add_class("dli-trigger-savepoint")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", layout=wide)
        self.stop_button.add_class("dli-stop")
        self.restart_button = widgets.Button(description="Restart", button_style="warning", layout=wide)
        self.restart_button.add_class("dli-restart")
        self.cancel_button = widgets.Button(description="Stop waiting", disabled=True,
                                            tooltip="Stop polling; the jobs keep going")
        self.cancel_button.add_class("dli-cancel-wait")
        self.confirm_note = widgets.HTML("")
        self.confirm_note.add_class("dli-confirm-note")
        self.progress = widgets.HTML("")
        self.progress.add_class("dli-progress")
        self.summary = widgets.HTML("")
        self.summary.add_class("dli-summary")
        self.output = widgets.Output(layout=widgets.Layout(width="100%"))
        self.output.add_class("dli-output")
        self.bridge = PanelBridge()
        self.bridge.add_class("dli-bridge")

    def _layout_children(self) -> list[widgets.Widget]:
        toolbar = widgets.HBox(
            [self.refresh_button, self.pause_button, self.interval_select, self.refresh_status],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        table_box = widgets.VBox([self.table, self.selection_label])
        table_box.add_class("dli-table")
        body = widgets.HBox([table_box, self.detail], layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        actions = widgets.HBox(
            [self.savepoint_box, self.run_button, self.trigger_box, self.stop_button, self.restart_button,
             self.cancel_button],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        return [self.style_html, self.title, toolbar, body, actions, self.confirm_note, self.progress,
                self.summary, self.output, self.bridge]

    # -- state

    @property
    def client(self):
        """The ``DliClient`` the panel sends its next request with: the one it was given or made, or
        the one ``client_source()`` gives now (%dli_panel: the session's client, which follows
        %dli_config and %dli_login)."""
        with self._request_client() as client:
            return client

    @contextmanager
    def _request_client(self):
        """The client of one request (a listing, an action, a job's detail), held until it ends."""
        if self._client_source is None:
            yield self._client
        else:
            with _checked_source(self._client_source) as client:
                yield client

    @property
    def busy(self) -> bool:
        """True while an action is being sent or waited for; action clicks meanwhile are ignored."""
        return self._busy

    @property
    def loading(self) -> bool:
        """True while the job list is being read."""
        return self._loading

    @property
    def selected_ids(self) -> list[int]:
        """The selected jobs' ids, in id order (kept by id across refreshes)."""
        return sorted(self._selected)

    @property
    def refresh_interval(self) -> float:
        return float(self.interval_select.value)

    @refresh_interval.setter
    def refresh_interval(self, seconds: float) -> None:
        _check_interval(seconds)
        seconds = float(seconds)
        if all(value != seconds for _, value in self.interval_select.options):
            options = sorted([*self.interval_select.options, (f"{seconds:g} s", seconds)], key=lambda o: o[1])
            self.interval_select.options = options
        self.interval_select.value = seconds

    @property
    def paused(self) -> bool:
        return bool(self.pause_button.value)

    def pause(self, paused: bool = True) -> None:
        """Pause (or, with ``False``, resume) the automatic refresh."""
        self.pause_button.value = bool(paused)

    def select(self, job_ids: Sequence[int]) -> None:
        """Select these jobs (those in the table; others are ignored), as clicks in the table would."""
        with self._view_lock:
            positions = {job_id: pos for pos, job_id in enumerate(self._row_ids)}
            self._selected = [int(i) for i in dict.fromkeys(job_ids) if int(i) in positions]
            self._set_selected_rows(sorted(positions[i] for i in self._selected))
        self._selection_changed()

    def _set_selected_rows(self, rows: list[int], frame: Any = None) -> None:
        """Send the selection (and new data) to the browser; the kernel's own change is not a click."""
        with self._view_lock:
            self._syncing = True
            try:
                if frame is not None:
                    with self.table.hold_sync():
                        self.table.update(frame, selected_rows=rows, **table_options(self._state_key))
                elif list(self.table.selected_rows) != rows:
                    self.table.selected_rows = rows
            finally:
                self._syncing = False

    def applicable(self, action: str) -> list[int]:
        """The selected jobs ``action`` ("run", "stop", "restart") would be sent for."""
        with self._view_lock:
            return applicable_ids(action, self._selected, self._statuses)

    def restart_available(self) -> bool:
        return hasattr(api, "restart_jobs")

    # -- selection and controls

    def _on_table_selection(self, change: dict) -> None:
        try:
            with self._view_lock:
                if self._syncing:
                    return
                rows = self._row_ids
                self._selected = [rows[p] for p in change["new"] if 0 <= p < len(rows)]
            self._selection_changed()
        except Exception as exc:  # a handler must never fail silently
            self._show_error(exc)

    def _selection_changed(self) -> None:
        self._disarm()
        self._update_controls()
        selected = self.selected_ids
        if len(selected) == 1:
            self._load_detail(selected[0])
        else:
            self._detail_generation += 1
            self._detail_for = None
            self.detail.value = (
                "<small>Select one job to see its details.</small>" if not selected
                else f"<small>{len(selected)} jobs selected; select one to see its details.</small>"
            )

    def _on_option_change(self, change: dict) -> None:
        try:
            self._disarm()
            self._update_controls()
        except Exception as exc:
            self._show_error(exc)

    def _update_controls(self) -> None:
        """Buttons say how many jobs they would touch and are enabled only when that is at least one."""
        with self._view_lock:
            selected, statuses, total = list(self._selected), dict(self._statuses), len(self._row_ids)
            armed = self._armed
        busy = self._busy
        self.selection_label.value = f"<small>{html.escape(selection_text(selected, statuses, total))}</small>"
        for action, button in (("run", self.run_button), ("stop", self.stop_button), ("restart", self.restart_button)):
            ids = applicable_ids(action, selected, statuses)
            confirm = armed is not None and armed[0] == action
            if action == "restart" and not self.restart_available():
                button.description = "Restart: not available yet"
                button.tooltip = "Restart with savepoint needs dli_magic.restart_jobs, which is not available yet"
                button.disabled = True
                continue
            button.description = action_label(action, len(ids), confirm=confirm)
            button.button_style = "warning" if confirm else _BUTTON_STYLES[action]
            skipped = len(selected) - len(ids)
            button.tooltip = _action_tooltip(action, len(ids), skipped)
            button.disabled = busy or not ids
        self.refresh_button.disabled = busy

    # -- output helpers (thread-safe: only trait assignments)

    def _show_error(self, exc: BaseException) -> None:
        self.last_error = exc
        self.output.append_stderr("\n".join(error_lines(exc)) + "\n")

    def _show_notice(self, text: str) -> None:
        self.output.append_stdout(text.rstrip("\n") + "\n")

    # -- threads

    def _spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=self._run_thread, args=(target,), name=f"dli-panel-{name}", daemon=True)
        with self._state_lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def _run_thread(self, target: Callable[[], None]) -> None:
        self.last_worker_thread = threading.current_thread()
        try:
            target()
        except BaseException as exc:  # shown, never lost to the log
            try:
                self._show_error(exc)
            except Exception:  # pragma: no cover - comm closed under us
                self.last_error = exc

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no listing, action or detail load runs; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._state_lock:
                threads = [t for t in self._threads if t.is_alive()]
            for thread in threads:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                thread.join(remaining)
                if thread.is_alive():
                    return False
            with self._state_lock:
                idle = not self._busy and not self._loading and not any(t.is_alive() for t in self._threads)
            if idle:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)  # a thread is being started: let it register

    # -- refresh

    def refresh(self, *, auto: bool = False) -> bool:
        """Reload the job list on a worker thread; False when ignored (an action is running, a
        listing is already running, or the panel is closed)."""
        with self._state_lock:
            if self._busy or self._loading or self._closed.is_set():
                return False
            self._loading = True
        self._spawn("refresh", lambda: self._refresh_work(auto))
        return True

    def _widgets_ready(self) -> bool:
        """Wait until the widgets exist; False when they never will (building them failed) or the panel closed."""
        self._ready.wait()
        return not self._closed.is_set()

    def _refresh_work(self, auto: bool) -> None:
        kind, started = ("auto" if auto else "manual"), time.monotonic()
        try:
            if self._ready.is_set():
                self.refresh_status.value = "<small>refreshing…</small>"
            with self._io_lock:
                if self._busy:  # an action was clicked meanwhile: it goes first, this read is moot
                    self.refresh_log.append((started, time.monotonic(), kind, "skipped"))
                    if self._widgets_ready():
                        self._show_refreshed()
                    return
                jobs = self._read_jobs()
                read = time.monotonic()
            if not self._widgets_ready():
                return
            if auto and self._input_at is not None and self._input_at >= started:
                # The user clicked or typed in the panel while this was read: the table is not
                # rebuilt under them (a shift-click's anchor would be lost); the timer tries again.
                self.refresh_log.append((started, read, kind, "skipped"))
                self._show_refreshed(self.refresh_error)
                return
            self._set_jobs(jobs)
            self.refresh_error = None
            self.refresh_log.append((started, read, kind, "ok"))
            self._show_refreshed()
        except Exception as exc:  # the last table stays; the error is shown short, in the status line
            self.refresh_error = self.last_error = exc
            self.refresh_log.append((started, time.monotonic(), kind, "error"))
            if self._widgets_ready():
                self._show_refreshed(exc)
        finally:
            with self._state_lock:
                self._loading = False
            self._last_refresh_end = time.monotonic()
            if self._widgets_ready():
                self._update_controls()

    def _read_jobs(self) -> list[Job]:
        with self._request_client() as client:
            return list(islice(client.iter_jobs(), self.max_jobs))

    def _set_jobs(self, jobs: list[Job]) -> None:
        """New data for the table; the selection is carried over by job id."""
        frame = table_frame(jobs)
        with self._view_lock:
            row_ids = [int(i) for i in frame["id"]]
            positions = {job_id: pos for pos, job_id in enumerate(row_ids)}
            self._selected = [i for i in self._selected if i in positions]
            selected_rows = sorted(positions[i] for i in self._selected)
            changed = self._frame_rows != frame.values.tolist()
            self.jobs = jobs
            self.last_refreshed = datetime.now()
            self._statuses = {job.job_id: job.status for job in jobs}
            self._row_ids = row_ids
            if changed:
                self._frame_rows = frame.values.tolist()
            self._set_selected_rows(selected_rows, frame if changed else None)
            armed = self._armed
            if armed is not None and tuple(applicable_ids(armed[0], self._selected, self._statuses)) != armed[1]:
                self._armed = None  # what the confirmation was for has changed
                self.confirm_note.value = ""
        self._update_controls()
        selected = self.selected_ids
        if len(selected) == 1:
            self._load_detail(selected[0])
        elif not selected and self._detail_for is not None:
            self._selection_changed()

    def _show_refreshed(self, error: BaseException | None = None) -> None:
        when = self.last_refreshed.strftime("%H:%M:%S") if self.last_refreshed else None
        count = len(self.jobs)
        capped = f" (the newest {self.max_jobs:,} only)" if count >= self.max_jobs else ""
        mode = "paused" if self.paused else f"auto every {self.refresh_interval:g} s"
        if error is None:
            text = f"refreshed {when} · {count:,} jobs{capped} · {mode}" if when else mode
            self.refresh_status.value = f"<small>{html.escape(text)}</small>"
        else:
            short = error_lines(error)[0]
            kept = f" — showing the list from {when}" if when else ""
            self.refresh_status.value = (
                f'<small class="dli-refresh-error">refresh failed at {datetime.now():%H:%M:%S}: '
                f"{html.escape(short)}{html.escape(kept)} · {html.escape(mode)}</small>"
            )

    def _on_refresh_click(self, button: widgets.Button) -> None:
        try:
            self.refresh()
        except Exception as exc:
            self._show_error(exc)

    def _on_pause_change(self, change: dict) -> None:
        try:
            paused = bool(change["new"])
            self.pause_button.description = "Resume" if paused else "Pause"
            self.pause_button.icon = "play" if paused else "pause"
            if not self._loading:
                self._show_refreshed(self.refresh_error)
        except Exception as exc:
            self._show_error(exc)

    def _on_interval_change(self, change: dict) -> None:
        try:
            if not self._loading:
                self._show_refreshed(self.refresh_error)
        except Exception as exc:
            self._show_error(exc)

    # -- the automatic refresh

    def _on_bridge_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        """A report from a view in the browser: it is on screen (or its tab is hidden)."""
        if not isinstance(content, dict) or content.get("kind") != "alive":
            return
        now = time.monotonic()
        self._seen_at = now
        self._page_hidden = bool(content.get("hidden"))
        idle = content.get("idle_ms")
        if isinstance(idle, (int, float)) and not isinstance(idle, bool) and idle >= 0:
            self._input_at = now - idle / 1000

    def shown(self, now: float | None = None) -> bool:
        """True while a view of the panel reported recently from a visible browser tab."""
        now = time.monotonic() if now is None else now
        return self._seen_at is not None and now - self._seen_at < SHOWN_FOR and not self._page_hidden

    def refresh_due(self, now: float | None = None) -> bool:
        """Whether the timer would start a refresh now."""
        now = time.monotonic() if now is None else now
        if self.paused or self._busy or self._loading or self._closed.is_set() or not self.shown(now):
            return False
        if self._input_at is not None and now - self._input_at < QUIET_AFTER_INPUT:
            return False
        return now - self._last_refresh_end >= self.refresh_interval

    def _timer_loop(self) -> None:
        while not self._closed.wait(TICK):
            try:
                now = time.monotonic()
                armed = self._armed
                if armed is not None and now - armed[3] > CONFIRM_SECONDS:
                    self._disarm()
                    self._update_controls()
                if self.refresh_due(now):
                    self.refresh(auto=True)
            except Exception as exc:  # the timer must survive anything (e.g. a comm closed under it)
                self.last_error = exc

    # -- actions

    def _option(self, action: str) -> bool:
        if action == "run":
            return bool(self.savepoint_box.value)
        if action == "stop":
            return bool(self.trigger_box.value)
        return True  # a restart always goes through a savepoint

    def _disarm(self) -> None:
        if self._armed is not None:
            self._armed = None
            self.confirm_note.value = ""

    def _action_click(self, action: str) -> None:
        try:
            if self._busy:
                return  # a click queued while an action runs is ignored
            if action == "restart" and not self.restart_available():
                raise BadInputError("Restart with savepoint is not available yet (needs dli_magic.restart_jobs).")
            ids = self.applicable(action)
            if not ids:
                if not self._selected:
                    validate_job_ids([])  # BadInputError: "No job ids given"; nothing sent
                raise BadInputError(
                    f"None of the {len(self._selected)} selected jobs can be {_PAST[action]} in their current status."
                )
            ids = validate_job_ids(ids).ids
            option = self._option(action)
            if len(ids) > CONFIRM_OVER:
                armed = self._armed
                if armed is None or armed[:3] != (action, tuple(ids), option):
                    self._armed = (action, tuple(ids), option, time.monotonic())
                    self.confirm_note.value = (
                        f'<span class="dli-confirm">{html.escape(action_label(action, len(ids)))}'
                        f"{html.escape(_option_words(action, option))}? Click "
                        f"“{html.escape(action_label(action, len(ids), confirm=True))}” to confirm.</span>"
                    )
                    self._update_controls()
                    return
            self._disarm()
            self._start_action(action, ids, option)
        except Exception as exc:
            self._show_error(exc)

    def _start_action(self, action: str, ids: list[int], option: bool) -> bool:
        with self._state_lock:
            if self._busy or self._closed.is_set():
                return False
            self._busy = True
        self._update_controls()
        self._spawn(action, lambda: self._action_work(action, ids, option))
        return True

    def _action_work(self, action: str, ids: list[int], option: bool) -> None:
        try:
            with self._io_lock:  # waits for a listing in flight: no request overlaps the action
                sent = time.monotonic()
                try:
                    self._run_action(action, ids, option)
                finally:
                    self.action_log.append((sent, time.monotonic(), action, len(ids)))
        finally:
            with self._state_lock:
                self._busy = False
            self._last_refresh_end = time.monotonic()
            try:
                self._update_controls()
            except Exception as exc:  # pragma: no cover - comm closed under us
                self.last_error = exc

    def _run_action(self, action: str, ids: list[int], option: bool) -> None:
        self.output.outputs = ()
        self.summary.value = ""
        self._cancel_wait.clear()
        started = time.monotonic()
        self.progress.value = html.escape(f"{action}: sending {len(ids)} job{'s' if len(ids) != 1 else ''}…")
        if self.wait:
            self.cancel_button.disabled = False
        try:
            frame = self._call_api(action, ids, option)
        finally:
            self.cancel_button.disabled = True
            self.progress.value = ""
        seconds = time.monotonic() - started
        self.result = frame
        ok, failed, unknown = outcome_counts(frame)
        self.summary.value = summary_html(action, ok, failed, unknown, seconds)
        failed_statuses = contract.ACTIONS[action].failed if action in contract.ACTIONS else ()
        self.output.append_display_data(styled_result(frame, failed_statuses))
        # Fresh statuses in the table (still under the lock: no other request in between); a
        # failed reload is shown in the status line, the result stays.
        try:
            jobs = self._read_jobs()
            self._set_jobs(jobs)
            self.refresh_error = None
            self._show_refreshed()
        except Exception as exc:
            self.refresh_error = exc
            self._show_refreshed(exc)

    def _call_api(self, action: str, ids: list[int], option: bool):
        """The API call behind each button: the same functions as %dli_run / %dli_stop / %dli_restart."""
        with self._request_client() as client:
            return self._call_api_with(client, action, ids, option)

    def _call_api_with(self, client: Any, action: str, ids: list[int], option: bool):
        common = dict(
            client=client,
            on_state=lambda state: self._on_wait_state(action, state),
            notify=self._show_notice,
            echo=None,
            source="panel",
        )
        if action == "restart":
            return api.restart_jobs(ids, timeout=self.timeout, stable=self.stable, on_step=self._on_step,
                                    yes=True, **common)
        extra: dict[str, Any] = {}
        if action == "run" and self.stable is not None:
            extra["stable"] = self.stable
        # yes=True: a large action was confirmed with the panel's second click. A waited run or stop
        # waits behind a RunHandle, as `%dli_run --background` does (one way to wait in the
        # background): "Stop waiting" is the handle's stop_waiting().
        if not self.wait:
            return api.execute(action, ids, option, wait=False, yes=True, **extra, **common)
        handle = api.execute(action, ids, option, timeout=self.timeout, yes=True, background=True, **extra, **common)
        self._handle = handle
        try:
            if self._cancel_wait.is_set():
                handle.stop_waiting()
            return handle.result()
        finally:
            self._handle = None

    def _on_wait_state(self, action: str, state: Any) -> None:
        """Live progress while the API polls; "Stop waiting" ends the wait (not the jobs)."""
        if self._cancel_wait.is_set():
            raise KeyboardInterrupt  # the API treats it as "stop waiting"
        try:
            self.progress_log.append(progress_text(action, state.counts(), state.elapsed, len(state.pending)))
            self.progress.value = html.escape(self.progress_log[-1])
        except Exception as exc:  # progress must never break the run
            self.last_error = exc

    def _on_step(self, label: str) -> None:
        """A restart's step ("stopping with savepoint", …) as the progress line."""
        try:
            self.progress_log.append(f"restart: {label}")
            self.progress.value = html.escape(self.progress_log[-1])
        except Exception as exc:  # progress must never break the restart
            self.last_error = exc

    def stop_waiting(self) -> None:
        """Stop polling for the current action (the jobs keep going); the result shows what is known."""
        self._cancel_wait.set()
        handle = self._handle
        if handle is not None:
            handle.stop_waiting()

    def _on_cancel_click(self, button: widgets.Button) -> None:
        try:
            self.stop_waiting()
        except Exception as exc:
            self._show_error(exc)

    # -- detail

    def _load_detail(self, job_id: int) -> None:
        """Read one job on its own thread; only the newest request's answer is shown."""
        self._detail_generation += 1
        generation = self._detail_generation
        if self._detail_for != job_id:
            self.detail.value = f"<small>loading job {job_id}…</small>"
        self._detail_for = job_id
        self._spawn("detail", lambda: self._detail_work(job_id, generation))

    def _detail_work(self, job_id: int, generation: int) -> None:
        try:
            markup = self._detail_markup(job_id)
        except Exception as exc:
            markup = (f'<div class="dli-detail-error"><b>job {job_id}</b><br>'
                      f'{html.escape(error_lines(exc)[0])}</div>')
        if generation == self._detail_generation and not self._closed.is_set():
            self.detail.value = markup

    def _detail_markup(self, job_id: int) -> str:
        with self._request_client() as client:
            return detail_html(api.job(job_id, client=client))  # the view of %dli_job

    # -- lifecycle

    def close(self) -> None:
        """Stop the timer, close every widget of the panel, and the client when the panel created it."""
        # Also reached from Widget.__del__ on a panel whose __init__ failed: attributes may be missing.
        for name in ("_closed", "_cancel_wait"):
            event = getattr(self, name, None)
            if event is not None:
                event.set()
        handle = getattr(self, "_handle", None)
        if handle is not None:  # the wait ends as "stopped waiting", its rows kept
            handle.stop_waiting()
        for widget in _walk(self):
            if widget is not self:
                widget.close()
        super().close()
        client = getattr(self, "_client", None)
        if getattr(self, "_owns_client", False) and client is not None:
            self._client = None
            if handle is not None and not handle.done():  # its last round still uses the client
                handle.add_done_callback(lambda done: client.close())
            else:
                client.close()


def _checked_source(client_source: Callable[[], Any]):
    """What ``client_source()`` returns: a context manager that holds a client for one request. A
    ``DliClient`` is refused: entering it would close it at the end of the first request."""
    from .client import DliClient

    held = client_source()
    if isinstance(held, DliClient):
        raise BadInputError("client_source must return a context manager holding the client for one request, "
                            "not a DliClient: pass a fixed client as client=.")
    return held


_PAST = {"run": "run", "stop": "stopped", "restart": "restarted"}


def _option_words(action: str, option: bool) -> str:
    if action == "run":
        return " (resume from savepoint)" if option else " (without savepoint)"
    if action == "stop":
        return " (trigger savepoint)" if option else " (without savepoint)"
    return " (stop with savepoint, run from it)"


def _action_tooltip(action: str, count: int, skipped: int) -> str:
    verb = ACTION_VERBS[action]
    if not count:
        return f"None of the selected jobs can be {_PAST[action]} in their current status"
    text = f"{verb} {count} selected job{'s' if count != 1 else ''}"
    if skipped:
        text += f"; {skipped} other selected job{'s' if skipped != 1 else ''} cannot be {_PAST[action]} now"
    return text


def _check_interval(seconds: Any) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 86400:
        raise BadInputError(f"refresh_interval must be a number of seconds above 0, not {seconds!r}.")


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
    """Open the job console: ``dli_magic.panel()``; ``%dli_panel`` calls this too.

    Pass a ``client`` (a ``DliClient``) or settings (``profile=``, ``endpoint=``, …) exactly as for
    ``dli_magic.connect``; or ``client_source``, a function that returns a context manager giving the
    client for one request and holding it until the request ends (what ``%dli_panel`` passes: the
    session's client, so the panel follows ``%dli_config`` and ``%dli_login``). ``refresh_interval`` (seconds, default 10) and ``auto_refresh`` set the
    live refresh; ``wait=False`` returns after an action's call without polling; ``stable=S`` checks
    run jobs' health for S seconds; ``max_jobs`` caps the listing (newest first).
    """
    return DliPanel(client, **kwargs)
