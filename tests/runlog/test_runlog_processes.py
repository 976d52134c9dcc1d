"""Many writers on one run log: threads keep their order, processes each write every run once,
forked children write on their own."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import warnings

import pytest

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")

_WRITER = """
import sys
from dli_magic import runlog
from dli_magic.results import JobOutcome
who, count = int(sys.argv[1]), int(sys.argv[2])
input()  # both writers start together
for i in range(count):
    runlog.record_outcomes([JobOutcome(who * 100_000 + i, True, 'ok')], {'action': 'run'})
"""


def test_two_processes_writing_at_once_leave_every_run_once(tmp_path, runs_in):
    path = tmp_path / "h.sqlite"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(who), "200"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "DLI_HISTORY_PATH": str(path)})
        for who in (1, 2)
    ]
    for writer in writers:
        writer.stdin.write("\n")
        writer.stdin.flush()
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert "not in the run history at" not in err  # nothing left behind at exit
    runs = runs_in(path)
    assert len(runs) == 400
    assert len({run_id for run_id, _ in runs}) == 400
    for who in (1, 2):
        mine = [jobs[0] for _, jobs in runs if jobs[0] // 100_000 == who]
        assert mine == [who * 100_000 + i for i in range(200)]  # each once, in its writer's order


def test_runs_from_many_threads_keep_their_order(tmp_path, record, runs_in):
    path = tmp_path / "h.sqlite"
    start = threading.Barrier(5)
    submitted: dict[int, list[str]] = {}

    def records(who, count):
        start.wait()
        ids = submitted.setdefault(who, [])
        for i in range(count):
            base = who * 100_000 + i * 10  # job ids say who recorded the run, and when
            ids.append(record(path, [base, base + 1, base + 2]))

    threads = [threading.Thread(target=records, args=(who, 60)) for who in range(1, 5)]
    for thread in threads:
        thread.start()
    records(0, 200)
    for thread in threads:
        thread.join(timeout=60)

    runs = runs_in(path)  # no waiting: every call has returned, so every run is in the file
    assert len(runs) == 200 + 4 * 60
    assert sorted(run_id for run_id, _ in runs) == sorted(i for ids in submitted.values() for i in ids)
    for who, ids in submitted.items():
        mine = [(run_id, jobs) for run_id, jobs in runs if jobs[0] // 100_000 == who]
        assert [run_id for run_id, _ in mine] == ids  # this thread's recording order
        assert [jobs for _, jobs in mine] == [
            [who * 100_000 + i * 10 + k for k in range(3)] for i in range(len(ids))
        ]


@needs_fork
def test_a_forked_child_writes_its_runs_before_the_call_returns(opened, record, runs_in):
    pid = os.fork()  # the child inherits this process' open connection to the file
    if pid == 0:  # the child: no pytest from here on
        code = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a failed write would raise
                run_id = record(opened, [99])
                code = 0 if run_id and runs_in(opened)[-1] == (run_id, [99]) else 2
        finally:
            os._exit(code)  # as multiprocessing workers end: no atexit, nothing written later
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    later = record(opened, [100])  # the parent's connection is unaffected
    assert [jobs for _, jobs in runs_in(opened)] == [[1], [99], [100]]
    assert runs_in(opened)[-1][0] == later


@needs_fork
def test_a_forked_child_leaves_its_parents_pending_runs_to_the_parent(opened, lock_file, record, runs_in):
    lock = lock_file(opened)
    with pytest.warns(RuntimeWarning):
        parents = record(opened, [2])  # pending in the parent
    lock.release()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                run_id = record(opened, [99])
                code = 0 if [jobs for _, jobs in runs_in(opened)] == [[1], [99]] and run_id else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the child wrote its own run only
    later = record(opened, [100])  # and the parent writes its pending run, once
    assert [run_id for run_id, _ in runs_in(opened)][-2:] == [parents, later]
    assert [jobs for _, jobs in runs_in(opened)] == [[1], [99], [2], [100]]


def _worker(path, job, go):
    from dli_magic import runlog
    from dli_magic.results import JobOutcome

    go.wait(10)
    runlog.record_outcomes([JobOutcome(job, True, "ok")], {"action": "run"}, path=path)


@needs_fork
def test_runs_recorded_in_multiprocessing_workers_are_written(opened, runs_in):
    context = multiprocessing.get_context("fork")
    go = context.Event()
    workers = [context.Process(target=_worker, args=(opened, job, go)) for job in range(10, 14)]
    for worker in workers:
        worker.start()
    go.set()  # the four record at once, each ending with os._exit
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert sorted(jobs for _, jobs in runs_in(opened)[1:]) == [[10], [11], [12], [13]]
