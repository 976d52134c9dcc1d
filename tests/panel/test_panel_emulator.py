"""The panel against a real emulator over HTTP: load, filter, run/stop, busy, errors, history.

Handlers are driven through the widgets themselves (``button.click()`` calls the on_click
handlers, trait assignments fire the observers) and ``wait_idle`` waits for the worker thread.
"""

from __future__ import annotations

import threading

import pytest

import dli_magic
from dli_magic.errors import AuthError, ServiceError
from dli_magic.results import OUTCOME_COLUMNS


def _posts(emu, suffix):
    return [e for e in emu.request_log() if e["method"] == "POST" and e["path"].endswith(suffix)]


def _option_ids(panel):
    return [value for _, value in panel.job_select.options]


def _label_of(panel, job_id):
    return next(label for label, value in panel.job_select.options if value == job_id)


def _cells(label):
    return [cell.strip("\u00a0") for cell in label.split("\u00a0|\u00a0")]


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


def test_loads_the_live_job_list_on_a_worker_thread(emulator, make_panel):
    alpha = emulator.create_job(name="panel-alpha", status="job_init", has_savepoint=True)
    beta = emulator.create_job(name="panel-beta", status="job_running", job_type="flink_jar_job")
    panel = make_panel(emulator)

    listed = {job.job_id: job for job in panel.jobs}
    assert alpha in listed and beta in listed
    assert set(_option_ids(panel)) == set(listed)  # "all" + no text filter shows every job
    assert _cells(_label_of(panel, alpha)) == ["panel-alpha", str(alpha), "job_init", "flink_sql_job", "yes"]
    assert _cells(_label_of(panel, beta)) == ["panel-beta", str(beta), "job_running", "flink_jar_job", "no"]
    statuses = [value for _, value in panel.status_filter.options]
    assert statuses[0] == "all"
    assert set(statuses[1:]) == {job.status for job in panel.jobs}
    assert panel.last_error is None and not panel.busy
    # The request ran off the kernel's main thread.
    assert panel.last_worker_thread is not None
    assert panel.last_worker_thread is not threading.main_thread()
    assert panel.last_worker_thread.name == "dli-panel-refresh"
    assert any(e["method"] == "GET" and e["path"].endswith("/streaming/jobs") for e in emulator.request_log())


def test_filter_by_text_and_status_then_refresh_keeps_the_filter(emulator, make_panel):
    alpha = emulator.create_job(name="panel-alpha", status="job_init")
    beta = emulator.create_job(name="panel-beta", status="job_running")
    panel = make_panel(emulator)
    panel.filter_text.value = "PANEL-"
    assert sorted(_option_ids(panel)) == sorted([alpha, beta])
    panel.status_filter.value = "job_running"
    assert _option_ids(panel) == [beta]
    gamma = emulator.create_job(name="panel-gamma", status="job_running")
    panel.refresh_button.click()
    assert panel.wait_idle(10)
    assert panel.status_filter.value == "job_running" and panel.filter_text.value == "PANEL-"
    assert sorted(_option_ids(panel)) == sorted([beta, gamma])


@pytest.mark.parametrize("resume", [True, False])
def test_run_sends_resume_savepoint_and_shows_the_result(emulator, make_panel, resume):
    picked = [
        emulator.create_job(name="panel-orders", status="job_cancel_success", has_savepoint=True),
        emulator.create_job(name="panel-clicks", status="job_init"),
    ]
    panel = make_panel(emulator)
    panel.filter_text.value = "panel-"
    assert panel.run_button.disabled  # nothing selected yet
    panel.select(picked)
    assert not panel.run_button.disabled
    panel.savepoint_box.value = resume
    emulator.clear_request_log()
    panel.run_button.click()
    assert panel.wait_idle(20)

    runs = _posts(emulator, "/jobs/run")
    assert len(runs) == 1
    assert runs[0]["body"] == {"job_ids": picked, "resume_savepoint": resume}
    assert panel.last_error is None, _output_text(panel)
    frame = panel.result
    assert [(c, str(t)) for c, t in frame.dtypes.items()] == list(OUTCOME_COLUMNS)
    assert frame["job_id"].tolist() == picked
    assert frame["is_success"].tolist() == [True, True]
    assert frame["name"].tolist() == ["panel-orders", "panel-clicks"]
    assert frame.attrs["resume_savepoint"] is resume and frame.attrs["wait"] is True
    # Waited through the API's poller: the statuses left job_submitting.
    assert set(frame["status"]) == {"job_running"}
    assert panel.progress_log and panel.progress_log[-1].startswith("run: ")
    assert "run: 2 jobs — 2 ok, 0 failed, 0 unknown" in panel.summary.value
    table = _output_html(panel)
    assert "<table" in table and all(str(i) in table for i in picked)
    # The picker was reloaded after the run and shows the new statuses; the selection stayed.
    assert {_cells(_label_of(panel, i))[2] for i in picked} == {"job_running"}
    assert sorted(panel.selected_ids) == sorted(picked) and not panel.run_button.disabled
    # Recorded in %dli_history as a panel run.
    recorded = dli_magic.history()
    assert recorded["job_id"].tolist()[-2:] == picked
    assert set(recorded["source"].tail(2)) == {"panel"}


def test_stop_with_trigger_savepoint(emulator, make_panel):
    running = emulator.create_job(name="panel-running", status="job_running")
    panel = make_panel(emulator)
    panel.select([running])
    panel.trigger_box.value = True
    panel.stop_button.click()
    assert panel.wait_idle(20)
    stops = _posts(emulator, "/jobs/stop")
    assert [s["body"] for s in stops] == [{"job_ids": [running], "trigger_savepoint": True}]
    assert panel.result.attrs["action"] == "stop" and panel.result.attrs["trigger_savepoint"] is True
    assert panel.result["is_success"].tolist() == [True]
    assert panel.result["status"].tolist() == ["job_cancel_success"]  # waited until it settled
    assert "stop: 1 job — 1 ok" in panel.summary.value
    assert emulator.get_job(running)["has_savepoint"] is True


def test_run_is_disabled_while_busy_and_extra_clicks_are_ignored(emulator, make_panel):
    job = emulator.create_job(name="panel-slow", status="job_init")
    panel = make_panel(emulator)
    panel.select([job])
    emulator.set_faults({"latency_ms": {"ms": 700, "path": "jobs/run"}})
    emulator.clear_request_log()
    panel.run_button.click()
    assert panel.busy
    assert panel.run_button.disabled and panel.stop_button.disabled and panel.refresh_button.disabled
    panel.run_button.click()  # queued clicks while busy: ignored
    panel.stop_button.click()
    assert panel.refresh() is False
    assert panel.last_worker_thread is not threading.main_thread()
    assert panel.wait_idle(20)
    assert not panel.busy
    assert not panel.run_button.disabled and not panel.refresh_button.disabled
    assert len(_posts(emulator, "/jobs/run")) == 1 and _posts(emulator, "/jobs/stop") == []
    assert panel.result["is_success"].tolist() == [True]


def test_failed_jobs_are_rows_not_errors(emulator, make_panel):
    ok = emulator.create_job(name="panel-ok", status="job_init")
    busy = emulator.create_job(name="panel-already-running", status="job_running")
    gone = emulator.create_job(name="panel-deleted", status="job_init")
    panel = make_panel(emulator)
    panel.select([ok, busy, gone])
    panel.client.delete_job(gone)  # deleted after the panel listed it: an unknown id on run
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert panel.last_error is None, _output_text(panel)
    frame = panel.result.set_index("job_id")
    assert bool(frame.loc[ok, "is_success"]) is True
    assert bool(frame.loc[busy, "is_success"]) is False and "job_running" in frame.loc[busy, "message"]
    assert bool(frame.loc[gone, "is_success"]) is False and "does not exist" in frame.loc[gone, "message"]
    assert "3 jobs — 1 ok, 2 failed, 0 unknown" in panel.summary.value
    assert 'class="dli-bar-ok"' in panel.summary.value and 'class="dli-bar-failed"' in panel.summary.value
    # The deleted job is gone from the reloaded picker (and so from the selection).
    assert gone not in _option_ids(panel) and sorted(panel.selected_ids) == sorted([ok, busy])


def test_whole_call_error_is_shown_short_and_kept(emulator, make_panel):
    job = emulator.create_job(name="panel-job", status="job_init")
    panel = make_panel(emulator, settings={"max_retries": 1})
    panel.select([job])
    emulator.set_faults({"error": {"status": 503, "count": 100, "path": "jobs/run"}})
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert isinstance(panel.last_error, ServiceError)
    assert panel.result is None and panel.summary.value == ""
    text = _output_text(panel, "stderr")
    first = text.splitlines()[0]
    assert first.startswith("ServiceError: ") and "Traceback" not in text
    assert "HTTP 503" in text and "What to do:" in text
    assert not panel.busy and not panel.run_button.disabled and panel.progress.value == ""


def test_bad_credentials_show_an_auth_error_in_the_panel(emulator, make_panel):
    panel = make_panel(emulator, settings={"auth_token": "not-the-token"})
    assert isinstance(panel.last_error, AuthError)
    assert _output_text(panel, "stderr").startswith("AuthError: ")
    assert panel.jobs == [] and panel.job_select.options == ()
    assert not panel.busy and not panel.refresh_button.disabled


def test_stop_waiting_ends_polling_but_keeps_the_result(emulator_factory, make_panel):
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    slow = emulator_factory(token=SENTINEL_TOKEN, speed=0.01)  # submitting takes 200 s
    job = slow.create_job(name="panel-slow-submit", status="job_init")
    panel = make_panel(slow)
    panel.select([job])
    panel.run_button.click()
    deadline = threading.Event()
    for _ in range(200):
        if panel.progress_log:
            break
        deadline.wait(0.02)
    assert panel.progress_log, "no progress line while waiting"
    assert "job_submitting" in panel.progress_log[-1] and "waiting on 1" in panel.progress_log[-1]
    assert not panel.cancel_button.disabled
    panel.cancel_button.click()
    assert panel.wait_idle(10)
    assert panel.result["is_success"].tolist() == [True]
    assert panel.result["status"].tolist() == ["job_submitting"]
    assert panel.result.attrs["wait_interrupted"] is True
    assert "interrupted" in panel.result["message"].iloc[0]
    assert panel.cancel_button.disabled


def test_wait_false_returns_after_the_call(emulator, make_panel):
    job = emulator.create_job(name="panel-nowait", status="job_init")
    panel = make_panel(emulator, wait=False)
    panel.select([job])
    panel.run_button.click()
    assert panel.wait_idle(20)
    assert panel.result.attrs["wait"] is False and panel.progress_log == []
    assert panel.result["is_success"].tolist() == [True]


def test_max_jobs_caps_the_listing_and_says_so(emulator, make_panel):
    panel = make_panel(emulator, max_jobs=3)
    assert len(panel.jobs) == 3 and len(panel.job_select.options) == 3
    assert "only the newest 3 were loaded" in panel.count_label.value
    lists = [e for e in emulator.request_log() if e["method"] == "GET" and e["path"].endswith("/streaming/jobs")]
    assert len(lists) == 1  # one page was enough: no further page requested
