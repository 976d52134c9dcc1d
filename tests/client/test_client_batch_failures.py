"""Batches that fail part-way, Ctrl-C during a batch, odd job listings and closed clients.

Against the real emulator over HTTP, or a small crafted loopback server for answers the emulator
never gives.
"""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from dli_magic.errors import (
    ConfigError,
    DLIError,
    InterruptedBeforeRetry,
    MalformedResponseError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    TransportError,
)
from dli_magic.batch import NotSentOutcome
from dli_magic.http import cancelled_by
from dli_magic.results import Job, jobs_frame

MAY = "may have taken effect — check %dli_jobs"
CLOSED = "this DLI client was closed (credentials cleared or settings changed); open a new panel or call again"


def arm_after_first_run(emu, faults: dict, api_requests) -> threading.Thread:
    """Replace the fault set with ``faults`` as soon as the first run request has arrived.

    The first run is held 300 ms by a latency fault (taken on arrival), so the new set is in place
    well before the second run request is sent.
    """

    def arm() -> None:
        deadline = time.monotonic() + 5
        while not api_requests(emu, "/jobs/run") and time.monotonic() < deadline:
            time.sleep(0.005)
        emu.set_faults(faults)

    emu.set_faults({"unknown_ids": "error", "latency_ms": {"ms": 300, "path": "jobs/run", "count": 1}})
    thread = threading.Thread(target=arm, daemon=True)
    thread.start()
    return thread


# --- a crafted loopback server --------------------------------------------------------------------


@pytest.fixture
def client(crafted):
    return crafted.client(max_retries=1, chunk_size=1, max_workers=1)


# --- 1. a batch whose chunks all failed -----------------------------------------------------------


def test_drop_after_a_not_found_chunk_returns_rows_not_the_not_found(emulator, make_client, api_requests):
    # Chunk 1 names an unknown id (400, nothing done); chunk 2 is processed but its connection is
    # dropped; chunk 3 is never sent. Raising the NotFoundError would hide that 138 is starting.
    armer = arm_after_first_run(emulator, {"unknown_ids": "error", "drop": {"count": 1, "path": "jobs/run"}},
                                api_requests)
    client = make_client(emulator, chunk_size=1, max_workers=1)
    result = client.run_jobs([999999, 138, 204])
    armer.join()
    assert [o.job_id for o in result.outcomes] == [999999, 138, 204]
    assert [o.is_success for o in result.outcomes] == [False, None, None]  # refused; unknown; not sent
    missing, dropped, skipped = result.outcomes
    calls = api_requests(emulator, "/jobs/run")
    assert [c["body"]["job_ids"] for c in calls] == [[999999], [138]]
    assert missing.message.startswith("NotFoundError: ") and MAY not in missing.message
    assert missing.request_id == calls[0]["request_id"]
    assert dropped.message.startswith("TransportError: ") and dropped.message.endswith(MAY)
    assert dropped.message.count("may have taken effect") == 1
    assert skipped.message.startswith("not sent: stopped after TransportError in another chunk: ")
    assert emulator.get_job(138)["status"] == "job_submitting"  # it did take effect
    assert emulator.get_job(204)["status"] == "job_init"
    assert result.requests == 2 and not result.interrupted


def test_nothing_done_raises_the_halting_error_naming_every_id(crafted, client):
    crafted.not_found(1)  # chunk-specific: sending goes on
    crafted.add(429, b"")  # throttled twice (max_retries=1): sending stops here
    crafted.add(429, b"")
    with pytest.raises(ThrottledError) as info:
        client.run_jobs([1, 2, 3, 4])
    assert info.value.job_ids == [1, 2, 3, 4]  # nothing was done for any of them
    assert not info.value.may_have_taken_effect
    assert len(crafted.seen) == 3


def test_every_chunk_refused_raises_one_error_naming_every_id(crafted, client):
    crafted.not_found(1)
    crafted.not_found(2)
    with pytest.raises(NotFoundError) as info:
        client.stop_jobs([1, 2])
    assert info.value.job_ids == [1, 2]


def test_5xx_on_a_later_chunk_may_have_taken_effect(crafted, client):
    crafted.not_found(1)
    crafted.add(502, b"<html><h1>502 Bad Gateway</h1></html>", {"Content-Type": "text/html"})
    result = client.run_jobs([1, 2, 3])
    rows = result.outcomes
    assert [o.is_success for o in rows] == [False, None, None]  # refused; may have acted; not sent
    assert rows[0].message.startswith("NotFoundError: ") and "(request id rid-1)" in rows[0].message
    assert rows[1].message.startswith("ServiceError: ") and "(request id rid-2)" in rows[1].message
    assert rows[1].message.endswith(MAY) and rows[1].request_id == "rid-2"
    # The skipped chunk names the error that stopped the sending, not the first failure.
    assert rows[2].message.startswith("not sent: stopped after ServiceError in another chunk: ")
    assert len(crafted.seen) == 2


@pytest.mark.parametrize(
    "answer",
    [{"is_success": "true", "message": "ok"}, [{"message": "no flag"}], [{"is_success": "maybe"}]],
    ids=["not-an-array", "no-is-success", "unreadable-is-success"],
)
def test_malformed_200_on_a_chunk_is_a_row_that_may_have_taken_effect(crafted, client, answer):
    crafted.add(200, [{"is_success": "true", "message": "started"}])
    crafted.add(200, answer)
    result = client.run_jobs([1, 2, 3])
    assert [o.is_success for o in result.outcomes] == [True, None, None]
    assert result.outcomes[1].message.startswith("MalformedResponseError: ")
    assert result.outcomes[1].message.endswith(MAY)
    assert result.outcomes[2].message.startswith("not sent: stopped after MalformedResponseError")


def test_malformed_200_alone_says_the_call_may_have_taken_effect(crafted, client):
    crafted.add(200, {"is_success": "true", "message": "ok"})
    with pytest.raises(MalformedResponseError) as info:
        client.run_jobs([5])
    err = info.value
    assert err.may_have_taken_effect and err.job_ids == [5]
    assert "Nothing was guessed" not in err.hint
    assert "may have taken effect" in err.hint and "%dli_jobs" in err.hint
    rendered = "\n".join(err._render_traceback_())
    assert "may have taken effect" in rendered


def test_malformed_first_chunk_then_nothing_sent_still_returns_rows(crafted, client):
    crafted.add(200, [{"message": "?"}])
    result = client.stop_jobs([1, 2])
    assert [o.is_success for o in result.outcomes] == [None, None]
    assert result.outcomes[0].message.endswith(MAY)
    assert len(crafted.seen) == 1


def test_connect_failure_on_every_chunk_is_one_error(make_client, emulator, closed_port):
    client = make_client(emulator, endpoint=f"http://127.0.0.1:{closed_port}", max_retries=0, chunk_size=1,
                         max_workers=1)
    with pytest.raises(TransportError) as info:
        client.run_jobs([138, 204, 188])
    assert not info.value.may_have_taken_effect and info.value.job_ids == [138, 204, 188]


def test_may_have_taken_effect_flags(emulator, make_client):
    emulator.set_faults({"drop": {"count": 1, "path": "jobs/run"}})
    with pytest.raises(TransportError) as info:
        make_client(emulator).run_jobs([204])
    assert info.value.may_have_taken_effect
    emulator.set_faults({"error": {"status": 503, "count": 1}})
    with pytest.raises(ServiceError) as info:
        make_client(emulator).stop_jobs([204])
    assert info.value.may_have_taken_effect
    emulator.set_faults({"unknown_ids": "error"})
    with pytest.raises(NotFoundError) as info:
        make_client(emulator).run_jobs([999999])
    assert not info.value.may_have_taken_effect
    emulator.set_faults({"drop": {"count": 1}})
    assert make_client(emulator).get_job(204).job_id == 204  # a GET is retried, never "took effect"
    assert DLIError("x").may_have_taken_effect is False


# --- 3. Ctrl-C during a multi-chunk batch -----------------------------------------------------------


def test_ctrl_c_keeps_the_partial_result(emulator, make_client, api_requests):
    ids = [emulator.create_job(name=f"ctrl_c_{i}", status="job_init") for i in range(6)]
    emulator.set_faults({"latency_ms": {"ms": 300, "path": "jobs/run"}})
    client = make_client(emulator, chunk_size=1, max_workers=1)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        result = client.run_jobs(ids)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C discarded the rows of the chunks already sent")
    finally:
        timer.cancel()
    assert result.interrupted and result.attrs()["interrupted"] is True
    assert result.to_frame().attrs["interrupted"] is True
    assert [o.job_id for o in result.outcomes] == ids
    sent = {c["body"]["job_ids"][0] for c in api_requests(emulator, "/jobs/run")}
    not_sent = [o for o in result.outcomes if o.job_id not in sent]
    assert 2 <= len(sent) < 6 and not_sent
    for outcome in result.outcomes:
        if outcome.job_id in sent:
            assert outcome.is_success is True  # in-flight chunks were waited for
        else:
            assert outcome.is_success is None and outcome.message == "not sent (interrupted)"
            assert emulator.get_job(outcome.job_id)["status"] == "job_init"
    assert result.requests == len(sent)


def test_ctrl_c_while_a_single_request_is_out_is_rows_that_may_have_taken_effect(emulator, make_client, api_requests):
    emulator.set_faults({"latency_ms": {"ms": 500, "path": "jobs/run"}})
    client = make_client(emulator)
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    try:
        result = client.run_jobs([138, 204])
    finally:
        timer.cancel()
    assert result.interrupted is True
    assert [o.is_success for o in result.outcomes] == [None, None]  # sent, answer not awaited
    assert all("may have been sent" in o.message and MAY in o.message for o in result.outcomes)
    assert len(api_requests(emulator, "/jobs/run")) == 1


@pytest.mark.parametrize("faults, after", [
    ({"throttle": {"count": 1, "retry_after": 3, "path": "jobs/run"}}, "HTTP 429"),
])
def test_ctrl_c_while_waiting_to_retry_a_refused_request_is_rows_where_nothing_was_done(
        emulator, make_client, api_requests, faults, after):
    """A 429 is refused by the gateway unprocessed; Ctrl-C during its Retry-After wait leaves no
    request out: the rows must not say the call may have taken effect."""
    emulator.set_faults(faults)
    client = make_client(emulator, retry_deadline=30)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        result = client.run_jobs([138, 204])
    finally:
        timer.cancel()
    assert result.interrupted is True
    assert [o.is_success for o in result.outcomes] == [None, None]
    for outcome in result.outcomes:
        assert isinstance(outcome, NotSentOutcome)
        assert outcome.message == f"not sent again (interrupted while waiting to retry after {after}): nothing was done"
        assert MAY not in outcome.message
    assert [c["status"] for c in api_requests(emulator, "/jobs/run")] == [429]
    assert result.requests == 1
    assert result.attempts == 1  # the 429 went out: an attempt, though nothing was done
    assert {emulator.get_job(i)["status"] for i in (138, 204)} != {"job_submitting"}


def test_ctrl_c_while_a_chunk_waits_to_retry_does_not_send_it_again(emulator, make_client, api_requests):
    """With several chunks the throttled one waits on a worker thread: Ctrl-C ends that wait, so its
    request is not sent again and the call returns before the Retry-After is over."""
    emulator.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "jobs/run"}})
    client = make_client(emulator, retry_deadline=30, chunk_size=1, max_workers=2)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    try:
        result = client.run_jobs([138, 204])
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0, "the call waited for the retry"
    runs = api_requests(emulator, "/jobs/run")
    assert sorted(c["status"] for c in runs) == [200, 429]
    throttled = next(c["body"]["job_ids"][0] for c in runs if c["status"] == 429)
    assert result.interrupted is True
    for outcome in result.outcomes:
        if outcome.job_id == throttled:
            assert isinstance(outcome, NotSentOutcome) and outcome.is_success is None
            assert outcome.message == (
                "not sent again (interrupted while waiting to retry after HTTP 429): nothing was done"
            )
        else:
            assert outcome.is_success is True
    assert result.requests == 2 and result.attempts == 2
    assert emulator.get_job(throttled)["status"] != "job_submitting"


def test_an_error_that_stops_sending_ends_another_chunks_retry_wait(emulator, make_client, api_requests):
    """An error that would fail every chunk stops the sending: a chunk waiting to retry after a 429
    is not sent again, and its rows say why."""
    # The first run request is throttled, the second answered 500 (the service may have acted).
    emulator.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "jobs/run"},
                         "error": {"count": 1, "status": 500, "path": "jobs/run"}})
    client = make_client(emulator, retry_deadline=30, chunk_size=1, max_workers=2)
    started = time.monotonic()
    result = client.run_jobs([138, 204])
    assert time.monotonic() - started < 2.0, "the call waited for the retry"
    runs = api_requests(emulator, "/jobs/run")
    assert sorted(c["status"] for c in runs) == [429, 500]
    throttled = next(c["body"]["job_ids"][0] for c in runs if c["status"] == 429)
    assert result.interrupted is False
    for outcome in result.outcomes:
        if outcome.job_id == throttled:
            assert isinstance(outcome, NotSentOutcome) and outcome.is_success is None
            assert outcome.message.startswith("not sent again after HTTP 429 (nothing was done): stopped after ServiceError")
        else:
            assert MAY in outcome.message
    assert result.requests == 2 and result.attempts == 2


def test_ctrl_c_while_waiting_to_retry_a_request_that_may_have_acted_still_says_so(emulator, make_client):
    """A request repeated after a 503 may have been processed the first time: the interrupted wait
    does not say that nothing was done."""
    from dli_magic.errors import InterruptedBeforeRetry

    emulator.set_faults({"error": {"count": 1, "status": 503, "path": "jobs/138", "retry_after": 3}})
    client = make_client(emulator, retry_deadline=30, backoff_base=3)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(InterruptedBeforeRetry) as caught:
            client.get_job(138)
    finally:
        timer.cancel()
    assert caught.value.took_no_effect is False and caught.value.after == "HTTP 503"
    assert caught.value.attempts == 1


def test_batch_result_not_interrupted_by_default(emulator, make_client):
    result = make_client(emulator, chunk_size=1).run_jobs([138, 204])
    assert result.interrupted is False and result.attrs()["interrupted"] is False


# --- 4. job listings with odd entries ---------------------------------------------------------------


def _listing(*jobs) -> dict:
    return {"is_success": "true", "message": "", "job_list": {"total_count": len(jobs), "jobs": list(jobs)}}


@pytest.mark.parametrize("bad", [None, "12", True, 1.5, [3]], ids=["null", "string", "bool", "float", "list"])
def test_list_entry_with_bad_job_id_is_malformed(crafted, client, bad):
    crafted.add(200, _listing({"job_id": 1, "name": "ok"}, {"job_id": bad, "name": "odd-entry"}))
    with pytest.raises(MalformedResponseError) as info:
        client.list_jobs()
    assert "job_id is not an integer" in info.value.message and "odd-entry" in info.value.message
    assert info.value.request_id == "rid-1"


@pytest.mark.parametrize("bad", [None, "7", False])
def test_detail_with_bad_job_id_is_malformed(crafted, client, bad):
    crafted.add(200, {"is_success": "true", "job_detail": {"job_id": bad, "name": "odd"}})
    with pytest.raises(MalformedResponseError, match="job_id is not an integer") as info:
        client.get_job(7)
    assert info.value.job_ids == [7]


def test_odd_optional_fields_never_break_the_listing(crafted, client):
    crafted.add(200, _listing(
        {"job_id": 1, "name": 42, "status": "job_running", "has_savepoint": "TRUE", "create_time": "1700000000000",
         "start_time": True, "queue_name": {"q": 1}, "user_name": None, "status_desc": 3.5, "job_type": ["x"]},
        {"job_id": 2, "has_savepoint": "maybe", "create_time": 1.5e12, "start_time": 10**30},
        {"job_id": 3, "has_savepoint": "false", "create_time": 1700000000000, "start_time": 0},
        {"job_id": 4, "has_savepoint": 1, "create_time": None},
    ))
    jobs = client.list_jobs()
    assert [j.job_id for j in jobs] == [1, 2, 3, 4]
    assert [j.has_savepoint for j in jobs] == [True, None, False, None]
    assert [j.create_time for j in jobs] == [None, None, 1700000000000, None]
    assert [j.start_time for j in jobs] == [None, None, None, None]
    assert jobs[0].name == "42" and jobs[0].queue_name is None and jobs[0].status_desc == "3.5"
    assert jobs[0].job_type is None and jobs[0].status == "job_running"
    frame = jobs_frame(jobs)
    assert frame["has_savepoint"].tolist()[0] is True and len(frame) == 4
    assert client.job_names[1] == "42"


def test_job_from_api_rejects_a_non_integer_id():
    with pytest.raises(ValueError):
        Job.from_api({"job_id": True})


# --- 5. a closed client -----------------------------------------------------------------------------


def test_closed_client_refuses_every_call_and_sends_nothing(emulator, make_client):
    client = make_client(emulator)
    assert client.get_job(138).job_id == 138 and not client.closed
    client.close()
    assert client.closed
    emulator.clear_request_log()
    calls = [
        lambda: client.run_jobs([204]),
        lambda: client.stop_jobs([204, 188], chunk_size=1),
        lambda: client.list_jobs(),
        lambda: next(iter(client.iter_jobs())),
        lambda: client.get_job(138),
        lambda: client.create_sql_job("after-close"),
        lambda: client.create_jar_job("after-close"),
        lambda: client.delete_job(138),
        lambda: client.describe_request("run", [204]),
    ]
    for call in calls:
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.message == CLOSED
        assert isinstance(info.value, DLIError)
    assert emulator.request_log() == []
    assert emulator.get_job(204)["status"] == "job_init"


def test_closed_password_client_does_not_log_in(emulator, make_client):
    from dli_magic.emulator import DEFAULT_REGION
    from dli_magic.emulator.testing import SENTINEL_PASSWORD, TEST_DOMAIN, TEST_USER

    client = make_client(emulator, auth_token=None, project_id=None, username=TEST_USER,
                         password=SENTINEL_PASSWORD, domain=TEST_DOMAIN, region=DEFAULT_REGION)
    client.close()
    emulator.clear_request_log()
    with pytest.raises(ConfigError, match="was closed"):
        client.list_jobs()
    with pytest.raises(ConfigError, match="was closed"):
        client.auth
    assert emulator.request_log() == []


@pytest.mark.parametrize("chunk_size", [1, 2], ids=["two chunks", "one chunk"])
def test_an_enclosing_cancelled_by_ends_a_chunks_retry_wait(emulator, make_client, api_requests, chunk_size):
    """Cancellation composes: a cancelled_by around the call (a background handle's stop) still ends
    a chunk's retry wait inside batch's own cancelled_by(halt), whether the chunk is sent on the
    caller's thread (one chunk) or on a worker (several)."""
    emulator.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "jobs/run"}})
    client = make_client(emulator, retry_deadline=30, chunk_size=chunk_size, max_workers=2)
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        with cancelled_by(stop):
            result = client.run_jobs([138, 204])
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0, "the call waited for the retry"
    runs = api_requests(emulator, "/jobs/run")
    throttled = {j for c in runs if c["status"] == 429 for j in c["body"]["job_ids"]}
    assert throttled and not [c for c in runs[1:] if set(c["body"]["job_ids"]) & throttled]  # not sent again
    assert result.interrupted is True
    for outcome in result.outcomes:
        if outcome.job_id in throttled:
            assert isinstance(outcome, NotSentOutcome) and outcome.is_success is None
            assert outcome.message == (
                "not sent again (interrupted while waiting to retry after HTTP 429): nothing was done"
            )
        else:
            assert outcome.is_success is True


def test_nested_cancelled_by_blocks_compose(emulator, make_client):
    """A send inside two cancelled_by blocks ends its back-off when the outer event is set (the inner
    one no longer replaces it), and sends nothing more."""
    emulator.set_faults({"throttle": {"count": 1, "retry_after": 3, "path": "jobs/138"}})
    client = make_client(emulator, retry_deadline=30)
    outer, inner = threading.Event(), threading.Event()
    timer = threading.Timer(0.5, outer.set)
    timer.start()
    started = time.monotonic()
    try:
        with cancelled_by(outer), cancelled_by(inner), pytest.raises(InterruptedBeforeRetry) as raised:
            client.get_job(138)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0, "the back-off ignored the outer event"
    assert raised.value.after == "HTTP 429" and raised.value.attempts == 1
