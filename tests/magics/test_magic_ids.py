"""Every way of writing job ids on a %dli_run line, and every bad input (nothing is sent)."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

from dli_magic.errors import BadInputError
from dli_magic.idargs import parse_job_ids, split_tokens


def _ids(frame) -> list[int]:
    return [int(v) for v in frame["job_id"]]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("138 204", [138, 204]),
        ("138,204", [138, 204]),
        ("138, 204 ,130", [138, 204, 130]),
        ("130-131", [130, 131]),
        ("204 130-131,138", [204, 130, 131, 138]),
    ],
)
def test_literal_forms_reach_the_service_in_order(shell, dli_env, api_requests, line, expected):
    frame = shell.run_line_magic("dli_run", line + " --dry-run")
    assert _ids(frame) == expected
    shell.user_ns["df"] = None
    frame = shell.run_line_magic("dli_run", line)
    assert _ids(frame) == expected
    sent = [r for r in api_requests(dli_env, "jobs/run")]
    assert len(sent) == 1 and sent[0]["body"]["job_ids"] == expected


@pytest.mark.parametrize(
    "setup, token, expected",
    [
        ("ids = [204, 138]", "$ids", [204, 138]),
        ("ids = range(130, 132)", "$ids", [130, 131]),
        ("import pandas as pd; ids = pd.Series([138, 130])", "$ids", [138, 130]),
        ("import pandas as pd; jobs = pd.DataFrame({'job_id': [131, 138], 'x': [1, 2]})", "$jobs", [131, 138]),
        ("one = 138", "$one", [138]),
        ("import numpy as np; arr = np.array([130, 204])", "$arr", [130, 204]),
        ("base = 130", "{[base, base + 8]}", [130, 138]),
        ("", "{range(130, 132)}", [130, 131]),
        ("", "{ list(range(137, 139)) }", [137, 138]),
    ],
)
def test_variables_and_expressions_keep_their_types(shell, dli_env, api_requests, setup, token, expected):
    shell.run_cell(setup)
    frame = shell.run_line_magic("dli_run", f"{token} --dry-run")
    assert _ids(frame) == expected
    assert api_requests(dli_env) == []


def test_a_dataframe_from_dli_jobs_can_be_run(shell, dli_env):
    shell.run_cell("jobs = %dli_jobs --status job_init")
    shell.run_cell("df = %dli_run $jobs")
    df = shell.user_ns["df"]
    assert sorted(_ids(df)) == [138, 204]
    assert df["is_success"].all()


def test_variables_resolve_in_a_function_scope(shell, dli_env):
    shell.run_cell(
        "def start(ids):\n"
        "    return get_ipython().run_line_magic('dli_run', '$ids --dry-run')\n"
        "result = start([204, 138])"
    )
    assert _ids(shell.user_ns["result"]) == [204, 138]


def test_trailing_semicolon_silences_and_is_not_an_id(shell, dli_env, api_requests, capsys):
    result = shell.run_cell("%dli_run 138;")
    assert result.success, result.error_in_exec
    assert result.result is None
    assert capsys.readouterr().out == ""
    assert [r["body"]["job_ids"] for r in api_requests(dli_env, "jobs/run")] == [[138]]


def test_duplicates_are_dropped_with_a_notice(shell, dli_env, api_requests, capsys):
    frame = shell.run_line_magic("dli_run", "138 204 138 138")
    assert _ids(frame) == [138, 204]
    assert "Dropped 2 duplicate job id(s): 138" in capsys.readouterr().err
    assert api_requests(dli_env, "jobs/run")[0]["body"]["job_ids"] == [138, 204]
    assert frame.attrs["duplicates"] == [138, 138]


@pytest.mark.parametrize(
    "setup, line, fragment",
    [
        ("", "abc", "'abc'"),
        ("", "1.5", "'1.5'"),
        ("", "0", "'0' is not positive"),
        ("", "-5", "'-5' is not positive"),
        ("", "9223372036854775808", "64-bit"),
        ("", "138-130", "Bad range '138-130'"),
        ("", "1-", "Bad range '1-'"),
        ("", "", "No job ids given"),
        ("", "$undefined_name", "$undefined_name is not defined"),
        ("", "{undefined_name + 1}", "failed: NameError"),
        ("", "{1, 2", "Unbalanced"),
        ("x = 'abc'", "$x", "holds a string"),
        ("x = [1, 2.5]", "$x", "$x[1] (2.5) is not an integer (float)"),
        ("x = [1, True]", "$x", "$x[1] (True) is not an integer (bool)"),
        ("x = None", "$x", "None"),
        ("x = [138, None]", "$x", "$x[1] (None) is not an integer"),
        ("x = ['138']", "$x", "$x[0] is the string '138'; job ids are integers: write 138."),
        ("x = ['abc']", "$x", "$x[0] (a string of 3 characters) is a string"),
        ("x = {1: 2}", "$x", "is a dict"),
        ("x = 3.0", "$x", "not a job id"),
        ("import pandas as pd; x = pd.DataFrame({'id': [1]})", "$x", "without a `job_id` column"),
        ("import pandas as pd; x = pd.Series([1, None], dtype='Int64')", "$x", "$x[1]"),
        ("", "{[]}", "No job ids given"),
    ],
)
def test_bad_input_is_one_line_and_sends_nothing(shell, dli_env, capsys, setup, line, fragment):
    shell.run_cell(setup)
    capsys.readouterr()
    result = shell.run_cell(f"%dli_run {line}")
    assert isinstance(result.error_in_exec, BadInputError)
    assert fragment in str(result.error_in_exec)
    shown = capsys.readouterr().out
    assert "BadInputError" in shown and "Traceback" not in shown
    assert len([line for line in shown.splitlines() if line.strip()]) <= 3
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    "line, error, fragment",
    [
        ("138 --bogus", UsageError, "unrecognized arguments: --bogus"),
        ("138 --timeout 5", UsageError, "--timeout only applies with --wait"),
        ("138 --wait --timeout abc", UsageError, "argument --timeout: invalid float value: 'abc'"),
        ("138 --out 1x", UsageError, "--out needs a Python variable name, not '1x'"),
        ("138 --chunk-size 0", BadInputError, "chunk_size must be a positive integer, not 0"),
    ],
)
def test_bad_flags_fail_before_sending(shell, dli_env, capsys, line, error, fragment):
    result = shell.run_cell(f"%dli_run {line}")
    assert type(result.error_in_exec) is error
    assert fragment in str(result.error_in_exec)
    shown = capsys.readouterr()
    assert "Traceback" not in shown.out + shown.err
    assert dli_env.request_log() == []


@pytest.mark.parametrize("line", ["138 --token abcd1234", "138 --password=abcd1234", "138 --sk abcd1234"])
def test_secret_flags_are_refused_without_echoing_the_value(shell, dli_env, capsys, line):
    result = shell.run_cell(f"%dli_run {line}")
    assert isinstance(result.error_in_exec, UsageError)
    assert "Secrets are never accepted" in str(result.error_in_exec)
    shown = capsys.readouterr()
    assert "abcd1234" not in str(result.error_in_exec) + shown.out + shown.err
    assert dli_env.request_log() == []


def test_split_tokens_keeps_expressions_and_quotes_whole():
    assert split_tokens("1, 2 {range(1, 3)} $x '{a, b}'") == ["1", "2", "{range(1, 3)}", "$x", "'{a, b}'"]


def test_parse_job_ids_without_ipython():
    validated = parse_job_ids(["130-132", "$more", "{extra}"], {"more": [131, 200], "extra": 5})
    assert validated.ids == [130, 131, 132, 200, 5]
    assert validated.duplicates == [131]


def test_long_unknown_tokens_are_not_echoed_whole():
    secretish = "X" * 40
    with pytest.raises(BadInputError) as info:
        parse_job_ids([secretish])
    assert secretish not in str(info.value)


def test_huge_ranges_are_refused_before_allocating():
    with pytest.raises(BadInputError, match="Range '1-100000000' holds 100,000,000 job ids; one call takes at most 100,000"):
        parse_job_ids(["1-100000000"])


def test_series_of_ids_from_pandas_is_accepted():
    assert parse_job_ids(["$s"], {"s": pd.Series([3, 1, 3])}).ids == [3, 1]


@pytest.mark.parametrize("line", ["$sk", "$mixed", "{sk}", "{int(sk)}", "{[131, sk]}"])
def test_a_secret_held_in_a_variable_is_never_echoed(shell, dli_env, capsys, line):
    from dli_magic.emulator.testing import SENTINEL_SK

    shell.user_ns.update(sk=SENTINEL_SK, mixed=[131, SENTINEL_SK])
    result = shell.run_cell(f"%dli_run {line}")
    assert isinstance(result.error_in_exec, BadInputError)
    shown = str(result.error_in_exec) + "".join(result.error_in_exec._render_traceback_())
    shown += "".join(capsys.readouterr())
    assert SENTINEL_SK not in shown
    assert not dli_env.request_log()


def test_the_python_api_never_echoes_a_string_id(dli_env):
    import dli_magic
    from dli_magic.emulator.testing import SENTINEL_SK

    with pytest.raises(BadInputError) as caught:
        dli_magic.run_jobs([131, SENTINEL_SK])
    assert SENTINEL_SK not in str(caught.value)
    assert "string of" in str(caught.value)


def test_out_with_a_trailing_semicolon_still_stores(shell, dli_env):
    shell.run_cell("%dli_run 138 --out df")
    result = shell.run_cell("%dli_stop 138 --out df;")
    assert result.success, result.error_in_exec
    assert result.result is None
    assert shell.user_ns["df"].attrs["action"] == "stop"  # the new frame, not the earlier run's
