"""%dli_job / dli_magic.job: everything about one job in one view, checked against the official SDK."""

from __future__ import annotations

import pandas as pd
import pytest

import dli_magic
from dli_magic.errors import JobNotFoundError


def test_the_view_has_every_field_and_flinks_state(dli_env):
    view = dli_magic.job(130)
    job = view.job
    assert (job.job_id, job.name, job.status) == (130, "orders_enrichment", "job_running")
    assert job.sql_body and job.job_config["cu_number"] == 4
    assert view.graph is not None and view.graph.state == "RUNNING"
    fields = dict(view.fields())
    for label in ("status", "status description", "created", "started", "updated", "duration", "restarts",
                  "savepoint", "queue", "CUs / parallelism", "checkpoints", "Flink state", "Flink start / end"):
        assert label in fields
    assert fields["queue"] == "dli_prod (shared_cluster)" and fields["CUs / parallelism"] == "4 / 2"
    assert fields["checkpoints"] == "on, every 30 s, exactly_once"
    text = repr(view)
    assert text.startswith("Job 130 orders_enrichment") and "CREATE SOURCE STREAM" in text
    html = view._repr_html_()
    assert "<details><summary>SQL (2 lines)</summary>" in html and "RUNNING" in html
    series = view.to_series()
    assert series["flink_state"] == "RUNNING" and series["cu_number"] == 4
    assert isinstance(series["start_time"], pd.Timestamp) and series["duration"] > pd.Timedelta(0)
    # Two reads, in flight together: the detail and the execution graph.
    reads = sorted(r["path"].rsplit("/", 1)[-1] for r in dli_env.request_log())
    assert reads == ["130", "execute-graph"]


def test_the_official_sdk_sees_the_same_job(dli_env):
    from huaweicloudsdkdli.v1 import ShowFlinkJobExecutionGraphRequest, ShowFlinkJobRequest

    from tests.emulator.test_emulator_sdk import sdk_client

    sdk = sdk_client(dli_env)
    view = dli_magic.job(142)  # the demo job whose submit failed
    detail = sdk.show_flink_job(ShowFlinkJobRequest(job_id=142)).job_detail
    graph = sdk.show_flink_job_execution_graph(ShowFlinkJobExecutionGraphRequest(job_id=142)).execute_graph
    assert (view.job.status, view.job.status_desc) == (detail.status, detail.status_desc)
    assert view.job.status_desc  # the reason is shown, not hidden
    assert view.graph.state == graph.state


def test_a_failing_job_shows_why_in_the_magic(shell, dli_env, capsys):
    shell.run_cell("v = %dli_job 142")
    view = shell.user_ns["v"]
    assert view.job.status == "job_submit_fail"
    assert dict(view.fields())["status description"] == view.job.status_desc != "—"


def test_an_unknown_id_is_one_line(shell, dli_env, capsys):
    result = shell.run_cell("%dli_job 999999")
    assert isinstance(result.error_in_exec, JobNotFoundError)
    lines = result.error_in_exec._render_traceback_()
    assert len(lines) == 1 and "DLI.16001" in lines[0] and "request id" in lines[0]
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err


def test_an_execution_graph_that_cannot_be_read_leaves_the_rest(dli_env):
    dli_env.set_faults({"error": {"status": 503, "count": 10, "path": "execute-graph"}})
    view = dli_magic.job(130)
    assert view.graph is None and "ServiceError" in view.graph_error
    assert dict(view.fields())["Flink state"].startswith("unknown (ServiceError")
    assert view.job.status == "job_running"


@pytest.mark.parametrize("line", ["abc", "1.5", "0", "131 132", "130-131"])
def test_bad_ids_are_one_line_and_send_nothing(shell, dli_env, line):
    result = shell.run_cell(f"%dli_job {line}")
    assert not result.success
    assert dli_env.request_log() == []


def test_only_the_services_job_not_found_is_an_unknown_job(dli_env):
    """A 404 from the gateway (APIGW.0101: no such API) is not about the job id."""
    from dli_magic.errors import NotFoundError

    dli_env.set_faults({"error": {"status": 404, "count": -1, "path": "/jobs/130", "error_code": "APIGW.0101",
                                  "error_msg": "The API does not exist or has not been published"}})
    with pytest.raises(NotFoundError) as info:
        dli_magic.job(130)
    assert not isinstance(info.value, JobNotFoundError)
    assert info.value.error_code == "APIGW.0101" and "API does not exist" in info.value.message
    assert "Check the endpoint" in info.value.hint and "job id" not in info.value.hint  # the URL, not the id
    dli_env.set_faults({})
    with pytest.raises(JobNotFoundError, match="DLI.16001|not found"):
        dli_magic.job(999999)
