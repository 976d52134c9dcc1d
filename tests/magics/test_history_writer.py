"""The history writer thread: order, never blocking a run, failures surfaced, flush, exit, fork.

Real SQLite files throughout; a second connection holding the write lock stands in for another
kernel writing the same file, and `_Held` keeps the writer inside its transaction.
"""

from __future__ import annotations

import logging
import multiprocessing
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


class _Held:
    """A cell value the writer binds inside its transaction (sqlite3 calls ``__conform__``): the
    writer stays between BEGIN and COMMIT until ``release()``."""

    def __init__(self):
        self.entered = threading.Event()
        self._released = threading.Event()

    def __conform__(self, protocol):
        self.entered.set()
        self._released.wait(10)
        return "held"

    def release(self):
        self._released.set()


def _record_held(path, held, job_id=2):
    """Record a run whose write holds the writer inside its transaction; returns once it does."""
    run_id = history.record_rows([(job_id, "held", True, held, None, None)], ATTRS, path=path)
    assert held.entered.wait(10)
    return run_id


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _wait_for_log(caplog, text, level="WARNING"):
    deadline = time.monotonic() + 10
    while not any(text in r.getMessage() and r.levelname == level for r in caplog.records):
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


@needs_fork
def test_a_forked_child_writes_on_the_callers_thread(opened):
    pid = os.fork()
    if pid == 0:  # the child: no pytest from here on
        code = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_id = _record(opened, [99])
                # In the file when record returns: no flush, no thread that os._exit would kill.
                code = 0 if run_id and _runs(opened)[-1] == (run_id, [99]) else 2
                code = code or (3 if history._writer._thread is not None else 0)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _record(opened, [100]) and history.flush(timeout=10)  # the parent's writer is unaffected
    assert _runs(opened)[-1][1] == [100]
    assert history._writer._thread.is_alive()


def _worker(path, job, go):
    go.wait(10)
    _record(path, [job])  # then multiprocessing ends the process with os._exit: no atexit


@needs_fork
def test_runs_recorded_in_multiprocessing_workers_are_written(opened):
    context = multiprocessing.get_context("fork")
    go = context.Event()
    workers = [context.Process(target=_worker, args=(opened, job, go)) for job in range(10, 14)]
    for worker in workers:
        worker.start()
    lock = _Lock(opened)  # after the forks: a child inheriting this open transaction could not write
    try:
        go.set()
        time.sleep(0.3)  # the workers record while the file is locked
    finally:
        lock.release()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert sorted(jobs for _, jobs in _runs(opened)[1:]) == [[10], [11], [12], [13]]


@needs_fork
def test_a_fork_during_a_write_leaves_the_child_able_to_write(opened, monkeypatch):
    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)  # the child's connections fail fast if locked
    held = _Held()
    parent_run = _record_held(opened, held)  # the parent's writer is inside a transaction now
    threading.Timer(0.3, held.release).start()  # the fork waits for the transaction to end
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a failed write ("database is locked") raises
                code = 0 if _record(opened, [99]) and history.flush(timeout=10) else 2
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert history.flush(timeout=10)
    assert [jobs for _, jobs in _runs(opened)] == [[1], [2], [99]]
    assert _runs(opened)[1][0] == parent_run
    assert _record(opened, [100]) and history.flush(timeout=10)
    assert _runs(opened)[-1][1] == [100]


_AT_EXIT = """
import atexit, sys

def cleanup():  # registered before dli_magic.history is imported: runs after its exit flush
    from dli_magic import history
    from dli_magic.results import JobOutcome
    print(history.record_outcomes([JobOutcome(8, True, 'at exit')], {'action': 'stop'}), flush=True)

atexit.register(cleanup)
from dli_magic import history
from dli_magic.results import JobOutcome
if sys.argv[1] == 'record':  # the writer thread exists before exit
    history.record_outcomes([JobOutcome(7, True, 'ok')], {'action': 'run'})
    history.flush()
print('exiting', flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("before", ["record", "import"])
def test_a_run_recorded_by_an_earlier_atexit_handler_is_written(opened, before):
    child = subprocess.Popen(
        [sys.executable, "-c", _AT_EXIT, before], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "DLI_HISTORY_PATH": str(opened)},
    )
    try:
        assert child.stdout.readline().strip() == "exiting"
        lock = _Lock(opened)  # the exiting child finds the file locked for a moment
        child.stdin.write("\n")
        child.stdin.flush()
        time.sleep(0.3)
        lock.release()
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert not err
    assert _runs(opened)[-1] == (out.strip(), [8])
    assert [jobs for _, jobs in _runs(opened)] == ([[1], [7], [8]] if before == "record" else [[1], [8]])


def test_a_relative_history_path_is_resolved_when_the_run_is_recorded(tmp_path, monkeypatch):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("DLI_HISTORY_PATH", "h.sqlite")
    held = _Held()
    first = _record_held(None, held)  # the writer is busy with this run ...
    second = _record(None, [3])  # ... when this one is recorded here
    monkeypatch.chdir(there)  # %cd before the writer gets to it
    held.release()
    assert history.flush(timeout=10)
    assert not (there / "h.sqlite").exists()
    assert _runs(here / "h.sqlite") == [(first, [2]), (second, [3])]
    assert history.load().attrs["path"] == str(there / "h.sqlite")  # load() reads where it is called


def test_a_warning_made_an_error_does_not_lose_the_run_or_other_failures(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    for path in (one, two):
        _record(path, [1])
    assert history.flush(timeout=10)
    locks = [_Lock(one), _Lock(two)]
    try:
        lost = [_record(one, [2]), _record(two, [2])]
        for run_id in lost:
            _wait_for_log(caplog, run_id)
    finally:
        for lock in locks:
            lock.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as with pytest -W error
        with pytest.raises(RuntimeWarning, match=lost[0]):
            _record(one, [3])
    with pytest.warns(RuntimeWarning, match=lost[1]) as caught:
        assert history.flush(timeout=10)
    assert len(caught) == 1
    assert [jobs for _, jobs in _runs(one)] == [[1], [3]]  # queued before the warning raised
    assert [jobs for _, jobs in _runs(two)] == [[1]]


class _RaisingFilter(logging.Filter):
    def filter(self, record):
        raise ValueError("log pipeline down")


def test_a_raising_logging_filter_does_not_stop_the_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "_writer", history._Writer())  # a dead writer stays in this test
    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)
    path = tmp_path / "h.sqlite"
    _record(path, [1])
    assert history.flush(timeout=10)
    writer_thread = history._writer._thread
    logger, raising = logging.getLogger(history.__name__), _RaisingFilter()
    logger.addFilter(raising)
    lock = _Lock(path)
    try:
        lost = _record(path, [2])  # its failure is logged: the filter raises on the writer's thread
        with pytest.warns(RuntimeWarning, match=lost):
            assert history.flush(timeout=10)
    finally:
        lock.release()
        logger.removeFilter(raising)
    later = _record(path, [3])
    assert history.flush(timeout=5)
    assert history._writer._thread is writer_thread and writer_thread.is_alive()  # not replaced: alive
    assert history.load(path)["run_id"].tolist()[-1] == later


class _Fatal(BaseException):
    pass


class _Unwritable:
    def __conform__(self, protocol):
        raise _Fatal("not an Exception: past every `except Exception`")


def test_an_exception_escaping_a_write_does_not_stop_the_writer(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(history, "_writer", history._Writer())  # a dead writer stays in this test
    path = tmp_path / "h.sqlite"
    first = _record(path, [1])
    assert history.flush(timeout=10)
    writer_thread = history._writer._thread
    assert history.record_rows([(2, "n", True, _Unwritable(), None, None)], ATTRS, path=path)
    assert history.flush(timeout=5)  # that run is lost, but counted: flush() does not wait for it
    _wait_for_log(caplog, "the run history writer failed", "ERROR")
    later = _record(path, [3])
    assert history.flush(timeout=5)
    assert history._writer._thread is writer_thread and writer_thread.is_alive()
    assert _runs(path) == [(first, [1]), (later, [3])]


def test_a_dead_writer_thread_is_replaced(tmp_path, monkeypatch):
    writer = history._Writer()
    monkeypatch.setattr(history, "_writer", writer)
    path = tmp_path / "h.sqlite"
    _record(path, [1])
    assert history.flush(timeout=10)
    dead = threading.Thread(target=lambda: None)  # as if the writer had died
    dead.start()
    dead.join()
    writer._thread = dead
    run_id = _record(path, [2])
    assert history.flush(timeout=5)
    assert writer._thread is not dead and writer._thread.is_alive()
    assert _runs(path)[-1] == (run_id, [2])


def test_load_does_not_wait_forever_for_the_writer(opened, monkeypatch):
    monkeypatch.setattr(history, "_LOAD_FLUSH_TIMEOUT", 0.3)
    history.load(opened)  # warm (pandas imported)
    first = _runs(opened)[0][0]
    held = _Held()
    try:
        late = _record_held(opened, held)  # stuck in its transaction until released
        started = time.monotonic()
        with pytest.warns(RuntimeWarning, match="may miss the latest runs") as caught:
            frame = history.load(opened)
        assert time.monotonic() - started < 3
    finally:
        held.release()
    assert caught[0].filename == __file__
    assert frame["run_id"].tolist() == [first]  # read anyway
    assert history.flush(timeout=10)
    assert _runs(opened)[-1] == (late, [2])


def test_warnings_point_at_the_callers_code(tmp_path, monkeypatch, caplog):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.warns(RuntimeWarning, match="could not write") as caught:
        assert _record(not_a_dir / "h.sqlite", [1]) is None  # cannot be opened: warns at once
    assert (caught[0].filename, caught[0].lineno) == (__file__, _record.__code__.co_firstlineno + 2)

    monkeypatch.setattr(history, "_BUSY_TIMEOUT", 0.2)
    path = tmp_path / "h.sqlite"
    _record(path, [1])
    assert history.flush(timeout=10)
    lock = _Lock(path)
    try:
        lost = _record(path, [2])
        _wait_for_log(caplog, lost)
    finally:
        lock.release()
    with pytest.warns(RuntimeWarning, match=lost) as caught:
        history.record_rows([(3, "n", True, "ok", None, None)], ATTRS, path=path)  # reported here
    assert (caught[0].filename, caught[0].lineno) == (__file__, sys._getframe().f_lineno - 1)
