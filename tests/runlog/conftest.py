"""Run log tests: real SQLite files; another connection holding the write lock stands in for another
kernel (or process) writing the same file."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from dli_magic import runlog
from dli_magic.results import JobOutcome

ATTRS = {"action": "run", "endpoint": "http://127.0.0.1:1", "project_id": "p"}


def _record(path, job_ids, **attrs):
    outcomes = [JobOutcome(job_id, True, f"ok {job_id}", name=f"n{job_id}") for job_id in job_ids]
    return runlog.record_outcomes(outcomes, {**ATTRS, **attrs}, path=path)


def _runs_in(path):
    with closing(sqlite3.connect(str(path))) as db:
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


@pytest.fixture
def record():
    """``record(path, job_ids, **attrs)``: one run of `job_ids` (all accepted) into `path`; its run id."""
    return _record


@pytest.fixture
def run_attrs():
    """The attributes of the runs ``record`` writes: a run on a made-up endpoint and project."""
    return dict(ATTRS)


@pytest.fixture
def runs_in():
    """``runs_in(path)``: (run_id, [job_id, ...]) per run in file order, read straight from the file."""
    return _runs_in


class FileLock:
    """Another connection holding the file's write lock (as another kernel mid-write would)."""

    def __init__(self, path):
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("BEGIN EXCLUSIVE")
        self.held = True

    def release(self):
        if self.held:
            self.held = False
            self.db.execute("COMMIT")
            self.db.close()

    def count_runs(self):
        return self.db.execute("SELECT count(*) FROM runs").fetchone()[0]


@pytest.fixture
def lock_file():
    """``lock_file(path)``: hold the write lock of `path` until ``.release()`` (or the test ends)."""
    locks: list[FileLock] = []

    def take(path):
        locks.append(FileLock(path))
        return locks[-1]

    yield take
    for lock in locks:
        lock.release()


@pytest.fixture
def opened(tmp_path):
    """A history file already written by this process (one run, job 1, in it)."""
    path = tmp_path / "h.sqlite"
    assert _record(path, [1])
    return path


@pytest.fixture(autouse=True)
def _nothing_left_pending():
    """A run a test leaves pending would be retried by the next test's records: each starts clean."""
    yield
    log = runlog._this_process()
    with log.pending_lock:
        log.pending.clear()
