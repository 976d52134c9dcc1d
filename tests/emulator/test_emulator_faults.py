"""Fault injection: each mode, its count, its path/method filter, and the admin routes."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
import requests


def test_throttle_counts_down_with_retry_after(api):
    api.emu.set_faults({"throttle": {"count": 2, "retry_after": 3}})
    for _ in range(2):
        r = api.get("jobs")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "3"
        body = r.json()
        assert body["error_code"] == "APIGW.0308" and "ratelimit" in body["error_msg"]
        assert body["request_id"] == r.headers["X-Request-Id"]
    assert api.get("jobs").status_code == 200
    assert [e["fault"] for e in api.emu.request_log()] == ["throttle", "throttle", None]


def test_throttled_run_is_not_processed(api):
    api.emu.set_faults({"throttle": {"count": 1}})
    assert api.post("jobs/run", json={"job_ids": [138]}).status_code == 429
    assert api.status(138) == "job_init"


def test_rate_limit_sliding_window(api):
    api.emu.set_faults({"rate_limit": {"per_second": 5, "retry_after": 1}})
    codes = [api.get("jobs").status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    time.sleep(1.05)
    assert api.get("jobs").status_code == 200


def test_rate_limit_honours_count(api):
    api.emu.set_faults({"rate_limit": {"per_second": 1, "count": 2}})
    codes = [api.get("jobs").status_code for _ in range(5)]
    assert codes == [200, 429, 429, 200, 200]  # two 429s given, then disarmed within the same second
    assert api.emu.faults()["rate_limit"]["count"] == 0


@pytest.mark.parametrize("retry_after, header", [(0.4, "1"), (1.5, "2"), (2, "2"), (0, "0"), (2.0, "2")])
def test_retry_after_is_whole_seconds_rounded_up(api, retry_after, header):
    api.emu.set_faults({"throttle": {"count": 1, "retry_after": retry_after}})
    assert api.get("jobs").headers["Retry-After"] == header


def test_error_fault_5xx_and_400(api):
    api.emu.set_faults({"error": {"status": 503, "count": 1}})
    r = api.get("jobs")
    assert r.status_code == 503 and r.json()["error_code"] == "APIGW.0201"
    assert api.get("jobs").status_code == 200
    api.emu.set_faults({"error": {"status": 400}})
    r = api.post("jobs/run", json={"job_ids": [138]})
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.0999"
    assert api.status(138) == "job_init"


def test_html_502(api):
    api.emu.set_faults({"html_502": {"count": 1}})
    r = api.get("jobs")
    assert r.status_code == 502
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<html>" in r.text and "502 Bad Gateway" in r.text
    assert len(r.headers["X-Request-Id"]) == 32


def test_latency_is_after_processing_and_does_not_block_others(api):
    api.emu.set_faults({"latency_ms": {"ms": 400, "path": "jobs/run"}})
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        slow = pool.submit(requests.post, api.url("jobs/run"), json={"job_ids": [138]}, headers=api.headers)
        time.sleep(0.1)
        # processed before the answer: the job is already submitting while the client waits
        assert api.status(138) in ("job_submitting", "job_running")
        fast_start = time.perf_counter()
        assert api.get("jobs").status_code == 200  # not delayed (path filter), not blocked
        assert time.perf_counter() - fast_start < 0.2
        assert slow.result().status_code == 200
        assert time.perf_counter() - start >= 0.4


def test_latency_makes_a_client_time_out_but_the_run_happened(api):
    api.emu.set_faults({"latency_ms": 300})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(api.url("jobs/run"), json={"job_ids": [204]}, headers=api.headers, timeout=0.1)
    assert api.status(204) in ("job_submitting", "job_running")


def test_drop_processes_then_closes_without_answer(api):
    api.emu.set_faults({"drop": {"count": 1, "path": "jobs/run"}})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(api.url("jobs/run"), json={"job_ids": [138]}, headers=api.headers, timeout=5)
    assert api.status(138) in ("job_submitting", "job_running")  # the run took effect
    entry = api.emu.request_log()[-1]
    assert entry["fault"] == "drop" and entry["status"] == 0
    assert requests.get(api.url("jobs"), headers=api.headers, timeout=5).status_code == 200  # disarmed


def test_short_response(api):
    api.emu.set_faults({"short_response": {"count": 1, "missing": 1}})
    items = api.post("jobs/run", json={"job_ids": [138, 204, 130]}).json()
    assert len(items) == 2
    assert {api.status(138), api.status(204)} <= {"job_submitting", "job_running"}
    assert len(api.post("jobs/stop", json={"job_ids": [138, 204]}).json()) == 2  # disarmed


def test_bool_is_success(api):
    api.emu.set_faults({"bool_is_success": True})
    assert api.post("jobs/run", json={"job_ids": [138, 130]}).json() == [
        {"is_success": True, "message": "The request for submitting DLI jobs is delivered successfully."},
        {"is_success": False, "message": api.post("jobs/run", json={"job_ids": [130]}).json()[0]["message"]},
    ]
    assert api.get("jobs").json()["is_success"] is True
    api.emu.clear_faults()
    assert api.get("jobs").json()["is_success"] == "true"


def test_counted_bool_is_success_is_taken_once_per_response(api):
    api.emu.set_faults({"bool_is_success": {"count": 1}})
    first = api.post("jobs/run", json={"job_ids": [138, 204, 131]}).json()
    assert [item["is_success"] for item in first] == [True, True, True]
    assert api.emu.request_log()[-1]["fault"] == "bool_is_success"  # not repeated per item
    assert api.emu.faults()["bool_is_success"]["count"] == 0
    again = api.post("jobs/stop", json={"job_ids": [138, 204]}).json()
    assert [item["is_success"] for item in again] == ["true", "true"]


def test_unknown_ids_fault_overrides_the_mode(api):
    api.emu.set_faults({"unknown_ids": "error"})
    r = api.post("jobs/run", json={"job_ids": [138, 55555]})
    assert r.status_code == 400 and r.json()["error_code"] == "DLI.16001" and "55555" in r.json()["error_msg"]
    api.emu.set_faults({"unknown_ids": "item"})
    assert api.post("jobs/run", json={"job_ids": [55555]}).json()[0]["is_success"] == "false"


def test_method_filter_and_iam_routes_untouched(emulator, api):
    emulator.set_faults({"throttle": {"count": -1, "method": "POST"}})
    assert api.get("jobs").status_code == 200
    assert api.post("jobs/run", json={"job_ids": [138]}).status_code == 429
    assert api.post("jobs/run", json={"job_ids": [138]}).status_code == 429  # count -1: never disarms
    r = requests.get(f"{emulator.url}/v3/projects", headers=api.headers, timeout=5)
    assert r.status_code == 200  # no path: IAM routes are not faulted
    emulator.set_faults({"throttle": {"count": 1, "path": "/v3/projects"}})
    assert requests.get(f"{emulator.url}/v3/projects", headers=api.headers, timeout=5).status_code == 429


def test_admin_fault_routes(emulator, api):
    url = f"{emulator.url}/_emulator/faults"
    r = requests.put(url, json={"throttle": {"count": 1}, "latency_ms": 5}, timeout=5)
    assert r.status_code == 200 and r.json()["throttle"]["count"] == 1
    assert len(r.headers["X-Request-Id"]) == 32
    assert requests.get(url, timeout=5).json()["latency_ms"] == {"ms": 5}
    assert api.get("jobs").status_code == 429
    assert requests.get(url, timeout=5).json()["throttle"]["count"] == 0
    assert requests.delete(url, timeout=5).json() == {}
    assert api.get("jobs").status_code == 200
    bad = requests.put(url, json={"explode": {}}, timeout=5)
    assert bad.status_code == 400 and "explode" in bad.json()["error_msg"]
    bad = requests.put(url, json={"unknown_ids": "maybe"}, timeout=5)
    assert bad.status_code == 400
    # admin calls are never logged nor faulted
    emulator.set_faults({"throttle": {"count": -1, "path": "/"}})
    assert requests.get(url, timeout=5).status_code == 200
    assert all(not e["path"].startswith("/_emulator") for e in emulator.request_log())


@pytest.mark.parametrize(
    "doc, words",
    [({"unknown_ids": 5}, "unknown_ids"), ({"unknown_ids": ["error"]}, "unknown_ids"),
     ({"throttle": {"path": 5}}, "throttle.path"), ({"error": {"method": 1, "status": 503}}, "error.method"),
     ({"throttle": {"count": "2"}}, "throttle.count"), ({"throttle": {"retry_after": "1"}}, "retry_after"),
     ({"latency_ms": {"ms": -5}}, "latency_ms.ms"), ({"short_response": {"missing": 1.5}}, "missing"),
     ({"error": {"status": 503.5}}, "error.status"), ({"error": {"status": 503, "error_code": 7}}, "error_code"),
     ({"rate_limit": {"retry_after": 1}}, "per_second"), ([1], "object")],
)
def test_admin_bad_fault_documents_are_400_and_change_nothing(emulator, api, doc, words):
    url = f"{emulator.url}/_emulator/faults"
    emulator.set_faults({"bool_is_success": True})
    bad = requests.put(url, json=doc, timeout=5)
    assert bad.status_code == 400 and words in bad.json()["error_msg"], bad.text
    assert emulator.faults() == {"bool_is_success": {}}  # the old document stays
    assert api.get("jobs").status_code == 200  # and calls still work
    with pytest.raises(ValueError):
        emulator.set_faults(doc)


def test_non_finite_fault_numbers_are_refused(emulator):
    for doc in ({"latency_ms": float("nan")}, {"throttle": {"retry_after": float("inf")}},
                {"rate_limit": float("nan")}):
        with pytest.raises(ValueError):
            emulator.set_faults(doc)


def test_faults_from_constructor(emulator_factory):
    emu = emulator_factory(token="t", faults={"error": {"status": 504, "count": 1}})
    r = requests.get(f"{emu.url}/v1.0/{emu.project_id}/streaming/jobs", headers={"X-Auth-Token": "t"}, timeout=5)
    assert r.status_code == 504
    with pytest.raises(ValueError):
        emulator_factory(faults={"nope": 1})


def test_admin_clock_and_jobs_routes(emulator, api):
    r = requests.post(f"{emulator.url}/_emulator/jobs", json={"name": "seeded", "status": "job_running"}, timeout=5)
    job_id = r.json()["job_id"]
    assert api.get(f"jobs/{job_id}").json()["job_detail"]["status"] == "job_running"
    assert requests.post(f"{emulator.url}/_emulator/jobs", json={"name": "x", "bogus": 1}, timeout=5).status_code == 400
    assert requests.post(f"{emulator.url}/_emulator/jobs", json={"name": "x", "status": "up"}, timeout=5).status_code == 400
    api.post("jobs/stop", json={"job_ids": [job_id]})
    assert api.status(job_id) == "job_canceling"
    before = requests.get(f"{emulator.url}/_emulator/clock", timeout=5).json()["now_ms"]
    after = requests.post(f"{emulator.url}/_emulator/clock", json={"advance": 60}, timeout=5).json()["now_ms"]
    assert after - before >= 60_000
    assert api.status(job_id) == "job_cancel_success"
    assert requests.get(f"{emulator.url}/_emulator/jobs/{job_id}", timeout=5).json()["status"] == "job_cancel_success"


def test_latency_with_a_count_disarms(api):
    api.emu.set_faults({"latency_ms": {"ms": 150, "count": 1}})
    start = time.perf_counter()
    api.get("jobs")
    assert time.perf_counter() - start >= 0.15
    start = time.perf_counter()
    api.get("jobs")
    assert time.perf_counter() - start < 0.1
    assert api.emu.faults()["latency_ms"]["count"] == 0
