"""Pure logic of the panel: labels, filtering, status options, summary bar, error lines.

These need no service: they check the functions the widget is built from, and the widget's
filter/selection wiring on a hand-set job list (no request is made: ``load=False``).
"""

from __future__ import annotations

import re

import pytest

from dli_magic.errors import BadInputError, ServiceError
from dli_magic.widget import (
    ALL_STATUSES,
    COLUMNS,
    DliPanel,
    error_lines,
    filter_jobs,
    header_label,
    job_label,
    outcome_counts,
    status_options,
    summary_html,
)
from dli_magic.results import OUTCOME_COLUMNS, Job, JobOutcome, outcomes_frame

JOBS = [
    Job(131, "orders_enrich", "job_running", "flink_sql_job", has_savepoint=True),
    Job(130, "orders_clean", "job_init", "flink_sql_job", has_savepoint=False),
    Job(7, "payments_jar_with_a_name_longer_than_the_column", "job_cancel_success", "flink_jar_job"),
]


def _columns(label: str) -> list[str]:
    return [cell.strip("\u00a0") for cell in label.split("\u00a0|\u00a0")]


def test_labels_are_fixed_width_columns_matching_the_header():
    header = header_label()
    assert _columns(header) == [name for name, _ in COLUMNS]
    labels = [job_label(job) for job in JOBS]
    assert _columns(labels[0]) == ["orders_enrich", "131", "job_running", "flink_sql_job", "yes"]
    assert _columns(labels[1])[4] == "no"
    assert _columns(labels[2])[4] == "?"  # unknown savepoint state is not shown as "no"
    # Every separator sits at the same offset as in the header (monospace alignment).
    seps = [m.start() for m in re.finditer(r"\|", header)]
    for label in labels:
        assert [m.start() for m in re.finditer(r"\|", label)] == seps
    # Long names are cut with an ellipsis, never pushing the columns.
    assert "…" in _columns(labels[2])[0]
    # No plain spaces: the browser would collapse them inside <option>.
    assert "  " not in "".join(labels)


def test_filter_by_text_and_status():
    assert [j.job_id for j in filter_jobs(JOBS, "ORDERS")] == [131, 130]
    assert [j.job_id for j in filter_jobs(JOBS, "", "job_init")] == [130]
    assert [j.job_id for j in filter_jobs(JOBS, "orders", "job_cancel_success")] == []
    assert len(filter_jobs(JOBS, "  ", ALL_STATUSES)) == 3


def test_status_options_list_present_statuses_in_contract_order_and_keep_the_chosen_one():
    options = status_options(JOBS, keep="job_finish")
    values = [value for _, value in options]
    assert values == [ALL_STATUSES, "job_init", "job_running", "job_cancel_success", "job_finish"]
    assert options[0][0] == "all (3)"
    assert dict((v, l) for l, v in options)["job_finish"] == "job_finish (0)"
    odd = status_options([Job(1, "x", "job_new_state")])
    assert [v for _, v in odd] == [ALL_STATUSES, "job_new_state"]


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
    assert "#2e7d32" in markup and "#c62828" in markup and "#9e9e9e" in markup
    # Zero-count segments are left out, so an all-ok run is one green bar.
    assert re.findall(r"dli-bar-(\w+)", summary_html("stop", 3, 0, 0)) == ["ok"]


def test_error_lines_use_the_short_rendering():
    err = ServiceError("backend down", status=503, request_id="req-1", job_ids=[131])
    lines = error_lines(err)
    assert lines[0] == "ServiceError: backend down"
    assert "request id: req-1" in lines[1] and "HTTP 503" in lines[1]
    assert error_lines(RuntimeError("boom")) == ["RuntimeError: boom"]


@pytest.fixture
def offline_panel():
    panel = DliPanel(client=object(), load=False)
    panel.jobs = list(JOBS)
    panel._apply_filter()
    yield panel
    panel.close()


def test_widget_filtering_and_selection_enable_run(offline_panel):
    panel = offline_panel
    assert [v for _, v in panel.job_select.options] == [131, 130, 7]
    assert panel.run_button.disabled and panel.stop_button.disabled
    panel.select([131, 7])
    assert panel.selected_ids == [131, 7]
    assert not panel.run_button.disabled and not panel.stop_button.disabled
    panel.filter_text.value = "orders"
    assert [v for _, v in panel.job_select.options] == [131, 130]
    # A job hidden by the filter is dropped from the selection: nothing invisible is run.
    assert panel.selected_ids == [131]
    panel.status_filter.value = "job_init"
    assert [v for _, v in panel.job_select.options] == [130]
    assert panel.selected_ids == [] and panel.run_button.disabled
    assert "1 of 3 jobs shown" in panel.count_label.value


def test_run_click_with_nothing_selected_shows_a_short_error(offline_panel):
    panel = offline_panel
    panel.run_button.click()  # disabled in the browser, but a programmatic click must not crash
    assert isinstance(panel.last_error, BadInputError)
    assert not panel.busy
    texts = "".join(o.get("text", "") for o in panel.output.outputs)
    assert "BadInputError: No job ids given" in texts


def test_stable_dom_classes_and_visible_texts(offline_panel):
    panel = offline_panel
    assert "dli-panel" in panel._dom_classes
    expected = {
        "dli-run": panel.run_button,
        "dli-stop": panel.stop_button,
        "dli-refresh": panel.refresh_button,
        "dli-filter": panel.filter_text,
        "dli-status-filter": panel.status_filter,
        "dli-jobs": panel.job_select,
        "dli-savepoint": panel.savepoint_box,
        "dli-summary": panel.summary,
        "dli-output": panel.output,
    }
    for cls, widget in expected.items():
        assert cls in widget._dom_classes, cls
    assert (panel.run_button.description, panel.stop_button.description, panel.refresh_button.description) == (
        "Run",
        "Stop",
        "Refresh",
    )
    assert panel.savepoint_box.description == "Resume from savepoint"
    assert panel.trigger_box.description == "Trigger savepoint"
    assert panel.filter_text.continuous_update is True
