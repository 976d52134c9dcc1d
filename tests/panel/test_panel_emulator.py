"""The panel against a real emulator over HTTP: load, select, state-dependent actions, confirm,
run/stop, refresh (manual, automatic, failing), detail, busy, history.

Handlers are driven through the widgets themselves: ``button.click()`` calls the on_click handlers,
assigning ``panel.table.selected_rows`` is what the browser does on a click in the table, and a
report from the browser bridge is the message its view sends while the panel is on screen.
``wait_idle`` waits for the worker threads.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

import dli_magic
from dli_magic import widget
from dli_magic.errors import AuthError, BadInputError, ServiceError
from dli_magic.results import OUTCOME_COLUMNS


def _posts(emu, suffix):
    return [e for e in emu.request_log() if e["method"] == "POST" and e["path"].endswith(suffix)]


def _lists(emu):
    return [e for e in emu.request_log() if e["method"] == "GET" and e["path"].endswith("/streaming/jobs")]


def _table_ids(panel):
    return [int(i) for i in panel.table.df["id"]]


def _row(panel, job_id):
    frame = panel.table.df
    return frame[frame["id"] == job_id].iloc[0]


def _click_rows(panel, job_ids):
    """What the browser sends when rows are clicked: their positions in the table's data."""
    ids = _table_ids(panel)
    panel.table.selected_rows = sorted(ids.index(i) for i in job_ids)


def _output_text(panel, stream=None):
    return "".join(
        o.get("text", "")
        for o in panel.output.outputs
        if o.get("output_type") == "stream" and (stream is None or o.get("name") == stream)
    )


def _output_html(panel):
    return "".join(
        o["data"].get("text/html", "") for o in panel.output.outputs if o.get("output_type") == "display_data"
    )


def _until(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@contextmanager
def _on_screen(panel, hidden=False, idle_ms=-1):
    """Reports from a view of the panel, as the bridge sends them from the browser, until the block ends."""
    stop = threading.Event()

    def report():
        while True:
            panel._on_bridge_msg(panel.bridge, {"kind": "alive", "hidden": hidden, "idle_ms": idle_ms}, [])
            if stop.wait(0.1):
                return

    thread = threading.Thread(target=report, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_loads_the_live_job_list_on_a_worker_thread_into_the_table(emulator, make_panel):
    alpha = emulator.create_job(name="panel-alpha", status="job_init", has_savepoint=True)
    beta = emulator.create_job(name="panel-beta", status="job_running", job_type="flink_jar_job",
                               queue_name="dli_prod")
    panel = make_panel(emulator)

    listed = {job.job_id for job in panel.jobs}
    assert alpha in listed and beta in listed
    assert _table_ids(panel) == sorted(listed)  # every job is a row, in id order
    row = _row(panel, beta)
    assert row["name"] == "panel-beta" and row["queue"] == "dli_prod"
    assert row["type"] == '<span title="flink_jar_job">jar</span>'
    assert row["status"] == '<span class="dli-s dli-s-running">job_running</span>'
    assert "yes" in _row(panel, alpha)["savepoint"]
    assert panel.last_error is None and not panel.busy and not panel.loading
    assert panel.last_worker_thread is not threading.main_thread()
    assert panel.last_worker_thread.name == "dli-panel-refresh"
    assert f"{len(listed):,} jobs" in panel.refresh_status.value and "refreshed " in panel.refresh_status.value
    assert "auto every 10 s" in panel.refresh_status.value
    assert panel.selection_label.value == f"<small>{len(listed)} jobs · none selected</small>"
    assert panel.run_button.disabled and panel.stop_button.disabled and panel.restart_button.disabled


def test_selection_is_kept_by_job_id_across_refreshes(emulator, make_panel):
    a = emulator.create_job(name="panel-a", status="job_init")
    b = emulator.create_job(name="panel-b", status="job_init")
    c = emulator.create_job(name="panel-c", status="job_running")
    panel = make_panel(emulator)
    _click_rows(panel, [b, c])
    assert panel.selected_ids == [b, c]
    before = list(panel.table.selected_rows)

    panel.client.delete_job(a)  # every row after it moves up one position
    newer = emulator.create_job(name="panel-newer", status="job_init")
    assert panel.refresh() and panel.wait_idle(10)
    assert panel.selected_ids == [b, c]
    ids = _table_ids(panel)
    assert a not in ids and newer in ids
    assert list(panel.table.selected_rows) == [ids.index(b), ids.index(c)] != before
    assert "2 of" in panel.selection_label.value

    panel.client.delete_job(b)  # a selected job that is gone is no longer selected
    assert panel.refresh() and panel.wait_idle(10)
    assert panel.selected_ids == [c] and list(panel.table.selected_rows) == [_table_ids(panel).index(c)]


def test_buttons_fit_the_states_of_the_selected_jobs(emulator, make_panel):
    running = emulator.create_job(name="panel-running", status="job_running")
    stopped = emulator.create_job(name="panel-stopped", status="job_cancel_success")
    submitting = emulator.create_job(name="panel-submitting", status="job_submitting")
    panel = make_panel(emulator)

    _click_rows(panel, [running, stopped, submitting])
    assert (panel.run_button.description, panel.run_button.disabled) == ("Run 1 job", False)
    assert (panel.stop_button.description, panel.stop_button.disabled) == ("Stop 2 jobs", False)
    assert "2 other selected jobs cannot be run now" in panel.run_button.tooltip
    assert panel.applicable("run") == [stopped] and panel.applicable("stop") == [running, submitting]

    _click_rows(panel, [running])
    assert (panel.run_button.description, panel.run_button.disabled) == ("Run", True)
    assert "None of the selected jobs can be run" in panel.run_button.tooltip
    assert (panel.stop_button.description, panel.stop_button.disabled) == ("Stop 1 job", False)

    if hasattr(dli_magic.api, "restart_jobs"):
        assert (panel.restart_button.description, panel.restart_button.disabled) == ("Restart 1 job", False)
    else:
        assert panel.restart_button.description == "Restart: not available yet" and panel.restart_button.disabled
        panel.restart_button.click()  # disabled in the browser; a programmatic click is refused in one line
        assert isinstance(panel.last_error, BadInputError)
        assert "not available yet" in _output_text(panel, "stderr")

    _click_rows(panel, [])
    assert panel.run_button.disabled and panel.stop_button.disabled and panel.run_button.description == "Run"


@pytest.mark.parametrize("resume", [True, False])
def test_run_sends_only_the_runnable_selected_jobs_and_shows_the_result(emulator, make_panel, resume):
    stopped = emulator.create_job(name="panel-orders", status="job_cancel_success", has_savepoint=True)
    fresh = emulator.create_job(name="panel-clicks", status="job_init")
    running = emulator.create_job(name="panel-busy", status="job_running")
    panel = make_panel(emulator)
    _click_rows(panel, [stopped, fresh, running])
    panel.savepoint_box.value = resume
    assert panel.run_button.description == "Run 2 jobs"
    emulator.clear_request_log()
    panel.run_button.click()
    assert panel.wait_idle(20)

    runs = _posts(emulator, "/jobs/run")
    assert [r["body"] for r in runs] == [{"job_ids": [stopped, fresh], "resume_savepoint": resume}]
    assert panel.last_error is None, _output_text(panel)
    frame = panel.result
    assert [(c, str(t)) for c, t in frame.dtypes.items()] == list(OUTCOME_COLUMNS)
    assert frame["job_id"].tolist() == [stopped, fresh]
    assert frame["is_success"].tolist() == [True, True]
    assert set(frame["status"]) == {"job_running"}  # waited through the API's poller
    assert frame.attrs["resume_savepoint"] is resume and frame.attrs["wait"] is True
    assert panel.progress_log and panel.progress_log[-1].startswith("run: ")
    assert "run: 2 jobs — 2 ok, 0 failed, 0 unknown" in panel.summary.value
    table = _output_html(panel)
    assert "<table" in table and all(str(i) in table for i in (stopped, fresh))
    # The table was read again after the run: new statuses, the selection kept, buttons recomputed.
    assert "job_running" in _row(panel, stopped)["status"] and "job_running" in _row(panel, fresh)["status"]
    assert panel.selected_ids == [stopped, fresh, running]
    assert panel.run_button.disabled and panel.stop_button.description == "Stop 3 jobs"
    recorded = dli_magic.history()
    assert recorded["job_id"].tolist()[-2:] == [stopped, fresh]
    assert set(recorded["source"].tail(2)) == {"panel"}


def test_stop_with_trigger_savepoint(emulator, make_panel):
    running = emulator.create_job(name="panel-running", status="job_running")
    panel = make_panel(emulator)
    _click_rows(panel, [running])
    panel.trigger_box.value = True
    panel.stop_button.click()
    assert panel.wait_idle(20)
    stops = _posts(emulator, "/jobs/stop")
    assert [s["body"] for s in stops] == [{"job_ids": [running], "trigger_savepoint": True}]
    assert panel.result.attrs["action"] == "stop" and panel.result.attrs["trigger_savepoint"] is True
    assert panel.result["is_success"].tolist() == [True]
    assert panel.result["status"].tolist() == ["job_cancel_success"]
    assert "stop: 1 job — 1 ok" in panel.summary.value
    assert emulator.get_job(running)["has_savepoint"] is True
    assert "yes" in _row(panel, running)["savepoint"] and "job_cancel_success" in _row(panel, running)["status"]


def _many(emulator, n, prefix="panel-bulk"):
    return [emulator.create_job(name=f"{prefix}-{i:02d}", status="job_init") for i in range(n)]


def test_more_than_20_jobs_need_a_second_click(emulator, make_panel):
    bulk = _many(emulator, 25)
    panel = make_panel(emulator)
    _click_rows(panel, bulk)
    emulator.clear_request_log()

    panel.run_button.click()
    assert _posts(emulator, "/jobs/run") == [] and not panel.busy
    assert panel.run_button.description == "Confirm: run 25 jobs" and panel.run_button.button_style == "warning"
    assert "Run 25 jobs (without savepoint)? Click" in panel.confirm_note.value

    _click_rows(panel, bulk[:24])  # the selection changed: the confirmation was for other jobs
    assert panel.run_button.description == "Run 24 jobs" and panel.confirm_note.value == ""
    panel.run_button.click()
    panel.savepoint_box.value = True  # the option changed: ask again
    assert panel.run_button.description == "Run 24 jobs"
    panel.run_button.click()
    assert "(resume from savepoint)" in panel.confirm_note.value
    panel.stop_button.click()  # another button does not confirm this one
    assert _posts(emulator, "/jobs/run") == [] and _posts(emulator, "/jobs/stop") == []

    panel.run_button.click()
    assert panel.wait_idle(20)
    runs = _posts(emulator, "/jobs/run")
    assert [r["body"] for r in runs] == [{"job_ids": bulk[:24], "resume_savepoint": True}]
    assert panel.confirm_note.value == "" and panel.result["is_success"].all()


def test_20_jobs_go_with_one_click_and_a_confirmation_lapses(emulator, make_panel, monkeypatch):
    bulk = _many(emulator, 21)
    panel = make_panel(emulator)
    _click_rows(panel, bulk[:20])
    emulator.clear_request_log()
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert [len(r["body"]["job_ids"]) for r in _posts(emulator, "/jobs/run")] == [20]

    monkeypatch.setattr(widget, "CONFIRM_SECONDS", 1.0)
    _click_rows(panel, bulk)  # 21 selected: 20 running, 1 never run
    assert (panel.stop_button.description, panel.run_button.description) == ("Stop 20 jobs", "Run 1 job")
    panel.stop_button.click()  # what counts is the jobs it touches: 20, no confirmation
    assert panel.wait_idle(20)
    assert [len(r["body"]["job_ids"]) for r in _posts(emulator, "/jobs/stop")] == [20]
    emulator.clear_request_log()
    assert panel.run_button.description == "Run 21 jobs"
    panel.run_button.click()
    assert panel.run_button.description == "Confirm: run 21 jobs"
    _until(lambda: panel.run_button.description == "Run 21 jobs", 5, "the confirmation to lapse")
    panel.run_button.click()  # after it lapsed, this is a first click again
    assert _posts(emulator, "/jobs/run") == [] and panel.run_button.description == "Confirm: run 21 jobs"


def test_a_failed_refresh_keeps_the_table_and_says_why(emulator, make_panel):
    job = emulator.create_job(name="panel-kept", status="job_init")
    panel = make_panel(emulator, settings={"max_retries": 1})
    _click_rows(panel, [job])
    rows = _table_ids(panel)
    emulator.set_faults({"error": {"status": 503, "count": 100, "method": "GET", "path": "/streaming/jobs"}})
    assert panel.refresh() and panel.wait_idle(20)
    assert isinstance(panel.refresh_error, ServiceError) and panel.last_error is panel.refresh_error
    status = panel.refresh_status.value
    assert "refresh failed at" in status and "ServiceError" in status and "showing the list from" in status
    assert "Traceback" not in status and "\n" not in status
    assert _table_ids(panel) == rows and panel.selected_ids == [job]  # the last table stays
    assert not panel.run_button.disabled and panel.output.outputs == ()  # not an error box per refresh
    assert panel.refresh_log[-1][2:] == ("manual", "error")

    emulator.clear_faults()
    assert panel.refresh() and panel.wait_idle(20)
    assert panel.refresh_error is None and "refreshed " in panel.refresh_status.value


def test_auto_refresh_shows_a_change_made_elsewhere(emulator, make_panel):
    job = emulator.create_job(name="panel-live", status="job_running")
    panel = make_panel(emulator, refresh_interval=0.3)
    assert "job_running" in _row(panel, job)["status"]
    emulator.set_behaviour(job, {"kind": "crash_loop", "after": 0, "every": 1000, "reason": "TaskManager lost"})
    with _on_screen(panel):
        _until(lambda: "job_running_exception" in _row(panel, job)["status"], 10, "the auto-refresh")
    assert "dli-s-failing" in _row(panel, job)["status"]
    assert any(kind == "auto" and outcome == "ok" for _, _, kind, outcome in panel.refresh_log)
    assert "auto every 0.3 s" in panel.refresh_status.value


def test_no_auto_refresh_unless_shown_visible_idle_and_unpaused(emulator, make_panel, monkeypatch):
    monkeypatch.setattr(widget, "SHOWN_FOR", 0.5)  # a view that stops reporting counts as gone sooner
    panel = make_panel(emulator, refresh_interval=0.2)
    assert panel.wait_idle(10)

    def autos():
        return sum(1 for _, _, kind, _ in panel.refresh_log if kind == "auto")

    time.sleep(0.8)  # no view has reported: not shown
    assert autos() == 0 and not panel.shown()
    with _on_screen(panel, hidden=True):  # the browser tab is in the background
        time.sleep(0.8)
    assert autos() == 0
    with _on_screen(panel, idle_ms=0):  # the user is typing or clicking in the panel
        time.sleep(0.8)
    assert autos() == 0
    panel.pause()
    assert panel.pause_button.description == "Resume" and "paused" in panel.refresh_status.value
    with _on_screen(panel):
        time.sleep(0.8)
    assert autos() == 0
    panel.pause(False)
    with _on_screen(panel):
        _until(lambda: autos() >= 1, 5, "an automatic refresh")
    assert panel.wait_idle(10)
    # A click while an automatic listing is on its way: its result is not put under the user's pointer.
    emulator.set_faults({"latency_ms": {"ms": 400, "method": "GET", "path": "/streaming/jobs"}})
    with _on_screen(panel):
        _until(lambda: panel.loading, 5, "the next automatic refresh")
        panel._on_bridge_msg(panel.bridge, {"kind": "alive", "hidden": False, "idle_ms": 0}, [])
        assert panel.wait_idle(10)
    emulator.clear_faults()
    assert panel.refresh_log[-1][2:] == ("auto", "skipped")
    time.sleep(widget.SHOWN_FOR + 0.3)  # the view went away: refreshing stops
    assert panel.wait_idle(10)
    count = autos()
    time.sleep(0.8)
    assert autos() == count


def test_no_refresh_while_an_action_is_sent_or_waited_for(emulator, make_panel):
    job = emulator.create_job(name="panel-slow", status="job_init")
    panel = make_panel(emulator, refresh_interval=0.1)
    _click_rows(panel, [job])
    emulator.set_faults({"latency_ms": {"ms": 700, "path": "jobs/run"}})
    with _on_screen(panel):
        panel.run_button.click()
        assert panel.busy
        assert panel.run_button.disabled and panel.stop_button.disabled and panel.refresh_button.disabled
        panel.run_button.click()  # clicks queued while busy: ignored
        panel.stop_button.click()
        assert panel.refresh() is False  # and so is a refresh
        assert panel.wait_idle(20)
        _until(lambda: any(kind == "auto" for _, _, kind, _ in panel.refresh_log), 5, "the auto-refresh after it")
    assert panel.wait_idle(10)
    assert len(_posts(emulator, "/jobs/run")) == 1 and _posts(emulator, "/jobs/stop") == []
    (sent, done, action, count), = panel.action_log
    assert (action, count) == ("run", 1)
    autos = [(start, end) for start, end, kind, _ in panel.refresh_log if kind == "auto"]
    assert autos, "no automatic refresh happened at all"
    assert not [1 for start, end in autos if start < done and end > sent], "a refresh overlapped the action"
    assert not panel.busy and not panel.refresh_button.disabled


def test_an_action_clicked_during_a_refresh_is_sent_after_it(emulator, make_panel):
    job = emulator.create_job(name="panel-after", status="job_init")
    panel = make_panel(emulator)
    _click_rows(panel, [job])
    emulator.set_faults({"latency_ms": {"ms": 500, "method": "GET", "path": "/streaming/jobs"}})
    emulator.clear_request_log()
    assert panel.refresh()
    _until(lambda: _lists(emulator), 5, "the listing to reach the service")
    panel.run_button.click()
    assert panel.wait_idle(20)
    emulator.clear_faults()
    start, end, kind, outcome = panel.refresh_log[-1]
    assert kind == "manual"
    (sent, _, _, _), = panel.action_log
    assert outcome == "ok" and sent >= end  # the run waited for the listing in flight
    assert panel.result["is_success"].tolist() == [True]


def test_detail_of_one_selected_job(emulator, make_panel):
    job = emulator.create_job(name="panel-detail", status="job_running", has_savepoint=True,
                              savepoint_path="obs://dli-emulator/x/savepoint/savepoint-1", restart_times=3)
    other = emulator.create_job(name="panel-other", status="job_init")
    panel = make_panel(emulator)
    emulator.clear_request_log()
    _click_rows(panel, [job])
    assert panel.wait_idle(10)
    markup = panel.detail.value
    assert "panel-detail" in markup and "obs://dli-emulator/x/savepoint/savepoint-1" in markup
    assert "<th>restarts</th><td>3</td>" in markup and "<b>RUNNING</b>" in markup
    paths = [e["path"] for e in emulator.request_log() if e["method"] == "GET"]
    assert any(p.endswith(f"/jobs/{job}") for p in paths) and any(p.endswith("/execute-graph") for p in paths)
    # The view follows the job: a refresh after a change elsewhere reads it again.
    emulator.set_behaviour(job, {"kind": "crash_loop", "after": 0, "every": 1000, "reason": "TaskManager lost"})
    _until(lambda: emulator.get_job(job)["status"] == "job_running_exception", 5, "the crash")
    assert panel.refresh() and panel.wait_idle(10)
    assert "TaskManager lost" in panel.detail.value and "RESTARTING" in panel.detail.value
    _click_rows(panel, [job, other])
    assert "2 jobs selected" in panel.detail.value
    _click_rows(panel, [])
    assert "Select one job" in panel.detail.value
    panel.client.delete_job(other)
    _click_rows(panel, [other])  # gone since the table was read: one short line, no traceback
    assert panel.wait_idle(10)
    assert "JobNotFoundError" in panel.detail.value and "Traceback" not in panel.detail.value


def test_failed_rows_are_highlighted_and_errors_are_short(emulator, make_panel):
    ok = emulator.create_job(name="panel-ok", status="job_init")
    gone = emulator.create_job(name="panel-deleted", status="job_init")
    panel = make_panel(emulator)
    _click_rows(panel, [ok, gone])
    panel.client.delete_job(gone)  # deleted after the panel listed it: an unknown id on run
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert panel.last_error is None, _output_text(panel)
    frame = panel.result.set_index("job_id")
    assert bool(frame.loc[ok, "is_success"]) is True
    assert bool(frame.loc[gone, "is_success"]) is False and "does not exist" in frame.loc[gone, "message"]
    assert "2 jobs — 1 ok, 1 failed, 0 unknown" in panel.summary.value
    assert "#ffebee" in _output_html(panel)  # the failed row is red
    assert gone not in _table_ids(panel) and panel.selected_ids == [ok]


def test_whole_call_error_is_shown_short_and_kept(emulator, make_panel):
    job = emulator.create_job(name="panel-job", status="job_init")
    panel = make_panel(emulator, settings={"max_retries": 1})
    _click_rows(panel, [job])
    emulator.set_faults({"error": {"status": 503, "count": 100, "path": "jobs/run"}})
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert isinstance(panel.last_error, ServiceError)
    assert panel.result is None and panel.summary.value == ""
    text = _output_text(panel, "stderr")
    assert text.splitlines()[0].startswith("ServiceError: ") and "Traceback" not in text
    assert "HTTP 503" in text and "What to do:" in text
    assert not panel.busy and not panel.run_button.disabled and panel.progress.value == ""


def test_bad_credentials_show_an_auth_error_in_the_panel(emulator, make_panel):
    panel = make_panel(emulator, settings={"auth_token": "not-the-token"})
    assert isinstance(panel.last_error, AuthError)
    assert "refresh failed at" in panel.refresh_status.value and "AuthError" in panel.refresh_status.value
    assert panel.jobs == [] and _table_ids(panel) == []
    assert not panel.busy and not panel.refresh_button.disabled


def test_stop_waiting_ends_polling_but_keeps_the_result(emulator_factory, make_panel):
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    slow = emulator_factory(token=SENTINEL_TOKEN, speed=0.01)  # submitting takes 200 s
    job = slow.create_job(name="panel-slow-submit", status="job_init")
    panel = make_panel(slow)
    _click_rows(panel, [job])
    panel.run_button.click()
    _until(lambda: panel.progress_log, 4, "a progress line")
    assert "waiting on 1" in panel.progress_log[-1]
    assert not panel.cancel_button.disabled
    panel.cancel_button.click()
    assert panel.wait_idle(10)
    assert panel.result["is_success"].tolist() == [True]
    assert panel.result.attrs["wait_interrupted"] is True
    assert panel.cancel_button.disabled


def test_wait_false_returns_after_the_call(emulator, make_panel):
    job = emulator.create_job(name="panel-nowait", status="job_init")
    panel = make_panel(emulator, wait=False)
    _click_rows(panel, [job])
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert panel.result.attrs["wait"] is False and panel.progress_log == []
    assert panel.result["is_success"].tolist() == [True]


def test_max_jobs_caps_the_listing_and_says_so(emulator, make_panel):
    panel = make_panel(emulator, max_jobs=3)
    assert len(panel.jobs) == 3 and len(_table_ids(panel)) == 3
    assert "(the newest 3 only)" in panel.refresh_status.value
    assert len(_lists(emulator)) == 1  # one page was enough: no further page requested


def test_close_stops_the_timer_and_the_refresh(emulator, make_panel):
    panel = make_panel(emulator, refresh_interval=0.1)
    timer = panel._timer
    panel.close()
    timer.join(2)
    assert not timer.is_alive()
    assert panel.refresh() is False


def test_restart_says_not_available_without_the_api(emulator, make_panel, monkeypatch):
    monkeypatch.delattr(dli_magic.api, "restart_jobs", raising=False)  # an API from before restarts
    running = emulator.create_job(name="panel-no-restart", status="job_running")
    panel = make_panel(emulator)
    _click_rows(panel, [running])
    assert panel.restart_button.description == "Restart: not available yet" and panel.restart_button.disabled
    assert "dli_magic.restart_jobs" in panel.restart_button.tooltip
    emulator.clear_request_log()
    panel.restart_button.click()  # disabled in the browser; a programmatic click is refused in one line
    assert panel.wait_idle(10)
    assert isinstance(panel.last_error, BadInputError) and "not available yet" in _output_text(panel, "stderr")
    assert _posts(emulator, "/jobs/stop") == [] and _posts(emulator, "/jobs/run") == []
    assert panel.stop_button.description == "Stop 1 job"  # the others are unaffected


def test_restart_with_savepoint_when_the_api_has_it(emulator, make_panel):
    if not hasattr(dli_magic.api, "restart_jobs"):
        pytest.skip("dli_magic.restart_jobs is not available yet: the button says so (tested above)")
    running = emulator.create_job(name="panel-restart", status="job_running")
    stopped = emulator.create_job(name="panel-idle", status="job_cancel_success")
    panel = make_panel(emulator)
    _click_rows(panel, [running, stopped])
    assert panel.restart_button.description == "Restart 1 job" and not panel.restart_button.disabled
    emulator.clear_request_log()
    panel.restart_button.click()
    assert panel.wait_idle(30)
    assert panel.last_error is None, _output_text(panel)
    stops, runs = _posts(emulator, "/jobs/stop"), _posts(emulator, "/jobs/run")
    assert [s["body"] for s in stops] == [{"job_ids": [running], "trigger_savepoint": True}]
    assert [r["body"] for r in runs] == [{"job_ids": [running], "resume_savepoint": True}]
    assert panel.result["job_id"].tolist() == [running] and panel.result["is_success"].tolist() == [True]
    assert panel.result["savepoint_path"].iloc[0].startswith("obs://")
    assert "restart: 1 job — 1 ok" in panel.summary.value
    assert any(line.startswith("restart: ") for line in panel.progress_log)
    assert "job_running" in _row(panel, running)["status"]
    assert dli_magic.history()["source"].iloc[-1] == "panel"
