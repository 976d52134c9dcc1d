"""The client's calls against a live emulator: run, stop, list, get, create, delete, chunking, dry run."""

from __future__ import annotations

import threading
import time

import pytest

from dli_magic.client import DliClient
from dli_magic.errors import BadInputError, NotFoundError, RequestRejectedError
from dli_magic.results import BatchResult, Job

def test_run_jobs_returns_outcomes_in_id_order(emulator, make_client, api_requests):
    client = make_client(emulator)
    result = client.run_jobs([204, 138, 131], resume_savepoint=True)
    assert isinstance(result, BatchResult)
    assert [o.job_id for o in result.outcomes] == [204, 138, 131]
    assert all(o.is_success is True for o in result.outcomes)
    assert result.options == {"resume_savepoint": True}
    assert (result.attempts, result.requests, result.action) == (1, 1, "run")
    assert result.project_id == emulator.project_id and result.endpoint == emulator.url
    assert result.started <= result.finished and result.started.tzinfo is not None
    [call] = api_requests(emulator, "/jobs/run")
    assert call["body"] == {"job_ids": [204, 138, 131], "resume_savepoint": True}
    assert {o.request_id for o in result.outcomes} == {call["request_id"]}
    assert call["headers"]["x-project-id"] == emulator.project_id
    assert call["headers"]["content-type"] == "application/json"


def test_run_reports_per_job_failures(emulator, make_client):
    result = make_client(emulator).run_jobs([130, 138, 987654])  # running, runnable, unknown
    by_id = {o.job_id: o for o in result.outcomes}
    assert by_id[138].is_success is True
    assert by_id[130].is_success is False and "job_running" in by_id[130].message
    assert by_id[987654].is_success is False and "987654" in by_id[987654].message
    assert (result.succeeded, result.failed, result.unknown) == (1, 2, 0)


def test_duplicates_dropped_and_bad_ids_send_nothing(emulator, make_client):
    client = make_client(emulator)
    result = client.run_jobs([138, 138, 204])
    assert [o.job_id for o in result.outcomes] == [138, 204]
    emulator.clear_request_log()
    for bad in ([], [0], [-3], ["131"], [1.5], [True], "131", [2**63]):
        with pytest.raises(BadInputError):
            client.run_jobs(bad)
    with pytest.raises(BadInputError, match="resume_savepoint"):
        client.run_jobs([138], resume_savepoint="yes")
    with pytest.raises(BadInputError, match="chunk_size"):
        client.run_jobs([138], chunk_size=0)
    with pytest.raises(BadInputError, match="max_workers"):
        client.stop_jobs([138], max_workers=0)
    assert emulator.request_log() == []


def test_stop_jobs_with_savepoint(emulator, make_client, api_requests):
    client = make_client(emulator)
    result = client.stop_jobs([130, 137], trigger_savepoint=True)
    assert result.action == "stop" and result.options == {"trigger_savepoint": True}
    assert [o.is_success for o in result.outcomes] == [True, True]
    [call] = api_requests(emulator, "/jobs/stop")
    assert call["body"] == {"job_ids": [130, 137], "trigger_savepoint": True}
    deadline = time.monotonic() + 5
    while emulator.get_job(130)["status"] != "job_cancel_success" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert emulator.get_job(130)["status"] == "job_cancel_success"


def test_chunking_250_ids_three_requests_in_order(emulator_factory, make_client, api_requests):
    emu = emulator_factory(token="t")
    ids = [emu.create_job(name=f"j{i}") for i in range(250)]
    client = make_client(emu, auth_token="t", chunk_size=100)
    emu.clear_request_log()
    result = client.run_jobs(list(reversed(ids)))
    assert [o.job_id for o in result.outcomes] == list(reversed(ids))
    assert all(o.is_success for o in result.outcomes)
    calls = api_requests(emu, "/jobs/run")
    assert sorted(len(c["body"]["job_ids"]) for c in calls) == [50, 100, 100]
    assert (result.requests, result.attempts) == (3, 3)
    # each outcome carries the request id of its own chunk
    rid_of = {jid: c["request_id"] for c in calls for jid in c["body"]["job_ids"]}
    assert all(o.request_id == rid_of[o.job_id] for o in result.outcomes)


def test_concurrency_is_bounded(emulator_factory, make_client):
    emu = emulator_factory(token="t", faults={"latency_ms": {"ms": 150, "path": "jobs/run"}})
    ids = [emu.create_job(name=f"j{i}") for i in range(8)]
    client = make_client(emu, auth_token="t")
    peak = 0
    lock = threading.Lock()
    active = 0
    original = client._send_chunk

    def counting(*args, **kwargs):  # observe the client's own concurrency; HTTP stays real
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                active -= 1

    client._send_chunk = counting
    started = time.monotonic()
    result = client.run_jobs(ids, chunk_size=1, max_workers=2)
    elapsed = time.monotonic() - started
    assert peak == 2
    assert result.requests == 8 and [o.job_id for o in result.outcomes] == ids
    assert elapsed >= 4 * 0.15  # 8 requests two at a time


def test_list_jobs_pages_and_filters(emulator, make_client, api_requests):
    client = make_client(emulator)
    everything = client.list_jobs(page_size=5)
    assert len(everything) == 12 and all(isinstance(j, Job) for j in everything)
    assert len({j.job_id for j in everything}) == 12
    pages = [e for e in api_requests(emulator) if e["path"].endswith("/streaming/jobs")]
    assert sorted(p["query"] for p in pages) == [  # pages after the first go out together
        f"limit=5&offset={o}&order=desc" for o in (0, 10, 5)
    ]
    running = client.list_jobs(status="job_running")
    assert {j.job_id for j in running} == {130, 137}
    assert all(j.status == "job_running" for j in running)
    jar = client.list_jobs(job_type="flink_jar_job", order="asc")
    assert [j.job_id for j in jar] == sorted((j.job_id for j in jar), key=lambda i: next(
        x.create_time for x in everything if x.job_id == i))
    assert {j.job_type for j in jar} == {"flink_jar_job"}
    assert [j.name for j in client.list_jobs(name="orders_enrichment")] == ["orders_enrichment"]
    assert {j.queue_name for j in client.list_jobs(queue_name="dli_dev")} == {"dli_dev"}


def test_iter_jobs_is_lazy(emulator, make_client, api_requests):
    client = make_client(emulator)
    iterator = client.iter_jobs(page_size=2)
    assert api_requests(emulator) == []  # nothing fetched until iterated
    first = next(iterator)
    assert isinstance(first, Job) and len(api_requests(emulator)) == 1


def test_list_filter_input_is_checked_before_sending(emulator, make_client, api_requests):
    client = make_client(emulator)
    with pytest.raises(BadInputError, match="Did you mean 'job_running'"):
        client.list_jobs(status="running_job")
    with pytest.raises(BadInputError, match="job type"):
        client.list_jobs(job_type="spark")
    with pytest.raises(BadInputError, match="order"):
        client.list_jobs(order="up")
    with pytest.raises(BadInputError, match="page_size"):
        client.list_jobs(page_size=101)
    assert api_requests(emulator) == []


def test_get_job_and_not_found(emulator, make_client):
    client = make_client(emulator)
    job = client.get_job(137)
    assert (job.job_id, job.name, job.job_type, job.has_savepoint) == (137, "payments_fraud_score", "flink_jar_job", True)
    assert job.raw["job_id"] == 137
    with pytest.raises(NotFoundError) as info:
        client.get_job(999)
    assert info.value.error_code == "DLI.16001" and info.value.request_id
    assert info.value.job_ids == [999]


def test_create_sql_and_jar_then_delete(emulator, make_client, api_requests):
    client = make_client(emulator)
    sql_id = client.create_sql_job("nightly_rollup", "INSERT INTO a SELECT 1", queue_name="dli_dev",
                                   tags={"env": "dev"})
    jar_id = client.create_jar_job("jar_one", main_class="com.example.Main", queue_name="dli_dev")
    assert emulator.get_job(sql_id)["name"] == "nightly_rollup"
    assert client.get_job(sql_id).job_type == "flink_sql_job"
    assert client.get_job(jar_id).job_type == "flink_jar_job"
    [create] = api_requests(emulator, "/streaming/sql-jobs")
    assert create["body"]["tags"] == [{"key": "env", "value": "dev"}]
    client.delete_job(sql_id)
    with pytest.raises(NotFoundError):
        client.get_job(sql_id)
    with pytest.raises(BadInputError):
        client.create_sql_job("x" * 58)
    with pytest.raises(BadInputError):
        client.create_sql_job("")


def test_whole_call_rejection_is_an_error(emulator_factory, make_client):
    emu = emulator_factory(token="t", demo=True, faults={"error": {"status": 400, "error_code": "DLI.13024",
                                                                    "error_msg": "No job-running queue selected"}})
    with pytest.raises(RequestRejectedError) as info:
        make_client(emu, auth_token="t").run_jobs([138])
    err = info.value
    assert (err.status, err.error_code, err.job_ids) == (400, "DLI.13024", [138])
    assert err.request_id == emu.request_log()[-1]["request_id"]
    assert "No job-running queue" in str(err)


def test_describe_request_sends_nothing(emulator, make_client):
    client = make_client(emulator)
    described = client.describe_request("run", [131, 130, 131], resume_savepoint=True)
    assert described["method"] == "POST"
    assert described["url"] == f"{emulator.url}/v1.0/{emulator.project_id}/streaming/jobs/run"
    assert described["json"] == {"job_ids": [131, 130], "resume_savepoint": True}
    assert described["headers"]["X-Auth-Token"].startswith("***")
    assert described["headers"]["X-Project-Id"] == emulator.project_id
    stop = client.describe_request("stop", list(range(1, 251)), chunk_size=100)
    assert stop["json"]["job_ids"] == list(range(1, 101)) and stop["requests"] == 3
    assert stop["json"]["trigger_savepoint"] is False
    with pytest.raises(BadInputError, match="resume_savepoint"):
        client.describe_request("stop", [1], resume_savepoint=True)
    with pytest.raises(BadInputError):
        client.describe_request("restart", [1])
    assert emulator.request_log() == []


def test_describe_request_without_project_or_credentials_sends_nothing(emulator):
    client = DliClient(endpoint=emulator.url)
    described = client.describe_request("run", [1])
    assert "{project_id}" in described["url"] and "note" in described
    assert "no credentials" in described["headers"]["X-Auth-Token"]
    assert emulator.request_log() == []


def test_connections_are_reused_with_keep_alive(emulator, make_client):
    client = make_client(emulator, max_workers=8)
    client.get_job(130)
    client.get_job(131)
    client.run_jobs([138])
    manager = client.session.get_adapter(emulator.url).poolmanager
    pools = [manager.pools[key] for key in manager.pools.keys()]
    assert len(pools) == 1 and pools[0].pool.maxsize >= 8  # room for every parallel chunk request
    assert pools[0].num_connections == 1  # one pooled connection served all three calls
