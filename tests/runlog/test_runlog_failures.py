"""A locked or unusable run log never fails or stalls a call, and never loses a run silently:
what cannot be written stays pending, is retried by the next record, load() and exit, and is
reported at the caller's line (and on stderr at exit)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import warnings

import pytest

from dli_magic import runlog
from dli_magic.results import JobOutcome

# What a call may take at most with a locked file: the busy timeout and a generous margin for a slow
# machine, far below the seconds an unbounded wait would take.
CALL_BOUND = runlog.BUSY_TIMEOUT + 0.5


def _child(code, path, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "DLI_HISTORY_PATH": str(path)}, **kwargs,
    )


def test_a_locked_file_neither_fails_nor_stalls_the_call(opened, lock_file, record, runs_in, run_attrs):
    first = runs_in(opened)[0][0]
    lock = lock_file(opened)
    started = time.monotonic()
    with pytest.warns(RuntimeWarning) as caught:
        line = sys._getframe().f_lineno + 1
        pending = runlog.record_outcomes([JobOutcome(2, True, "ok")], run_attrs, path=opened)
    assert time.monotonic() - started < CALL_BOUND
    assert pending  # the run has its id: it is pending, not dropped
    message = str(caught[0].message)
    assert str(opened) in message and "OperationalError: database is locked" in message
    assert f"run {pending} is not in the history yet" in message
    assert "retried on the next run" in message
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)  # the user's line, not ours
    assert lock.count_runs() == 1
    lock.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # written now: nothing left to warn about
        later = record(opened, [3])
    assert runs_in(opened) == [(first, [1]), (pending, [2]), (later, [3])]  # in recording order


def test_every_pending_run_is_retried_and_named(opened, lock_file, record, runs_in):
    lock = lock_file(opened)
    with pytest.warns(RuntimeWarning):
        a = record(opened, [2])
    with pytest.warns(RuntimeWarning) as caught:
        b = record(opened, [3])
    assert f"2 runs ({a} to {b}) are not in the history yet" in str(caught[0].message)
    lock.release()
    c = record(opened, [4])
    assert [run_id for run_id, _ in runs_in(opened)][1:] == [a, b, c]


def test_load_retries_pending_runs(opened, lock_file, runs_in, record):
    runlog.load(opened)  # warm (pandas imported)
    lock = lock_file(opened)
    with pytest.warns(RuntimeWarning):
        pending = record(opened, [2])
    started = time.monotonic()
    with pytest.warns(RuntimeWarning, match=f"run {pending} is not in the history yet") as caught:
        frame = runlog.load(opened)  # still locked: reads what is there, says what is missing
    assert time.monotonic() - started < CALL_BOUND
    assert caught[0].filename == __file__
    assert frame["job_id"].tolist() == [1]
    lock.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = runlog.load(opened)
    assert frame["job_id"].tolist() == [1, 2]
    assert frame["run_id"].tolist()[-1] == pending


def test_a_refused_run_does_not_take_the_others_with_it(opened, lock_file, record, runs_in, run_attrs):
    lock = lock_file(opened)  # three runs pile up, then go in one transaction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        good = record(opened, [2])
        bad = runlog.record_rows([(3, "n", True, object(), None, None)], run_attrs, path=opened)
        also_good = record(opened, [4])
    lock.release()
    with pytest.warns(RuntimeWarning, match=f"run {bad} is not in the history\\.") as caught:
        last = record(opened, [5])
    assert "not in the history yet" not in str(caught[0].message)  # refused for good, not pending
    assert [run_id for run_id, _ in runs_in(opened)][1:] == [good, also_good, last]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dropped once and said once: not retried again
        record(opened, [6])


def test_a_failing_file_holds_back_only_its_own_runs(tmp_path, lock_file, record, runs_in):
    locked, free = tmp_path / "locked.sqlite", tmp_path / "free.sqlite"
    for path in (locked, free):
        record(path, [0])
    lock_file(locked)
    caught = []
    for job, path in enumerate((locked, free, locked, free), start=1):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            record(path, [job])
        caught += [str(w.message) for w in seen]
    assert caught and not any(str(free) in message for message in caught)
    assert [jobs for _, jobs in runs_in(free)] == [[0], [2], [4]]
    assert [jobs for _, jobs in runs_in(locked)] == [[0]]


def test_a_warning_made_an_error_does_not_lose_the_run(opened, lock_file, runs_in, run_attrs):
    lock = lock_file(opened)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as with pytest -W error
        with pytest.raises(RuntimeWarning, match="not in the history yet"):
            runlog.record_outcomes([JobOutcome(2, True, "ok")], run_attrs, path=opened)
    lock.release()
    runlog.load(opened)
    assert [jobs for _, jobs in runs_in(opened)] == [[1], [2]]


def test_what_is_written_is_what_was_recorded(opened, lock_file, run_attrs):
    outcomes = [JobOutcome(2, True, "ok", name="before")]
    attrs = {**run_attrs, "wait": True}
    lock = lock_file(opened)
    with pytest.warns(RuntimeWarning):
        run_id = runlog.record_outcomes(outcomes, attrs, path=opened)
    outcomes.append(JobOutcome(3, True, "added later"))
    attrs.update(action="stop", wait=False, project_id="changed")
    lock.release()
    frame = runlog.load(opened)
    frame = frame[frame["run_id"] == run_id]
    assert frame["job_id"].tolist() == [2]
    assert frame["name"].tolist() == ["before"]
    stored = (frame["action"].item(), frame["project_id"].item(), frame["options"].item())
    assert stored == ("run", "p", '{"wait": true}')


def test_a_relative_history_path_is_resolved_when_the_run_is_recorded(tmp_path, monkeypatch, lock_file,
                                                                       record, runs_in):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("DLI_HISTORY_PATH", "h.sqlite")
    first = record(None, [1])
    lock = lock_file(here / "h.sqlite")
    with pytest.warns(RuntimeWarning):
        pending = record(None, [2])
    monkeypatch.chdir(there)  # %cd before the pending run is retried
    lock.release()
    assert runlog.load().attrs["path"] == str(there / "h.sqlite")  # load() reads where it is called ...
    assert runs_in(here / "h.sqlite") == [(first, [1]), (pending, [2])]  # ... and wrote where recorded
    assert not (there / "h.sqlite").exists()


def test_unusable_files_warn_at_the_callers_line(tmp_path, run_attrs):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.warns(RuntimeWarning, match="could not write the run history") as caught:
        assert runlog.record_outcomes([JobOutcome(1, True, "ok")], run_attrs, path=not_a_dir / "h.sqlite") is None
    assert (caught[0].filename, caught[0].lineno) == (__file__, sys._getframe().f_lineno - 1)
    assert "is not in the history." in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not pending: a later call does not warn about it again
        runlog.load(tmp_path / "other.sqlite")


def test_a_thread_does_not_wait_long_for_another_threads_write(tmp_path, lock_file, record, runs_in):
    locked, free = tmp_path / "locked.sqlite", tmp_path / "free.sqlite"
    record(locked, [0])
    record(free, [0])
    lock_file(locked)
    waiting = threading.Thread(target=lambda: record(locked, [1]))  # waits for the locked file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        waiting.start()
        time.sleep(0.05)
        started = time.monotonic()
        run_id = record(free, [2])
        elapsed = time.monotonic() - started
        waiting.join(10)
        runlog.load(free)  # written by now, whichever thread wrote it
    assert elapsed < CALL_BOUND
    assert run_id
    assert runs_in(free)[-1] == (run_id, [2])


_THREE_BATCHES = """
from dli_magic import runlog
from dli_magic.results import JobOutcome
for job in (7, 8, 9):
    print(runlog.record_outcomes([JobOutcome(job, True, 'ok')], {'action': 'run'}), flush=True)
input()
"""


def test_runs_still_locked_at_exit_are_listed_on_stderr(opened, lock_file, runs_in):
    lock_file(opened)  # held by this process for the whole life of the script
    child = _child(_THREE_BATCHES, opened)
    run_ids = [child.stdout.readline().strip() for _ in range(3)]
    out, err = child.communicate("\n", timeout=60)
    assert child.returncode == 0, err
    assert all(run_ids)
    report = err[err.index("dli-magic: 3 runs are not in the run history"):]
    assert str(opened) in report and "database is locked" in report
    for run_id, job in zip(run_ids, (7, 8, 9)):
        assert re.search(rf"{run_id}  run of job\(s\) {job}\b", report)
    assert len(runs_in(opened)) == 1


def test_runs_pending_at_exit_are_written_when_the_lock_goes(opened, lock_file, runs_in):
    lock = lock_file(opened)
    child = _child(_THREE_BATCHES, opened)
    run_ids = [child.stdout.readline().strip() for _ in range(3)]
    child.stdin.write("\n")
    child.stdin.flush()  # the child exits now, with three runs pending
    threading.Timer(0.3, lock.release).start()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "not in the run history at" not in err  # the warnings at the records, no loss at exit
    assert runs_in(opened)[1:] == [(run_id, [job]) for run_id, job in zip(run_ids, (7, 8, 9))]


_AT_EXIT = """
import atexit

def cleanup():  # registered before dli_magic.runlog is imported: runs after its exit handler
    from dli_magic import runlog
    from dli_magic.results import JobOutcome
    print(runlog.record_outcomes([JobOutcome(8, True, 'at exit')], {'action': 'stop'}), flush=True)

atexit.register(cleanup)
from dli_magic import runlog
print('exiting', flush=True)
input()
"""


def test_a_run_recorded_by_a_late_atexit_handler_is_written(opened, lock_file, runs_in):
    child = _child(_AT_EXIT, opened)
    assert child.stdout.readline().strip() == "exiting"
    lock = lock_file(opened)  # the exiting child finds the file locked for a moment
    child.stdin.write("\n")
    child.stdin.flush()
    threading.Timer(0.5, lock.release).start()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "not in the run history at" not in err
    assert runs_in(opened)[-1] == (out.strip(), [8])


def test_a_run_recorded_by_a_late_atexit_handler_is_never_lost_silently(opened, lock_file, runs_in):
    child = _child(_AT_EXIT, opened)
    assert child.stdout.readline().strip() == "exiting"
    lock_file(opened)  # held until the child is gone
    out, err = child.communicate("\n", timeout=60)
    assert child.returncode == 0, err
    assert f"{out.strip()}  stop of job(s) 8" in err
    assert len(runs_in(opened)) == 1
