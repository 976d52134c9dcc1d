"""Pure logic of the panel: status colours, table rows, sort keys, which jobs an action touches,
button labels, the summary bar, highlighted results, the detail pane, error lines.

These need no service: they check the functions the widget is built from."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from dli_magic import contract
from dli_magic.errors import ServiceError
from dli_magic.results import OUTCOME_COLUMNS, Job, JobOutcome, outcomes_frame
from dli_magic.widget import (
    FAMILY_COLOURS,
    RESULT_ROWS_SHOWN,
    STATUS_FAMILIES,
    TABLE_COLUMNS,
    action_label,
    applicable_ids,
    detail_html,
    error_lines,
    format_duration,
    outcome_counts,
    row_problem,
    selection_text,
    status_family,
    status_html,
    styled_result,
    summary_html,
    table_frame,
    table_options,
    table_row,
)

JOBS = [
    Job(131, "orders_enrich", "job_running", job_type="flink_sql_job", queue_name="dli_prod", has_savepoint=True,
        raw={"savepoint_path": "obs://b/131/savepoint/savepoint-1", "restart_times": 2, "duration": 3_723_000}),
    Job(130, "orders_clean", "job_init", job_type="flink_sql_job", has_savepoint=False),
    Job(7, "<b>payments</b> & co", "job_cancel_success", job_type="flink_jar_job"),
]


def test_every_documented_status_has_a_colour_family():
    assert set(STATUS_FAMILIES) == set(contract.JOB_STATUSES)
    assert status_family("job_running") == "running"
    assert status_family("job_running_exception") == "failing"
    assert status_family("job_submit_fail") == "failing"
    assert status_family("job_submitting") == "transitional"
    assert status_family("job_savepointing") == "transitional"
    assert status_family("job_cancel_success") == "stopped"
    assert status_family("job_from_the_future") == "unknown" and status_family(None) == "unknown"
    greens = {FAMILY_COLOURS["running"][0], FAMILY_COLOURS["running"][2]}
    assert greens == {"#1b5e20", "#2e7d32"}
    assert FAMILY_COLOURS["failing"][2] == "#c62828" and FAMILY_COLOURS["transitional"][2] == "#f9a825"


def test_status_pill_escapes_what_the_service_sends():
    assert status_html("job_running") == '<span class="dli-s dli-s-running">job_running</span>'
    assert status_html("<img src=x>") == '<span class="dli-s dli-s-unknown">&lt;img src=x&gt;</span>'


def test_table_rows_escape_every_text_and_carry_sort_keys():
    row = dict(zip(TABLE_COLUMNS, table_row(JOBS[0])))
    assert row["name"] == "orders_enrich" and row["id"] == 131 and row["queue"] == "dli_prod"
    assert row["type"] == '<span title="flink_sql_job">sql</span>'  # short, the full name as tooltip
    assert row["restarts"] == 2  # read from the API dict where Job has no field for it yet
    assert 'title="obs://b/131/savepoint/savepoint-1"' in row["savepoint"]
    assert row["duration"] == "1:02:03" and row["duration_ms"] == 3_723_000
    never = dict(zip(TABLE_COLUMNS, table_row(JOBS[1])))
    assert never["started"] == "" and never["started_ms"] == -1 and never["savepoint"] == "no"
    assert never["restarts"] == "" and never["duration_ms"] == -1
    hostile = dict(zip(TABLE_COLUMNS, table_row(JOBS[2])))
    assert hostile["name"] == "&lt;b&gt;payments&lt;/b&gt; &amp; co"
    assert hostile["savepoint"] == ""  # unknown is not "no"


def test_table_frame_is_in_ascending_id_order():
    frame = table_frame(JOBS)
    assert list(frame.columns) == list(TABLE_COLUMNS)
    assert frame["id"].tolist() == [7, 130, 131]
    assert table_frame([]).shape == (0, len(TABLE_COLUMNS))


def test_durations():
    assert format_duration(None) == "" and format_duration(0) == "" and format_duration(-5) == ""
    assert format_duration(59_999) == "0:00:59"
    assert format_duration(3_723_000) == "1:02:03"
    assert format_duration(2 * 86_400_000 + 3_723_000) == "2d 01:02:03"


def test_table_options_keep_every_row_and_keep_state_per_panel():
    options = table_options("dli-panel-abc")
    assert options["maxBytes"] == 0  # never downsampled, whatever the size
    assert options["select"] == {"style": "os"}
    assert options["allow_html"] is True and options["text_in_header_can_be_selected"] is False
    assert options["stateSave"] is True
    assert "dli-panel-abc" in options["stateSaveCallback"] and "dli-panel-abc" in options["stateLoadCallback"]
    assert "delete data.select" in options["stateSaveCallback"]
    (hidden,) = [d for d in options["columnDefs"] if "visible" in d]
    assert hidden["visible"] is False and sorted(hidden["targets"]) == [
        TABLE_COLUMNS.index("started_ms"), TABLE_COLUMNS.index("duration_ms")]
    by_target = {d["targets"]: d for d in options["columnDefs"] if "data" in d}
    assert by_target[TABLE_COLUMNS.index("duration")]["data"]["sort"] == TABLE_COLUMNS.index("duration_ms")
    assert by_target[TABLE_COLUMNS.index("started")]["data"]["sort"] == TABLE_COLUMNS.index("started_ms")
    typed = {t: d["type"] for d in options["columnDefs"] if "type" in d for t in d["targets"]}
    assert typed == {TABLE_COLUMNS.index(c): ("num" if c in ("id", "restarts", "started", "duration", "started_ms",
                                                             "duration_ms") else "html") for c in TABLE_COLUMNS}


def test_actions_apply_to_the_selected_jobs_their_status_allows():
    statuses = {1: "job_running", 2: "job_cancel_success", 3: "job_submit_fail", 4: "job_submitting",
                5: "job_running_exception", 6: None}
    selected = [1, 2, 3, 4, 5, 6]
    assert applicable_ids("run", selected, statuses) == sorted(
        i for i in selected if statuses[i] in contract.RUNNABLE_STATUSES) == [2, 3, 5]
    assert applicable_ids("stop", selected, statuses) == [1, 4, 5]
    assert applicable_ids("restart", selected, statuses) == [1, 5]
    assert applicable_ids("run", [1, 4], statuses) == []
    assert applicable_ids("stop", [99], statuses) == []  # an id the table does not know


def test_button_labels_say_how_many_jobs():
    assert action_label("stop", 12) == "Stop 12 jobs"
    assert action_label("run", 1) == "Run 1 job"
    assert action_label("restart", 0) == "Restart"
    assert action_label("stop", 25, confirm=True) == "Confirm: stop 25 jobs"


def test_selection_text():
    statuses = {1: "job_running", 2: "job_running", 3: "job_init"}
    assert selection_text([], statuses, 5000) == "5,000 jobs · none selected"
    assert selection_text([3, 1, 2], statuses, 5000) == "3 of 5,000 jobs selected: 1 job_init, 2 job_running"


def test_outcome_counts_and_summary_bar():
    frame = outcomes_frame(
        [JobOutcome(1, True, "ok"), JobOutcome(2, True, "ok"), JobOutcome(3, False, "no"), JobOutcome(4, None, "?")]
    )
    assert list(frame.columns) == [name for name, _ in OUTCOME_COLUMNS]
    assert outcome_counts(frame) == (2, 1, 1)
    markup = summary_html("run", *outcome_counts(frame), seconds=1.5)
    assert "run: 4 jobs — 2 ok, 1 failed, 1 unknown · 1.5 s" in markup
    widths = dict(re.findall(r'class="dli-bar-(\w+)"[^>]*width:([\d.]+)%', markup))
    assert widths == {"ok": "50.00", "failed": "25.00", "unknown": "25.00"}
    assert re.findall(r"dli-bar-(\w+)", summary_html("stop", 3, 0, 0)) == ["ok"]


def test_failed_unhealthy_and_unknown_rows_are_highlighted():
    assert row_problem({"is_success": True, "status": "job_running"}) is None
    assert row_problem({"is_success": False}) == "failed"
    assert row_problem({"is_success": True, "healthy": False}) == "failed"
    assert row_problem({"is_success": True, "status": "job_submit_fail"}, {"job_submit_fail"}) == "failed"
    assert row_problem({"is_success": None}) == "unknown"
    frame = outcomes_frame([JobOutcome(1, True, "ok"), JobOutcome(2, False, "refused"), JobOutcome(3, None, "?")])
    markup = styled_result(frame)._repr_html_()
    cells = re.findall(r"#(T_\w+_row(\d)_col0)\s*,?[^{]*\{([^}]*)\}", markup)
    styled_rows = {row: style for _, row, style in cells}
    assert "#ffebee" in styled_rows["1"] and "#fff8e1" in styled_rows["2"] and "0" not in styled_rows


def test_a_big_result_shows_problems_first_and_says_it_is_cut():
    outcomes = [JobOutcome(i, i % 100 != 7, "x") for i in range(RESULT_ROWS_SHOWN + 300)]
    frame = outcomes_frame(outcomes)
    styler = styled_result(frame)
    shown = styler.data
    assert len(shown) == RESULT_ROWS_SHOWN
    failed = [i for i in range(len(frame)) if i % 100 == 7]
    assert shown["job_id"].tolist()[: len(failed)] == failed
    assert f"{RESULT_ROWS_SHOWN:,} of {len(frame):,} rows, problems first" in styler._repr_html_()


def test_error_lines_use_the_short_rendering():
    err = ServiceError("backend down", status=503, request_id="req-1", job_ids=[131])
    lines = error_lines(err)
    assert lines[0] == "ServiceError: backend down"
    assert "request id: req-1" in lines[1] and "HTTP 503" in lines[1]
    assert error_lines(RuntimeError("boom")) == ["RuntimeError: boom"]


def test_error_lines_of_an_unexpected_error_mask_a_secret_in_use(monkeypatch):
    monkeypatch.setenv("DLI_AUTH_TOKEN", "Panel-Token-5d1e7a")  # in use, never registered by this test
    assert error_lines(KeyError("Panel-Token-5d1e7a")) == ["KeyError: '***'"]


def test_detail_is_the_job_view_with_the_sql_left_out():
    from dli_magic.jobview import JobView
    from dli_magic.results import ExecuteGraph

    job = Job.from_api({
        "job_id": 171, "name": "<script>x</script>", "status": "job_running_exception",
        "status_desc": "TaskManager lost <again>", "restart_times": 4, "duration": 61_000,
        "has_savepoint": "true", "savepoint_path": "obs://dli-demo/171/savepoint/savepoint-9",
        "sql_body": "CREATE TABLE k WITH ('password' = 'hunter22')\nINSERT INTO k SELECT 1",
        "job_config": {"cu_number": 4, "parallel_number": 2, "obs_bucket": "dli-demo"},
    })
    view = JobView(job, ExecuteGraph.from_api(171, {"state": "RESTARTING", "start-time": 1, "end-time": -1}))
    markup = detail_html(view)
    assert "&lt;script&gt;" in markup and "<script>" not in markup
    assert "TaskManager lost &lt;again&gt;" in markup
    assert "<th>restarts</th><td>4</td>" in markup
    assert "obs://dli-demo/171/savepoint/savepoint-9" in markup
    assert "<b>RESTARTING</b>" in markup and "dli-s-failing" in markup
    assert "4 / 2" in markup and "dli-demo" in markup
    # Every field of the view is there, the SQL only as a pointer to %dli_job.
    assert all(f"<th>{label}</th>" in markup for label, _ in view.fields())
    assert "hunter22" not in markup and "CREATE TABLE" not in markup
    assert "2 lines (<code>%dli_job 171</code> shows it)" in markup
    assert "unknown (no graph)" in detail_html(JobView(job, None, "no graph"))


@pytest.mark.parametrize("bad", [0, -1, "10", True, float("inf")])
def test_bad_refresh_interval_is_one_line(bad):
    from dli_magic.errors import BadInputError
    from dli_magic.widget import DliPanel

    with pytest.raises(BadInputError, match="refresh_interval"):
        DliPanel(client=object(), load=False, refresh_interval=bad)


def test_frame_dtypes_are_plain_objects_for_the_table():
    # itables encodes values as they are; mixed "" / int columns must not become floats.
    frame = table_frame(JOBS)
    assert frame["restarts"].tolist() == ["", "", 2]
    assert isinstance(frame, pd.DataFrame)
