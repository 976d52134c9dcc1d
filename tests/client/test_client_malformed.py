"""Answers the emulator never gives: a small real HTTP server on 127.0.0.1 replays crafted responses."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from dli_magic.errors import MalformedResponseError, RequestRejectedError, ServiceError, ThrottledError


@pytest.fixture
def client(crafted):
    return crafted.client(max_retries=2)


def test_is_success_in_any_case_and_type(crafted, client):
    crafted.add(200, [{"is_success": "TRUE", "message": "a"}, {"is_success": "False", "message": "b"},
                      {"is_success": True, "message": None}])
    result = client.run_jobs([1, 2, 3])
    assert [(o.is_success, o.message) for o in result.outcomes] == [(True, "a"), (False, "b"), (True, "")]
    assert result.outcomes[0].request_id == "rid-1"


@pytest.mark.parametrize("element", [{"is_success": "yes"}, {"is_success": 1}, {"message": "x"}, "true"])
def test_unreadable_is_success_is_malformed(crafted, client, element):
    crafted.add(200, [element])
    with pytest.raises(MalformedResponseError) as info:
        client.run_jobs([5])
    assert info.value.status == 200 and info.value.request_id == "rid-1" and info.value.job_ids == [5]


def test_non_array_run_answer_is_malformed(crafted, client):
    crafted.add(200, {"is_success": "true", "message": "ok"})
    with pytest.raises(MalformedResponseError, match="not an array.*is_success"):
        client.run_jobs([5])


def test_non_json_200_shows_status_and_excerpt(crafted, client):
    crafted.add(200, b"<html><body>" + b"Maintenance window " * 40 + b"</body></html>", {"Content-Type": "text/html"})
    with pytest.raises(MalformedResponseError) as info:
        client.run_jobs([5])
    text = str(info.value)
    assert "HTTP 200" in text and "not JSON" in text and "Maintenance window" in text
    assert len(info.value.message) < 300
    assert len(crafted.seen) == 1  # a processed POST is never replayed


def test_html_5xx_is_service_error_with_excerpt(crafted, client):
    crafted.add(504, b"<html><h1>504 Gateway Time-out</h1></html>", {"Content-Type": "text/html"})
    with pytest.raises(ServiceError) as info:
        client.stop_jobs([5])
    assert info.value.status == 504 and "504 Gateway Time-out" in info.value.message


def test_429_without_body_gets_gateway_code_and_http_date_retry_after(crafted, client):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=1), usegmt=True)
    for _ in range(3):
        crafted.add(429, b"", {"Retry-After": when})
    with pytest.raises(ThrottledError) as info:
        client.run_jobs([5])
    assert info.value.error_code == "APIGW.0308" and info.value.attempts == 3
    assert info.value.retry_after is not None and info.value.retry_after <= 1.0


def test_list_without_job_list_is_malformed(crafted, client):
    crafted.add(200, {"is_success": "true", "message": ""})
    with pytest.raises(MalformedResponseError, match="job_list"):
        client.list_jobs()


def test_a_malformed_answer_after_a_retry_counts_both_attempts(crafted, client):
    crafted.add(429, b"", {"Retry-After": "0"})
    crafted.add(200, {"is_success": "true", "message": ""})
    with pytest.raises(MalformedResponseError, match="job_list") as info:
        client.list_jobs()
    assert info.value.attempts == 2 and "attempts: 2" in str(info.value)
    crafted.add(503, b"")
    crafted.add(200, {"is_success": "true", "job_detail": {"job_id": "seven"}})
    with pytest.raises(MalformedResponseError, match="job_id") as info:
        client.get_job(7)
    assert info.value.attempts == 2 and info.value.job_ids == [7]


def test_list_is_success_false_is_rejected(crafted, client):
    crafted.add(200, {"is_success": "false", "message": "Queue busy"})
    with pytest.raises(RequestRejectedError, match="Queue busy"):
        client.list_jobs()


def test_list_stops_when_total_count_reached_even_with_full_pages(crafted, client):
    jobs = [{"job_id": i, "name": f"j{i}", "status": "job_init"} for i in range(1, 4)]
    crafted.add(200, {"is_success": "true", "job_list": {"total_count": 5, "jobs": jobs}})
    crafted.add(200, {"is_success": "true", "job_list": {"total_count": 5, "jobs": [{"job_id": 4}, {"job_id": 5}]}})
    assert [j.job_id for j in client.list_jobs(page_size=3)] == [1, 2, 3, 4, 5]
    assert [path.split("?")[1] for _, path, _ in crafted.seen] == [
        "limit=3&offset=0&order=desc", "limit=3&offset=3&order=desc"
    ]


def test_create_without_job_id_is_malformed(crafted, client):
    crafted.add(200, {"is_success": "true", "message": "created"})
    with pytest.raises(MalformedResponseError, match="job.job_id"):
        client.create_sql_job("x")
