"""The job list: the pages after the first are fetched concurrently, yielded in order, complete,
with retries per page; a page that fails for good fails the listing; the call rate holds."""

from __future__ import annotations

import threading
import time

import pytest

from dli_magic.errors import ServiceError
from dli_magic.http import CallRateLimit

JOBS = 350  # four pages of 100


@pytest.fixture(scope="module")
def big_emulator():
    from dli_magic.client import DliClient
    from dli_magic.emulator import Emulator
    from dli_magic.emulator.testing import SENTINEL_TOKEN

    emu = Emulator(token=SENTINEL_TOKEN, speed=50.0).start()
    with DliClient(endpoint=emu.url, project_id=emu.project_id, auth_token=SENTINEL_TOKEN) as client:
        for index in range(JOBS):
            client.create_sql_job(f"listing-{index:03d}")
    yield emu
    emu.close()


@pytest.fixture
def emu(big_emulator):
    big_emulator.set_faults({})
    big_emulator.clear_request_log()
    yield big_emulator
    big_emulator.set_faults({})


def _list_requests(emu) -> list[str]:
    return [entry["query"] for entry in emu.request_log() if entry["method"] == "GET"]


def test_every_page_in_order_and_each_job_once(emu, make_client):
    parallel = make_client(emu, max_workers=8).list_jobs()
    one_page_at_a_time = []
    with make_client(emu, max_workers=1) as client:
        for offset in range(0, JOBS, 50):  # independent reference: small pages, one after another
            data, _, _ = client._call("GET", "jobs", params=[("order", "desc"), ("limit", 50), ("offset", offset)],
                                   what="reference page", idempotent=True)
            one_page_at_a_time.extend(job["job_id"] for job in data["job_list"]["jobs"])
    ids = [job.job_id for job in parallel]
    assert len(ids) == len(set(ids)) == JOBS
    assert ids == one_page_at_a_time  # newest first, as the service orders them
    assert ids == sorted(ids, reverse=True)


def test_the_pages_after_the_first_are_in_flight_together(emu, make_client):
    emu.set_faults({"latency_ms": {"ms": 500, "path": "/streaming/jobs"}})
    client = make_client(emu, max_workers=8)
    started = time.monotonic()
    assert len(client.list_jobs()) == JOBS
    elapsed = time.monotonic() - started
    # First page alone, then three at once: two latencies, where one after another takes four.
    assert elapsed < 3 * 0.5
    assert len(_list_requests(emu)) == 4


def test_throttled_pages_are_retried_and_nothing_is_lost(emu, make_client):
    emu.set_faults({"throttle": {"count": 3, "retry_after": 0, "method": "GET"}})
    ids = [job.job_id for job in make_client(emu, max_workers=8, max_retries=4).list_jobs()]
    assert len(ids) == len(set(ids)) == JOBS and ids == sorted(ids, reverse=True)
    assert len(_list_requests(emu)) == 4 + 3  # each 429 cost one more request, no more


def test_a_page_that_fails_for_good_fails_the_listing(emu, make_client):
    client = make_client(emu, max_workers=4, max_retries=1)
    jobs = client.iter_jobs()
    first_page = [next(jobs) for _ in range(100)]
    assert len(first_page) == 100
    emu.set_faults({"error": {"status": 503, "count": 100, "method": "GET"}})
    with pytest.raises(ServiceError) as info:
        list(jobs)
    assert info.value.status == 503  # a listing with holes is never returned as if complete


def test_the_call_rate_holds_under_16_workers(emu, make_client):
    """16 chunk workers against a limit of 20 calls per second: no second ever sees more."""
    from requests.adapters import HTTPAdapter

    sent: list[float] = []
    lock = threading.Lock()

    class Timing(HTTPAdapter):
        def send(self, request, **kwargs):
            with lock:
                sent.append(time.monotonic())
            return super().send(request, **kwargs)

    client = make_client(emu, max_workers=16)
    client.http.rate_limit = CallRateLimit(calls=20)
    client.session.mount(emu.url, Timing(max_retries=0))
    ids = [job.job_id for job in client.list_jobs()][:50]
    sent.clear()
    result = client.run_jobs(ids, chunk_size=1)
    assert len(result.outcomes) == 50 and len(sent) == 50
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest <= 20
    assert sent[-1] - sent[0] >= 2.0  # 50 calls at 20 per second need more than two seconds


def test_pages_a_caller_expects_go_out_with_the_first(emu, make_client):
    """Waiting knows how many jobs it looks for: their pages need not wait for the first page's total."""
    emu.set_faults({"latency_ms": {"ms": 1000, "path": "/streaming/jobs"}})
    client = make_client(emu, max_workers=8)
    assert len(list(client.iter_jobs(expected=JOBS))) == JOBS
    sent = sorted(r["wall_time"] for r in emu.request_log() if r["method"] == "GET")
    assert len(sent) == 4 and sent[-1] - sent[0] < 0.8  # all four asked before the first answer came
    emu.clear_request_log()
    assert len(client.list_jobs()) == JOBS  # without a hint: the first page, then the rest
    sent = sorted(r["wall_time"] for r in emu.request_log() if r["method"] == "GET")
    assert sent[1] - sent[0] >= 1.0


def _pages_of(items: list, total_given: bool = True):
    """A paged listing over ``items`` for ``batch.fetch_pages``, recording the offsets asked for."""
    asked: list[int] = []
    lock = threading.Lock()

    def fetch_page(offset: int):
        with lock:
            asked.append(offset)
        return items[offset : offset + 2], (len(items) if total_given else None)

    return fetch_page, asked


def test_fetch_pages_keeps_order_and_drops_an_item_shifted_onto_the_next_page():
    from dli_magic.batch import fetch_pages

    items = ["a", "b", "b", "c", "d"]  # "b" again: a new item pushed it one page down
    fetch_page, asked = _pages_of(items)
    assert list(fetch_pages(fetch_page, 2, 0, 4, key=str)) == ["a", "b", "c", "d"]
    assert sorted(asked) == [0, 2, 4]


def test_fetch_pages_without_a_total_reads_one_page_after_another_until_a_short_one():
    from dli_magic.batch import fetch_pages

    fetch_page, asked = _pages_of(list("abcde"), total_given=False)
    assert list(fetch_pages(fetch_page, 2, 0, 4, key=str)) == list("abcde")
    assert asked == [0, 2, 4]


def test_fetch_pages_asks_for_nothing_more_when_the_consumer_stops_on_the_first_page():
    from dli_magic.batch import fetch_pages

    fetch_page, asked = _pages_of(list("abcdef"))
    pages = fetch_pages(fetch_page, 2, 0, 4, key=str)
    assert next(pages) == "a"
    pages.close()
    assert asked == [0]


@pytest.mark.parametrize(("expected", "workers", "early"), [(20, 3, [2, 4]), (5, 8, [2, 4]), (0, 4, [])])
def test_fetch_pages_sends_the_expected_pages_with_the_first_one_within_the_workers(expected, workers, early):
    from dli_magic.batch import fetch_pages

    first_answered = threading.Event()
    before_first: list[int] = []
    fetch_all, asked = _pages_of(list("abcdefghijklmnopqrst"))

    def fetch_page(offset: int):
        if not first_answered.is_set():
            before_first.append(offset)
        if offset == 0:  # the first answer waits for the early pages, and a moment for any page too many
            deadline = time.monotonic() + 10
            while len(before_first) < 1 + len(early) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)
            first_answered.set()
        return fetch_all(offset)

    assert list(fetch_pages(fetch_page, 2, expected, workers, key=str)) == list("abcdefghijklmnopqrst")
    # The pages the caller expects go out beside the first, at most workers - 1 of them (one worker
    # stays for the first page): never a page the total would not ask for.
    assert sorted(before_first) == [0, *early]
    assert sorted(asked) == list(range(0, 20, 2))
