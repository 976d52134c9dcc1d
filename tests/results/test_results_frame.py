"""The typed frames every surface returns: exact dtypes, values as pandas converts them, and the
one "true"/"false" reading of the API's flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dli_magic.results import JOB_COLUMNS, OUTCOME_COLUMNS, Job, JobOutcome, jobs_frame, outcomes_frame


def _schema(frame) -> list[tuple[str, str]]:
    return [(column, str(dtype)) for column, dtype in frame.dtypes.items()]


def test_outcomes_frame_schema_and_values():
    outcomes = [
        JobOutcome(131, True, "", "req-1", "orders", "job_submitting"),
        JobOutcome(130, False, "DLI.0001: not found", "req-1"),
        JobOutcome(7, None, "not sent (interrupted)"),
    ]
    frame = outcomes_frame(outcomes, attrs={"action": "run"})
    assert _schema(frame) == list(OUTCOME_COLUMNS)
    assert frame["job_id"].tolist() == [131, 130, 7]
    assert frame["is_success"].tolist() == [True, False, pd.NA]
    assert frame["name"].tolist() == ["orders", pd.NA, pd.NA]
    assert frame["message"].tolist() == ["", "DLI.0001: not found", "not sent (interrupted)"]
    assert frame.index.tolist() == [0, 1, 2]
    assert frame.attrs == {"action": "run"}
    # the frame owns its data: changing it leaves a second frame from the same outcomes alone
    frame.loc[0, "name"] = "changed"
    assert outcomes_frame(outcomes)["name"][0] == "orders"


def test_jobs_frame_schema_times_and_missing_values():
    jobs = [
        Job(131, "orders", "job_running", job_type="flink_sql_job", queue_name="q1", has_savepoint=True,
            create_time=1_700_000_000_000, user_name="ann", restart_times=3, duration=90_000,
            savepoint_path="obs://b/131/savepoint/s-1"),
        Job(130, start_time=1_700_000_100_000, status_desc="desc"),
    ]
    frame = jobs_frame(jobs)
    assert frame["restart_times"].tolist() == [3, pd.NA]
    assert frame["duration"][0] == pd.Timedelta(seconds=90) and pd.isna(frame["duration"][1])
    assert frame["savepoint_path"].tolist() == ["obs://b/131/savepoint/s-1", pd.NA]
    assert frame["status_desc"].tolist() == [pd.NA, "desc"]
    assert _schema(frame) == list(JOB_COLUMNS)
    assert frame["create_time"][0] == pd.Timestamp(1_700_000_000_000, unit="ms", tz="UTC")
    assert pd.isna(frame["create_time"][1]) and pd.isna(frame["start_time"][0])
    assert frame["start_time"][1] == pd.Timestamp(1_700_000_100_000, unit="ms", tz="UTC")
    assert frame["has_savepoint"].tolist() == [True, pd.NA]
    assert frame["user_name"].tolist() == ["ann", pd.NA]


@pytest.mark.parametrize("make, columns", [(outcomes_frame, OUTCOME_COLUMNS), (jobs_frame, JOB_COLUMNS)])
def test_an_empty_result_keeps_the_schema(make, columns):
    empty = make([])
    assert len(empty) == 0 and _schema(empty) == list(columns)


def test_other_value_types_are_converted_as_pandas_converts_them():
    frame = outcomes_frame([JobOutcome(np.int64(5), np.True_, "m"), JobOutcome(6.0, None, "n")])
    assert _schema(frame) == list(OUTCOME_COLUMNS)
    assert frame["job_id"].tolist() == [5, 6]
    assert frame["is_success"].tolist() == [True, pd.NA]


@pytest.mark.parametrize("job_id", [2**64, "x", 5.5])
def test_a_value_the_column_cannot_hold_is_refused_not_coerced(job_id):
    with pytest.raises((TypeError, ValueError, OverflowError)):
        outcomes_frame([JobOutcome(job_id, True, "")])


@pytest.mark.parametrize("is_success", ["true", 1, 0.0])
def test_a_flag_that_is_not_true_or_false_is_refused_not_read_as_one(is_success):
    with pytest.raises((TypeError, ValueError)):
        outcomes_frame([JobOutcome(1, True, ""), JobOutcome(2, is_success, "")])


@pytest.mark.parametrize("field, value", [("duration", 2**53), ("duration", 9_300_000_000_000_000),
                                          ("restart_times", 2**64), ("restart_times", -1)])
def test_a_number_no_column_can_hold_is_not_read_and_the_listing_still_builds(field, value):
    job = Job.from_api({"job_id": 1, field: value})
    assert getattr(job, field) is None
    frame = jobs_frame([job, Job.from_api({"job_id": 2, field: 5})])
    assert pd.isna(frame[field][0]) and not pd.isna(frame[field][1])
