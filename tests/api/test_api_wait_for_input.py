"""wait_for checks its input as the call it re-attaches to would: a stop's run takes no stable=."""

from __future__ import annotations

import pytest

import dli_magic
from dli_magic.errors import BadInputError


def test_stable_on_a_stops_run_is_refused_before_anything_is_read_or_recorded(dli_env):
    run_id = dli_magic.stop_jobs([130], wait=True, timeout=30).attrs["history_run_id"]
    recorded = dli_magic.history().to_dict("records")
    dli_env.clear_request_log()
    with pytest.raises(BadInputError, match="applies to run .*not stop"):
        dli_magic.wait_for(run_id, stable=0.3)
    assert dli_env.request_log() == []
    assert dli_magic.history().to_dict("records") == recorded  # the stop is not rewritten as "unhealthy"
