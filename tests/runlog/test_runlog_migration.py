"""An older history file gains the new columns once, even when several processes open it at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import warnings
from contextlib import closing

OLD_SCHEMA = (
    "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT UNIQUE NOT NULL, action TEXT,"
    " started TEXT, finished TEXT, endpoint TEXT, project_id TEXT, options TEXT, attempts INTEGER, source TEXT);"
    "CREATE TABLE outcomes (run_seq INTEGER NOT NULL, position INTEGER NOT NULL, job_id INTEGER, name TEXT,"
    " is_success INTEGER, message TEXT, status TEXT, request_id TEXT);"
)


def _write_one(path, job_id, barrier, answers):
    from dli_magic import runlog
    from dli_magic.results import JobOutcome

    barrier.wait()  # every process opens the old file at the same moment
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_id = runlog.record_outcomes([JobOutcome(job_id, True, "ok")], {"action": "run"}, path=path)
        # On a busy machine a write may wait longer than the busy timeout and stay pending: load()
        # retries it (a forked worker has no exit handler that would).
        for _ in range(40):
            if run_id in set(runlog.load(path)["run_id"]):
                break
    answers.put((run_id, [str(w.message)[:200] for w in caught]))


def test_processes_opening_an_older_file_together_lose_no_run(tmp_path):
    context = multiprocessing.get_context("fork")
    for trial in range(12):
        path = str(tmp_path / f"old-{trial}.sqlite")
        with closing(sqlite3.connect(path)) as db:
            db.executescript(OLD_SCHEMA)
        barrier, answers = context.Barrier(4), context.Queue()
        writers = [context.Process(target=_write_one, args=(path, job, barrier, answers)) for job in range(1, 5)]
        for writer in writers:
            writer.start()
        results = [answers.get(timeout=60) for _ in writers]
        for writer in writers:
            writer.join(60)
        assert all(run_id for run_id, _ in results), [w for _, w in results if w]
        said = " ".join(" ".join(w) for _, w in results)
        assert "duplicate column" not in said and "refused" not in said  # the migration never loses a run
        with closing(sqlite3.connect(path)) as db:
            assert sorted(row[0] for row in db.execute("SELECT job_id FROM outcomes")) == [1, 2, 3, 4]
