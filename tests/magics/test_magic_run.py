"""%dli_run / %dli_stop / %dli_jobs through a real InteractiveShell against the emulator over HTTP."""

from __future__ import annotations

import pytest

from dli_magic.api import JobsFailedError
from dli_magic.emulator.testing import SENTINEL_TOKEN
from dli_magic.errors import AuthError, ConfigError
from dli_magic.results import OUTCOME_COLUMNS


def test_run_returns_the_outcome_frame_with_names_and_statuses(shell, dli_env, api_requests):
    shell.run_cell("df = %dli_run 138 204")
    df = shell.user_ns["df"]
    assert [(c, str(t)) for c, t in df.dtypes.items()] == [(c, t) for c, t in OUTCOME_COLUMNS]
    assert list(df["job_id"]) == [138, 204]
    assert list(df["name"]) == ["inventory_cdc_sync", "billing_events_dedup"]
    assert df["is_success"].tolist() == [True, True]
    assert df["status"].isna().all()  # not waited: not read, not guessed
    run = api_requests(dli_env, "jobs/run")[0]
    assert df["request_id"].tolist() == [run["request_id"]] * 2
    # The two unknown names were read beside the run, each once.
    gets = [r for r in api_requests(dli_env) if r["method"] == "GET"]
    assert sorted(g["path"].rsplit("/", 1)[1] for g in gets) == ["138", "204"]
    attrs = df.attrs
    assert attrs["endpoint"] == dli_env.url and attrs["project_id"] == dli_env.project_id
    assert attrs["resume_savepoint"] is False and attrs["requests"] == 1 and attrs["attempts"] == 1
    assert attrs["started"] <= attrs["finished"]


def test_partial_failure_is_rows_not_an_exception(shell, dli_env):
    result = shell.run_cell("df = %dli_run 138 130 99999")
    assert result.success
    df = shell.user_ns["df"]
    assert df["is_success"].tolist() == [True, False, False]
    assert "job_running" in df.loc[1, "message"]
    assert "does not exist" in df.loc[2, "message"]
    assert df["name"].isna().tolist() == [False, False, True]


def test_resume_savepoint_is_sent(shell, dli_env, api_requests):
    df = shell.run_line_magic("dli_run", "131 --resume-savepoint")
    body = api_requests(dli_env, "jobs/run")[0]["body"]
    assert body == {"job_ids": [131], "resume_savepoint": True}
    assert df.attrs["resume_savepoint"] is True


def test_chunk_size_splits_requests(shell, dli_env, api_requests):
    df = shell.run_line_magic("dli_run", "138 204 131 --chunk-size 2")
    sent = sorted(r["body"]["job_ids"] for r in api_requests(dli_env, "jobs/run"))  # chunks run concurrently
    assert sent == [[131], [138, 204]]
    assert list(df["job_id"]) == [138, 204, 131]
    assert df.attrs["requests"] == 2
    assert df["is_success"].all()


def test_out_stores_the_frame_and_displays_nothing(shell, dli_env, capsys):
    result = shell.run_cell("%dli_run 138 --out started")
    assert result.result is None
    assert capsys.readouterr().out == ""
    assert list(shell.user_ns["started"]["job_id"]) == [138]


def test_without_out_the_frame_is_the_cell_result(shell, dli_env, capsys):
    result = shell.run_cell("%dli_run 138")
    assert list(result.result["job_id"]) == [138]
    out = capsys.readouterr().out
    assert "Out[" in out and result.result.loc[0, "request_id"] in out


def test_strict_raises_with_the_frame_attached(shell, dli_env, capsys):
    result = shell.run_cell("%dli_run 138 130 --strict --out res")
    error = result.error_in_exec
    assert isinstance(error, JobsFailedError)
    assert error.job_ids == [130]
    assert list(error.frame["job_id"]) == [138, 130]
    assert shell.user_ns["res"] is error.frame  # --out keeps the rows even when strict raises
    shown = capsys.readouterr().out
    assert "JobsFailedError" in shown and "130" in shown and "Traceback" not in shown


def test_strict_passes_when_everything_succeeded(shell, dli_env):
    result = shell.run_cell("df = %dli_run 138 --strict")
    assert result.success and shell.user_ns["df"]["is_success"].all()


def test_dry_run_shows_the_request_redacted_and_sends_nothing(shell, dli_env, capsys):
    df = shell.run_line_magic("dli_run", "138 204 --dry-run --resume-savepoint")
    out = capsys.readouterr().out
    assert "POST " + dli_env.url in out and "/streaming/jobs/run" in out
    assert '"job_ids": [138, 204]' in out and '"resume_savepoint": true' in out
    assert "X-Auth-Token: ***" in out
    assert SENTINEL_TOKEN not in out
    assert dli_env.request_log() == []
    assert df["message"].tolist() == ["dry run: not sent"] * 2
    assert df["is_success"].isna().all()
    assert df.attrs["dry_run"] is True


def test_dry_run_without_credentials_is_a_config_error(shell, dli_env, monkeypatch):
    monkeypatch.delenv("DLI_AUTH_TOKEN")
    result = shell.run_cell("%dli_run 138 --dry-run")
    assert isinstance(result.error_in_exec, ConfigError)
    assert dli_env.request_log() == []


def test_missing_endpoint_is_a_config_error_and_nothing_is_sent(shell, emulator, capsys):
    result = shell.run_cell("%dli_run 138")
    assert isinstance(result.error_in_exec, ConfigError)
    assert "ConfigError" in capsys.readouterr().out
    assert emulator.request_log() == []


def test_auth_error_renders_short_with_request_id_and_next_step(shell, dli_env, monkeypatch, capsys):
    monkeypatch.setenv("DLI_AUTH_TOKEN", "not-the-right-token")
    result = shell.run_cell("%dli_run 138 204")
    error = result.error_in_exec
    assert isinstance(error, AuthError)
    shown = capsys.readouterr().out
    request_id = [r for r in dli_env.request_log() if r["method"] == "POST"][-1]["request_id"]
    assert "AuthError" in shown
    assert f"request id: {request_id}" in shown
    assert "138" in shown and "What to do" in shown
    assert "Traceback" not in shown and len(shown.strip().splitlines()) <= 4
    assert "not-the-right-token" not in shown


def test_debug_config_shows_the_full_traceback(shell, dli_env, monkeypatch, capsys):
    from dli_magic import errors

    monkeypatch.setenv("DLI_AUTH_TOKEN", "wrong")
    shell.run_cell("%config DliMagic.debug = True")
    assert errors.SHOW_FULL_TRACEBACK is True
    shell.run_cell("%dli_run 138")
    assert "Traceback" in capsys.readouterr().out
    shell.run_cell("%config DliMagic.debug = False")
    assert errors.SHOW_FULL_TRACEBACK is False


def test_config_magic_points_at_the_emulator(shell, emulator):
    shell.run_cell(f"%config DliMagic.endpoint = '{emulator.url}'")
    shell.run_cell(f"%config DliMagic.project_id = '{emulator.project_id}'")
    shell.run_cell("%config DliMagic.poll_interval = 0.02")
    from unittest import mock  # getpass is the user's keyboard, not the client

    with mock.patch("getpass.getpass", return_value=SENTINEL_TOKEN):
        shell.run_line_magic("dli_login", "")
    df = shell.run_line_magic("dli_run", "138 --wait")
    assert df.loc[0, "status"] == "job_running"


def test_stop_with_savepoint_and_wait(shell, dli_env, api_requests):
    df = shell.run_line_magic("dli_stop", "130 137 138 --trigger-savepoint --wait")
    assert api_requests(dli_env, "jobs/stop")[0]["body"] == {"job_ids": [130, 137, 138], "trigger_savepoint": True}
    assert df["is_success"].tolist() == [True, True, False]
    assert df["status"].tolist()[:2] == ["job_cancel_success", "job_cancel_success"]
    assert dli_env.get_job(130)["has_savepoint"] is True
    assert df.attrs["action"] == "stop" and df.attrs["trigger_savepoint"] is True


def test_stop_dry_run_sends_nothing(shell, dli_env, capsys):
    shell.run_line_magic("dli_stop", "130 --dry-run")
    assert "/streaming/jobs/stop" in capsys.readouterr().out
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    "line, expected",
    [
        ("", {130, 131, 137, 138, 142, 155, 160, 171, 188, 204, 219, 230}),
        ("--status job_running", {130, 137}),
        ("--type flink_jar_job", {137, 160, 219}),
        ("--name orders", {130}),
        ("--queue dli_dev --status job_init", {138}),
    ],
)
def test_jobs_filters(shell, dli_env, line, expected):
    frame = shell.run_line_magic("dli_jobs", line)
    assert set(frame["job_id"]) == expected
    assert list(frame.columns)[:3] == ["job_id", "name", "status"]


def test_jobs_bad_status_is_refused_before_sending(shell, dli_env):
    result = shell.run_cell("%dli_jobs --status running")
    assert "job_running" in str(result.error_in_exec)  # close-match suggestion
    assert dli_env.request_log() == []


def test_jobs_out(shell, dli_env):
    assert shell.run_line_magic("dli_jobs", "--status job_init --out pending") is None
    assert set(shell.user_ns["pending"]["job_id"]) == {138, 204}


def test_one_client_per_session_rebuilt_when_settings_change(shell, dli_env, magic):
    shell.run_line_magic("dli_run", "138")
    first = magic.client()
    assert magic.client() is first
    shell.run_line_magic("dli_config", "read_timeout=30")
    second = magic.client()
    assert second is not first and second.settings.read_timeout == 30


def test_profile_flag_uses_the_profile_file(shell, emulator, tmp_path, monkeypatch):
    config_dir = tmp_path / "cfg" / "dli-magic"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(
        f'[lab]\nendpoint = "{emulator.url}"\nproject_id = "{emulator.project_id}"\nauth_token = "{SENTINEL_TOKEN}"\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    df = shell.run_line_magic("dli_run", "204 --profile lab")
    assert df["is_success"].all()
    result = shell.run_cell("%dli_run 204 --profile nope")
    assert isinstance(result.error_in_exec, ConfigError)


def test_a_failed_chunk_among_good_ones_is_rows(shell, dli_env, capsys):
    # The service rejects a whole call that names an unknown id: only that chunk's rows are unknown.
    dli_env.set_faults({"unknown_ids": "error"})
    result = shell.run_cell("df = %dli_run 138 99999 204 --chunk-size 1")
    assert result.success, result.error_in_exec
    df = shell.user_ns["df"]
    assert df["is_success"].tolist() == [True, False, True]  # the service refused the middle chunk
    failed = df.loc[1]
    assert "NotFoundError" in failed["message"] and failed["request_id"] in failed["message"]
    assert df.loc[[0, 2], "name"].notna().all()
    result = shell.run_cell("%dli_stop 138 99999 --chunk-size 1 --strict")
    assert result.error_in_exec.job_ids == [99999]  # unknown outcome counts as a failure


def test_a_whole_call_failure_is_an_error_naming_jobs_and_request(shell, dli_env, capsys):
    dli_env.set_faults({"unknown_ids": "error"})
    result = shell.run_cell("%dli_run 138 99999")
    error = result.error_in_exec
    assert error is not None and error.request_id
    shown = capsys.readouterr().out
    assert error.request_id in shown and "138" in shown and "What to do" in shown


def test_panel_magic_uses_the_session_client(shell, dli_env, magic):
    panel = shell.run_line_magic("dli_panel", "--no-wait")
    try:
        assert panel.client is magic.client()
        assert panel.wait is False
        assert panel.wait_idle(10)
        assert 138 in [job.job_id for job in panel.jobs]
    finally:
        panel.close()


def test_strict_error_says_why_and_where_the_rows_are(shell, dli_env, capsys):
    shell.run_line_magic("dli_run", "131")  # running now: a second run is refused
    capsys.readouterr()
    result = shell.run_cell("%dli_run 131 --strict")
    error = result.error_in_exec
    assert isinstance(error, JobsFailedError)
    assert "131: The job 131 cannot be started" in error.message
    shown = capsys.readouterr().out
    assert "131: The job 131 cannot be started" in shown
    assert "err." not in shown and "err.frame" not in error.hint
    assert "--out VAR" in error.hint
    assert "other jobs were processed" not in shown and "processed" not in error.hint


def test_strict_error_with_successes_and_out(shell, dli_env, capsys):
    shell.run_line_magic("dli_run", "131 130")
    capsys.readouterr()
    result = shell.run_cell("%dli_run 138 131 130 --strict --out res")
    error = result.error_in_exec
    assert error.job_ids == [131, 130]
    assert "2 of 3 jobs" in error.message
    assert "131: The job 131 cannot be started" in error.message and "130: The job 130" in error.message
    assert "Every row is in `res`" in error.hint
    assert "The other 1 job was processed." in error.hint
