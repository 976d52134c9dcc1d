"""Every emulator fault mode, and what the client makes of it: retries, errors, unknown rows."""

from __future__ import annotations

import time

import pytest

from dli_magic.errors import NotFoundError, ServiceError, ThrottledError, TransportError

def test_throttle_is_retried_and_attempts_counted(emulator, make_client, api_requests):
    emulator.set_faults({"throttle": {"count": 2, "retry_after": 0}})
    result = make_client(emulator).run_jobs([138, 204])
    assert [o.is_success for o in result.outcomes] == [True, True]
    assert (result.attempts, result.requests) == (3, 1)
    assert [e["status"] for e in api_requests(emulator, "/jobs/run")] == [429, 429, 200]


def test_throttle_exhausted_is_throttled_error(emulator, make_client, api_requests):
    emulator.set_faults({"throttle": {"count": 10, "retry_after": 0}})
    with pytest.raises(ThrottledError) as info:
        make_client(emulator, max_retries=2).run_jobs([138])
    err = info.value
    assert (err.status, err.error_code, err.attempts) == (429, "APIGW.0308", 3)
    assert err.retry_after == 0 and err.request_id == api_requests(emulator, "/jobs/run")[-1]["request_id"]
    assert "attempts: 3" in str(err)
    assert len(api_requests(emulator, "/jobs/run")) == 3


def test_retry_after_is_honoured(emulator, make_client):
    emulator.set_faults({"throttle": {"count": 1, "retry_after": 0.4}})
    started = time.monotonic()
    make_client(emulator).get_job(130)
    assert time.monotonic() - started >= 0.4


def test_retry_after_is_capped_by_the_deadline(emulator, make_client):
    emulator.set_faults({"throttle": {"count": 50, "retry_after": 30}})
    started = time.monotonic()
    with pytest.raises(ThrottledError):
        make_client(emulator, retry_deadline=0.5, max_retries=10).run_jobs([138])
    assert time.monotonic() - started < 3


def test_rate_limit_fault_is_absorbed_by_retries(emulator, make_client):
    emulator.set_faults({"rate_limit": {"per_second": 2, "retry_after": 0.5}})
    client = make_client(emulator)
    for job_id in (130, 131, 137, 138):
        assert client.get_job(job_id).job_id == job_id
    statuses = [e["status"] for e in emulator.request_log()]
    assert 429 in statuses and statuses[-1] == 200


def test_503_on_get_is_retried(emulator, make_client):
    emulator.set_faults({"error": {"status": 503, "count": 2}})
    assert make_client(emulator).get_job(130).job_id == 130
    assert [e["status"] for e in emulator.request_log()] == [503, 503, 200]


def test_503_on_run_post_is_not_retried(emulator, make_client, api_requests):
    emulator.set_faults({"error": {"status": 503, "count": 1}})
    with pytest.raises(ServiceError) as info:
        make_client(emulator).run_jobs([138])
    assert info.value.status == 503 and info.value.attempts == 1
    assert len(api_requests(emulator, "/jobs/run")) == 1


def test_html_502_on_get_retried_on_post_reported(emulator, make_client):
    emulator.set_faults({"html_502": {"count": 1}})
    client = make_client(emulator)
    assert client.get_job(130).job_id == 130
    emulator.set_faults({"html_502": {"count": 1}})
    with pytest.raises(ServiceError) as info:
        client.stop_jobs([130])
    err = info.value
    assert err.status == 502 and "non-JSON body" in err.message and "<" in err.message
    assert len(err.message) < 300  # an excerpt, not the page


def test_read_timeout_on_run_is_not_replayed(emulator, make_client, api_requests):
    emulator.set_faults({"latency_ms": {"ms": 1500, "path": "jobs/run"}})
    client = make_client(emulator, read_timeout=0.3)
    with pytest.raises(TransportError) as info:
        client.run_jobs([138])
    err = info.value
    assert "may have taken effect" in err.message and "%dli_jobs" in err.message
    assert err.job_ids == [138] and err.attempts == 1
    time.sleep(1.3)  # let the slow answer finish so the log is complete
    assert len(api_requests(emulator, "/jobs/run")) == 1
    assert emulator.get_job(138)["status"] != "job_init"  # it did take effect


def test_dropped_connection_on_run_is_not_replayed(emulator, make_client, api_requests):
    emulator.set_faults({"drop": {"count": 1, "path": "jobs/run"}})
    with pytest.raises(TransportError, match="may have taken effect") as info:
        make_client(emulator).run_jobs([204])
    assert info.value.attempts == 1
    assert len(api_requests(emulator, "/jobs/run")) == 1
    assert emulator.get_job(204)["status"] != "job_init"


def test_dropped_connection_on_get_is_retried(emulator, make_client):
    emulator.set_faults({"drop": {"count": 1}})
    assert make_client(emulator).get_job(131).job_id == 131
    assert [e["status"] for e in emulator.request_log()] == [0, 200]


def test_connection_refused_is_retried_once_then_transport_error(emulator, make_client, closed_port):
    client = make_client(emulator, endpoint=f"http://127.0.0.1:{closed_port}", max_retries=3)
    with pytest.raises(TransportError) as info:
        client.run_jobs([138])
    err = info.value
    # one quick retry (a restarting service), not the whole max_retries budget with its backoff
    assert err.attempts == 2 and err.kind == "refused"
    assert "Could not connect" in err.message and "nothing was sent" in err.message
    assert "may have taken effect" not in err.message


def test_short_response_makes_every_row_unknown(emulator, make_client, api_requests):
    emulator.set_faults({"short_response": {"count": 1, "missing": 1}})
    result = make_client(emulator).run_jobs([138, 204, 131, 188])
    assert [o.is_success for o in result.outcomes] == [None] * 4
    [call] = api_requests(emulator, "/jobs/run")
    for outcome in result.outcomes:
        assert outcome.message == (
            "the service answered 3 results for 4 jobs; outcome unknown — check %dli_jobs"
        )
        assert outcome.request_id == call["request_id"]
    assert result.unknown == 4


def test_bool_is_success_is_parsed(emulator, make_client):
    emulator.set_faults({"bool_is_success": True})
    result = make_client(emulator).run_jobs([138, 130])
    assert [o.is_success for o in result.outcomes] == [True, False]


def test_unknown_ids_item_mode(emulator, make_client):
    emulator.set_faults({"unknown_ids": "item"})
    result = make_client(emulator).run_jobs([138, 424242])
    assert [o.is_success for o in result.outcomes] == [True, False]


def test_unknown_ids_error_mode_single_chunk_raises(emulator, make_client):
    emulator.set_faults({"unknown_ids": "error"})
    with pytest.raises(NotFoundError) as info:
        make_client(emulator).run_jobs([138, 424242])
    assert info.value.error_code == "DLI.16001" and info.value.job_ids == [138, 424242]


def test_partial_failure_keeps_the_done_chunks(emulator_factory, make_client, api_requests):
    emu = emulator_factory(token="tok-partial", demo=True, unknown_ids="error")
    client = make_client(emu, auth_token="tok-partial", chunk_size=1, max_workers=1)
    result = client.run_jobs([138, 424242, 204])
    assert [o.is_success for o in result.outcomes] == [True, False, True]  # the service refused 424242
    failed = result.outcomes[1]
    failed_call = [c for c in api_requests(emu, "/jobs/run") if c["body"]["job_ids"] == [424242]][0]
    assert "NotFoundError" in failed.message and failed_call["request_id"] in failed.message
    assert failed.request_id == failed_call["request_id"]
    assert (result.requests, result.attempts) == (3, 3)


def test_fatal_chunk_error_stops_sending_and_keeps_rows_when_it_may_have_taken_effect(emulator, make_client,
                                                                                      api_requests):
    emulator.set_faults({"drop": {"count": 1, "path": "jobs/run"}})
    result = make_client(emulator, chunk_size=1, max_workers=1).run_jobs([138, 204, 188])
    assert len(api_requests(emulator, "/jobs/run")) == 1  # the later chunks were not sent after the drop
    assert [o.is_success for o in result.outcomes] == [None, None, None]
    assert result.outcomes[0].message.endswith("may have taken effect — check %dli_jobs")
    assert all(o.message.startswith("not sent: stopped after TransportError") for o in result.outcomes[1:])
    assert emulator.get_job(138)["status"] != "job_init"  # the dropped call was processed


def test_fatal_chunk_error_raises_when_nothing_done(emulator, make_client, api_requests):
    emulator.set_faults({"throttle": {"count": -1, "retry_after": 0}})
    with pytest.raises(ThrottledError) as info:
        make_client(emulator, chunk_size=1, max_workers=1, max_retries=0).run_jobs([138, 204, 188])
    assert len(api_requests(emulator, "/jobs/run")) == 1
    assert info.value.job_ids == [138, 204, 188]  # nothing was done for any of them
