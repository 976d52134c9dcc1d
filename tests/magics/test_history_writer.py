"""The history writer thread: order, never blocking a run, failures surfaced, flush, exit, fork.

Real SQLite files throughout; a second connection holding the write lock stands in for another
kernel writing the same file.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import warnings

import pytest

from dli_magic import history
from dli_magic.results import JobOutcome

ATTRS = {"action": "run", "endpoint": "http://127.0.0.1:1", "project_id": "p"}


def _record(path, job_ids, **attrs):
    outcomes = [JobOutcome(job_id, True, f"ok {job_id}", name=f"n{job_id}") for job_id in job_ids]
    return history.record_outcomes(outcomes, {**ATTRS, **attrs}, path=path)


def _runs(path):
    """(run_id, [job_id, ...]) per run in file order, read straight from the file."""
    with sqlite3.connect(str(path)) as db:
        rows = db.execute(
            "SELECT r.run_id, o.job_id FROM runs r JOIN outcomes o ON o.run_seq = r.seq"
            " ORDER BY r.seq, o.position"
        ).fetchall()
    runs: list[tuple[str, list[int]]] = []
    for run_id, job_id in rows:
        if not runs or runs[-1][0] != run_id:
            runs.append((run_id, []))
        runs[-1][1].append(job_id)
    return runs


class _Lock:
    """Another connection holding the file's write lock (as another kernel mid-write would)."""

    def __init__(self, path):
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("BEGIN EXCLUSIVE")

    def release(self):
        self.db.execute("COMMIT")
        self.db.close()

    def count_runs(self):
        return self.db.execute("SELECT count(*) FROM runs").fetchone()[0]


def _wait_for_log(caplog, text):
    deadline = time.monotonic() + 10
    while not any(text in r.getMessage() and r.levelname == "WARNING" for r in caplog.records):
        assert time.monotonic() < deadline, f"the writer never logged {text}"
        time.sleep(0.01)


@pytest.fixture
def opened(tmp_path):
    """A history file already opened by this process (one run in it)."""
    path = tmp_path / "h.sqlite"
    assert _record(path, [1])
    assert history.flush(timeout=10)
    return path


def test_runs_from_many_threads_keep_their_order(tmp_path):
    path = tmp_path / "h.sqlite"
    start = threading.Barrier(5)
    submitted: dict[int, list[str]] = {}

    def records(who, count):
        start.wait()
        ids = submitted.setdefault(who, [])
        for i in range(count):
            base = who * 100_000 + i * 10  # job ids say who recorded the run, and when
            ids.append(_record(path, [base, base + 1, base + 2]))

    threads = [threading.Thread(target=records, args=(who, 60)) for who in range(1, 5)]
    for thread in threads:
        thread.start()
    records(0, 200)
    for thread in threads:
        thread.join(timeout=60)
    assert history.flush(timeout=30)

    runs = _runs(path)
    assert len(runs) == 200 + 4 * 60
    assert sorted(run_id for run_id, _ in runs) == sorted(i for ids in submitted.values() for i in ids)
    for who, ids in submitted.items():
        mine = [(run_id, jobs) for run_id, jobs in runs if jobs[0] // 100_000 == who]
        assert [run_id for run_id, _ in mine] == ids  # this thread's submission order
        assert [jobs for _, jobs in mine] == [
            [who * 100_000 + i * 10 + k for k in range(3)] for i in range(len(ids))
        ]


def test_a_locked_file_does_not_block_the_run(opened):
    lock = _Lock(opened)
    try:
        result = []
        caller = threading.Thread(target=lambda: result.append(_record(opened, [2])))
        caller.start()
        caller.join(timeout=1)
        assert not caller.is_alive(), "record_outcomes waited for the lock"
        assert result[0]
        assert lock.count_runs() == 1  # queued, not written: the writer waits for the lock
    finally:
        lock.release()
    assert history.flush(timeout=10)
    assert [run_id for run_id, _ in _runs(opened)][-1] == result[0]


def test_flush_times_out_while_the_writer_waits_for_a_lock(opened):
    lock = _Lock(opened)
    try:
        run_id = _record(opened, [2])
        assert history.flush(timeout=0.3) is False
    finally:
        lock.release()
    assert history.flush(timeout=10) is True
    assert _runs(opened)[-1] == (run_id, [2])


def test_a_failed_write_is_reported_on_the_callers_thread(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)  # applies to connections opened from now on
    path = tmp_path / "h.sqlite"
    first = _record(path, [1])
    assert history.flush(timeout=10)
    lock = _Lock(path)
    try:
        lost = _record(path, [2])
        assert lost  # queued: the failure comes later, from the writer
        with pytest.warns(RuntimeWarning, match=re.escape(str(path))) as caught:
            assert history.flush(timeout=10)
        message = str(caught[0].message)
        assert "OperationalError: database is locked" in message
        assert f"run {lost} is not in the history" in message
        assert "the run itself is unaffected" in message
        _wait_for_log(caplog, lost)  # and logged by the writer (just after flush() could return)
    finally:
        lock.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once: nothing left to warn about
        later = _record(path, [3])
        assert history.flush(timeout=10)
    assert _runs(path) == [(first, [1]), (later, [3])]


def test_the_next_record_reports_a_failed_write(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)
    path = tmp_path / "h.sqlite"
    _record(path, [1])
    assert history.flush(timeout=10)
    lock = _Lock(path)
    lost = _record(path, [2])
    _wait_for_log(caplog, lost)  # the writer logs a failure once it is queued for the callers
    lock.release()
    expected = f"could not write the run history to {re.escape(str(path))}.*{lost}"
    with pytest.warns(RuntimeWarning, match=expected):
        assert _record(path, [3])
    assert history.flush(timeout=10)
    assert [jobs for _, jobs in _runs(path)] == [[1], [3]]


def test_a_failing_file_loses_only_its_own_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)
    locked, free = tmp_path / "locked.sqlite", tmp_path / "free.sqlite"
    for path in (locked, free):
        _record(path, [0])
    assert history.flush(timeout=10)
    lock = _Lock(locked)
    try:
        ids = [_record(path, [job]) for job, path in enumerate((locked, free, locked, free), start=1)]
        with pytest.warns(RuntimeWarning, match=re.escape(str(locked))) as caught:
            assert history.flush(timeout=10)
    finally:
        lock.release()
    assert not any(str(free) in str(w.message) for w in caught)
    assert [jobs for _, jobs in _runs(free)] == [[0], [2], [4]]
    assert [jobs for _, jobs in _runs(locked)] == [[0]]
    assert all(ids)


def test_a_refused_run_does_not_take_its_batch_with_it(opened):
    lock = _Lock(opened)  # the writer waits on the first run; the next two queue up as one batch
    try:
        good = _record(opened, [2])
        bad = history.record_rows([(3, True, "ok", object(), None, None)], ATTRS, path=opened)
        also_good = _record(opened, [4])
    finally:
        lock.release()
    with pytest.warns(RuntimeWarning, match=f"run {bad} is not in the history"):
        assert history.flush(timeout=10)
    assert [run_id for run_id, _ in _runs(opened)][1:] == [good, also_good]


def test_what_is_written_is_what_was_recorded(opened):
    outcomes = [JobOutcome(2, True, "ok", name="before")]
    attrs = {**ATTRS, "wait": True}
    lock = _Lock(opened)
    try:
        run_id = history.record_outcomes(outcomes, attrs, path=opened)
        outcomes.append(JobOutcome(3, True, "added later"))
        attrs.update(action="stop", wait=False, project_id="changed")
    finally:
        lock.release()
    frame = history.load(opened)
    frame = frame[frame["run_id"] == run_id]
    assert frame["job_id"].tolist() == [2]
    assert frame["name"].tolist() == ["before"]
    stored = (frame["action"].item(), frame["project_id"].item(), frame["options"].item())
    assert stored == ("run", "p", '{"wait": true}')


def test_load_sees_every_earlier_run_without_a_flush(opened):
    history.load(opened)  # warm (pandas imported): the next load() is far quicker than the timer
    lock = _Lock(opened)
    run_id = _record(opened, [2])
    threading.Timer(0.5, lock.release).start()  # without its flush, load() would read before this
    assert history.load(opened)["run_id"].tolist()[-1] == run_id


def test_a_deleted_file_is_recreated_by_the_writer(opened, monkeypatch):
    stats = []
    file_id = history._file_id
    monkeypatch.setattr(history, "_file_id", lambda p: stats.append(threading.current_thread()) or file_id(p))
    for leftover in opened.parent.iterdir():
        leftover.unlink()  # the file and its -wal / -shm companions
    run_id = _record(opened, [2])
    assert history.flush(timeout=10)
    assert opened.exists()
    assert _runs(opened) == [(run_id, [2])]
    # The caller only queued the run: the writer noticed the deleted file (no stat on the hot path).
    assert stats and threading.current_thread() not in stats


def test_runs_recorded_just_before_exit_are_written(tmp_path):
    path = tmp_path / "h.sqlite"
    _record(path, [1])  # this process creates the file; the child finds it locked
    assert history.flush(timeout=10)
    code = (
        "from dli_magic import history\n"
        "from dli_magic.results import JobOutcome\n"
        "print(history.record_outcomes([JobOutcome(7, True, 'ok')], {'action': 'run'}), flush=True)\n"
    )
    lock = _Lock(path)  # the child's writer cannot write before the child starts exiting
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DLI_HISTORY_PATH": str(path)},
    )
    try:
        run_id = child.stdout.readline().strip()
    finally:
        lock.release()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert run_id and not err
    assert _runs(path)[-1] == (run_id, [7])


def test_flush_without_a_writer_returns_at_once():
    code = (
        "import threading, time\n"
        "from dli_magic import history\n"
        "t = time.perf_counter()\n"
        "results = [history.flush(), history.flush(timeout=0)]\n"
        "other = threading.Thread(target=lambda: results.append(history.flush()))\n"
        "other.start(); other.join()\n"
        "print(results, history._writer._thread is None, time.perf_counter() - t < 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[True,", "True,", "True]", "True", "True"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_writes_with_its_own_thread(opened):
    pid = os.fork()
    if pid == 0:  # the child: no pytest from here on
        code = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = 0 if _record(opened, [99]) and history.flush(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _runs(opened)[-1][1] == [99]
    assert _record(opened, [100]) and history.flush(timeout=10)  # the parent's writer is unaffected
    assert _runs(opened)[-1][1] == [100]
