"""The official SDK (huaweicloudsdkdli) talks to the emulator: proof the wire format matches the real API."""

from __future__ import annotations

import pytest

pytest.importorskip("huaweicloudsdkdli")

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkdli.v1 import (  # noqa: E402
    BatchRunFlinkJobsRequest,
    BatchRunFlinkJobsRequestBody,
    BatchStopFlinkJobsRequest,
    CreateFlinkSqlJobRequest,
    CreateFlinkSqlJobRequestBody,
    DliClient,
    ExecuteFlinkJobSavepointRequest,
    ExecuteFlinkJobSavepointRequestBody,
    ListFlinkJobsRequest,
    ShowFlinkJobExecutionGraphRequest,
    ShowFlinkJobRequest,
    StopFlinkJobsRequestBody,
)

from dli_magic.emulator.testing import SENTINEL_AK, SENTINEL_SK  # noqa: E402


def sdk_client(emu, ak=SENTINEL_AK, sk=SENTINEL_SK):
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True  # plain http to 127.0.0.1: nothing to verify
    config.retry_times = 0
    return (
        DliClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak, sk, emu.project_id))
        .with_endpoint(emu.url)
        .build()
    )


def test_sdk_create_list_run_detail_stop(emulator):
    client = sdk_client(emulator)
    created = client.create_flink_sql_job(
        CreateFlinkSqlJobRequest(body=CreateFlinkSqlJobRequestBody(name="sdk_job", sql_body="SELECT 1", queue_name="q"))
    )
    assert created.is_success == "true"
    job_id = created.job.job_id
    assert created.job.status_name == "job_init"

    listed = client.list_flink_jobs(ListFlinkJobsRequest(name="sdk_job", limit=10, show_detail=True))
    assert listed.job_list.total_count == 1
    assert listed.job_list.jobs[0].job_id == job_id and listed.job_list.jobs[0].sql_body == "SELECT 1"

    ran = client.batch_run_flink_jobs(
        BatchRunFlinkJobsRequest(body=BatchRunFlinkJobsRequestBody(job_ids=[job_id, 130], resume_savepoint=False))
    )
    assert [item.is_success for item in ran.body] == ["true", "false"]
    assert ran.body[0].message == "The request for submitting DLI jobs is delivered successfully."

    emulator.advance_clock(1)  # speed 50: submitting lasts 40 ms
    detail = client.show_flink_job(ShowFlinkJobRequest(job_id=job_id))
    assert detail.job_detail.status == "job_running" and detail.job_detail.project_id == emulator.project_id

    stopped = client.batch_stop_flink_jobs(
        BatchStopFlinkJobsRequest(body=StopFlinkJobsRequestBody(job_ids=[job_id], trigger_savepoint=True))
    )
    assert stopped.body[0].is_success == "true"
    emulator.advance_clock(1)
    assert emulator.get_job(job_id)["status"] == "job_cancel_success"
    assert emulator.get_job(job_id)["has_savepoint"] is True
    assert {e["auth"] for e in emulator.request_log()} == {"aksk"}


def test_sdk_wrong_sk_gets_401(emulator):
    client = sdk_client(emulator, sk="not-the-secret")
    with pytest.raises(ClientRequestException) as info:
        client.list_flink_jobs(ListFlinkJobsRequest(limit=1))
    assert info.value.status_code == 401
    assert info.value.error_code == "APIGW.0301"
    assert info.value.request_id == emulator.request_log()[-1]["request_id"]


def test_sdk_unknown_job_detail_is_dli_16001(emulator):
    with pytest.raises(ClientRequestException) as info:
        sdk_client(emulator).show_flink_job(ShowFlinkJobRequest(job_id=987654))
    assert info.value.status_code == 400 and info.value.error_code == "DLI.16001"


def test_sdk_execution_graph_of_a_running_then_crash_looping_job(emulator):
    client = sdk_client(emulator)
    job = emulator.create_job(name="graph_job", status="job_running", start_time=emulator.now_ms() - 1000)
    shown = client.show_flink_job_execution_graph(ShowFlinkJobExecutionGraphRequest(job_id=job))
    assert shown.is_success == "true"
    graph = shown.execute_graph
    assert (graph.name, graph.state, graph.end_time, graph.is_stoppable) == ("graph_job", "RUNNING", -1, False)
    assert graph.start_time == emulator.get_job(job)["start_time"] and graph.duration >= 1000
    emulator.set_behaviour(job, {"kind": "crash_loop", "after": 1, "every": 1})
    emulator.advance_clock(1)  # speed 50: the crash is 20 ms away
    graph = client.show_flink_job_execution_graph(ShowFlinkJobExecutionGraphRequest(job_id=job)).execute_graph
    assert graph.state == "RESTARTING" and emulator.get_job(job)["restart_times"] > 1
    with pytest.raises(ClientRequestException) as info:
        client.show_flink_job_execution_graph(ShowFlinkJobExecutionGraphRequest(job_id=987654))
    assert info.value.status_code == 400 and info.value.error_code == "DLI.16001"


def test_sdk_triggers_a_savepoint_and_resumes_from_it(emulator):
    client = sdk_client(emulator)
    job = emulator.create_job(name="sp_job", status="job_running", start_time=emulator.now_ms() - 1000)
    body = ExecuteFlinkJobSavepointRequestBody(action="TRIGGER", savepoint_path="bucket-name/dir/savepoint/")
    answer = client.execute_flink_job_savepoint(ExecuteFlinkJobSavepointRequest(job_id=job, body=body))
    assert answer.is_success == "true" and "deal_savepoint_success" in answer.message
    assert emulator.get_job(job)["status"] == "job_savepointing"
    emulator.advance_clock(1)  # speed 50: a savepoint takes 20 ms
    path = emulator.get_job(job)["savepoint_path"]
    assert path.startswith("obs://bucket-name/dir/savepoint/savepoint-") and emulator.get_job(job)["has_savepoint"]
    stopped = client.batch_stop_flink_jobs(
        BatchStopFlinkJobsRequest(body=StopFlinkJobsRequestBody(job_ids=[job], trigger_savepoint=True))
    )
    assert stopped.body[0].is_success == "true"
    emulator.advance_clock(1)
    stopped_path = emulator.get_job(job)["savepoint_path"]
    assert emulator.get_job(job)["status"] == "job_cancel_success" and stopped_path != path
    ran = client.batch_run_flink_jobs(
        BatchRunFlinkJobsRequest(body=BatchRunFlinkJobsRequestBody(job_ids=[job], resume_savepoint=True))
    )
    assert ran.body[0].is_success == "true"
    emulator.advance_clock(1)
    assert emulator.get_job(job)["status"] == "job_running" and emulator.get_job(job)["savepoint_path"] == stopped_path
    never_ran = emulator.create_job(name="idle")
    with pytest.raises(ClientRequestException) as info:  # a job that is not running: refused
        client.execute_flink_job_savepoint(ExecuteFlinkJobSavepointRequest(job_id=never_ran, body=body))
    assert info.value.status_code == 400 and info.value.error_code == "DLI.0007"
