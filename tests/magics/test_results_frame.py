"""The typed frames: the fast masked-array path gives exactly what pd.array gives, and values of
another type take pd.array's path (converted or refused as before), never a wrong column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dli_magic.results import OUTCOME_COLUMNS, JobOutcome, _masked_column, outcomes_frame


def _reference(values, dtype_name):
    return pd.array(values, dtype=dtype_name)


@pytest.mark.parametrize(
    "values, dtype_name",
    [
        ([1, 2, None, 2**63 - 1], "Int64"),
        ([None, None], "Int64"),
        ([], "Int64"),
        ([True, False, None], "boolean"),
        (["a", None, "", "ünï"], "string"),
        ([None], "string"),
    ],
)
def test_fast_columns_equal_pd_array(values, dtype_name):
    dtype = pd.api.types.pandas_dtype(dtype_name)
    built = _masked_column(values, dtype_name, dtype)
    expected = _reference(values, dtype_name)
    assert built.dtype == expected.dtype
    pd.testing.assert_extension_array_equal(built, expected)


@pytest.mark.parametrize(
    "values, dtype_name",
    [
        ([np.int64(5), 6], "Int64"),  # numpy scalars: pd.array converts them
        ([5.0, None], "Int64"),
        ([np.True_, None], "boolean"),
        ([1, 0], "boolean"),
    ],
)
def test_other_types_take_pd_array_path(values, dtype_name):
    dtype = pd.api.types.pandas_dtype(dtype_name)
    pd.testing.assert_extension_array_equal(_masked_column(values, dtype_name, dtype), _reference(values, dtype_name))


def test_values_pd_array_refuses_are_still_refused():
    dtype = pd.api.types.pandas_dtype("Int64")
    with pytest.raises((TypeError, ValueError, OverflowError)):
        _masked_column([2**64], "Int64", dtype)
    with pytest.raises((TypeError, ValueError)):
        _masked_column(["x"], "Int64", dtype)


def test_outcomes_frame_schema_and_values():
    outcomes = [
        JobOutcome(131, True, "", "req-1", "orders", "job_submitting"),
        JobOutcome(130, False, "DLI.0001: not found", "req-1"),
        JobOutcome(7, None, "not sent (interrupted)"),
    ]
    frame = outcomes_frame(outcomes, attrs={"action": "run"})
    assert [(c, str(t)) for c, t in frame.dtypes.items()] == [(c, t) for c, t in OUTCOME_COLUMNS]
    assert frame["job_id"].tolist() == [131, 130, 7]
    assert frame["is_success"].tolist() == [True, False, pd.NA]
    assert frame["name"].tolist() == ["orders", pd.NA, pd.NA]
    assert frame["message"].tolist() == ["", "DLI.0001: not found", "not sent (interrupted)"]
    assert frame.attrs == {"action": "run"}
    # the frame owns its data: changing it leaves a second frame from the same outcomes alone
    frame.loc[0, "name"] = "changed"
    assert outcomes_frame(outcomes)["name"][0] == "orders"


def test_the_fast_frame_equals_the_public_constructors_frame():
    from dli_magic.results import JOB_COLUMNS, Job, _frame_from_arrays, jobs_frame

    jobs = [
        Job(131, "orders", "job_running", "flink_sql_job", "q1", True, 1_700_000_000_000, None, "ann", None),
        Job(130, None, None, None, None, None, None, 1_700_000_100_000, None, "desc"),
    ]
    frame = jobs_frame(jobs)
    assert [(c, str(t)) for c, t in frame.dtypes.items()] == [(c, t) for c, t in JOB_COLUMNS]
    arrays = [frame[name].array for name, _ in JOB_COLUMNS]
    names = [name for name, _ in JOB_COLUMNS]
    public = _frame_from_arrays(arrays, names, len(jobs), fast=False)
    pd.testing.assert_frame_equal(frame, public)
    assert frame["create_time"][0] == pd.Timestamp(1_700_000_000_000, unit="ms", tz="UTC")
    assert pd.isna(frame["start_time"][0]) and frame["user_name"].tolist() == ["ann", pd.NA]
    # an empty result keeps the schema
    empty = outcomes_frame([])
    assert len(empty) == 0 and [c for c, _ in OUTCOME_COLUMNS] == list(empty.columns)
    assert [str(t) for t in empty.dtypes] == [t for _, t in OUTCOME_COLUMNS]
