"""Issue 10 item 5: no traceback where a line is due.

Unbalanced quotes on any magic line, a profile file that is not UTF-8 text, wrong types to the Python
API, repeated flags, a missing value among ids, an endpoint with a path, a project id that would
change the URL, a token with spaces around it: each gets one line naming what is wrong, and nothing
is sent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

import dli_magic
from dli_magic import config
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.errors import BadInputError, ConfigError

UNBALANCED = "A quote on this line is not closed (or the line ends with a backslash); close it or remove it."


def _one_line(result, capsys) -> BaseException:
    error = result.error_in_exec
    assert error is not None
    shown = capsys.readouterr().out
    assert "Traceback" not in shown
    assert len([line for line in shown.splitlines() if line.strip()]) <= 2, shown
    return error


# --- unbalanced quotes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ['%dli_jobs --name "a', "%dli_jobs --name 'a", '%dli_config endpoint="x', "%dli_config --profile 'k9",
     '%dli_login --username "me', '%dli_history --limit "3', '%dli_panel --profile "k9',
     '%dli_config endpoint=x\\'],
)
def test_unbalanced_quotes_on_an_option_line(shell, dli_env, capsys, line):
    error = _one_line(shell.run_cell(line), capsys)
    assert isinstance(error, UsageError) and str(error) == UNBALANCED
    assert dli_env.request_log() == []


@pytest.mark.parametrize("line", ['%dli_run 131 "', "%dli_stop 131 '", '%dli_run 131 --profile "k9', "%dli_run {[1, 2}"])
def test_unbalanced_quotes_or_brackets_on_an_id_line(shell, dli_env, capsys, line):
    error = _one_line(shell.run_cell(line), capsys)
    # The line is not quoted: what the open quote or bracket holds may be a secret.
    assert isinstance(error, BadInputError)
    assert error.message == "Unbalanced brackets or quotes on this line: close them or remove them."
    assert dli_env.request_log() == []


def test_quoted_values_are_unquoted(shell, dli_env):
    shell.run_line_magic("dli_jobs", '--name "orders daily"')  # the name `orders daily`, not `"orders daily"`
    shell.run_line_magic("dli_jobs", "--name 'orders'")
    queries = [r["query"] for r in dli_env.request_log() if r["path"].endswith("/jobs")]
    assert [q for q in queries if "name=orders%20daily" in q] and [q for q in queries if "name=orders&" in q + "&"]
    assert not [q for q in queries if "%22" in q or "%27" in q]  # no quote was sent
    shell.run_line_magic("dli_config", 'read_timeout="7"')
    assert shell.run_line_magic("dli_config", "").set_index("setting").loc["read_timeout", "value"] == "7.0"
    frame = shell.run_line_magic("dli_run", '131 --profile "" --out "result" --dry-run')
    assert frame is None and shell.user_ns["result"]["job_id"].tolist() == [131]


# --- the profile file: encodings and bytes ------------------------------------------------------------

PROFILE = '[default]\nread_timeout = 7\n[k9]\nread_timeout = 9\n'
ENCODINGS = {
    "utf-16 with BOM": (PROFILE.encode("utf-16"),
                        "is UTF-16 (it starts with a UTF-16 byte-order mark); TOML files are UTF-8: save it as UTF-8."),
    "utf-16-be with BOM": (b"\xfe\xff" + PROFILE.encode("utf-16-be"),
                           "is UTF-16 (it starts with a UTF-16 byte-order mark); TOML files are UTF-8: save it as UTF-8."),
    "utf-32": (PROFILE.encode("utf-32"),
               "is UTF-32 (it starts with a UTF-32 byte-order mark); TOML files are UTF-8: save it as UTF-8."),
    "utf-16 without BOM": (PROFILE.encode("utf-16-le"),
                           "is UTF-16 without a byte-order mark; TOML files are UTF-8: save it as UTF-8."),
    "utf-16-be without BOM": (PROFILE.encode("utf-16-be"),
                              "is UTF-16 without a byte-order mark; TOML files are UTF-8: save it as UTF-8."),
    "utf-8 with BOM": (PROFILE.encode("utf-8-sig"),
                       "is UTF-8 with a byte-order mark (BOM), which TOML does not allow: save it as UTF-8 without BOM."),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "holds binary data (a NUL byte at offset 8), not TOML text."),
    "binary without NUL": (b"\x89PNG\r\n\x1a\n\xff\xd8", "is not UTF-8 (byte 0x89 at offset 0; saved as Latin-1 or "
                           "Windows-1252?); TOML files are UTF-8: save it as UTF-8."),
    "latin-1": ('[default]\ndomain = "café"\n'.encode("latin-1"),
                "is not UTF-8 (byte 0xe9 at offset 23; saved as Latin-1 or Windows-1252?); TOML files are UTF-8: "
                "save it as UTF-8."),
    "NUL inside UTF-8": (b'[default]\nregion = "eu-de"\n\x00\n', "holds binary data (a NUL byte at offset 27), not TOML text."),
    "too large": (b"#" * (2**20 + 1), "is larger than 1 MiB: not a profile file."),
}


@pytest.mark.parametrize("content, why", ENCODINGS.values(), ids=ENCODINGS.keys())
@pytest.mark.parametrize("line", ["%dli_run 138", "%dli_run 138 --profile k9", "%dli_config", "%dli_jobs"])
def test_a_profile_file_that_is_not_utf8_text_is_named_with_its_encoding(shell, dli_env, capsys, content, why, line):
    path = config.default_profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    error = _one_line(shell.run_cell(line), capsys)
    assert isinstance(error, ConfigError)
    assert error.message == f"Profile file {path} {why}"
    with pytest.raises(ConfigError) as info:
        dli_magic.run_jobs([138])
    assert info.value.message == error.message
    assert dli_env.request_log() == []


# --- wrong types to the Python API ----------------------------------------------------------------------

WRONG_TYPES = {
    "run_jobs('abc')": (lambda: dli_magic.run_jobs("abc"), "job_ids holds a string of 3 characters, not job ids; use integers."),
    "run_jobs(3.5)": (lambda: dli_magic.run_jobs(3.5), "job_ids is a float, not a job id or a collection of job ids."),
    "run_jobs({1: 2})": (lambda: dli_magic.run_jobs({1: 2}), "job_ids is a dict; pass a list of job ids instead."),
    "chunk_size='5'": (lambda: dli_magic.run_jobs([1], chunk_size="5"), "chunk_size must be a positive integer, not '5'."),
    "timeout='10'": (lambda: dli_magic.run_jobs([1], wait=True, timeout="10"),
                     "timeout must be a positive number of seconds, not '10'."),
    "wait='yes'": (lambda: dli_magic.stop_jobs([1], wait="yes"), "wait must be True or False, not 'yes'."),
    "resume_savepoint=1": (lambda: dli_magic.run_jobs([1], 1), "resume_savepoint must be True or False, not 1."),
    "profile=5": (lambda: dli_magic.run_jobs([1], profile=5), "profile must be the name of a profile (a string), not 5."),
    "client='x'": (lambda: dli_magic.run_jobs([1], client="x"),
                   "client must be a DliClient (from dli_magic.connect()), not a string of 1 character."),
    "progress=5": (lambda: dli_magic.run_jobs([1], progress=5),
                   "progress must be a function called with {status: count}, not 5."),
    "list_jobs(status=3)": (lambda: dli_magic.list_jobs(status=3), "status must be a string, not 3."),
    "list_jobs(name=3)": (lambda: dli_magic.list_jobs(name=3), "name must be a string, not 3."),
    "list_jobs(tags=5)": (lambda: dli_magic.list_jobs(tags=5), "tags must be a string k=v,k2=v2 or a dict, not 5."),
    "list_jobs(order=1)": (lambda: dli_magic.list_jobs(order=1), "order must be a string, not 1."),
    "list_jobs(client=5)": (lambda: dli_magic.list_jobs(client=5),
                            "client must be a DliClient (from dli_magic.connect()), not 5."),
    "history(limit='5')": (lambda: dli_magic.history(limit="5"), "limit must be a positive integer, not '5'."),
    "history(limit=0)": (lambda: dli_magic.history(limit=0), "limit must be a positive integer, not 0."),
    "history(path=5)": (lambda: dli_magic.history(path=5), "path must be a file path, not 5."),
    "job(client=5)": (lambda: dli_magic.job(131, client=5), "client must be a DliClient (from dli_magic.connect()), not 5."),
    "job('abc')": (lambda: dli_magic.job("abc"), "A job id (a string of 3 characters) is a string; job ids are positive integers."),
    "restart_jobs(profile=5)": (lambda: dli_magic.restart_jobs([1], profile=5),
                                "profile must be the name of a profile (a string), not 5."),
    "savepoint_jobs(client='x')": (lambda: dli_magic.savepoint_jobs([1], client="x"),
                                   "client must be a DliClient (from dli_magic.connect()), not a string of 1 character."),
    "restart_jobs(progress=1)": (lambda: dli_magic.restart_jobs([1], progress=1),
                                 "progress must be a function called with {status: count}, not 1."),
    "connect(profile=5)": (lambda: dli_magic.connect(profile=5),
                           "Setting profile (from argument) must be the name of a profile (a string), not int."),
    "connect(chunk_size='x')": (lambda: dli_magic.connect(chunk_size="x"),
                                "Setting chunk_size='x' (from argument) is not a valid int."),
}


@pytest.mark.parametrize("call, message", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_wrong_types_to_the_python_api_are_one_line_naming_the_argument(dli_env, call, message):
    with pytest.raises(BadInputError) as info:
        call()
    assert info.value.message == message
    assert dli_env.request_log() == []


# --- repeated flags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, message",
    [
        ("%dli_run 1 --wait --timeout 5 --timeout 9", "--timeout is given twice (--timeout and --timeout); give it once."),
        ("%dli_run 1 --wait --timeout=5 --time 9", "--timeout is given twice (--timeout=5 and --time); give it once."),
        ("%dli_stop 1 --trigger-savepoint --trigger-savepoint",
         "--trigger-savepoint is given twice (--trigger-savepoint and --trigger-savepoint); give it once."),
        ("%dli_run 1 --out a --out b", "--out is given twice (--out and --out); give it once."),
        ("%dli_run 1 --profile a --profile b", "--profile is given twice (--profile and --profile); give it once."),
        ("%dli_jobs --status job_running --status job_init", "--status is given twice (--status and --status); give it once."),
        ("%dli_config --profile a --profile b", "--profile is given twice (--profile and --profile); give it once."),
        ("%dli_history --limit 1 --limit 2", "--limit is given twice (--limit and --limit); give it once."),
        ("%dli_panel --timeout 1 --timeout 2", "--timeout is given twice (--timeout and --timeout); give it once."),
        ("%dli_login --username a --username b", "--username is given twice (--username and --username); give it once."),
    ],
)
def test_repeated_flags_are_refused(shell, dli_env, capsys, line, message):
    error = _one_line(shell.run_cell(line), capsys)
    assert isinstance(error, UsageError) and str(error) == message
    assert dli_env.request_log() == []


# --- a missing value among ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, shown",
    [
        (pd.Series([131, None, 130]), "[1] (nan)"),  # float64 now: 131.0 must not be reported instead
        (pd.Series([131, 130, np.nan]), "[2] (nan)"),
        (pd.Series([131, None], dtype="Int64"), "[1] (<NA>)"),
        (pd.DataFrame({"job_id": [131, None, 130]}), "[1] (nan)"),
        (np.array([131, np.nan]), "[1] (nan)"),
        ([131, None], "[1] (None)"),
        ([131, float("nan")], "[1] (nan)"),
    ],
    ids=["series-float", "series-last", "Int64", "DataFrame", "numpy", "list-None", "list-nan"],
)
def test_a_missing_value_among_ids_is_named_by_its_position(shell, dli_env, value, shown):
    message = (f"Job id {{label}}{shown} is not an integer but a missing value; drop the missing values first, "
               "e.g. ids.dropna().astype(int).")
    shell.user_ns["ids"] = value
    error = shell.run_cell("%dli_run $ids").error_in_exec
    assert isinstance(error, BadInputError) and error.message == message.format(label="$ids")
    with pytest.raises(BadInputError) as info:
        dli_magic.run_jobs(value)
    assert info.value.message == message.format(label="job_ids")
    assert dli_env.request_log() == []


# --- endpoints, project ids, tokens -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, url, base, added",
    [
        ("endpoint", "https://dli.eu-de.otc.t-systems.com/v1.0", "https://dli.eu-de.otc.t-systems.com",
         "/v1.0/{project_id}/…"),
        ("endpoint", "http://127.0.0.1:8123/v1.0/0b6a/streaming", "http://127.0.0.1:8123", "/v1.0/{project_id}/…"),
        ("iam_endpoint", "https://iam.eu-de.otc.t-systems.com/v3", "https://iam.eu-de.otc.t-systems.com", "/v3/…"),
    ],
)
def test_an_endpoint_with_a_path_is_one_line(shell, dli_env, monkeypatch, name, url, base, added):
    path = url.removeprefix(base)
    message = (f"Setting {name}={url!r} (from {{source}}) has a path ({path}); give the base URL only, {base} "
               f"(the client adds {added}).")
    error = shell.run_cell(f"%dli_config {name}={url}").error_in_exec
    assert isinstance(error, ConfigError) and error.message == message.replace("{source}", "%config")
    with pytest.raises(ConfigError) as info:
        dli_magic.run_jobs([138], **{name: url})
    assert info.value.message == message.replace("{source}", "argument")
    monkeypatch.setenv(f"DLI_{name.upper()}", url)
    error = shell.run_cell("%dli_run 138").error_in_exec
    assert isinstance(error, ConfigError) and error.message == message.replace("{source}", f"env DLI_{name.upper()}")
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    "project_id, why",
    [("ab/cd", "contains '/'"), ("../jobs", "contains '.'"), ("abcé", "contains a non-ASCII character"),
     ("ab cd", "contains a space or line break"), ("a?b", "contains '?'"), ("x" * 65, "is 65 characters long (64 at most)")],
)
def test_a_project_id_that_would_change_the_url_is_one_line(shell, dli_env, monkeypatch, capsys, project_id, why):
    message = (f"Setting project_id (from {{source}}) {why}; a project id is ASCII letters, digits, '-' or '_' "
               "(DLI's are 32 hex characters).")
    error = shell.run_cell(f'%dli_config project_id="{project_id}"').error_in_exec
    assert isinstance(error, ConfigError) and error.message == message.format(source="%config")
    with pytest.raises(ConfigError) as info:
        dli_magic.run_jobs([138], project_id=project_id)
    assert info.value.message == message.format(source="argument")
    monkeypatch.setenv("DLI_PROJECT_ID", project_id)
    capsys.readouterr()
    error = _one_line(shell.run_cell("%dli_run 138"), capsys)
    assert isinstance(error, ConfigError) and error.message == message.format(source="env DLI_PROJECT_ID")
    assert dli_env.request_log() == []


@pytest.mark.parametrize("padded", [f" {SENTINEL_TOKEN} ", f"{SENTINEL_TOKEN}\n", f"\t{SENTINEL_TOKEN}\r\n"])
def test_a_token_with_spaces_around_it_is_stripped_and_never_echoed(
    shell, dli_env, monkeypatch, capsys, assert_no_secrets, padded
):
    monkeypatch.setenv("DLI_AUTH_TOKEN", padded)
    frame = shell.run_line_magic("dli_run", "138")
    assert frame["is_success"].tolist() == [True]  # the token the service knows: accepted
    frame = dli_magic.stop_jobs([138], auth_token=padded)
    assert frame["job_id"].tolist() == [138]
    out = capsys.readouterr()
    table = shell.run_line_magic("dli_config", "").set_index("setting")
    assert table.loc["auth_token", "value"] == "***"
    assert_no_secrets(out.out, out.err, repr(frame), str(frame.attrs), table.to_string())
    assert all(r["status"] < 400 for r in dli_env.request_log())


def test_a_region_that_is_no_region_name_is_one_line(shell, dli_env, monkeypatch, capsys):
    monkeypatch.delenv("DLI_ENDPOINT")
    monkeypatch.setenv("DLI_REGION", "eu/de")
    error = _one_line(shell.run_cell("%dli_run 138"), capsys)
    assert isinstance(error, ConfigError)
    assert error.message == ("Setting region (from env DLI_REGION) contains '/'; a region is a name like eu-de or "
                             "ap-southeast-1 (ASCII letters, digits, '-').")


def test_an_option_refused_by_the_call_is_refused_when_the_line_is_read(shell, dli_env, capsys):
    # the panel's --timeout is used only when Run is pressed: a bad value is refused at once
    for line in ("%dli_panel --timeout -5", "%dli_panel --timeout 0", "%dli_run 138 --wait --timeout nan"):
        error = _one_line(shell.run_cell(line), capsys)
        assert isinstance(error, UsageError) and "argument --timeout: must be a positive number" in str(error)
    assert dli_env.request_log() == []
